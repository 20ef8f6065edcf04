"""Test runs of a flow against a Salesforce org: a dry run, or a real run on a sandbox.

A dry run maps each sample, resolves its lookups and its external id against the org with
SOQL (reads only) and says what would happen: "would create", "would update <Id>" or
"would fail: <issues>". A real run sends the mapped records through sObject Collections
(upsert by external id, insert or update, as the flow's operation says) and reports each
record's outcome with Salesforce's own error messages.

Both are blocking and call ``progress(done, total)`` after each step; the GUI runs them on
the thread pool. Every network call carries the connector's socket timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mappings.document.model import Action, Flow, MappingDocument
from mappings.engine.plan import FlowPlan, compile_flow
from mappings.engine.result import Issue, MappingResult, json_safe
from mappings.errors import MappingError
from mappings.schema.model import ObjectSchema, System

if TYPE_CHECKING:
    from runner.connectors.salesforce import SalesforceConnector

Progress = Callable[[int, int], None]
Outcome = Literal["create", "update", "fail", "skip"]
WRITE_CHUNK = 50  # records per collections call in a real run, so progress moves


class TestRunError(Exception):
    """The test run as a whole cannot start or went wrong (not one record's failure)."""

    __test__ = False


@dataclass
class RecordResult:
    """One sample's outcome. ``dry`` results say what *would* happen."""

    index: int
    source_id: str | None
    outcome: Outcome
    salesforce_id: str | None = None
    message: str = ""
    issues: list[Issue] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)
    dry: bool = True

    @property
    def action(self) -> str:
        """``would create`` / ``would update`` / ``created`` / ``failed`` ... for the table."""
        if self.outcome == "skip":
            return "skipped"
        if self.dry:
            return f"would {self.outcome}"
        return {"create": "created", "update": "updated", "fail": "failed"}[self.outcome]


@dataclass
class RunReport:
    flow: str
    dry: bool
    results: list[RecordResult]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def summary(self) -> str:
        verb = "would " if self.dry else ""
        parts = [f"{self.count('create')} {verb}create", f"{self.count('update')} {verb}update",
                 f"{self.count('fail')} {verb}fail"]
        if self.count("skip"):
            parts.append(f"{self.count('skip')} skipped")
        return ", ".join(parts)


def _compile(flow: Flow, document: MappingDocument, schema: ObjectSchema | None) -> FlowPlan:
    if flow.target.system is not System.SALESFORCE:
        raise TestRunError(f"flow {flow.name!r} writes to Stripe; test runs write to Salesforce "
                           "only (use the preview and the fixtures for it)")
    if flow.operation.action is Action.UPSERT and not flow.operation.external_id:
        raise TestRunError(f"flow {flow.name!r} upserts without an external id field")
    try:
        return compile_flow(flow, document, schema)
    except MappingError as exc:
        raise TestRunError(f"flow {flow.name!r} cannot be compiled: {exc}") from exc


def _issues_text(issues: Sequence[Issue]) -> str:
    return "; ".join(i.message for i in issues if i.severity == "error")


def _tick(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def _local_outcome(index: int, result: MappingResult, dry: bool) -> RecordResult | None:
    """The outcome decided without the org: skipped, or failing its own validation."""
    if result.skipped:
        return RecordResult(index, result.source_id, "skip", message=result.skip_reason or "",
                            dry=dry)
    if not result.ok:
        return RecordResult(index, result.source_id, "fail", message=_issues_text(result.issues),
                            issues=list(result.issues), record=json_safe(result.record), dry=dry)
    return None


def _org_resolver(connector: SalesforceConnector) -> Callable[[str, str, Any], str | None]:
    """Lookups answered by the org, as the runner does: the record found by its external
    id, or none (an optional lookup is then left empty; a required one fails the record)."""
    cache: dict[tuple[str, str, Any], str | None] = {}

    def resolve(obj: str, match_field: str, value: Any) -> str | None:
        key = (obj, match_field, value)
        if key not in cache:
            ids = connector.find_ids(obj, match_field, [value]).get(value) or []
            cache[key] = ids[0] if ids else None
        return cache[key]

    return resolve


def _map_samples(
    plan: FlowPlan, samples: Sequence[dict[str, Any]],
    resolve: Callable[[str, str, Any], str | None],
    *, dry: bool, each: Callable[[int], None] | None = None,
) -> tuple[list[RecordResult | None], list[tuple[int, MappingResult]]]:
    """Every sample mapped: the outcomes decided without the org (None where the org decides)
    and the mapped records left for the org, by sample index. ``each`` hears every index."""
    results: list[RecordResult | None] = []
    mapped: list[tuple[int, MappingResult]] = []
    for index, sample in enumerate(samples):
        result = plan.apply(sample, resolve)
        decided = _local_outcome(index, result, dry=dry)
        results.append(decided)
        if decided is None:
            mapped.append((index, result))
        if each is not None:
            each(index)
    return results, mapped


def dry_run(
    flow: Flow,
    document: MappingDocument,
    target_schema: ObjectSchema | None,
    samples: Sequence[dict[str, Any]],
    connector: SalesforceConnector,
    progress: Progress | None = None,
) -> RunReport:
    """What a run would do to the org, writing nothing."""
    plan = _compile(flow, document, target_schema)
    total = len(samples) + 1  # the last step resolves the external ids
    results, mapped = _map_samples(plan, samples, _org_resolver(connector), dry=True,
                                   each=lambda index: _tick(progress, index + 1, total))

    op = flow.operation
    target = flow.target.object
    if op.action is Action.UPSERT:
        ext = str(op.external_id)
        values = [r.record.get(ext) for _, r in mapped]
        found = connector.find_ids(target, ext, [v for v in values if v not in (None, "")])
        created_by: dict[Any, int] = {}  # a value this run would create, by its first sample
        for (index, r), value in zip(mapped, values, strict=True):
            record = json_safe(r.record)
            ids = None if value in (None, "") else (found.get(value) or [])
            if ids is None:
                results[index] = RecordResult(
                    index, r.source_id, "fail", message=f"no value for the external id {ext}",
                    issues=list(r.issues), record=record)
            elif len(ids) > 1:
                results[index] = RecordResult(
                    index, r.source_id, "fail", message=f"{len(ids)} {target} records have "
                    f"{ext} = {value!r} (Salesforce would refuse the upsert)",
                    issues=list(r.issues), record=record)
            elif ids:
                results[index] = RecordResult(index, r.source_id, "update", ids[0],
                                              f"found by {ext} = {value}", list(r.issues), record)
            elif value in created_by:
                results[index] = RecordResult(
                    index, r.source_id, "update", None,
                    f"the record that sample {created_by[value] + 1} would create "
                    f"({ext} = {value})",
                    list(r.issues), record)
            else:
                created_by[value] = index
                results[index] = RecordResult(index, r.source_id, "create", None,
                                              f"no {target} with {ext} = {value}",
                                              list(r.issues), record)
    else:
        for index, r in mapped:
            record = json_safe(r.record)
            if op.action is Action.UPDATE:
                rid = record.get("Id")
                results[index] = RecordResult(
                    index, r.source_id, "update" if rid else "fail", rid,
                    "" if rid else "an update needs the record's Id", list(r.issues), record)
            else:
                results[index] = RecordResult(index, r.source_id, "create", None, "",
                                              list(r.issues), record)
    _tick(progress, total, total)
    return RunReport(flow.name, True, [r for r in results if r is not None])


def real_run(
    flow: Flow,
    document: MappingDocument,
    target_schema: ObjectSchema | None,
    samples: Sequence[dict[str, Any]],
    connector: SalesforceConnector,
    progress: Progress | None = None,
) -> RunReport:
    """Write the mapped samples to the org; each record's result with Salesforce's message.

    Lookups are resolved against the org first, exactly as in the dry run (and the runner),
    so what the dry run promised is what happens.
    """
    plan = _compile(flow, document, target_schema)
    results, to_send = _map_samples(plan, samples, _org_resolver(connector), dry=False)
    for decided in results:
        if decided is not None and decided.outcome == "fail":
            decided.message = f"not sent: {decided.message}"
    total = len(to_send)
    _tick(progress, 0, total)
    op, target = flow.operation, flow.target.object
    for start in range(0, total, WRITE_CHUNK):
        chunk = to_send[start:start + WRITE_CHUNK]
        payload = [json_safe(r.record) for _, r in chunk]
        if op.action is Action.UPSERT:
            outcomes = connector.upsert_many(target, str(op.external_id), payload)
        elif op.action is Action.UPDATE:
            outcomes = connector.update_many(target, payload)
        else:
            outcomes = connector.insert_many(target, payload)
        for (index, r), record, outcome in zip(chunk, payload, outcomes, strict=True):
            if outcome.success:
                kind: Outcome = "update" if outcome.created is False or (
                    op.action is Action.UPDATE) else "create"
                results[index] = RecordResult(index, r.source_id, kind, outcome.id, "",
                                              list(r.issues), record, dry=False)
            else:
                results[index] = RecordResult(index, r.source_id, "fail", outcome.id,
                                              outcome.message, list(r.issues), record, dry=False)
        _tick(progress, min(start + WRITE_CHUNK, total), total)
    return RunReport(flow.name, False, [r for r in results if r is not None])
