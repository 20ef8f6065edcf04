"""Test runs of a flow against a Salesforce org: a dry run, or a real run on a sandbox.

Both take the runner's own write path (``runner.api.testrun.SalesforceWriter``): lookups
resolved as the runner resolves them, then insert / update by external id / ``dedup_on`` +
upsert / upsert, exactly as the flow's operation says. Only the runner's state is left out: the
writer is given an in-memory ledger, so cross references live for the run and a record that
the runner would hold for review is reported as such instead of queued.

A dry run maps and decides, reading the org with SOQL only, and says what would happen:
"would create", "would update <Id>", "would need review" or "would fail: <issues>". A real
run sends the writes and reports each record's outcome with Salesforce's own messages.

Both are blocking and call ``progress(done, total)`` as they go; the GUI runs them on the
thread pool. Every network call carries the connector's socket timeout. What they report
(:mod:`app.services.testrun_results`) is apart from this module, which loads the runner's
pipeline: :class:`app.services.Services` imports it when the first test run starts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from app.services.testrun_results import (
    Outcome,
    Progress,
    RecordResult,
    RunReport,
    TestRunError,
)
from mappings.document.model import Action, Flow, MappingDocument
from mappings.engine.deletion import deletion_of
from mappings.engine.plan import FlowPlan, SchemaSource, compile_flow
from mappings.engine.result import Issue
from mappings.errors import MappingError
from mappings.schema.model import ObjectSchema, System
from runner.api.connectors import SalesforceConnector
from runner.api.errors import FatalSyncError
from runner.api.testrun import (
    MemoryLedger,
    SalesforceWriter,
    TaskOutcome,
    WriteItem,
    write_with_deletions,
)

__all__ = [
    "WRITE_CHUNK", "RecordResult", "RunReport", "TestRunError", "delete_records", "dry_run",
    "real_run",
]

WRITE_CHUNK = 50  # records per collections call in a real run, so progress moves


def _compile(
    flow: Flow,
    document: MappingDocument,
    schema: ObjectSchema | None,
    source: ObjectSchema | None = None,
    schemas: SchemaSource | None = None,
) -> FlowPlan:
    if flow.target.system is not System.SALESFORCE:
        raise TestRunError(f"flow {flow.name!r} writes to Stripe; test runs write to Salesforce "
                           "only (use the preview and the fixtures for it)")
    if flow.operation.action is Action.UPSERT and not flow.operation.external_id:
        raise TestRunError(f"flow {flow.name!r} upserts without an external id field")
    try:
        # The source schema knows which amounts are in minor units: a test run refuses to
        # write 1999 where 19.99 was meant.
        # ``schemas`` gives child collections their element's and child object's schemas.
        return compile_flow(flow, document, schema, source_schema=source, schemas=schemas)
    except MappingError as exc:
        raise TestRunError(f"flow {flow.name!r} cannot be compiled: {exc}") from exc


def _issues_text(issues: Sequence[Issue]) -> str:
    return "; ".join(i.message for i in issues if i.severity == "error")


def _tick(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def _items(samples: Sequence[dict[str, Any]]) -> list[WriteItem]:
    return [WriteItem(data=sample, payload=sample) for sample in samples]


def _guarded(flow: Flow, run: Callable[[], None]) -> None:
    """A failure that would stop the runner (bad credentials, a field the org lacks) fails
    the test run as a whole."""
    try:
        run()
    except FatalSyncError as exc:
        raise TestRunError(f"flow {flow.name!r}: {exc}") from exc


def _with_children(results: list[RecordResult], items: Sequence[WriteItem]) -> list[RecordResult]:
    """Each result with the child records its item writes (or would) alongside."""
    for result, item in zip(results, items, strict=True):
        result.children = {rel: list(records) for rel, records in item.children.items()}
    return results


def _finished(index: int, item: WriteItem, dry: bool) -> RecordResult:
    record = item.record or {}
    issues = list(item.issues)
    outcome = item.outcome
    if outcome is TaskOutcome.SKIPPED:
        return RecordResult(index, item.source_id, "skip", message=item.error or "", dry=dry)
    if outcome is TaskOutcome.REVIEW:
        candidates = ", ".join(c["Id"] for c in (item.dedup.candidates if item.dedup else []))
        return RecordResult(index, item.source_id, "review", None,
                            f"{item.error}: {candidates} (the runner would hold it for a person "
                            "to choose)", issues, record, dry)
    if outcome is TaskOutcome.WRITTEN:
        if item.write is None:  # found in the cross references: written before
            return RecordResult(index, item.source_id, "update", item.sf_id,
                                "written before", issues, record, dry)
        kind: Outcome = "create" if item.write.kind == "insert" or (
            item.write.kind == "upsert" and item.created is not False) else "update"
        if item.write.kind == "delete":
            kind = "delete"
        return RecordResult(index, item.source_id, kind, item.sf_id, "", issues, record, dry)
    # Dead-lettered or retried: a failure of this record.
    message = _issues_text(issues) if item.write is None and item.dedup is None and \
        _issues_text(issues) else (item.error or "failed")
    if not dry and item.write is None:
        message = f"not sent: {message}"
    return RecordResult(index, item.source_id, "fail", item.sf_id, message, issues, record, dry)


def _deletion(flow: Flow, plan: FlowPlan, item: WriteItem) -> str | None:
    """What a deletion sample would do, in words ("customer.deleted: would mark the Account
    with StripeCustomerID__c = cus_1 deleted (...)"); None for any other sample."""
    try:
        found = deletion_of(flow, item.data, plan)
    except MappingError:
        return None
    return found.summary() if found is not None else None


def dry_run(
    flow: Flow,
    document: MappingDocument,
    target_schema: ObjectSchema | None,
    samples: Sequence[dict[str, Any]],
    connector: SalesforceConnector,
    progress: Progress | None = None,
    source_schema: ObjectSchema | None = None,
    schemas: SchemaSource | None = None,
) -> RunReport:
    """What a run would do to the org, writing nothing."""
    plan = _compile(flow, document, target_schema, source_schema, schemas)
    total = len(samples) + 1  # the last step predicts the upserts
    _tick(progress, 0, total)
    items = _items(samples)
    writer = SalesforceWriter(connector, MemoryLedger())
    # A deletion sample (customer.deleted) is planned by the flow's on_delete.
    _guarded(flow, lambda: write_with_deletions(writer, flow, plan, items, dry=True))
    _tick(progress, len(samples), total)
    upserts = _predict_upserts(flow, items, connector)
    results: list[RecordResult] = []
    for index, item in enumerate(items):
        write = item.write
        deletion = _deletion(flow, plan, item)
        if item.outcome is not None or write is None:
            results.append(_finished(index, item, dry=True))
        elif deletion is not None:
            results.append(RecordResult(index, item.source_id, "delete" if write.kind ==
                                        "delete" else "update", write.sf_id, deletion,
                                        list(item.issues), item.record or {}))
        elif write.kind == "upsert":
            results.append(upserts[index])
        elif write.kind == "insert":
            results.append(RecordResult(index, item.source_id, "create", None, "",
                                        list(item.issues), item.record or {}))
        else:
            how = (f"matched by {item.dedup.matched_on}" if item.dedup is not None
                   else f"found by {flow.operation.external_id}")
            results.append(RecordResult(index, item.source_id, "update", write.sf_id, how,
                                        list(item.issues), item.record or {}))
    _tick(progress, total, total)
    return RunReport(flow.name, True, _with_children(results, items))


def _predict_upserts(flow: Flow, items: Sequence[WriteItem],
                     connector: SalesforceConnector) -> dict[int, RecordResult]:
    """What each planned upsert would do: update the record its external id finds, create
    one, or be refused (no value, or several records hold it)."""
    target, ext = flow.target.object, str(flow.operation.external_id)
    planned = [(i, item) for i, item in enumerate(items) if item.outcome is None
               and item.write is not None and item.write.kind == "upsert"]
    values = {i: (item.record or {}).get(ext) for i, item in planned}
    # dedup_on flows already looked the external id up (decision "existing" / "create").
    asked = [v for i, v in values.items() if v not in (None, "") and items[i].dedup is None]
    found = connector.find_ids(target, ext, asked) if asked else {}
    created_by: dict[Any, int] = {}  # a value this run would create, by its first sample
    out: dict[int, RecordResult] = {}
    for index, item in planned:
        value, record, issues = values[index], item.record or {}, list(item.issues)
        if item.dedup is not None:
            ids = [item.dedup.sf_id] if item.dedup.kind == "existing" and item.dedup.sf_id \
                else []
        else:
            ids = [] if value in (None, "") else (found.get(value) or [])
        if value in (None, ""):
            out[index] = RecordResult(index, item.source_id, "fail",
                                      message=f"no value for the external id {ext}",
                                      issues=issues, record=record)
        elif len(ids) > 1:
            out[index] = RecordResult(
                index, item.source_id, "fail", message=f"{len(ids)} {target} records have "
                f"{ext} = {value!r} (Salesforce would refuse the upsert)",
                issues=issues, record=record)
        elif ids:
            out[index] = RecordResult(index, item.source_id, "update", ids[0],
                                      f"found by {ext} = {value}", issues, record)
        elif value in created_by:
            out[index] = RecordResult(
                index, item.source_id, "update", None,
                f"the record that sample {created_by[value] + 1} would create ({ext} = {value})",
                issues, record)
        else:
            created_by[value] = index
            out[index] = RecordResult(index, item.source_id, "create", None,
                                      f"no {target} with {ext} = {value}", issues, record)
    return out


def real_run(
    flow: Flow,
    document: MappingDocument,
    target_schema: ObjectSchema | None,
    samples: Sequence[dict[str, Any]],
    connector: SalesforceConnector,
    progress: Progress | None = None,
    source_schema: ObjectSchema | None = None,
    schemas: SchemaSource | None = None,
) -> RunReport:
    """Write the mapped samples to the org through the runner's write path; each record's
    result with Salesforce's message. What the dry run promised is what happens."""
    plan = _compile(flow, document, target_schema, source_schema, schemas)
    total = len(samples)
    sent = [0]

    def on_sent(count: int) -> None:
        sent[0] += count
        _tick(progress, min(sent[0], total), total)

    _tick(progress, 0, total)
    items = _items(samples)
    writer = SalesforceWriter(connector, MemoryLedger(), batch_size=WRITE_CHUNK,
                              on_sent=on_sent)
    _guarded(flow, lambda: write_with_deletions(writer, flow, plan, items))
    _tick(progress, total, total)
    results = [_finished(index, item, dry=False) for index, item in enumerate(items)]
    return RunReport(flow.name, False, _with_children(results, items))


DELETE_CHUNK = 200  # ids per sObject Collections delete, Salesforce's limit


def delete_records(connector: SalesforceConnector, ids: Sequence[str]) -> tuple[int, list[str]]:
    """Delete the records a test run created (sObject Collections, not all-or-none).
    Returns how many went and a message per record that did not."""
    deleted, failures = 0, []
    unique = list(dict.fromkeys(i for i in ids if i))
    for start in range(0, len(unique), DELETE_CHUNK):
        chunk = unique[start : start + DELETE_CHUNK]
        replies = connector.sf.restful(
            "composite/sobjects", method="DELETE",
            params={"ids": ",".join(chunk), "allOrNone": "false"},
        )
        for record_id, reply in zip(chunk, replies or [], strict=False):
            if isinstance(reply, dict) and reply.get("success"):
                deleted += 1
            else:
                errors = reply.get("errors", []) if isinstance(reply, dict) else []
                why = "; ".join(str(e.get("message", e)) for e in errors) or "not deleted"
                failures.append(f"{record_id}: {why}")
    return deleted, failures
