"""What each admin endpoint does, over a running :class:`runner.app.Runner`.

Plain methods returning JSON-ready dicts; :mod:`runner.admin.routes` only adds HTTP. Actions
that write to Salesforce (replay, review decisions) and bundle swaps run while no batch
does (:meth:`Runner.exclusive`), through the processor's one write path. Every action is
recorded in the audit log by the routes, with the principal that asked.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simple_salesforce import format_soql

from mappings.errors import BundleError, MappingError
from runner.admin.explain import explain_entry, group_by_cause
from runner.admin.stats import LiveStats
from runner.bootstrap import load_verified_bundle
from runner.errors import ConfigError, FatalSyncError
from runner.finance.runtime import finance_status
from runner.private_files import private_dir
from runner.state import DeadLetterStatus, ReviewStatus
from runner.state.statuses import EventStatus

if TYPE_CHECKING:
    from runner.app import Runner
    from runner.state.records import DlqEntry, ReviewItem

log = logging.getLogger(__name__)
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

MAX_PAGE = 200


class Refused(Exception):
    """An action that cannot be done as asked: ``status`` (400, 404, 409, 422) and one
    sentence saying why."""

    def __init__(self, status: int, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def dead_letter_dict(entry: DlqEntry, *, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": entry.id, "flow": entry.flow, "status": str(entry.status),
        "event_id": entry.event_id, "source_id": entry.source_id,
        "error_code": entry.error_code, "error": entry.error, "attempts": entry.attempts,
        "created_at": _iso(entry.created_at), "explanation": explain_entry(entry).to_dict()}
    if full:
        out["record"] = entry.record
        out["event"] = entry.payload
    return out


def review_dict(item: ReviewItem) -> dict[str, Any]:
    return {"id": item.id, "flow": item.flow, "status": str(item.status),
            "source_id": item.source_id, "record": item.record,
            "candidates": item.candidates, "chosen": item.chosen, "event": item.payload,
            "created_at": _iso(item.created_at), "decided_at": _iso(item.decided_at)}


class AdminService:
    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.store = runner.store
        self.stats = LiveStats(runner.metrics)
        # The .fbz bytes of the running bundle and of the one before the last deploy, for
        # GET /bundle (a deployed bundle's temporary file is gone once it is loaded).
        self._running_bytes: bytes | None = None
        self._previous_bytes: bytes | None = None

    # -- reading ------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        runner = self.runner
        counts = self.store.counts()
        last = self.store.last_event()
        live = self.stats.sample()
        usage = runner.salesforce.api_usage()
        open_dlq: dict[str, int] = {}
        for entry in self.store.dlq_list(DeadLetterStatus.OPEN):
            open_dlq[entry.flow] = open_dlq.get(entry.flow, 0) + 1
        flows = []
        for name, compiled in sorted(runner.bundle.flows.items()):
            paused = name in runner.paused_flows
            flows.append({
                "name": name, "state": "paused" if paused else "running",
                "paused_by": ("operator" if name in runner.operator_paused else "drift")
                if paused else None,
                "direction": "salesforce->stripe" if compiled.from_salesforce
                else "stripe->salesforce",
                "outcomes": live["flows"].get(name, {}),
                "dead_letters": open_dlq.get(name, 0)})
        return {
            "flows": flows,
            "queue": {str(k): counts.get(k, 0) for k in EventStatus},
            "dead_letters": counts.get("dlq_open", 0),
            "reviews": counts.get("review_open", 0),
            "last_event": None if last is None else {
                "id": last.event_id, "type": last.type, "status": str(last.status),
                "seq": last.seq, "received_at": _iso(last.received_at)},
            "events_per_second": live["events_per_second"],
            "errors_per_second": live["errors_per_second"],
            "handled": live["handled"], "errors": live["errors"],
            "latency": live["latency"],
            "salesforce_api": None if usage is None else {
                "used": usage[0], "max": usage[1], "remaining": usage[1] - usage[0]},
            "monitors": finance_status(self.store) if runner.finance is None
            else runner.finance.status(),
            "bundle": {"flows": sorted(runner.bundle.flows),
                       "source": runner.bundle.source,
                       "rollback": runner.previous_bundle is not None},
        }

    def dead_letters(self, *, flow: str | None = None, code: str | None = None,
                     status: str | None = "open", page: int = 1,
                     per_page: int = 50) -> dict[str, Any]:
        if page < 1 or not 1 <= per_page <= MAX_PAGE:
            raise Refused(400, f"page must be at least 1 and per_page from 1 to {MAX_PAGE}")
        entries = self._entries(status, flow, code)
        start = (page - 1) * per_page
        return {"total": len(entries), "page": page, "per_page": per_page,
                "items": [dead_letter_dict(e) for e in entries[start:start + per_page]],
                "groups": [g.to_dict() for g in group_by_cause(entries)]}

    def _entries(self, status: str | None, flow: str | None = None,
                 code: str | None = None) -> list[DlqEntry]:
        try:
            entries = self.store.dlq_list(status)
        except ValueError as exc:
            raise Refused(400, str(exc)) from exc
        return [e for e in entries if (flow is None or e.flow == flow)
                and (code is None or e.error_code == code)]

    def dead_letter(self, id_: int) -> dict[str, Any]:
        return dead_letter_dict(self.store.dlq_get(id_), full=True)

    def reviews(self, status: str | None = "open") -> dict[str, Any]:
        try:
            items = self.store.review_list(status)
        except ValueError as exc:
            raise Refused(400, str(exc)) from exc
        return {"items": [{**review_dict(i), "candidates": self._candidate_fields(i)}
                          if i.status == ReviewStatus.OPEN else review_dict(i) for i in items]}

    def _candidate_fields(self, item: ReviewItem) -> list[dict[str, Any]]:
        """The candidates with their values of the fields the record would write (one
        query), so a reviewer can compare them field by field; as stored when the org
        cannot say."""
        ids = [str(c["Id"]) for c in item.candidates if c.get("Id")]
        compiled = self.runner.bundle.flows.get(item.flow)
        if not ids or compiled is None or not compiled.to_salesforce:
            return item.candidates
        fields = [f for f, v in (item.record or {}).items()
                  if f != "Id" and _FIELD_NAME.fullmatch(f) and not isinstance(v, dict | list)]
        soql = f"SELECT Id{''.join(', ' + f for f in fields)} " \
               f"FROM {compiled.flow.target.object} WHERE Id IN {{}}"
        try:
            rows = self.runner.salesforce.query_all(format_soql(soql, ids))
        except Exception as exc:  # noqa: BLE001 - the stored candidates still decide
            log.warning("review item %s: could not read its candidates: %s", item.id, exc)
            return item.candidates
        found = {str(r["Id"])[:15]: {k: v for k, v in r.items() if k != "attributes"}
                 for r in rows}
        return [{**c, **found.get(str(c.get("Id"))[:15], {})} for c in item.candidates]

    def events(self, since: int, limit: int = 200) -> dict[str, Any]:
        rows = self.store.events_after(since, limit)
        for row in rows:
            for key in ("received_at", "processed_at"):
                row[key] = _iso(row[key])
        return {"events": rows, "next": rows[-1]["seq"] if rows else since}

    def audit(self, limit: int = 100, before: int | None = None) -> dict[str, Any]:
        return {"entries": [e.to_dict() for e in self.store.audit_list(limit, before)]}

    # -- acting -------------------------------------------------------------------------
    def replay(self, ids: Iterable[int]) -> dict[str, Any]:
        """Replay open dead letters through the running bundle; each one's result."""
        results = []
        with self.runner.exclusive():
            for id_ in ids:
                entry = self.store.dlq_get(id_)
                if entry.status != DeadLetterStatus.OPEN:
                    raise Refused(409, f"dead letter {id_} is {entry.status}; only open "
                                       "entries can be replayed")
                if entry.flow not in self.runner.bundle.flows:
                    raise Refused(409, f"dead letter {id_} is of flow {entry.flow!r}, which "
                                       "the running bundle does not have")
                if self.runner.bundle.flow(entry.flow).from_salesforce:
                    poller = self.runner.poller
                    if poller is None:
                        raise Refused(409, f"dead letter {id_} is of a Salesforce-triggered "
                                           "flow and this runner does not poll")
                    poller.replay_dlq(id_)
                else:
                    self.runner.processor.replay_dlq(id_)
                after = self.store.dlq_get(id_)
                done = after.status == DeadLetterStatus.REPLAYED
                results.append({"id": id_, "status": str(after.status),
                                "error": None if done else after.error,
                                "explanation": None if done
                                else explain_entry(after).to_dict()})
        failed = sum(1 for r in results if r["status"] != DeadLetterStatus.REPLAYED)
        return {"replayed": len(results) - failed, "failed": failed, "results": results}

    def replay_cause(self, cause: str) -> dict[str, Any]:
        """Replay every open dead letter of one cause (a group of :func:`group_by_cause`)."""
        for group in group_by_cause(self._entries("open")):
            if group.explanation.cause == cause:
                return self.replay(group.ids)
        raise Refused(404, f"no open dead letters with cause {cause!r}")

    def discard(self, id_: int) -> dict[str, Any]:
        entry = self.store.dlq_get(id_)
        if entry.status != DeadLetterStatus.OPEN:
            raise Refused(409, f"dead letter {id_} is already {entry.status}")
        self.store.dlq_set_status(id_, DeadLetterStatus.DISCARDED)
        return {"id": id_, "status": str(DeadLetterStatus.DISCARDED)}

    def approve(self, id_: int, record: str | None) -> dict[str, Any]:
        """Link the review item to the chosen candidate (``record``), updating it."""
        item = self._open_review(id_)
        known = {str(c.get("Id")) for c in item.candidates if c.get("Id")}
        if not record:
            raise Refused(400, "approve needs the chosen candidate: {\"record\": \"<Id>\"}; "
                               "to create a new record, reject the candidates")
        if known and record not in known:
            raise Refused(400, f"{record} is not one of review item {id_}'s candidates "
                               f"({', '.join(sorted(known))})")
        return self._decide(item, record)

    def reject(self, id_: int, *, create: bool = True) -> dict[str, Any]:
        """None of the candidates is the record: create a new one (``create`` False: drop
        the item, nothing is written, as the command line's ``review reject``)."""
        item = self._open_review(id_)
        if not create:
            self.store.review_decide(item.id, ReviewStatus.REJECTED)
            return {"id": item.id, "linked_to": None, "created": False, "errors": []}
        return self._decide(item, None)

    def _open_review(self, id_: int) -> ReviewItem:
        item = self.store.review_get(id_)
        if item.status != ReviewStatus.OPEN:
            raise Refused(409, f"review item {id_} is already {item.status}")
        if item.flow not in self.runner.bundle.flows:
            raise Refused(409, f"review item {id_} is of flow {item.flow!r}, which the "
                               "running bundle does not have")
        return item

    def _decide(self, item: ReviewItem, record: str | None) -> dict[str, Any]:
        with self.runner.exclusive():
            self.store.review_decide(item.id, ReviewStatus.APPROVED, record)
            report = self.runner.processor.apply_review(item.id)
        return {"id": item.id, "linked_to": record, "created": record is None,
                "errors": list(report.errors)}

    def pause(self, flow: str) -> dict[str, Any]:
        self._known_flow(flow)
        self.runner.pause_flow(flow)
        return {"flow": flow, "state": "paused"}

    def resume(self, flow: str) -> dict[str, Any]:
        self._known_flow(flow)
        if flow not in self.runner.operator_paused:
            state = "paused" if flow in self.runner.paused_flows else "running"
            return {"flow": flow, "state": state,
                    "note": "not paused by an operator" + (
                        "; it stays paused for contract drift" if state == "paused" else "")}
        self.runner.resume_flow(flow)
        state = "paused" if flow in self.runner.paused_flows else "running"
        return {"flow": flow, "state": state}

    def _known_flow(self, flow: str) -> None:
        if flow not in self.runner.bundle.flows:
            raise Refused(404, f"no flow {flow!r} in the running bundle (flows: "
                               f"{', '.join(sorted(self.runner.bundle.flows))})")

    def deploy(self, data: bytes) -> dict[str, Any]:
        """Verify, check against the org and swap in a bundle (the ``.fbz`` bytes); a
        refusal leaves the running bundle as it is and says why."""
        if not data:
            raise Refused(400, "the request body must be the bundle file (.fbz)")
        folder = private_dir(Path(tempfile.gettempdir()) / "fieldbridge-deploy")
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".fbz") as tmp:
            tmp.write(data)
            tmp.flush()
            try:
                loaded = load_verified_bundle(tmp.name, self.runner.config)
            except (BundleError, MappingError, ConfigError) as exc:
                raise Refused(422, f"bundle refused: {exc}") from exc
        try:
            self.runner.deploy(loaded)
        except FatalSyncError as exc:  # runner.app.DriftError: the contract check
            raise Refused(409, "bundle refused: its contract does not match the org",
                          getattr(exc, "report", [str(exc)])) from exc
        except ConfigError as exc:
            raise Refused(422, f"bundle refused: {exc}") from exc
        self._previous_bytes, self._running_bytes = self._current_bytes(), data
        return {"deployed": True, "flows": sorted(loaded.flows)}

    def _current_bytes(self) -> bytes | None:
        if self._running_bytes is not None:
            return self._running_bytes
        source = Path(self.runner.bundle.source) if self.runner.bundle.source else None
        if source is None or source.suffix != ".fbz" or not source.is_file():
            return None
        return source.read_bytes()

    def running_bundle(self) -> bytes:
        """The running bundle's ``.fbz`` (promotion diffs against it)."""
        data = self._current_bytes()
        if data is None:
            raise Refused(404, "the running bundle was not loaded from a bundle file "
                               f"({self.runner.bundle.source or 'no source'})")
        return data

    def rollback(self) -> dict[str, Any]:
        try:
            previous = self.runner.rollback()
        except ConfigError as exc:
            raise Refused(409, str(exc)) from exc
        self._running_bytes, self._previous_bytes = self._previous_bytes, None
        return {"rolled_back": True, "flows": sorted(previous.flows)}
