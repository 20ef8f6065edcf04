"""The one Salesforce write path, shared by the runner and the studio's test run.

For one flow and a group of source records, :class:`SalesforceWriter`:

1. maps them (lookups resolved for the whole group first: cross-reference table, then one
   SOQL per field; see :mod:`runner.pipeline.lookups`);
2. decides what each mapped record becomes, by the flow's operation:

   - insert: a record already cross-referenced was inserted before (a crash after the
     write): it is not inserted twice;
   - update: the record's Id is found by the external id (cross references, then SOQL):
     one match is updated by Id, several are refused, none is retried later;
   - upsert with ``dedup_on``: :func:`runner.pipeline.dedup.decide_dedup` (existing and new
     records upsert by external id, a single dedup match is linked by Id, several go to review);
   - upsert: by the external id field;

3. sends the writes through its transport (sObject Collections calls of up to
   ``batch_size`` records; a backfill passes Bulk API 2.0 jobs, :mod:`runner.pipeline.bulk`),
   and turns each answer into the item's outcome (a failure by
   :func:`runner.retry.outcome_for`).

A flow with child collections (an invoice -> an Order and its OrderItems) maps each parent's
children with it (its Stripe lists completed first by ``complete_lists``, see
:mod:`runner.connectors.stripe_lists`), finds the children the parents already have (one
query per batch) and sends each parent with its children as one all-or-none composite graph
(:mod:`runner.pipeline.children`), whatever the transport.

What a write reads from and leaves in the runner's state (cross references, own-write notes,
review items) goes through a :class:`WriteLedger`: the runner passes one over the batch's
settlement (:class:`runner.pipeline.settle.BatchLedger`), the studio a :class:`MemoryLedger`
that keeps them for the test run only. A dry run stops after step 2 (:meth:`predict`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, cast

from mappings.document.model import Action
from mappings.engine.result import Issue, MappingResult, json_safe
from mappings.schema.org_metadata import load_salesforce_catalog
from mappings.schema.stripe_events import split_event
from mappings.schema.stripe_lists import truncated
from runner import salesforce_ids
from runner.classify import Failure
from runner.connectors.errors import ConnectorError, RecordOutcome
from runner.pipeline import children as kids
from runner.pipeline.batching import MAX_BATCH, Collections, Transport, WriteKind, chunks
from runner.pipeline.dedup import DedupDecision, decide_dedup
from runner.pipeline.lookups import STRIPE_ID, LookupResolver, XrefTable, lookup_values
from runner.pipeline.outcomes import TaskOutcome, failed

if TYPE_CHECKING:
    from mappings.document.model import Flow
    from mappings.engine.plan import FlowPlan
    from mappings.schema.model import ObjectSchema
    from runner.connectors.salesforce import SalesforceConnector
    from runner.metrics import Metrics


class WriteLedger(XrefTable, Protocol):
    """The state a write reads and leaves: cross references (``XrefTable``), the notes that
    a Salesforce record is the runner's own write, and review items."""

    def own_write(self, sf_object: str, sf_id: str) -> None: ...

    def own_deletion(self, sf_object: str, sf_id: str) -> None:
        """Note that the runner deleted the record: its deletion is no trigger, and no
        cross reference resolves to it any more."""

    def review(self, *, flow: str, source_id: str, record: dict[str, Any],
               candidates: list[dict[str, Any]], payload: dict[str, Any]) -> None: ...

    def keep_now(self) -> None:
        """Make the cross references gathered so far durable at once (after an insert: a
        crash before the batch's commit would insert the same records again)."""


@dataclass
class MemoryLedger:
    """A :class:`WriteLedger` without a state store, for the studio's test run: cross
    references live for the run (so lookups find what the run wrote), and the review items
    and own writes are collected to be shown instead of stored."""

    xrefs: dict[tuple[str, str], str] = field(default_factory=dict)
    own_writes: list[tuple[str, str]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)

    def xref_get_many(self, sf_object: str, stripe_ids: Iterable[str]) -> dict[str, str]:
        return {s: self.xrefs[(sf_object, s)] for s in stripe_ids
                if (sf_object, s) in self.xrefs}

    def xref_put(self, sf_object: str, stripe_id: str, sf_id: str, flow: str) -> None:
        self.xrefs[(sf_object, stripe_id)] = sf_id

    def own_write(self, sf_object: str, sf_id: str) -> None:
        self.own_writes.append((sf_object, sf_id))

    def own_deletion(self, sf_object: str, sf_id: str) -> None:
        self.own_writes.append((sf_object, sf_id))
        for key, known in list(self.xrefs.items()):
            if key[0] == sf_object and known == sf_id:
                del self.xrefs[key]

    def review(self, *, flow: str, source_id: str, record: dict[str, Any],
               candidates: list[dict[str, Any]], payload: dict[str, Any]) -> None:
        self.reviews.append({"flow": flow, "source_id": source_id, "record": record,
                             "candidates": candidates, "payload": payload})

    def keep_now(self) -> None:
        """Nothing to make durable."""


@dataclass(frozen=True)
class PlannedWrite:
    """What the writer will send for one record: an upsert by ``key``, an insert, or an
    update of the record ``sf_id``."""

    kind: WriteKind
    key: str | None = None
    sf_id: str | None = None


@dataclass
class WriteItem:
    """One source record on its way to Salesforce, and what became of it.

    ``data`` is what the plan reads (an event, its refreshed copy, or a bare object);
    ``payload`` what is kept with a review item or dead letter. ``outcome`` stays None
    while the record is still to be written (after :meth:`SalesforceWriter.predict`: it
    would be written as ``write`` says).
    """

    data: dict[str, Any]
    payload: dict[str, Any]
    source_id: str | None = None
    record: dict[str, Any] | None = None  # JSON-safe mapped record
    issues: list[Issue] = field(default_factory=list)
    received_at: datetime | None = None  # for the latency metric
    dedup: DedupDecision | None = None
    write: PlannedWrite | None = None
    created: bool | None = None  # Salesforce's answer to an upsert
    outcome: TaskOutcome | None = None
    error: str | None = None
    error_code: str | None = None
    failure: Failure | None = None
    sf_id: str | None = None
    # A flow with child collections: the mapped children (JSON-safe, by relationship), what
    # the graph does besides (existing children, removals) and, once written, their Ids.
    family: kids.Family | None = None

    @property
    def children(self) -> dict[str, list[dict[str, Any]]]:
        return self.family.records if self.family is not None else {}

    def finish(self, outcome: TaskOutcome, error: str | None = None, code: str | None = None,
               failure: Failure | None = None) -> None:
        self.outcome, self.error, self.error_code, self.failure = outcome, error, code, failure

    def plan(self, write: PlannedWrite) -> None:
        self.write = write
        if write.sf_id:
            self.sf_id = write.sf_id

    def body(self) -> dict[str, Any]:
        """The record as its planned write sends it: an upsert body must not carry Id, an
        update must."""
        record = self.record or {}
        if self.write is None or self.write.kind == "insert":
            return record
        if self.write.kind == "upsert":
            return {k: v for k, v in record.items() if k != "Id"} if "Id" in record else record
        return {**record, "Id": self.write.sf_id}


ListCompleter = Callable[["Flow", dict[str, Any]], dict[str, Any]]
"""``(flow, data) -> data`` with the flow's truncated Stripe lists fetched in full."""


class SalesforceWriter:
    """Maps, decides and writes the records of one flow at a time (see the module doc)."""

    def __init__(self, salesforce: SalesforceConnector, ledger: WriteLedger, *,
                 resolver: LookupResolver | None = None, batch_size: int = MAX_BATCH,
                 metrics: Metrics | None = None, transport: Transport | None = None,
                 on_sent: Callable[[int], None] | None = None,
                 complete_lists: ListCompleter | None = None) -> None:
        self.salesforce = salesforce
        self.ledger = ledger
        self.metrics = metrics
        self.resolver = resolver if resolver is not None else LookupResolver(
            ledger, salesforce, metrics=metrics)
        self.transport: Transport = transport if transport is not None else Collections(
            salesforce, batch_size, metrics=metrics)
        self.on_sent = on_sent  # hears the size of each answered call (progress)
        self.complete_lists = complete_lists
        self.graphs = kids.Graphs(salesforce, metrics=metrics)
        # Which child fields an update may set: the child plans' schemas (the bundle's
        # snapshot), else the shipped describes (OrderItem.OrderId is fixed in every org).
        self._child_schemas: dict[str, ObjectSchema] = {}
        self.updatable = kids.updatable_from(
            lambda obj: self._child_schemas.get(obj) or _shipped_schema(obj))

    # -- the whole path -------------------------------------------------------------------
    def write(self, flow: Flow, plan: FlowPlan, items: Sequence[WriteItem]) -> None:
        """Map, decide and send; every item ends with an outcome. A failure of the whole
        group (a lookup or dedup query) becomes each open item's outcome; so does a call the
        transport answers with a failure (one it raises stops the caller)."""
        groups: list[list[WriteItem]] = []
        with _GroupFailure(flow, items):
            groups = self.decide(flow, self.map(flow, plan, items))
            self.reconcile(flow, groups)
        self.send(flow, groups)
        for item in items:
            if item.outcome is None:  # defensive: every path above finishes its items
                item.finish(TaskOutcome.RETRY, "the record was not written", None,
                            Failure.RETRIABLE)

    def predict(self, flow: Flow, plan: FlowPlan, items: Sequence[WriteItem]) -> None:
        """Map and decide, reading the org but writing nothing: the items left open say in
        ``write`` what :meth:`write` would send."""
        with _GroupFailure(flow, items):
            self.reconcile(flow, self.decide(flow, self.map(flow, plan, items)))

    # -- 1. mapping -----------------------------------------------------------------------
    def map(self, flow: Flow, plan: FlowPlan, items: Sequence[WriteItem]) -> list[WriteItem]:
        """Apply the plan to each open item; the mapped ones that are ready to write."""
        items = [item for item in items if item.outcome is None]
        if plan.target_schema is not None:  # which fields an update may set (the bundle's)
            self._child_schemas[flow.target.object] = plan.target_schema
        if flow.children:
            items = self._complete(flow, items)
            for child in flow.children:
                child_plan = plan.children.get(child.relationship)
                if child_plan is not None and child_plan.target_schema is not None:
                    self._child_schemas[child.target] = child_plan.target_schema
        if flow.lookups or any(child.lookups for child in flow.children):
            wanted: list[tuple[str, str, str]] = []
            for item in items:
                record, _envelope = split_event(item.data)
                wanted += lookup_values(flow, record or {})
                for child in flow.children:
                    for element in kids.elements(record or {}, child):
                        # lookup_values reads only ``.lookups``, which a child has too.
                        wanted += lookup_values(cast("Flow", child), element)
            self.resolver.prefetch(wanted)
        ready: list[WriteItem] = []
        for item in items:
            result = plan.apply(item.data, self.resolver)
            item.source_id = result.source_id
            item.issues = list(result.issues)
            if result.skipped:
                item.finish(TaskOutcome.SKIPPED, result.skip_reason)
                continue
            item.record = json_safe(result.record)
            if flow.children:
                item.family = _family(flow, result, item.issues)
            if not result.ok or any(i.severity == "error" for i in item.issues):
                errors = [i for i in item.issues if i.severity == "error"]
                item.finish(TaskOutcome.DEAD_LETTERED, "; ".join(str(i) for i in errors),
                            errors[0].code, Failure.SKIPPABLE)
            else:
                ready.append(item)
        return ready

    def _complete(self, flow: Flow, items: Sequence[WriteItem]) -> list[WriteItem]:
        """Fetch the rest of each truncated child list (``has_more``) before mapping: a
        parent written with the first page only would lose, or delete, the other children."""
        out: list[WriteItem] = []
        for item in items:
            if self.complete_lists is not None:
                try:
                    item.data = self.complete_lists(flow, item.data)
                except ConnectorError as exc:
                    item.finish(failed(exc.failure, f"flow {flow.name!r}: {exc}", exc),
                                str(exc), exc.error_code, exc.failure)
                    continue
            record, _envelope = split_event(item.data)
            cut = [c.source for c in flow.children if truncated(record or {}, c.source)]
            if cut:
                item.finish(TaskOutcome.DEAD_LETTERED, f"flow {flow.name!r}: the list "
                            f"{', '.join(cut)} of {(record or {}).get('id')} is cut off "
                            "(has_more) and the rest could not be fetched from Stripe",
                            "LIST_TRUNCATED", Failure.SKIPPABLE)
                continue
            out.append(item)
        return out

    # -- 2. deciding ----------------------------------------------------------------------
    def decide(self, flow: Flow, ready: Sequence[WriteItem]) -> list[list[WriteItem]]:
        """Plan each ready item's write (or finish it); the writes grouped as they are sent,
        one group per (kind, key)."""
        if not ready:
            return []
        ext = flow.operation.external_id
        action = flow.operation.action
        if action is Action.INSERT:
            return self._decide_insert(flow, ready)
        if action is Action.UPDATE:
            return self._decide_update(flow, ready)
        if flow.operation.dedup_on and ext:
            return self._decide_dedup(flow, ready)
        if ext:
            fixed = self._fixed_at_creation(flow, ready, ext)
            if fixed:
                return self._decide_upsert_fixed(flow, ready, ext, fixed)
            for item in ready:
                item.plan(PlannedWrite("upsert", ext))
            return [list(ready)]
        for item in ready:
            item.finish(TaskOutcome.DEAD_LETTERED, f"flow {flow.name!r} upserts "
                        f"{flow.target.object} without an external id field", "INVALID_FLOW",
                        Failure.SKIPPABLE)
        return []

    def _decide_insert(self, flow: Flow, ready: Sequence[WriteItem]) -> list[list[WriteItem]]:
        """A record already cross-referenced was inserted before (a crash after the write):
        do not insert it twice."""
        known = self.ledger.xref_get_many(flow.target.object,
                                          [t.source_id for t in ready if t.source_id])
        fresh: list[WriteItem] = []
        for item in ready:
            if item.source_id and item.source_id in known:
                item.sf_id = known[item.source_id]
                item.finish(TaskOutcome.WRITTEN)
            else:
                item.plan(PlannedWrite("insert"))
                fresh.append(item)
        return [fresh] if fresh else []

    def _decide_update(self, flow: Flow, ready: Sequence[WriteItem]) -> list[list[WriteItem]]:
        """Update-only by external id: find the records' Ids, then update by Id."""
        obj, ext = flow.target.object, flow.operation.external_id
        if not ext:
            for item in ready:
                item.finish(TaskOutcome.DEAD_LETTERED, f"flow {flow.name!r} updates {obj} but "
                            "names no external id field to find the record", "INVALID_FLOW",
                            Failure.SKIPPABLE)
            return []
        if ext.lower() == "id":
            return self._decide_update_by_id(flow, ready)
        ids = self._find_by_key(obj, ext, ready)
        writes: list[WriteItem] = []
        for item in ready:
            value = item.record.get(ext) if item.record else None
            found = ids.get(str(value)) or []
            if len(found) == 1:
                item.plan(PlannedWrite("update", sf_id=found[0]))
                writes.append(item)
            elif len(found) > 1:
                item.finish(TaskOutcome.DEAD_LETTERED, f"{len(found)} {obj} records have "
                            f"{ext} = {value}; cannot tell which to update", "DUPLICATE_VALUE",
                            Failure.SKIPPABLE)
            else:
                # The record may come with a later event (the subscription of this invoice).
                item.finish(TaskOutcome.RETRY, f"no {obj} with {ext} = {value} to update yet",
                            "NOT_FOUND", Failure.RETRIABLE)
        return [writes] if writes else []

    def _find_by_key(self, obj: str, ext: str,
                     ready: Sequence[WriteItem]) -> dict[str, list[str]]:
        """Salesforce Ids by external id value: the cross references, then one query."""
        values = [str(t.record.get(ext)) for t in ready if t.record and t.record.get(ext)]
        ids: dict[str, list[str]] = {v: [sf_id] for v, sf_id in
                                     self.ledger.xref_get_many(obj, values).items()}
        missing = [v for v in values if v not in ids]
        if missing:
            if self.metrics is not None:
                self.metrics.api_call("query")
            ids.update(self.salesforce.find_ids(obj, ext, missing))
        return ids

    def _fixed_at_creation(self, flow: Flow, ready: Sequence[WriteItem], ext: str) -> set[str]:
        """The fields these records set that Salesforce fixes when it creates the record
        (PricebookEntry.Pricebook2Id, Product2Id, CurrencyIsoCode)."""
        obj = flow.target.object
        names = {name for item in ready for name in (item.record or {}) if name != ext}
        return {name for name in names if not self.updatable(obj, name)}

    def _decide_upsert_fixed(self, flow: Flow, ready: Sequence[WriteItem], ext: str,
                             fixed: set[str]) -> list[list[WriteItem]]:
        """An upsert that sets fields fixed at creation: the update half of an upsert would
        be refused (INVALID_FIELD_FOR_INSERT_UPDATE), so a record that exists is updated by
        Id without them, and only a new one is upserted whole. One query per batch for the
        keys the cross references do not know."""
        ids = self._find_by_key(flow.target.object, ext, ready)
        updates: list[WriteItem] = []
        upserts: list[WriteItem] = []
        for item in ready:
            found = ids.get(str((item.record or {}).get(ext))) or []
            if len(found) == 1:
                item.record = {k: v for k, v in (item.record or {}).items() if k not in fixed}
                item.plan(PlannedWrite("update", sf_id=found[0]))
                updates.append(item)
            else:  # new (or ambiguous: the upsert then says what Salesforce says)
                item.plan(PlannedWrite("upsert", ext))
                upserts.append(item)
        return [group for group in (updates, upserts) if group]

    def _decide_update_by_id(self, flow: Flow,
                             ready: Sequence[WriteItem]) -> list[list[WriteItem]]:
        """The record names its own Id (a payment's metadata.opportunity_id): no query; the
        update answers for an Id that is not there."""
        writes: list[WriteItem] = []
        for item in ready:
            value = (item.record or {}).get("Id")
            if not salesforce_ids.is_valid(value):
                item.finish(TaskOutcome.DEAD_LETTERED, f"{value!r} is not a Salesforce Id, so "
                            f"no {flow.target.object} can be updated by it", "MALFORMED_ID",
                            Failure.SKIPPABLE)
                continue
            item.plan(PlannedWrite("update", sf_id=salesforce_ids.to_18(str(value))))
            writes.append(item)
        return [writes] if writes else []

    def _decide_dedup(self, flow: Flow, ready: Sequence[WriteItem]) -> list[list[WriteItem]]:
        obj, ext = flow.target.object, str(flow.operation.external_id)
        decisions = decide_dedup(self.salesforce, self.ledger, obj, ext,
                                 flow.operation.dedup_on, [t.record or {} for t in ready],
                                 metrics=self.metrics)
        links: list[WriteItem] = []
        upserts: list[WriteItem] = []
        for item, decision in zip(ready, decisions, strict=True):
            item.dedup = decision
            if decision.kind == "review":
                self.ledger.review(flow=flow.name, source_id=item.source_id or "",
                                   record=item.record or {}, candidates=decision.candidates,
                                   payload=item.payload)
                item.finish(TaskOutcome.REVIEW, f"{len(decision.candidates)} {obj} records "
                            f"match on {decision.matched_on}; held for review")
            elif decision.kind == "link":
                # Update the one match by Id; the record carries the external id, so the
                # link is made by the same write.
                item.plan(PlannedWrite("update", sf_id=decision.sf_id))
                links.append(item)
            else:  # existing (found by external id) or create: the upsert does either
                item.plan(PlannedWrite("upsert", ext))
                upserts.append(item)
        return [group for group in (links, upserts) if group]

    def reconcile(self, flow: Flow, groups: Sequence[Sequence[WriteItem]]) -> None:
        """A flow with children: find the children the batch's parents already have (one
        query per child collection) and plan what ``on_removed`` does to those whose line
        is gone."""
        planned = [item for group in groups for item in group
                   if item.family is not None and item.write is not None]
        if not flow.children or not planned:
            return
        ext = flow.operation.external_id
        parents = []
        for item in planned:
            write = item.write
            assert write is not None
            key = (item.record or {}).get(ext) if ext and write.kind == "upsert" else None
            parents.append(kids.ParentRef(str(key) if key not in (None, "") else None,
                                          write.sf_id if write.kind == "update" else None))
        kids.find_existing(self.salesforce, flow, parents,
                           [item.family for item in planned if item.family is not None],
                           metrics=self.metrics, has_field=self._has_field)
        for item in planned:
            if item.family is not None:
                kids.plan_removals(flow, item.family)

    def _has_field(self, obj: str, name: str) -> bool:
        schema = self._child_schemas.get(obj) or _shipped_schema(obj)
        return schema is None or schema.find(name) is not None

    # -- 3. sending -----------------------------------------------------------------------
    def send(self, flow: Flow, groups: Iterable[Sequence[WriteItem]]) -> None:
        """Each group (items of one planned kind and key) in calls of the transport's size;
        a flow with children as composite graphs."""
        if flow.children:
            self._send_graphs(flow, [item for group in groups for item in group])
            return
        obj = flow.target.object
        for group in groups:
            if not group:
                continue
            first = group[0].write
            if first is None:
                raise ValueError("internal error: an item was sent without a planned write")
            for part in chunks(group, self.transport.size_for(first.kind)):
                answer = self.transport.send(first.kind, obj, first.key,
                                             [item.body() for item in part])
                if isinstance(answer, ConnectorError):
                    outcome = failed(answer.failure, f"flow {flow.name!r}: {answer}", answer)
                    for item in part:
                        item.finish(outcome, str(answer), answer.error_code, answer.failure)
                else:
                    for item, result in zip(part, answer, strict=True):
                        self._answered(flow, item, result)
                if self.on_sent is not None:
                    self.on_sent(len(part))
            if first.kind == "insert":
                # Not at the end of the batch: a crash before then would insert these again.
                self.ledger.keep_now()

    def _send_graphs(self, flow: Flow, items: Sequence[WriteItem]) -> None:
        """One graph per parent (parent, children, removals: all or none), as many graphs per
        call as Salesforce takes."""
        graphs: list[tuple[WriteItem, kids.Graph]] = []
        for item in items:
            write, family = item.write, item.family
            if write is None or family is None:
                raise ValueError("internal error: an item was sent without a planned write")
            if family.node_count() > kids.MAX_NODES:
                item.finish(TaskOutcome.DEAD_LETTERED, f"flow {flow.name!r}: "
                            f"{item.source_id} has {family.node_count() - 1} child records; "
                            f"Salesforce writes at most {kids.MAX_NODES - 1} with their parent "
                            "in one all-or-none graph", "LIMIT_EXCEEDED", Failure.SKIPPABLE)
                continue
            key = (item.record or {}).get(write.key) if write.key else None
            graphs.append((item, kids.build_graph(
                f"g{len(graphs)}", flow, self.salesforce.data_path, write.kind,
                str(key) if key not in (None, "") else None, write.sf_id, item.body(),
                family, self.updatable)))
        for call in kids.pack([len(graph.nodes) for _, graph in graphs],
                              [graph.kinds() for _, graph in graphs]):
            part = [graphs[i] for i in call]
            answer = self.graphs.send([graph for _, graph in part])
            if isinstance(answer, ConnectorError):
                outcome = failed(answer.failure, f"flow {flow.name!r}: {answer}", answer)
                for item, _graph in part:
                    item.finish(outcome, str(answer), answer.error_code, answer.failure)
            else:
                for (item, graph), result in zip(part, answer, strict=True):
                    self._graph_answered(flow, item, graph, result)
            if any(item.write is not None and item.write.kind == "insert" for item, _ in part):
                self.ledger.keep_now()
            if self.on_sent is not None:
                self.on_sent(len(part))

    def _graph_answered(self, flow: Flow, item: WriteItem, graph: kids.Graph,
                        result: dict[str, Any]) -> None:
        read = kids.read_answer(graph, result)
        self._answered(flow, item, read.parent)
        family = item.family
        if not read.parent.success or family is None:
            return
        family.ids = {rel: [None] * len(rows) for rel, rows in family.records.items()}
        for node in graph.nodes:
            child, sf_id = node.collection, read.ids.get(node.reference_id)
            if child is None or not sf_id:
                continue
            if node.method == "DELETE":
                # The runner's own deletion: no trigger when polling sees it in the bin.
                self.ledger.own_deletion(child.target, sf_id)
                continue
            if node.position >= 0:
                family.ids[child.relationship][node.position] = sf_id
                if node.key and STRIPE_ID.match(node.key):
                    self.ledger.xref_put(child.target, node.key, sf_id, flow.name)
            self.ledger.own_write(child.target, sf_id)

    def _answered(self, flow: Flow, item: WriteItem, result: RecordOutcome) -> None:
        obj = flow.target.object
        if result.success:
            item.sf_id = result.id or item.sf_id
            item.created = result.created
            if item.sf_id:
                ext = flow.operation.external_id
                key = (item.record or {}).get(ext) if ext else None
                stripe_id = key if isinstance(key, str) and STRIPE_ID.match(key) \
                    else item.source_id
                if stripe_id:
                    self.ledger.xref_put(obj, stripe_id, item.sf_id, flow.name)
                    if ext and key == stripe_id:
                        self.resolver.remember(obj, ext, stripe_id, item.sf_id)
                self.ledger.own_write(obj, item.sf_id)
            item.finish(TaskOutcome.WRITTEN)
            if self.metrics is not None and item.received_at is not None:
                self.metrics.latency((datetime.now(UTC) - _aware(item.received_at))
                                     .total_seconds())
            return
        failure = result.failure or Failure.SKIPPABLE
        outcome = failed(failure, f"flow {flow.name!r}: Salesforce refused {obj} for "
                         f"{item.source_id}: {result.message}")
        item.finish(outcome, result.message, result.error_code, failure)


class _GroupFailure:
    """A call that fails for the whole group (a lookup or dedup query) becomes the outcome
    of each item not finished yet; a fatal one stops the caller."""

    def __init__(self, flow: Flow, items: Sequence[WriteItem]) -> None:
        self.flow = flow
        self.items = items

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> bool:
        if not isinstance(exc, ConnectorError):
            return False
        outcome = failed(exc.failure, f"flow {self.flow.name!r}: {exc}", exc)
        for item in self.items:
            if item.outcome is None:
                item.finish(outcome, str(exc), exc.error_code, exc.failure)
        return True


def _family(flow: Flow, result: MappingResult, issues: list[Issue]) -> kids.Family:
    """The mapped children of one parent (a child's error is already the parent's,
    ``CHILD_INVALID``: a parent with a bad child is not written at all). A child without
    its external id value could not be found again: an error too."""
    family = kids.Family()
    for child in flow.children:
        rows: list[dict[str, Any]] = []
        for n, sub in enumerate(result.children.get(child.relationship, [])):
            where = f"{child.relationship}[{n}]"
            if sub.skipped:
                continue  # its condition is not met: not written (and so reconciled away)
            record = json_safe(sub.record)
            if kids.child_key(child, record) is None and sub.ok:
                issues.append(Issue("REQUIRED_FIELD_MISSING", f"{where}.{child.external_id}",
                                    f"the {child.target} has no {child.external_id}, which "
                                    "finds it again on the next update"))
            rows.append(record)
        family.records[child.relationship] = rows
    return family


@cache
def _shipped_schema(obj: str) -> ObjectSchema | None:
    return load_salesforce_catalog().get(obj)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


__all__ = ["MemoryLedger", "PlannedWrite", "SalesforceWriter", "WriteItem", "WriteLedger"]
