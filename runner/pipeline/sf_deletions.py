"""Salesforce -> Stripe deletions: a record gone to the recycle bin, by the flow's policy.

The poller reads with ``queryAll``, so a record deleted since its watermark comes in its
page with ``IsDeleted = true`` (Salesforce keeps it, fields and all, in the recycle bin);
a change-event DELETE names only the Ids, which :meth:`SalesforceDeletions.read` reads the
same way (one ``queryAll`` by Id). Either way :meth:`SalesforceDeletions.handle` settles the
record by the flow's ``on_delete`` (:mod:`mappings.engine.deletion`):

- the Stripe object is the one the record names in the flow's writeback (else external id)
  field, else the one the runner remembers creating for it;
- ``mark``: ``metadata.salesforce_deleted_at`` (ISO 8601, UTC: the record's
  ``SystemModstamp``, when it was deleted) is set on it, with an Idempotency-Key of the
  deletion, and the write is noted as the runner's own;
- ``delete``: the object is deleted (``DELETE /v1/customers/{id}``), noted first as the
  runner's own deletion so its ``customer.deleted`` is an echo;
- ``ignore``: skipped.

A record the runner deleted itself (a Stripe deletion followed with ``delete``) is an echo.
A Stripe object already gone (404) is skipped: there is nothing left to mark or delete.
Failures are the poller's: retried (the watermark stays before the record), dead-lettered
or fatal.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mappings.document.model import DeletionPolicy
from mappings.engine.deletion import DeletionInputError, salesforce_deletion
from runner.connectors.errors import ConnectorError
from runner.pipeline.outcomes import TaskOutcome
from runner.pipeline.writeback import (
    DELETED_MARK,
    idempotency_key,
    is_own_deletion,
    note_stripe_write,
    with_origin,
)

if TYPE_CHECKING:
    from runner.pipeline.bundle_runtime import CompiledFlow
    from runner.pipeline.sf_poller import PollReport, SalesforcePoller

log = logging.getLogger(__name__)


class SalesforceDeletions:
    """The deletions of one poller's flows. A part of the poller kept in its own module: it
    uses the poller's store, connectors and failure handling (its underscored methods)."""

    def __init__(self, poller: SalesforcePoller) -> None:
        self.poller = poller

    def read(self, compiled: CompiledFlow, ids: Sequence[str],
             report: PollReport) -> list[dict[str, Any]]:
        """The deleted records ``ids`` as the recycle bin keeps them (``queryAll``, the
        fields the flow reads); an Id not deleted (undeleted since) is left out."""
        poller = self.poller
        wanted = list(dict.fromkeys(i for i in ids if i))
        rows: list[dict[str, Any]] = []
        for start in range(0, len(wanted), poller.page_size):
            soql = poller.query_for_ids(compiled, wanted[start:start + poller.page_size])
            rows += [r for r in poller._query(compiled.name, soql, report, include_deleted=True)
                     if r.get("IsDeleted")]
        missing = set(wanted) - {str(r.get("Id")) for r in rows}
        if missing:
            # Emptied from the recycle bin already, or undeleted since (its UNDELETE event
            # follows): nothing is known to mark or delete by.
            log.info("flow %s: deleted %s %s not in the recycle bin; skipped", compiled.name,
                     compiled.flow.source.object, ", ".join(sorted(missing)))
            report.skipped += len(missing)
        return rows

    def handle(self, compiled: CompiledFlow, record: dict[str, Any],
               report: PollReport) -> None:
        """Settle one deleted record by ``compiled``'s policy (the poller's failures)."""
        poller = self.poller
        flow = compiled.flow
        rid = str(record.get("Id") or "")
        if rid and is_own_deletion(poller.store, "salesforce", rid):
            report.echo += 1  # the runner deleted it, following a Stripe deletion
            return
        try:
            deletion = salesforce_deletion(flow, record)
        except DeletionInputError as exc:
            poller._dead_letter(flow, record, None, str(exc), "INVALID_INPUT", report)
            return
        if deletion.policy is DeletionPolicy.IGNORE:
            self._skip(compiled, deletion.summary(), report)
            return
        stripe_id = deletion.match_value or self._remembered(compiled, rid)
        if not stripe_id:
            self._skip(compiled, f"{deletion.what}: no Stripe {flow.target.object} is linked "
                       f"to it ({deletion.match_field or 'no writeback field'} is empty); "
                       "nothing written", report)
            return
        if deletion.match_value is None:
            deletion = replace(deletion, match_value=stripe_id)
        target = flow.target.object
        try:
            if deletion.policy is DeletionPolicy.MARK:
                key = idempotency_key(flow.name, rid, f"{record.get('SystemModstamp')}|deleted",
                                      poller._replay)
                poller.stripe.update(target, stripe_id, with_origin(deletion.mark_values()),
                                     key)
                note_stripe_write(poller.store, stripe_id, key, created=False)
            else:
                # Noted before the call: its event may arrive before the call returns.
                poller.store.note_own_write("stripe", stripe_id, DELETED_MARK)
                poller.stripe.delete(target, stripe_id)
        except ConnectorError as exc:
            if exc.status == 404:
                self._skip(compiled, f"{deletion.what}: the Stripe {target} {stripe_id} is "
                           f"already gone; nothing to {deletion.policy.value}", report)
                return
            poller._failed(compiled, record, exc, report)
            return
        log.info("flow %s: %s", flow.name, deletion.summary(done=True))
        report.updated += 1
        poller._done(compiled, record)

    def _remembered(self, compiled: CompiledFlow, rid: str) -> str | None:
        """The Stripe object the runner created for the record (its writeback may not
        have landed)."""
        memory = self.poller.store.snapshot_get(f"{compiled.name}#stripe", rid)
        found = memory.get("id") if memory else None
        return found if isinstance(found, str) and found else None

    def _skip(self, compiled: CompiledFlow, reason: str, report: PollReport) -> None:
        log.info("flow %s: %s", compiled.name, reason)
        report.skipped += 1
        self.poller._count(compiled.name, TaskOutcome.SKIPPED)
