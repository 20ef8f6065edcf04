"""Operate: the studio's view of running runners, through their admin API (``/api/v1``).

Plain Python and blocking, as the other services: the Operate workspace calls these methods
off the UI thread (``app.asyncloop``), and every call carries the client's socket timeout.
The answers are turned here into what the workspace shows (flow health, problem groups,
review comparisons, audit lines), in words for the people who run the sync day to day, so
the widgets only lay them out and tests can check them with a fake client.

A runner's token is kept in the OS keyring by the runner's own client
(``runner:<url>:admin_token``); the studio never writes it anywhere else.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from app.errors import StudioError

if TYPE_CHECKING:
    from runner.api.operate import AdminClient

__all__ = [
    "AuditLine", "FlowHealth", "History", "OperateError", "OperateService", "ProblemGroup",
    "ReviewCase", "ReviewRow", "audit_lines", "normalise_url", "flow_health", "problem_groups", "review_case",
]

HISTORY_POINTS = 180  # three minutes at the dashboard's 1 s refresh


class OperateError(StudioError):
    """A runner could not be reached, or refused what was asked (one sentence)."""


class Client(Protocol):
    """What the workspace needs of :class:`runner.api.operate.AdminClient` (tests fake it)."""

    url: str

    def status(self) -> dict[str, Any]: ...
    def dead_letters(self, *, flow: str | None = ..., code: str | None = ...,
                     status: str = ..., page: int = ..., per_page: int = ...
                     ) -> dict[str, Any]: ...
    def reviews(self, status: str = ...) -> dict[str, Any]: ...
    def audit(self, limit: int = ...) -> dict[str, Any]: ...
    def replay_cause(self, cause: str) -> dict[str, Any]: ...
    def discard(self, id_: int) -> dict[str, Any]: ...
    def approve(self, id_: int, record: str) -> dict[str, Any]: ...
    def reject(self, id_: int, *, create: bool = ...) -> dict[str, Any]: ...
    def pause(self, flow: str) -> dict[str, Any]: ...
    def resume(self, flow: str) -> dict[str, Any]: ...
    def deploy(self, bundle: Path | bytes) -> dict[str, Any]: ...


ClientFactory = Callable[[str, str], Client]
TokenLookup = Callable[[str], "str | None"]
TokenStore = Callable[[str, "str | None"], None]


# --------------------------------------------------------------------------- what is shown


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    events_per_second: float
    errors_per_second: float
    p50: float | None
    p99: float | None
    api_used: int | None
    api_max: int | None


class History:
    """The dashboard's recent samples of one runner's status, oldest first."""

    def __init__(self, points: int = HISTORY_POINTS) -> None:
        self.samples: deque[Sample] = deque(maxlen=points)

    def add(self, status: dict[str, Any], at: float | None = None) -> Sample:
        latency = status.get("latency") or {}
        api = status.get("salesforce_api") or {}
        sample = Sample(
            at=time.monotonic() if at is None else at,
            events_per_second=float(status.get("events_per_second") or 0.0),
            errors_per_second=float(status.get("errors_per_second") or 0.0),
            p50=latency.get("p50"), p99=latency.get("p99"),
            api_used=api.get("used"), api_max=api.get("max"))
        self.samples.append(sample)
        return sample

    def series(self, name: str) -> tuple[list[float], list[float]]:
        """(seconds before the latest sample, values) of one :class:`Sample` field, with the
        samples that have no value left out."""
        if not self.samples:
            return [], []
        last = self.samples[-1].at
        xs, ys = [], []
        for s in self.samples:
            value = getattr(s, name)
            if value is not None:
                xs.append(s.at - last)
                ys.append(float(value))
        return xs, ys

    @property
    def latest(self) -> Sample | None:
        return self.samples[-1] if self.samples else None


@dataclass(frozen=True, slots=True)
class FlowHealth:
    name: str
    running: bool
    health: str  # one line a person reads: "Working", "Paused by an operator", ...
    direction: str
    written: int
    failed: int
    dead_letters: int


_DIRECTIONS = {"stripe->salesforce": "Stripe to Salesforce",
               "salesforce->stripe": "Salesforce to Stripe"}


def flow_health(status: dict[str, Any]) -> list[FlowHealth]:
    out = []
    for flow in status.get("flows", []):
        outcomes = flow.get("outcomes") or {}
        # The runner's outcome names (runner.metrics.OUTCOMES).
        written = int(outcomes.get("written", 0))
        failed = int(outcomes.get("dead_lettered", 0))
        waiting = int(flow.get("dead_letters") or 0)
        running = flow.get("state") != "paused"
        if not running:
            health = ("Paused by an operator: new records wait until you resume"
                      if flow.get("paused_by") == "operator" else
                      "Paused: Salesforce no longer matches the mapping (fields changed)")
        elif waiting:
            health = f"Working; {waiting} record{'s' if waiting != 1 else ''} need attention"
        else:
            health = "Working"
        out.append(FlowHealth(flow["name"], running, health,
                              _DIRECTIONS.get(flow.get("direction", ""), ""), written,
                              failed, waiting))
    return out


@dataclass(frozen=True, slots=True)
class ProblemGroup:
    """Dead letters of one cause: one fix, then one replay for all of them."""

    cause: str
    count: int
    ids: list[int]
    title: str
    what: str
    fix: str
    flow: str
    field: str | None
    value: Any
    in_mapping: bool
    code: str

    @property
    def headline(self) -> str:
        return f"{self.title}: {self.count} record{'s' if self.count != 1 else ''} " \
               f"in {self.flow}"


def problem_groups(answer: dict[str, Any]) -> list[ProblemGroup]:
    """The groups of a ``GET /dead-letters`` answer, largest first (the runner's order)."""
    groups = []
    for g in answer.get("groups", []):
        e = g.get("explanation") or {}
        groups.append(ProblemGroup(
            cause=g["cause"], count=int(g.get("count", len(g.get("ids", [])))),
            ids=list(g.get("ids", [])), title=e.get("title") or e.get("code") or "Refused",
            what=e.get("what", ""), fix=e.get("fix", ""), flow=e.get("flow", ""),
            field=e.get("field"), value=e.get("value"),
            in_mapping=bool(e.get("in_mapping")), code=e.get("code", "")))
    return groups


@dataclass(frozen=True, slots=True)
class ReviewRow:
    field: str
    incoming: str  # the value the Stripe record maps to
    candidates: list[str]  # each candidate's value, in candidate order
    same: list[bool]  # whether each candidate agrees with the incoming value


@dataclass(frozen=True, slots=True)
class ReviewCase:
    """A possible duplicate: the incoming Stripe record beside the Salesforce records it
    may be, field by field."""

    id: int
    flow: str
    source_id: str
    candidate_ids: list[str]
    rows: list[ReviewRow]
    matched_on: str = ""  # the field whose value found the candidates

    @property
    def headline(self) -> str:
        n = len(self.candidate_ids)
        on = f" with the same {self.matched_on}" if self.matched_on else ""
        return (f"{self.source_id} ({self.flow}) may already be in Salesforce: "
                f"{n} possible match{'es' if n != 1 else ''}{on}")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# A candidate's keys that are not Salesforce fields: how the runner found it.
_NOT_FIELDS = ("Id", "attributes", "field", "value")


def review_case(item: dict[str, Any]) -> ReviewCase:
    record = item.get("record") or {}
    candidates = [c for c in item.get("candidates") or [] if isinstance(c, dict)]
    names = [k for k in record if k != "Id"]
    for c in candidates:  # fields only the candidates have come after the record's own
        names.extend(k for k in c if k not in names and k not in _NOT_FIELDS)
    rows = []
    for name in ["Id", *names] if candidates else names:
        incoming = "" if name == "Id" else _text(record.get(name))
        values = [_text(c.get(name)) for c in candidates]
        if not incoming and not any(values):
            continue  # empty on every side: nothing to compare
        rows.append(ReviewRow(name, incoming, values,
                              [name != "Id" and v.casefold() == incoming.casefold()
                               for v in values]))
    matched = next((_text(c.get("field")) for c in candidates if c.get("field")), "")
    return ReviewCase(int(item["id"]), item.get("flow", ""), _text(item.get("source_id")),
                      [_text(c.get("Id")) for c in candidates], rows, matched)


@dataclass(frozen=True, slots=True)
class AuditLine:
    when: str
    who: str
    what: str
    target: str
    outcome: str


_ACTIONS = {
    "bundle.deploy": "Deployed a new version of the mappings",
    "bundle.rollback": "Went back to the previous mappings",
    "dead-letters.replay": "Sent a failed record again",
    "dead-letters.replay-group": "Sent a group of failed records again",
    "dead-letters.discard": "Dropped a failed record",
    "flows.pause": "Paused a flow",
    "flows.resume": "Resumed a flow",
    "reviews.approve": "Linked a possible duplicate to an existing record",
    "reviews.reject": "Decided a possible duplicate is a new record",
}


def audit_lines(answer: dict[str, Any]) -> list[AuditLine]:
    return [AuditLine(_text(e.get("at")).replace("T", " ")[:19], _text(e.get("token")),
                      _ACTIONS.get(e.get("action", ""), _text(e.get("action"))),
                      _text(e.get("target")), _text(e.get("outcome")))
            for e in answer.get("entries", [])]


# --------------------------------------------------------------------------- the service


@dataclass(slots=True)
class DeployAndReplay:
    flows: list[str]
    replayed: int
    failed: int
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"Deployed ({len(self.flows)} flows); {self.replayed} record" \
               f"{'s' if self.replayed != 1 else ''} sent again"
        if self.failed:
            text += f", {self.failed} still refused: {self.errors[0] if self.errors else ''}"
        return text


def normalise_url(url: str) -> str:
    """The runner address as the keyring and the client know it (no trailing slash)."""
    url = url.strip().rstrip("/")
    if not url:
        raise OperateError("type the runner's address, e.g. http://127.0.0.1:8080")
    if "://" not in url:
        url = f"http://{url}"
    return url


class OperateService:
    """The runners the studio is connected to, and what it asks of them."""

    def __init__(self, client_factory: ClientFactory | None = None,
                 token_lookup: TokenLookup | None = None,
                 token_store: TokenStore | None = None) -> None:
        self._factory = client_factory
        self._lookup = token_lookup
        self._store = token_store
        self.clients: dict[str, Client] = {}

    @property
    def urls(self) -> list[str]:
        return list(self.clients)

    def _api(self) -> tuple[ClientFactory, TokenLookup, TokenStore]:
        if self._factory is None or self._lookup is None or self._store is None:
            # Lazy: runner.api.operate imports requests (~0.5 s measured with -X importtime,
            # and tests/app/test_services_startup.py keeps it out of the studio's start-up).
            from runner.api import operate

            def factory(url: str, token: str) -> AdminClient:
                return operate.AdminClient(url, token)

            self._factory = self._factory or factory
            self._lookup = self._lookup or (lambda url: operate.token_for(url))
            self._store = self._store or operate.store_token
        return self._factory, self._lookup, self._store

    def connect(self, url: str, token: str | None = None) -> dict[str, Any]:
        """Connect to the runner at ``url`` and return its status. Without ``token`` the one
        kept in the keyring is used; a token that works is kept there for next time."""
        url = normalise_url(url)
        factory, lookup, store = self._api()
        token = (token or "").strip() or lookup(url)
        if not token:
            raise OperateError(f"no admin token for {url}: paste the token the runner was "
                               "started with (runner.admin_token)")
        try:
            client = factory(url, token)
        except Exception as exc:
            raise OperateError(str(exc)) from exc
        status = self._call(client, "status")
        try:
            store(url, token)
        except Exception as exc:  # connected; only remembering the token failed
            raise OperateError(f"connected, but the token could not be kept: {exc}") from exc
        self.clients[url] = client
        return status

    def forget(self, url: str, *, token: bool = False) -> None:
        self.clients.pop(url, None)
        if token:
            self._api()[2](url, None)

    def client(self, url: str) -> Client:
        try:
            return self.clients[url]
        except KeyError:
            raise OperateError(f"not connected to {url}") from None

    def _call(self, client: Client, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(client, method)(*args, **kwargs)
        except StudioError:
            raise
        except Exception as exc:  # AdminClientError's sentence, or what the fake raised
            raise OperateError(str(exc)) from exc

    def ask(self, url: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._call(self.client(url), method, *args, **kwargs)

    # -- reading
    def status(self, url: str) -> dict[str, Any]:
        return self.ask(url, "status")

    def problems(self, url: str) -> list[ProblemGroup]:
        return problem_groups(self.ask(url, "dead_letters", per_page=200))

    def reviews(self, url: str) -> list[ReviewCase]:
        return [review_case(i) for i in self.ask(url, "reviews")["items"]]

    def audit(self, url: str, limit: int = 100) -> list[AuditLine]:
        return audit_lines(self.ask(url, "audit", limit))

    # -- acting
    def pause(self, url: str, flow: str) -> dict[str, Any]:
        return self.ask(url, "pause", flow)

    def resume(self, url: str, flow: str) -> dict[str, Any]:
        return self.ask(url, "resume", flow)

    def replay_group(self, url: str, cause: str) -> dict[str, Any]:
        return self.ask(url, "replay_cause", cause)

    def discard_group(self, url: str, group: ProblemGroup) -> int:
        for id_ in group.ids:
            self.ask(url, "discard", id_)
        return len(group.ids)

    def deploy_and_replay(self, url: str, bundle: Path | bytes, cause: str
                          ) -> DeployAndReplay:
        """Deploy ``bundle`` (a refusal leaves the running one, and nothing is replayed),
        then send the group's records again through it."""
        deployed = self.ask(url, "deploy", bundle)
        result = self.replay_group(url, cause)
        errors = [r.get("error") or "" for r in result.get("results", [])
                  if r.get("status") != "replayed"]
        return DeployAndReplay(list(deployed.get("flows", [])), int(result["replayed"]),
                               int(result["failed"]), errors)

    def approve(self, url: str, case: ReviewCase, record: str) -> dict[str, Any]:
        return self.ask(url, "approve", case.id, record)

    def create_new(self, url: str, case: ReviewCase) -> dict[str, Any]:
        return self.ask(url, "reject", case.id, create=True)

    def skip(self, url: str, case: ReviewCase) -> dict[str, Any]:
        """Drop the item: nothing is written (the command line's ``review reject``)."""
        return self.ask(url, "reject", case.id, create=False)
