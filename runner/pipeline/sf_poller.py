"""Salesforce -> Stripe: poll each Salesforce-change flow on its ``SystemModstamp`` watermark.

Per flow, one SOQL page at a time::

    SELECT <fields the flow reads>, Id, SystemModstamp, LastModifiedById FROM <object>
    WHERE SystemModstamp > W OR (SystemModstamp = W AND Id > I)
    ORDER BY SystemModstamp, Id LIMIT 200

(W, I) is the flow's watermark, kept in the cursors ``sf.watermark.<flow>`` and
``sf.watermark_id.<flow>``, moved after each record is finished. For each changed record:

- echo: a change by the integration user whose content the runner itself wrote is skipped;
- trigger: ``becomes`` fires only when the field now has the value and did not before (the
  previous value is the flow's snapshot of the record); a flow without a trigger field skips
  a save that changed nothing it reads;
- the plan maps the record to Stripe params, written with an Idempotency-Key derived from
  (flow, record Id, SystemModstamp): ``update`` when the flow's ``external_id`` source field
  holds a Stripe id, else ``create``; the new id is written back (``writeback``).

A retriable failure stops the flow's page at that record (the watermark stays before it, so
the next poll retries it with the same key); it is dead-lettered when attempts run out.

Flows that listen to change events or platform events instead (:mod:`runner.pubsub.triggers`)
come through :meth:`SalesforcePoller.handle_ids`: the records an event batch names, read by
Id with the same fields (one query per 200), then the same handling as a polled record; the
batch's Stripe writes go out side by side (:data:`STRIPE_CONCURRENCY`, each with its own
Idempotency-Key) and its writebacks together (one sObject Collections call per 200). Their watermark moves
with the events (:meth:`SalesforcePoller.advance_to`), so a catch-up poll after a gap starts
where the events left off.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mappings.document.model import Action, Flow
from mappings.engine.paths import compile_path
from mappings.engine.result import json_safe
from runner.classify import Failure
from runner.connectors.errors import ConnectorError
from runner.errors import ConfigError, FatalSyncError
from runner.pipeline.bundle_runtime import CompiledFlow, LoadedBundle
from runner.pipeline.outcomes import TaskOutcome
from runner.pipeline.sf_deletions import SalesforceDeletions
from runner.pipeline.writeback import (
    PROCESSOR_MARK,
    idempotency_key,
    is_salesforce_echo,
    note_stripe_write,
    note_writeback,
    source_fingerprint,
    with_origin,
    write_back,
    write_backs,
)
from runner.retry import DEFAULT_POLICY, RetryPolicy, decide, outcome_for
from runner.state import DeadLetterStatus

if TYPE_CHECKING:
    from runner.connectors.salesforce import SalesforceConnector
    from runner.connectors.stripe import StripeConnector
    from runner.metrics import Metrics
    from runner.state.store import StateStore

log = logging.getLogger(__name__)

PAGE_SIZE = 200
# Stripe writes of one event batch in flight at once: a batch of N records costs about
# N / 4 Stripe round trips instead of N, well under Stripe's test-mode rate limit (25/s).
STRIPE_CONCURRENCY = 4
# IsDeleted: the poll reads with queryAll, so deleted records come too (sf_deletions).
SYSTEM_FIELDS = ("Id", "SystemModstamp", "LastModifiedById", "IsDeleted")
_FIELD_PATH = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")
_FP_KEY = "_fingerprint"


def source_fields(flow: Flow) -> list[str]:
    """The Salesforce fields ``flow`` reads: mapped sources, condition paths, lookups, the
    trigger field, its Stripe id field and its writeback field (JSONata expressions aside)."""
    paths: list[str] = []
    for fm in flow.fields:
        paths += fm.sources
    paths += [c.path for c in flow.conditions if c.path]
    paths += [lk.source for lk in flow.lookups if lk.reads_source]
    trigger = flow.trigger.salesforce_change
    if trigger is not None and trigger.field:
        paths.append(trigger.field)
    paths += [p for p in (flow.operation.external_id, flow.operation.writeback) if p]
    seen: dict[str, str] = {}
    for path in paths:
        if path.startswith("$"):
            continue
        seen.setdefault(path.lower(), path)
    return list(seen.values())


def select_fields(flow: Flow) -> list[str]:
    """What the poller's SOQL selects for ``flow``: the system fields it pages and checks
    echoes with, then :func:`source_fields` (the drift monitor watches the same list)."""
    seen: dict[str, str] = {}
    for path in (*SYSTEM_FIELDS, *source_fields(flow)):
        seen.setdefault(path.lower(), path)
    return list(seen.values())


def soql_datetime(value: str | datetime) -> str:
    """A SOQL datetime literal (``2026-01-02T03:04:05.678Z``) from Salesforce's own form
    (``...+0000``) or a datetime."""
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            try:
                parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
            except ValueError:
                raise ConfigError(f"{value!r} is not a Salesforce datetime") from None
    else:
        parsed = value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"


def _params(value: Any) -> Any:
    """Stripe params without nulls and empty objects (Stripe reads "" as "clear")."""
    if isinstance(value, dict):
        out = {k: _params(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in out.items() if v != {}}
    if isinstance(value, list):
        return [_params(v) for v in value if v is not None]
    return value


_STRIPE_POOL: ThreadPoolExecutor | None = None
_STRIPE_POOL_GUARD = threading.Lock()


def _stripe_pool() -> ThreadPoolExecutor:
    """The threads that send event batches' Stripe writes, kept for the process: the SDK
    keeps an HTTP session per thread, so threads made per batch opened new connections
    (a TLS handshake each against Stripe) on every batch."""
    global _STRIPE_POOL
    with _STRIPE_POOL_GUARD:
        if _STRIPE_POOL is None:
            _STRIPE_POOL = ThreadPoolExecutor(STRIPE_CONCURRENCY,
                                              thread_name_prefix="stripe-write")
        return _STRIPE_POOL


@dataclass
class PollReport:
    records: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    echo: int = 0
    dead_lettered: int = 0
    retried: int = 0
    queries: int = 0
    errors: list[str] = field(default_factory=list)


class _StopFlow(Exception):
    """A retriable failure: stop this flow's page, retry from this record next poll."""


@dataclass
class _Step:
    """A record decided up to its Stripe write (:meth:`SalesforcePoller._send`)."""

    record: dict[str, Any]
    params: dict[str, Any]
    key: str
    update_id: str | None  # the Stripe object to update; None: create one
    remember: Callable[..., None]
    known_id: str | None = None  # created before (its writeback did not land): no call


@dataclass
class _Writeback:
    """A Stripe write whose id is still to be written back (sent with the batch's others)."""

    record: dict[str, Any]
    stripe_id: str
    remember: Callable[[str], None]


class SalesforcePoller:
    """Polls the bundle's Salesforce-change flows and writes to Stripe."""

    def __init__(self, bundle: LoadedBundle, store: StateStore,
                 salesforce: SalesforceConnector, stripe: StripeConnector, *,
                 metrics: Metrics | None = None, start: str | datetime | None = None,
                 page_size: int = PAGE_SIZE, policy: RetryPolicy = DEFAULT_POLICY) -> None:
        if not 1 <= page_size <= 2000:
            raise ValueError(f"page_size must be from 1 to 2000, got {page_size}")
        self.bundle = bundle
        self.store = store
        self.salesforce = salesforce
        self.stripe = stripe
        self.metrics = metrics
        self.start = soql_datetime(start) if start is not None else None
        self.page_size = page_size
        self.policy = policy
        self._attempts: dict[tuple[str, str, str], int] = {}
        self._replay = ""  # set while replaying a dead letter (its own Idempotency-Key)
        self._deletions = SalesforceDeletions(self)
        for compiled in bundle.salesforce_flows:
            for path in source_fields(compiled.flow):
                if not _FIELD_PATH.match(path):
                    raise ConfigError(f"flow {compiled.name!r} reads {path!r}, which is not a "
                                      "Salesforce field name")

    def poll_once(self, *, only: Collection[str] | None = None,
                  skip: Collection[str] = ()) -> PollReport:
        """Poll every Salesforce-triggered flow, or those named in ``only``, but not those
        in ``skip`` (the flows change events deliver)."""
        report = PollReport()
        for compiled in self.bundle.salesforce_flows:
            if compiled.name in skip or (only is not None and compiled.name not in only):
                continue
            try:
                self._poll_flow(compiled, report)
            except _StopFlow:
                continue
        return report

    # -- records named by events ----------------------------------------------------------
    def handle_ids(self, compiled: CompiledFlow, ids: Sequence[str],
                   report: PollReport) -> bool:
        """Handle the records ``ids`` of ``compiled``'s source object as they are now,
        exactly as a poll would (records deleted since are gone from the query). False when
        a retriable failure stopped the flow: the caller must deliver these ids again."""
        wanted = list(dict.fromkeys(i for i in ids if i))
        for start in range(0, len(wanted), self.page_size):
            soql = self.query_for_ids(compiled, wanted[start:start + self.page_size])
            try:
                records = self._query(compiled.name, soql, report)
            except _StopFlow:
                return False
            steps: list[_Step] = []
            stopped = False
            # State work in one transaction per stage (no network call inside one): a
            # commit per record's reads and notes was most of a batch's state cost.
            with self.store.batch():
                for record in records:
                    report.records += 1
                    try:
                        step = self._decide(compiled, record, report)
                    except _StopFlow:
                        stopped = True  # the records before it are still written
                        break
                    if step is not None:
                        steps.append(step)
            pending: list[_Writeback] = []
            answers = self._send_all(compiled, steps)
            with self.store.batch():  # committed before the writebacks go out
                for step, answer in zip(steps, answers, strict=True):
                    try:
                        self._settle(compiled, step, answer, report, pending)
                    except _StopFlow:
                        stopped = True  # the others' Stripe writes are made: settle them
            try:
                self._write_backs(compiled, pending, report)
            except _StopFlow:
                return False
            if stopped:
                return False
        return True

    def handle_deleted_ids(self, compiled: CompiledFlow, ids: Sequence[str],
                           report: PollReport) -> bool:
        """Handle the records ``ids`` that change events say were deleted, read from the
        recycle bin, by the flow's deletion policy. False when a retriable failure stopped
        the flow: the caller must deliver these ids again."""
        try:
            for record in self._deletions.read(compiled, ids, report):
                report.records += 1
                self._deletions.handle(compiled, record, report)
        except _StopFlow:
            return False
        return True

    def advance_to(self, flow: str, stamp: str | datetime) -> None:
        """Move ``flow``'s watermark forward to ``stamp`` (never back): every change before
        it was delivered by events and settled."""
        mark = soql_datetime(stamp)
        current, _ = self._watermark(flow)
        if mark > current:  # same fixed-width UTC form: text order is time order
            self.store.cursor_set(f"sf.watermark.{flow}", mark)
            self.store.cursor_set(f"sf.watermark_id.{flow}", "")

    def query_for_ids(self, compiled: CompiledFlow, ids: Sequence[str]) -> str:
        soql = self.query_for(compiled, "1970-01-01T00:00:00.000Z", "")
        quoted = ", ".join(f"'{re.sub(r'[^A-Za-z0-9]', '', i)}'" for i in ids)
        return soql.replace(" WHERE ", f" WHERE Id IN ({quoted}) AND ", 1)

    def pin_watermarks(self) -> None:
        """Set every flow's first watermark now, if it has none (at start, before the runner
        reports healthy): a change saved after the start but before the first poll is then
        found. Pinned by the first poll instead, it fell before the watermark and was never
        seen."""
        for compiled in self.bundle.salesforce_flows:
            self._watermark(compiled.name)

    # -- one flow -----------------------------------------------------------------------
    def watermark(self, flow: str) -> tuple[str, str]:
        """``flow``'s (SystemModstamp, Id) watermark; set to the start (now) the first time,
        so changes from then on are found even before the first poll."""
        return self._watermark(flow)

    def _watermark(self, flow: str) -> tuple[str, str]:
        mark = self.store.cursor_get(f"sf.watermark.{flow}")
        if mark is None:
            # First start: changes from now on (or from the configured start).
            mark = self.start or soql_datetime(datetime.now(UTC))
            self.store.cursor_set(f"sf.watermark.{flow}", mark)
        return mark, self.store.cursor_get(f"sf.watermark_id.{flow}") or ""

    def _advance(self, flow: str, record: dict[str, Any]) -> None:
        self.store.cursor_set(f"sf.watermark.{flow}", soql_datetime(record["SystemModstamp"]))
        self.store.cursor_set(f"sf.watermark_id.{flow}", record["Id"])

    def query_for(self, compiled: CompiledFlow, mark: str, last_id: str) -> str:
        flow = compiled.flow
        fields = select_fields(flow)
        obj = flow.source.object
        if not _FIELD_PATH.match(obj) or "." in obj:
            raise ConfigError(f"flow {flow.name!r}: {obj!r} is not a Salesforce object name")
        where = f"SystemModstamp > {mark}"
        if last_id:
            safe_id = re.sub(r"[^A-Za-z0-9]", "", last_id)
            where = f"({where} OR (SystemModstamp = {mark} AND Id > '{safe_id}'))"
        return (f"SELECT {', '.join(fields)} FROM {obj} WHERE {where} "
                f"ORDER BY SystemModstamp, Id LIMIT {self.page_size}")

    def _query(self, flow: str, soql: str, report: PollReport, *,
               include_deleted: bool = False) -> list[dict[str, Any]]:
        """The rows of ``soql`` (``include_deleted``: through queryAll, the recycle bin too),
        counted as one API call. A failure that stops the runner is FatalSyncError; any
        other ends this flow's turn (_StopFlow) with the error reported."""
        report.queries += 1
        if self.metrics is not None:
            self.metrics.api_call("query")
        try:
            if include_deleted:
                return self.salesforce.query_all(soql, include_deleted=True)
            return self.salesforce.query_all(soql)
        except ConnectorError as exc:
            if outcome_for(exc.failure) == "stop":
                raise FatalSyncError(f"flow {flow!r}: {exc}") from exc
            report.errors.append(f"{flow}: {exc}")
            raise _StopFlow from exc

    def _poll_flow(self, compiled: CompiledFlow, report: PollReport) -> None:
        name = compiled.name
        while True:
            mark, last_id = self._watermark(name)
            soql = self.query_for(compiled, mark, last_id)
            records = self._query(name, soql, report, include_deleted=True)
            for record in records:
                report.records += 1
                self._handle(compiled, record, report)
                self._advance(name, record)
            if len(records) < self.page_size:
                return

    def _handle(self, compiled: CompiledFlow, record: dict[str, Any],
                report: PollReport) -> None:
        """Handle one changed record: decide, write to Stripe, write back; a deleted one
        by the flow's deletion policy."""
        if record.get("IsDeleted"):
            self._deletions.handle(compiled, record, report)
            return
        step = self._decide(compiled, record, report)
        if step is not None:
            self._settle(compiled, step, self._send(compiled, step), report, None)

    def _decide(self, compiled: CompiledFlow, record: dict[str, Any],
                report: PollReport) -> _Step | None:
        """Everything before the Stripe write: None when the record is settled already
        (echo, not triggered, skipped, dead-lettered); _StopFlow to retry it later."""
        flow = compiled.flow
        rid = str(record["Id"])
        paths = source_fields(flow)
        fingerprint = source_fingerprint(flow.name, record, paths)
        previous = self.store.snapshot_get(flow.name, rid)
        trigger = flow.trigger.salesforce_change
        trigger_field = trigger.field if trigger is not None else None

        def remember(fp: str = fingerprint) -> None:
            values: dict[str, Any] = {_FP_KEY: fp}
            if trigger_field:
                values[trigger_field] = json_safe(compile_path(trigger_field)(record))
            self.store.snapshot_put(flow.name, rid, values)

        if is_salesforce_echo(self.store, self.salesforce.user_id,
                              record.get("LastModifiedById"), rid,
                              (fingerprint, PROCESSOR_MARK)):
            report.echo += 1
            remember()
            return None
        if trigger_field and trigger is not None and trigger.becomes is not None:
            now = compile_path(trigger_field)(record)
            before = previous.get(trigger_field) if previous else None
            if now != trigger.becomes or before == trigger.becomes:
                report.skipped += 1
                remember()
                return None
        elif previous is not None and previous.get(_FP_KEY) == fingerprint:
            report.skipped += 1  # saved, but nothing this flow reads changed
            return None

        waiting = self._waiting_for(compiled, record)
        if waiting:
            self._retry(compiled, record, f"waiting for {waiting} to be written back", report)
            return None
        result = compiled.plan.apply(record, previous=previous)
        if result.skipped:
            report.skipped += 1
            self._count(flow.name, TaskOutcome.SKIPPED)
            remember()
            return None
        if not result.ok:
            self._dead_letter(flow, record, json_safe(result.record),
                              "; ".join(str(i) for i in result.errors),
                              result.errors[0].code, report)
            remember()
            return None
        params = with_origin(_params(json_safe(result.record)))
        return self._stripe_step(compiled, record, params, remember, report)

    def _settle(self, compiled: CompiledFlow, step: _Step, answer: dict | ConnectorError | None,
                report: PollReport, pending: list[_Writeback] | None) -> None:
        """After the Stripe write: note it, write the id back. With ``pending``, the
        writeback is added there for the caller to send with others (:meth:`_write_backs`)
        instead of sent now."""
        flow = compiled.flow
        record, remember = step.record, step.remember
        rid = str(record["Id"])
        if isinstance(answer, ConnectorError):
            if answer.status == 404 and step.update_id is not None:
                # The object is gone from Stripe (deleted there; its record may carry the
                # mark): nothing to update, and no retry or dead letter will change that.
                log.info("flow %s: %s %s: the Stripe %s %s no longer exists; not updated",
                         flow.name, flow.source.object, rid, flow.target.object,
                         step.update_id)
                report.skipped += 1
                self._count(flow.name, TaskOutcome.SKIPPED)
                self._done_attempts(compiled, record)
                remember()
                return
            self._failed(compiled, record, answer, report, step.params)
            remember()
            return
        if answer is None:
            stripe_id = str(step.known_id)
        else:
            stripe_id = str(answer["id"])
            created = step.update_id is None
            if created:
                self.store.snapshot_put(f"{flow.name}#stripe", rid, {"id": stripe_id})
                report.created += 1
            else:
                report.updated += 1
            note_stripe_write(self.store, stripe_id, step.key, created=created)
        wb = flow.operation.writeback
        if wb and record.get(wb) != stripe_id:
            if pending is not None:
                pending.append(_Writeback(record, stripe_id, remember))
                return
            try:
                write_back(self.salesforce, self.store, flow.source.object, rid, wb, stripe_id)
            except ConnectorError as exc:
                self._failed(compiled, record, exc, report)
                return
            self._written_back(compiled, _Writeback(record, stripe_id, remember))
            return
        self._done(compiled, record)
        remember()

    def _done(self, compiled: CompiledFlow, record: dict[str, Any]) -> None:
        self._done_attempts(compiled, record)
        self._count(compiled.name, TaskOutcome.WRITTEN)

    def _done_attempts(self, compiled: CompiledFlow, record: dict[str, Any]) -> None:
        self._attempts.pop((compiled.name, str(record["Id"]), str(record["SystemModstamp"])),
                           None)

    def _written_back(self, compiled: CompiledFlow, done: _Writeback) -> None:
        """A writeback landed: note the result as the runner's own write, finish the record."""
        flow = compiled.flow
        wb = str(flow.operation.writeback)
        rid = str(done.record["Id"])
        fingerprint = source_fingerprint(flow.name, {**done.record, wb: done.stripe_id},
                                         source_fields(flow))
        note_writeback(self.store, rid, wb, done.stripe_id, fingerprint)
        self._done(compiled, done.record)
        done.remember(fingerprint)

    def _write_backs(self, compiled: CompiledFlow, pending: list[_Writeback],
                     report: PollReport) -> None:
        """Send ``pending`` writebacks in one call; each failed one is handled as a failed
        writeback of its record (_StopFlow once all are handled, when one is retried)."""
        if not pending:
            return
        flow = compiled.flow
        obj, wb = flow.source.object, str(flow.operation.writeback)
        try:
            outcomes = write_backs(self.salesforce, obj, wb,
                                   [(str(p.record["Id"]), p.stripe_id) for p in pending])
        except ConnectorError as exc:
            for item in pending:
                self._failed(compiled, item.record, exc, report)  # a retry stops at the first
            return
        stop: _StopFlow | None = None
        with self.store.batch():  # every record's notes in one commit
            for item, outcome in zip(pending, outcomes, strict=True):
                if outcome.success:
                    self._written_back(compiled, item)
                    continue
                failure = ConnectorError(
                    f"Salesforce writeback {obj} {item.record['Id']} failed: "
                    f"{outcome.message}", failure=outcome.failure or Failure.RETRIABLE,
                    error_code=str((outcome.errors or [{}])[0].get("statusCode") or "")
                    or None)
                try:
                    self._failed(compiled, item.record, failure, report)
                except _StopFlow as exc:
                    stop = stop or exc
        if stop is not None:
            raise stop

    def _waiting_for(self, compiled: CompiledFlow, record: dict[str, Any]) -> str | None:
        """A field this flow maps that another flow on the object writes back and that is
        still empty (the subscription needs the customer the other flow creates)."""
        obj = compiled.flow.source.object
        others = {c.flow.operation.writeback for c in self.bundle.salesforce_flows
                  if c is not compiled and c.flow.source.object == obj
                  and c.flow.operation.writeback}
        for fm in compiled.flow.fields:
            for source in fm.sources:
                if source in others and not record.get(source):
                    return source
        return None

    def _stripe_step(self, compiled: CompiledFlow, record: dict[str, Any],
                     params: dict[str, Any], remember: Callable[..., None],
                     report: PollReport) -> _Step | None:
        """What to write to Stripe for the record: create, update, or nothing (None, the
        record settled: created before and its id is on the record)."""
        flow = compiled.flow
        rid = str(record["Id"])
        ext, wb = flow.operation.external_id, flow.operation.writeback
        memory_key = f"{flow.name}#stripe"
        memory = self.store.snapshot_get(memory_key, rid)
        remembered = memory.get("id") if memory else None
        linked = record.get(ext) if ext else None
        key = idempotency_key(flow.name, rid, str(record["SystemModstamp"]), self._replay)
        if flow.operation.action is Action.CREATE:
            if wb and record.get(wb):
                report.skipped += 1  # created before; its id is on the record
                remember()
                return None
            if remembered:  # created, but the writeback did not land
                return _Step(record, params, key, None, remember, known_id=str(remembered))
            return _Step(record, params, key, None, remember)
        if linked or remembered:
            return _Step(record, params, key, str(linked or remembered), remember)
        return _Step(record, params, key, None, remember)

    def _send(self, compiled: CompiledFlow, step: _Step) -> dict | ConnectorError | None:
        """The step's Stripe write (no state touched: it may run beside others); its answer,
        its failure, or None when there is nothing to send."""
        if step.known_id is not None:
            return None
        target = compiled.flow.target.object
        try:
            if step.update_id is not None:
                return self.stripe.update(target, step.update_id, step.params, step.key)
            return self.stripe.create(target, step.params, step.key)
        except ConnectorError as exc:
            return exc

    def _send_all(self, compiled: CompiledFlow,
                  steps: list[_Step]) -> list[dict | ConnectorError | None]:
        calls = [s for s in steps if s.known_id is None]
        if len(calls) <= 1:
            return [self._send(compiled, s) for s in steps]
        return list(_stripe_pool().map(lambda s: self._send(compiled, s), steps))

    # -- failures -----------------------------------------------------------------------
    def _failed(self, compiled: CompiledFlow, record: dict[str, Any], exc: ConnectorError,
                report: PollReport, params: dict[str, Any] | None = None) -> None:
        action = outcome_for(exc.failure)
        if action == "stop":
            raise FatalSyncError(f"flow {compiled.name!r}: {exc}") from exc
        if action == "retry":
            self._retry(compiled, record, str(exc), report, params)
            return
        self._dead_letter(compiled.flow, record, params, str(exc), exc.error_code, report)

    def _retry(self, compiled: CompiledFlow, record: dict[str, Any], error: str,
               report: PollReport, params: dict[str, Any] | None = None) -> None:
        key = (compiled.name, str(record["Id"]), str(record["SystemModstamp"]))
        attempts = self._attempts.get(key, 0) + 1
        self._attempts[key] = attempts
        decision = decide(Failure.RETRIABLE, attempts, self.policy, key=key[1])
        if decision.action == "retry":
            report.retried += 1
            report.errors.append(f"{compiled.name} {key[1]}: {error}")
            self._count(compiled.name, TaskOutcome.RETRY)
            raise _StopFlow(error)
        self._attempts.pop(key, None)
        self._dead_letter(compiled.flow, record, params, f"{error} ({decision.reason})",
                          None, report)

    def _dead_letter(self, flow: Flow, record: dict[str, Any], mapped: dict[str, Any] | None,
                     error: str, code: str | None, report: PollReport) -> None:
        payload = json.loads(json.dumps(record, default=str))
        self.store.dlq_add(flow=flow.name, event_id=None, source_id=str(record.get("Id")),
                           payload=payload, record=mapped, error=error, error_code=code)
        report.dead_lettered += 1
        report.errors.append(f"{flow.name} {record.get('Id')}: {error}")
        self._count(flow.name, TaskOutcome.DEAD_LETTERED)

    def _count(self, flow: str, outcome: TaskOutcome) -> None:
        if self.metrics is not None:
            self.metrics.processed(flow, outcome.metric)

    # -- dead letters -------------------------------------------------------------------
    def replay_dlq(self, entry_id: int) -> PollReport:
        """Run a dead-lettered Salesforce record through the current bundle again (the
        record as it is now in Salesforce, so the replay sends current data)."""
        entry = self.store.dlq_get(entry_id)
        if entry.status != DeadLetterStatus.OPEN:
            raise ConfigError(f"dead letter {entry_id} is {entry.status}; only open entries "
                              "can be replayed")
        compiled = self.bundle.flow(entry.flow)
        if not compiled.from_salesforce:
            raise ConfigError(f"dead letter {entry_id} is of the Stripe flow {entry.flow!r}; "
                              "replay it with the processor")
        rid = entry.source_id or ""
        soql = self.query_for_ids(compiled, [rid])
        report = PollReport()
        # A record deleted since (or a dead-lettered deletion) is in the recycle bin: its
        # replay applies the flow's deletion policy.
        rows = self.salesforce.query_all(soql, include_deleted=True)
        if not rows:
            self.store.dlq_record_attempt(entry_id, f"record {rid} no longer exists")
            return report
        before = report.dead_lettered
        self.store.snapshot_put(compiled.name, rid, {})  # the trigger fired for this record
        self._replay = f"replay:{entry_id}:{entry.attempts + 1}"
        try:
            self._handle(compiled, rows[0], report)
        except _StopFlow as exc:
            self.store.dlq_record_attempt(entry_id, str(exc))
            return report
        finally:
            self._replay = ""
        if report.dead_lettered > before:
            # _handle dead-lettered it again: keep one entry (the old one) open.
            newest = self.store.dlq_list(DeadLetterStatus.OPEN)[-1]
            self.store.dlq_set_status(newest.id, DeadLetterStatus.DISCARDED)
            self.store.dlq_record_attempt(entry_id, newest.error)
        else:
            self.store.dlq_record_attempt(entry_id)
            self.store.dlq_set_status(entry_id, DeadLetterStatus.REPLAYED)
        return report
