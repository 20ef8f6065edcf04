"""Stripe -> Salesforce deletions: a flow's ``on_delete`` policy, through the one write path.

A Stripe deletion event (:func:`mappings.schema.stripe_events.is_deletion_event`) that a
flow lists in its trigger is not mapped and upserted: :func:`write_with_deletions` takes
it out of the group and :class:`Deletions` applies the flow's policy
(:mod:`mappings.engine.deletion` reads the event):

- the target is found as the writer finds one to update: the cross-reference table by the
  Stripe id, then one SOQL per group on the flow's external id;
- ``mark``: an update of that record by Id with ``StripeDeletedAt__c`` = the event's time,
  and the object's last state as the flow maps it when that maps without error (a canceled
  subscription's status, a voided invoice's); never a create, children untouched;
- ``delete``: an sObject Collections delete of that record by Id;
- ``ignore``: skipped, with the reason.

Both writes go out through the writer's transport, and what they leave (cross references,
own-write notes: a deletion the runner made is no trigger for the other direction) through
its ledger. No target: skipped, nothing written. A deletion event naming no object id is
dead-lettered with one sentence.

A non-deletion event of an object that carries ``metadata.salesforce_deleted_at`` (the
runner marked it because its record was deleted in Salesforce) is skipped too: writing it
would bring the deleted record back as a new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mappings.document.model import MARK_KEY_STRIPE, DeletionPolicy
from mappings.engine.deletion import (
    Deletion,
    DeletionInputError,
    has_last_state,
    stripe_deletion,
)
from mappings.schema.model import System
from mappings.schema.stripe_events import is_deletion_event, split_event
from runner.classify import Failure
from runner.connectors.errors import ConnectorError, RecordOutcome
from runner.pipeline.batching import WriteKind, chunks
from runner.pipeline.outcomes import TaskOutcome, failed
from runner.pipeline.writer import PlannedWrite, SalesforceWriter, WriteItem

if TYPE_CHECKING:
    from mappings.document.model import Flow
    from mappings.engine.plan import FlowPlan

# Answers to a write of a record that is already gone: nothing left to mark or delete.
_GONE = frozenset({"ENTITY_IS_DELETED", "NOT_FOUND", "INVALID_CROSS_REFERENCE_KEY"})


def write_with_deletions(writer: SalesforceWriter, flow: Flow, plan: FlowPlan,
                         items: Sequence[WriteItem], *, dry: bool = False) -> None:
    """The writer's :meth:`~SalesforceWriter.write` (``dry``: ``predict``) for ``items``,
    with the deletion events among them applied by the flow's ``on_delete`` instead."""
    rest = Deletions(writer).apply(flow, plan, items, dry=dry)
    if rest:
        if dry:
            writer.predict(flow, plan, rest)
        else:
            writer.write(flow, plan, rest)


def marked_deleted(data: object) -> str | None:
    """``metadata.salesforce_deleted_at`` of the Stripe object in ``data``, or None."""
    record, _envelope = split_event(data)
    metadata = record.get("metadata") if record is not None else None
    value = metadata.get(MARK_KEY_STRIPE) if isinstance(metadata, dict) else None
    return value if isinstance(value, str) and value else None


class Deletions:
    """Applies the Stripe deletions of one flow's group through ``writer``'s connector,
    transport and ledger."""

    def __init__(self, writer: SalesforceWriter) -> None:
        self.writer = writer

    def apply(self, flow: Flow, plan: FlowPlan, items: Sequence[WriteItem], *,
              dry: bool = False) -> list[WriteItem]:
        """Finish (``dry``: plan) the deletion items of ``items``; the other open items,
        still to be written."""
        rest: list[WriteItem] = []
        found: list[tuple[WriteItem, Deletion]] = []
        # Most flows list no deletion event: their items are not read for one.
        lists_deletions = any(is_deletion_event(t) for t in flow.trigger.stripe_events)
        for item in items:
            if item.outcome is not None:
                continue
            try:
                deletion = stripe_deletion(flow, item.data, plan) if lists_deletions else None
            except DeletionInputError as exc:
                item.finish(TaskOutcome.DEAD_LETTERED, f"flow {flow.name!r}: {exc}",
                            "INVALID_INPUT", Failure.SKIPPABLE)
                continue
            if deletion is None:
                stamp = marked_deleted(item.data) if flow.target.system is \
                    System.SALESFORCE else None
                if stamp is not None:
                    record, _ = split_event(item.data)
                    item.source_id = str((record or {}).get("id") or "") or None
                    item.finish(TaskOutcome.SKIPPED, f"the Stripe {flow.source.object} "
                                f"{item.source_id} was marked deleted in Salesforce at {stamp} "
                                f"({MARK_KEY_STRIPE}); its {flow.target.object} is not written "
                                "again")
                else:
                    rest.append(item)
                continue
            item.source_id = deletion.source_id
            item.record = deletion.record()
            if deletion.policy is DeletionPolicy.IGNORE:
                item.finish(TaskOutcome.SKIPPED, deletion.skip_reason())
                continue
            found.append((item, deletion))
        if found:
            self._apply(flow, plan, found, dry=dry)
        return rest

    def _apply(self, flow: Flow, plan: FlowPlan, found: list[tuple[WriteItem, Deletion]], *,
               dry: bool) -> None:
        try:
            targets = self._targets(flow, [d for _, d in found])
            last = self._last_states(flow, plan, [item for item, d in found
                                                  if has_last_state(d, item.data)])
        except ConnectorError as exc:
            outcome = failed(exc.failure, f"flow {flow.name!r}: {exc}", exc)
            for item, _ in found:
                item.finish(outcome, str(exc), exc.error_code, exc.failure)
            return
        marks: list[WriteItem] = []
        deletes: list[WriteItem] = []
        for item, deletion in found:
            ids = targets.get(deletion.source_id) or []
            if not ids:
                item.finish(TaskOutcome.SKIPPED, deletion.not_found())
                continue
            if len(ids) > 1:
                item.finish(TaskOutcome.DEAD_LETTERED,
                            f"{deletion.what}: {len(ids)} {deletion.target_label} records; "
                            f"cannot tell which to {deletion.policy.value}", "DUPLICATE_VALUE",
                            Failure.SKIPPABLE)
                continue
            if deletion.policy is DeletionPolicy.MARK:
                item.record = {"Id": ids[0], **(deletion.record(last.get(id(item))) or {})}
                item.plan(PlannedWrite("update", sf_id=ids[0]))
                marks.append(item)
            else:
                item.record = {"Id": ids[0]}
                item.plan(PlannedWrite("delete", sf_id=ids[0]))
                deletes.append(item)
        if dry:
            return  # the items stay open, planned: ``write`` says what would be sent
        self._send(flow, "update", marks)
        self._send(flow, "delete", deletes)

    def _last_states(self, flow: Flow, plan: FlowPlan,
                     items: Sequence[WriteItem]) -> dict[int, dict[str, Any]]:
        """The mapped record of each item whose object maps without error, by ``id(item)``
        (the writer's mapping step, on copies: a mapping that fails or skips only leaves
        the mark without the last state)."""
        if not items:
            return {}
        probes = [WriteItem(data=item.data, payload=item.payload) for item in items]
        ready = {id(p) for p in self.writer.map(flow, plan, probes)}
        return {id(item): dict(probe.record or {}) for item, probe in zip(items, probes,
                                                                          strict=True)
                if id(probe) in ready}

    def _targets(self, flow: Flow, deletions: Sequence[Deletion]) -> dict[str, list[str]]:
        """Stripe id -> the target record Ids: the cross references, then one SOQL on the
        external id for the rest."""
        obj = flow.target.object
        ledger = self.writer.ledger
        known = ledger.xref_get_many(obj, [d.source_id for d in deletions])
        out: dict[str, list[str]] = {sid: [sf_id] for sid, sf_id in known.items()}
        missing = [d for d in deletions if d.source_id not in out and d.match_field
                   and d.match_value]
        if missing:
            field = str(missing[0].match_field)
            if self.writer.metrics is not None:
                self.writer.metrics.api_call("query")
            ids = self.writer.salesforce.find_ids(obj, field, [d.match_value for d in missing])
            for d in missing:
                out[d.source_id] = list(ids.get(d.match_value) or [])
        return out

    def _send(self, flow: Flow, kind: WriteKind, items: list[WriteItem]) -> None:
        if not items:
            return
        transport = self.writer.transport
        obj = flow.target.object
        for part in chunks(items, transport.size_for(kind)):
            answer = transport.send(kind, obj, None, [item.body() for item in part])
            if isinstance(answer, ConnectorError):
                outcome = failed(answer.failure, f"flow {flow.name!r}: {answer}", answer)
                for item in part:
                    item.finish(outcome, str(answer), answer.error_code, answer.failure)
                continue
            for item, result in zip(part, answer, strict=True):
                self._answered(flow, kind, item, result)

    def _answered(self, flow: Flow, kind: WriteKind, item: WriteItem,
                  result: RecordOutcome) -> None:
        obj = flow.target.object
        ledger = self.writer.ledger
        if result.success:
            sf_id = str(item.sf_id)
            if kind == "delete":
                ledger.own_deletion(obj, sf_id)
            else:
                ledger.own_write(obj, sf_id)
                if item.source_id:
                    ledger.xref_put(obj, item.source_id, sf_id, flow.name)
            item.finish(TaskOutcome.WRITTEN)
            return
        if result.error_code in _GONE:
            item.finish(TaskOutcome.SKIPPED, f"the {obj} {item.sf_id} is already deleted in "
                        f"Salesforce; nothing to {'delete' if kind == 'delete' else 'mark'}")
            return
        failure = result.failure or Failure.SKIPPABLE
        outcome = failed(failure, f"flow {flow.name!r}: Salesforce refused to "
                         f"{'delete' if kind == 'delete' else 'mark'} {obj} {item.sf_id} for "
                         f"{item.source_id}: {result.message}")
        item.finish(outcome, result.message, result.error_code, failure)
