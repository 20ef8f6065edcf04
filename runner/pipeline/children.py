"""Parent records written with their child records, all or none: Salesforce composite graphs.

A flow with child collections (an invoice -> an Order with its OrderItems) writes each parent
and its children as one graph of ``POST /composite/graph``; Salesforce runs each graph all or
none, so an Order never appears without its items. Graphs share a call up to Salesforce's
limits (75 graphs, 500 nodes per call; a graph of more than 500 nodes cannot be sent).

One graph, for an invoice upserted by ``StripeInvoiceID__c``::

    PATCH .../sobjects/Order/StripeInvoiceID__c/in_1                 referenceId "parent"
    PATCH .../sobjects/OrderItem/StripeLineItemID__c/il_1  OrderId "@{parent.id}"   (new)
    PATCH .../sobjects/OrderItem/802...                    (existing: updatable fields only)
    DELETE .../sobjects/OrderItem/802...   or  PATCH StripeDeletedAt__c (line gone: on_removed)

Updates reconcile children by their external id: before a batch is sent, one SOQL query per
child collection finds the children its parents already have (:func:`find_existing`). An
existing child is updated by Id without the fields Salesforce fixes at creation (its parent,
its price book entry); a child Salesforce has but the source no longer lists gets the
collection's ``on_removed`` policy. Children without an external id value (made by hand in
Salesforce) are never touched.

A failed graph is one failure of its parent record, classified by the errors of its failing
nodes (:func:`runner.classify.classify_record_errors`); the nodes Salesforce rolled back
report ``PROCESSING_HALTED``, which only explains the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from simple_salesforce import format_soql

from mappings.document.model import MARK_FIELD_SALESFORCE, ChildCollection, DeletionPolicy
from mappings.engine.paths import compile_path
from mappings.engine.plan import relationship_name
from runner.classify import classify_record_errors
from runner.connectors.errors import ConnectorError, RecordOutcome

if TYPE_CHECKING:
    from mappings.document.model import Flow
    from mappings.schema.model import ObjectSchema
    from runner.connectors.salesforce import SalesforceConnector
    from runner.metrics import Metrics

MAX_GRAPHS = 75  # graphs in one composite graph call
MAX_NODES = 500  # nodes in one call (and so in one graph)
MAX_NODE_KINDS = 15  # different nodes in one call: API version, method or object differ
QUERY_IN_CHUNK = 200  # parent keys per reconciliation query
PARENT_REF = "parent"
HALTED = "PROCESSING_HALTED"


@dataclass(frozen=True)
class Removal:
    """A child Salesforce has whose line is gone from the source, and what is done to it."""

    collection: ChildCollection = field(repr=False)
    sf_id: str
    key: str


@dataclass
class Family:
    """What one parent's graph sends besides the parent: its children, by relationship (in
    source order), the Ids of those that already exist, and the removals."""

    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    existing: dict[str, dict[str, str]] = field(default_factory=dict)  # rel -> key -> Id
    marked: set[str] = field(default_factory=set)  # existing children already marked removed
    removals: list[Removal] = field(default_factory=list)
    ids: dict[str, list[str | None]] = field(default_factory=dict)  # rel -> written Ids

    def node_count(self) -> int:
        """Nodes of the graph: the parent, each child, each removal."""
        return 1 + sum(len(rows) for rows in self.records.values()) + len(self.removals)


def elements(record: Mapping[str, Any], collection: ChildCollection) -> list[Mapping[str, Any]]:
    """The source array's elements (``invoice.lines.data``) that are objects."""
    found = compile_path(collection.source)(record)
    if not isinstance(found, list):
        return []
    return [e for e in found if isinstance(e, Mapping)]


def child_key(collection: ChildCollection, record: Mapping[str, Any]) -> str | None:
    value = record.get(collection.external_id)
    return str(value) if value not in (None, "") else None


# -- reconciliation ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ParentRef:
    """How a parent is known before its write: by its external id value (an upsert) or by its
    Id (an update); an insert has no children yet."""

    key: str | None = None
    sf_id: str | None = None


def find_existing(salesforce: SalesforceConnector, flow: Flow, parents: Sequence[ParentRef],
                  families: Sequence[Family], *, metrics: Metrics | None = None,
                  has_field: Callable[[str, str], bool] = lambda _obj, _field: True) -> None:
    """Fill each parent's family with its existing children (by relationship and external id
    value) and those already marked removed: one query per child collection for all the
    parents (in chunks of 200 keys). ``has_field(object, field)`` says whether the snapshot
    has the mark field: without it nothing counts as marked (and a mark, if one is due, is
    refused for that parent alone instead of failing the query for the whole batch)."""
    ext = flow.operation.external_id
    for collection in flow.children:
        by_key: dict[str, list[int]] = {}
        by_id: dict[str, list[int]] = {}
        for index, parent in enumerate(parents):
            if parent.sf_id:
                by_id.setdefault(parent.sf_id, []).append(index)
            elif parent.key and ext:
                by_key.setdefault(parent.key, []).append(index)
            families[index].existing[collection.relationship] = {}
        if not by_key and not by_id:
            continue
        rel = relationship_name(collection.parent_field, None)
        marks = collection.on_removed is DeletionPolicy.MARK and \
            has_field(collection.target, MARK_FIELD_SALESFORCE)
        for keys, ids in _chunks(list(by_key), list(by_id)):
            for row in _query(salesforce, flow, collection, rel, keys, ids, metrics, marks):
                child = row.get(collection.external_id)
                if not isinstance(child, str) or not child:
                    continue  # not one of ours (made by hand): never reconciled
                parent_row = row.get(rel)
                parent_key = parent_row.get(ext) if isinstance(parent_row, Mapping) and ext \
                    else None
                targets = by_id.get(str(row.get(collection.parent_field)), []) + \
                    by_key.get(str(parent_key), [])
                for index in targets:
                    families[index].existing[collection.relationship][child] = str(row["Id"])
                    if row.get(MARK_FIELD_SALESFORCE):
                        families[index].marked.add(str(row["Id"]))


def _chunks(keys: list[str], ids: list[str]) -> Iterator[tuple[list[str], list[str]]]:
    for start in range(0, max(len(keys), len(ids)), QUERY_IN_CHUNK):
        yield keys[start:start + QUERY_IN_CHUNK], ids[start:start + QUERY_IN_CHUNK]


def _query(salesforce: SalesforceConnector, flow: Flow, collection: ChildCollection, rel: str,
           keys: list[str], ids: list[str], metrics: Metrics | None,
           marks: bool) -> list[dict]:
    ext = flow.operation.external_id
    columns = ["Id", collection.external_id, collection.parent_field]
    if marks:
        columns.append(MARK_FIELD_SALESFORCE)  # marked once, not again on every update
    where: list[str] = []
    if keys and ext:
        columns.append(f"{rel}.{ext}")
        where.append(format_soql(f"{rel}.{ext} IN {{}}", keys))
    if ids:
        where.append(format_soql(f"{collection.parent_field} IN {{}}", ids))
    soql = f"SELECT {', '.join(columns)} FROM {collection.target} WHERE {' OR '.join(where)}"
    if metrics is not None:
        metrics.api_call("query")
    return salesforce.query_all(soql)


def plan_removals(flow: Flow, family: Family) -> None:
    """The children Salesforce has that the source no longer lists get ``on_removed``."""
    family.removals = []
    for collection in flow.children:
        rel = collection.relationship
        listed = {child_key(collection, r) for r in family.records.get(rel, [])}
        for key, sf_id in family.existing.get(rel, {}).items():
            if key in listed or collection.on_removed is DeletionPolicy.IGNORE:
                continue
            if collection.on_removed is DeletionPolicy.MARK and sf_id in family.marked:
                continue
            family.removals.append(Removal(collection, sf_id, key))


# -- graphs ------------------------------------------------------------------------------------
@dataclass
class Node:
    """One node of a graph and what its answer is about."""

    reference_id: str
    method: str
    url: str
    body: dict[str, Any] | None = None
    collection: ChildCollection | None = None  # None: the parent
    key: str | None = None  # the child's external id value
    sf_id: str | None = None  # known before the write (an update, a removal)
    position: int = -1  # the child's place in its relationship's list

    def request(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "url": self.url,
                               "referenceId": self.reference_id}
        if self.body is not None:
            out["body"] = self.body
        return out


@dataclass
class Graph:
    graph_id: str
    nodes: list[Node]

    def request(self) -> dict[str, Any]:
        return {"graphId": self.graph_id, "compositeRequest": [n.request() for n in self.nodes]}

    def kinds(self) -> set[str]:
        """What makes nodes different for Salesforce's limit: the method and the object (the
        API version is the same for all)."""
        return {f"{n.method} {n.url.split('/sobjects/', 1)[-1].split('/', 1)[0]}"
                for n in self.nodes}


Updatable = Callable[[str, str], bool]  # (object, field) -> may an update set it


def build_graph(graph_id: str, flow: Flow, data_path: str, kind: str, key: str | None,
                sf_id: str | None, body: dict[str, Any], family: Family,
                updatable: Updatable, now: datetime | None = None) -> Graph:
    """The graph writing one parent (``kind``: upsert by ``key``, update of ``sf_id`` or
    insert) with its children and removals."""
    obj, ext = flow.target.object, flow.operation.external_id
    base = f"{data_path}/sobjects"
    if kind == "upsert" and ext and key:
        parent = Node(PARENT_REF, "PATCH", f"{base}/{obj}/{ext}/{quote(key, safe='')}",
                      {k: v for k, v in body.items() if k != ext})
        reference: str = f"@{{{PARENT_REF}.id}}"
    elif kind == "update" and sf_id:
        parent = Node(PARENT_REF, "PATCH", f"{base}/{obj}/{sf_id}",
                      {k: v for k, v in body.items() if k != "Id"}, sf_id=sf_id)
        reference = sf_id
    else:
        parent = Node(PARENT_REF, "POST", f"{base}/{obj}", body)
        reference = f"@{{{PARENT_REF}.id}}"
    nodes = [parent]
    for collection in flow.children:
        rel = collection.relationship
        existing = family.existing.get(rel, {})
        for position, record in enumerate(family.records.get(rel, [])):
            child = child_key(collection, record) or ""
            ref = f"c{len(nodes)}"
            known = existing.get(child)
            fields = {k: v for k, v in record.items()
                      if k not in (collection.external_id, collection.parent_field, "Id")}
            if known:
                # Fields fixed at creation (the parent, the price book entry) are left out.
                fields = {k: v for k, v in fields.items() if updatable(collection.target, k)}
                nodes.append(Node(ref, "PATCH", f"{base}/{collection.target}/{known}", fields,
                                  collection, child, known, position))
            else:
                fields[collection.parent_field] = reference
                url = f"{base}/{collection.target}/{collection.external_id}/" \
                      f"{quote(child, safe='')}"
                nodes.append(Node(ref, "PATCH", url, fields, collection, child, None, position))
    stamp = (now or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for removal in family.removals:
        target = removal.collection.target
        ref = f"r{len(nodes)}"
        if removal.collection.on_removed is DeletionPolicy.DELETE:
            nodes.append(Node(ref, "DELETE", f"{base}/{target}/{removal.sf_id}", None,
                              removal.collection, removal.key, removal.sf_id))
        elif removal.collection.on_removed is DeletionPolicy.MARK:
            nodes.append(Node(ref, "PATCH", f"{base}/{target}/{removal.sf_id}",
                              {MARK_FIELD_SALESFORCE: stamp}, removal.collection, removal.key,
                              removal.sf_id))
    return Graph(graph_id, nodes)


def updatable_from(schemas: Callable[[str], ObjectSchema | None]) -> Updatable:
    """``updatable(object, field)`` from the bundle's schema snapshot; a field the snapshot
    does not know is sent (Salesforce then says what is wrong)."""
    def updatable(obj: str, name: str) -> bool:
        schema = schemas(obj)
        found = schema.fields.get(name) if schema is not None else None
        return found is None or bool(getattr(found, "updateable", True))
    return updatable


def pack(sizes: Sequence[int], kinds: Sequence[set[str]] | None = None) -> list[list[int]]:
    """Indexes of graphs grouped into calls within Salesforce's limits (in order): 75 graphs,
    500 nodes and 15 kinds of node (``Graph.kinds``) a call."""
    calls: list[list[int]] = []
    current: list[int] = []
    nodes = 0
    seen: set[str] = set()
    for index, size in enumerate(sizes):
        own = kinds[index] if kinds is not None else set()
        if current and (len(current) == MAX_GRAPHS or nodes + size > MAX_NODES
                        or len(seen | own) > MAX_NODE_KINDS):
            calls.append(current)
            current, nodes, seen = [], 0, set()
        current.append(index)
        nodes += size
        seen |= own
    if current:
        calls.append(current)
    return calls


class Graphs:
    """The transport of parents with children: composite graph calls."""

    def __init__(self, salesforce: SalesforceConnector, *,
                 metrics: Metrics | None = None) -> None:
        self.salesforce = salesforce
        self.metrics = metrics

    def send(self, graphs: Sequence[Graph]) -> list[dict] | ConnectorError:
        if self.metrics is not None:
            self.metrics.api_call("graph")
        try:
            return self.salesforce.composite_graph([g.request() for g in graphs])
        except ConnectorError as exc:
            return exc


# -- answers -----------------------------------------------------------------------------------
@dataclass
class GraphAnswer:
    """One graph's answer: the parent's outcome, and on success each node's record Id."""

    parent: RecordOutcome
    ids: dict[str, str | None] = field(default_factory=dict)  # referenceId -> Id


def read_answer(graph: Graph, answer: Mapping[str, Any]) -> GraphAnswer:
    responses = (answer.get("graphResponse") or {}).get("compositeResponse") or []
    by_ref = {str(r.get("referenceId")): r for r in responses if isinstance(r, Mapping)}
    if answer.get("isSuccessful") is True:
        ids: dict[str, str | None] = {}
        for node in graph.nodes:
            body = (by_ref.get(node.reference_id) or {}).get("body")
            found = body.get("id") if isinstance(body, Mapping) else None
            ids[node.reference_id] = str(found) if found else node.sf_id
        parent_body = (by_ref.get(PARENT_REF) or {}).get("body")
        created = parent_body.get("created") if isinstance(parent_body, Mapping) else None
        if created is None and graph.nodes[0].method == "POST":
            created = True
        return GraphAnswer(RecordOutcome(0, True, ids.get(PARENT_REF), created), ids)
    errors: list[dict[str, Any]] = []
    halted: list[dict[str, Any]] = []
    for node in graph.nodes:
        body = (by_ref.get(node.reference_id) or {}).get("body")
        for error in body if isinstance(body, list) else []:
            if not isinstance(error, Mapping):
                continue
            code = error.get("errorCode") or error.get("statusCode")
            entry = {"statusCode": code, "message": f"{_what(node)}: {error.get('message')}",
                     "fields": list(error.get("fields") or [])}
            (halted if code == HALTED else errors).append(entry)
    errors = errors or halted or [{"statusCode": "UNKNOWN_EXCEPTION", "fields": [],
                                   "message": "the graph failed without saying why"}]
    return GraphAnswer(RecordOutcome(0, False, None, None, errors,
                                     classify_record_errors(errors)))


def _what(node: Node) -> str:
    if node.collection is None:
        return "the parent record"
    verb = {"DELETE": "deleting "}.get(node.method, "")
    return f"{verb}{node.collection.target} {node.key}"


__all__ = ["Family", "Graph", "GraphAnswer", "Graphs", "Node", "ParentRef", "Removal",
           "build_graph", "child_key", "elements", "find_existing", "pack", "plan_removals",
           "read_answer", "updatable_from"]
