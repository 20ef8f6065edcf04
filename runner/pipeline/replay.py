"""Second chances: replaying a dead letter, and carrying out a decided review item.

Both go through the processor's one write path (:class:`runner.pipeline.writer.SalesforceWriter`)
and settle like a batch of one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.errors import ConfigError
from runner.pipeline.ordering import event_object
from runner.pipeline.outcomes import SETTLED, ProcessReport, TaskOutcome
from runner.pipeline.router import Freshness, Task
from runner.pipeline.writer import PlannedWrite
from runner.state import DeadLetterStatus, ReviewStatus
from runner.state.settlement import Settlement

if TYPE_CHECKING:
    from runner.pipeline.processor import Processor


def replay_dlq(processor: Processor, entry_id: int) -> ProcessReport:
    """Run a dead letter's event through the current bundle; on success the entry is
    marked replayed, otherwise it stays open with the new error."""
    store = processor.store
    entry = store.dlq_get(entry_id)
    if entry.status != DeadLetterStatus.OPEN:
        raise ConfigError(f"dead letter {entry_id} is {entry.status}; only open entries "
                          "can be replayed")
    compiled = processor.bundle.flow(entry.flow)
    if compiled.from_salesforce:
        raise ConfigError(f"dead letter {entry_id} is of the Salesforce -> Stripe flow "
                          f"{entry.flow!r}; replay it with the poller")
    report = ProcessReport(events=1)
    calls_before = processor.salesforce.api_calls
    payload = entry.payload
    task = Task(data=payload, payload=payload, flow=compiled, event_id=entry.event_id)
    obj = event_object(payload)
    object_id = obj.get("id") if obj else None
    created = payload.get("created")
    version: tuple[str, int, str] | None = None
    if isinstance(object_id, str) and isinstance(created, int) and entry.event_id:
        version = (object_id, created, entry.event_id)
        applied = store.object_version(object_id)
        if applied is not None and (created, entry.event_id) < tuple(applied):
            Freshness(store, processor.stripe).refresh(task, object_id)
    settlement = Settlement()
    try:
        if task.outcome is None:
            processor.run_tasks([task], report, settlement, dead_letter=False)
        else:
            processor.settler.count(task, report)
        if task.outcome in SETTLED and version is not None:
            settlement.version(*version)
        processor.settler.commit(settlement)
    except BaseException:
        processor.settler.keep_references(settlement)
        raise
    if task.outcome in SETTLED:
        store.dlq_record_attempt(entry_id)
        store.dlq_set_status(entry_id, DeadLetterStatus.REPLAYED)
    else:
        store.dlq_record_attempt(entry_id, task.error or "replay failed")
    report.outcomes[entry.event_id or f"dlq:{entry_id}"] = task.outcome or TaskOutcome.RETRY
    report.api_calls = processor.salesforce.api_calls - calls_before
    processor.notify([task])
    return report


def apply_review(processor: Processor, item_id: int) -> ProcessReport:
    """Carry out a decided review item: approved with a chosen record -> update that
    record (linking it by external id); approved without -> create; rejected -> nothing."""
    item = processor.store.review_get(item_id)
    report = ProcessReport(events=1)
    if item.status == ReviewStatus.REJECTED:
        return report
    if item.status != ReviewStatus.APPROVED:
        raise ConfigError(f"review item {item_id} is {item.status}; approve or reject it "
                          "first")
    compiled = processor.bundle.flow(item.flow)
    flow = compiled.flow
    task = Task(data=item.payload, payload=item.payload, flow=compiled,
                source_id=item.source_id, record=dict(item.record))
    if item.chosen:
        task.plan(PlannedWrite("update", sf_id=item.chosen))
    else:
        task.plan(PlannedWrite("upsert", flow.operation.external_id))
    settlement = Settlement()
    try:
        processor.writer(settlement).send(flow, [[task]])
        if task.outcome is TaskOutcome.DEAD_LETTERED:
            processor.settler.dead_letter(task, settlement)
        processor.settler.commit(settlement)
    except BaseException:
        processor.settler.keep_references(settlement)
        raise
    processor.settler.count(task, report)
    if task.error:
        report.errors.append(task.error)
    processor.notify([task])
    return report
