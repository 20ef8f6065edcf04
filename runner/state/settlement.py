"""A micro-batch's state changes, gathered while it runs and committed in one transaction.

The processor writes a batch to Salesforce, then records what happened: cross references,
its own writes (echo suppression), object versions (ordering), dead letters, review items,
and finally each event's ledger entry (done / retry). Committing all of it at once
(:meth:`Settlements.settle_batch`, part of :class:`runner.state.store.StateStore`) costs one commit per batch instead of
several per event, and a crash leaves either all of it or none: an event is never marked
done without its cross reference, and a redelivered event re-applies harmlessly (upserts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runner.salesforce_ids import canonical_id
from runner.state.database import Repository, insert_returning_id
from runner.state.dead_letters import dead_letter_row
from runner.state.inbox import mark_done_in, mark_retry_in
from runner.state.models import dead_letters, review_items
from runner.state.own_writes import own_write_insert, own_write_rows
from runner.state.reviews import review_row
from runner.state.versions import version_rows, version_upsert
from runner.state.xrefs import xref_forget_rows, xref_forget_stmt, xref_rows, xref_upsert


@dataclass(frozen=True)
class Finish:
    """An event's ledger entry: ``mark_done`` (``retry_at`` None) or ``mark_retry``."""

    event_id: str
    outcome: str = "done"
    worker: str | None = None  # with a worker: only if it still holds the claim
    error: str | None = None  # retries: the error kept on the event
    retry_at: datetime | None = None  # set: a retry, not done


@dataclass
class Settlement:
    """What one batch will commit. Add freely; nothing is written until settled."""

    # (sf_object, stripe_id) -> (sf_id, flow), the Id always in its 18-character form.
    xrefs: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    # (sf_object, 18-character Id) of records the runner deleted: their cross references go.
    forgotten: dict[tuple[str, str], None] = field(default_factory=dict)
    own_writes: dict[tuple[str, str, str], None] = field(default_factory=dict)
    versions: dict[str, tuple[int, str]] = field(default_factory=dict)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    finishes: list[Finish] = field(default_factory=list)

    def xref(self, sf_object: str, stripe_id: str, sf_id: str, flow: str) -> None:
        if not (sf_object and stripe_id and sf_id):
            raise ValueError("an xref needs sf_object, stripe_id and sf_id (non-empty)")
        # The last one wins, as in a put; the Id in the form the store keeps (18 characters).
        self.xrefs[(sf_object, stripe_id)] = (canonical_id(sf_id), flow)

    def xref_get(self, sf_object: str, stripe_id: str) -> str | None:
        found = self.xrefs.get((sf_object, stripe_id))
        return found[0] if found else None

    def xref_forget(self, sf_object: str, sf_id: str) -> None:
        """The record is deleted: no Stripe id may resolve to it any more (a lookup would
        point a new record at a deleted one)."""
        sf_id = canonical_id(sf_id)
        self.forgotten[(sf_object, sf_id)] = None
        for key, (pending, _flow) in list(self.xrefs.items()):
            if key[0] == sf_object and pending == sf_id:
                del self.xrefs[key]

    def is_forgotten(self, sf_object: str, sf_id: str) -> bool:
        # Asked for every cross reference a batch reads; the Id is normalised only when
        # the batch deleted anything at all.
        return bool(self.forgotten) and (sf_object, canonical_id(sf_id)) in self.forgotten

    def own_write(self, system: str, object_id: str, fingerprint: str) -> None:
        self.own_writes[(system, object_id, fingerprint)] = None

    def version(self, object_id: str, created: int, event_id: str) -> None:
        """Only the newest version per object matters (the store only moves forward)."""
        current = self.versions.get(object_id)
        if current is None or (created, event_id) > current:
            self.versions[object_id] = (created, event_id)

    def dead_letter(self, *, flow: str, event_id: str | None, source_id: str | None,
                    payload: dict[str, Any], record: dict[str, Any] | None, error: str,
                    error_code: str | None) -> None:
        self.dead_letters.append({"flow": flow, "event_id": event_id, "source_id": source_id,
                                  "payload": payload, "record": record, "error": error,
                                  "error_code": error_code})

    def review(self, *, flow: str, source_id: str, record: dict[str, Any],
               candidates: list[dict[str, Any]], payload: dict[str, Any]) -> None:
        self.reviews.append({"flow": flow, "source_id": source_id, "record": record,
                             "candidates": candidates, "payload": payload})

    def done(self, event_id: str, *, outcome: str = "done", worker: str | None = None) -> None:
        self.finishes.append(Finish(event_id, outcome, worker))

    def retry(self, event_id: str, error: str, retry_at: datetime, *,
              worker: str | None = None) -> None:
        if retry_at.tzinfo is None:
            raise ValueError("retry_at must be timezone-aware (UTC)")
        self.finishes.append(Finish(event_id, "retry", worker, error, retry_at))

    def take_references(self) -> Settlement:
        """Move out the cross references and own writes only (kept even when the batch
        fails: they are true as soon as Salesforce accepted the write)."""
        part = Settlement(xrefs=self.xrefs, forgotten=self.forgotten, own_writes=self.own_writes)
        self.xrefs, self.forgotten, self.own_writes = {}, {}, {}
        return part

    def __bool__(self) -> bool:
        return bool(self.xrefs or self.forgotten or self.own_writes or self.versions or self.dead_letters
                    or self.reviews or self.finishes)


@dataclass(frozen=True)
class SettleResult:
    """What :meth:`StateStore.settle_batch` did."""

    lost: frozenset[str] = frozenset()  # events whose claim another worker had taken over
    dead_letter_ids: tuple[int, ...] = ()
    review_ids: tuple[int, ...] = ()


class Settlements(Repository):
    """Commits a :class:`Settlement` through the table families' row builders and
    statements, so a batch follows exactly the rules of the one-at-a-time methods."""

    def settle_batch(self, settlement: Settlement) -> SettleResult:
        """Commit a micro-batch's state in ONE transaction: cross references, own writes,
        object versions, dead letters, review items, then each event's ledger entry.

        Events finished with a worker are marked only while that worker still holds the
        claim; the others (the lease expired and another worker took them over) are in
        ``lost``. Everything is validated before the transaction opens: bad input changes
        nothing.
        """
        now = self.now()
        xref_values = xref_rows(((obj, stripe_id, sf_id, flow) for (obj, stripe_id), (
            sf_id, flow) in settlement.xrefs.items()), now, canonical=True)
        forget_values = xref_forget_rows(settlement.forgotten)
        own_values = own_write_rows(settlement.own_writes, now)
        version_values = version_rows(((object_id, created, event_id) for object_id, (
            created, event_id) in settlement.versions.items()), now)
        dlq_values = [dead_letter_row(**entry, now=now) for entry in settlement.dead_letters]
        review_values = [review_row(**item, now=now) for item in settlement.reviews]
        done: dict[tuple[str, str | None], list[str]] = {}
        retries: list[tuple[str, str | None, datetime, str | None]] = []
        for finish in settlement.finishes:
            if not finish.event_id:
                raise ValueError("a finished event needs its event id")
            if finish.retry_at is not None:
                if finish.retry_at.tzinfo is None:
                    raise ValueError("retry_at must be timezone-aware (UTC)")
                retries.append((finish.event_id, finish.error, finish.retry_at, finish.worker))
            else:
                done.setdefault((finish.outcome, finish.worker), []).append(finish.event_id)

        lost: set[str] = set()
        with self.db.write() as conn:
            if forget_values:  # before the new pairs: a record made again keeps its own
                conn.execute(self.db.prepared(xref_forget_stmt), forget_values)
            if xref_values:
                conn.execute(self.db.prepared(xref_upsert), xref_values)
            if own_values:
                conn.execute(self.db.prepared(own_write_insert), own_values)
            if version_values:
                conn.execute(self.db.prepared(version_upsert), version_values)
            dlq_ids = [insert_returning_id(conn, dead_letters, row) for row in dlq_values]
            review_ids = [insert_returning_id(conn, review_items, row) for row in review_values]
            for (outcome, worker), ids in done.items():
                lost.update(mark_done_in(conn, ids, outcome, worker, now)[1])
            for event_id, error, retry_at, worker in retries:
                if not mark_retry_in(conn, event_id, error, retry_at, worker):
                    lost.add(event_id)
        return SettleResult(frozenset(lost), tuple(dlq_ids), tuple(review_ids))
