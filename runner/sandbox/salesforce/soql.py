"""SOQL for the Salesforce emulator: parse a query, then run it over stored records.

Pure Python over dicts, no I/O::

    query = parse("SELECT Id, Name, Account.Name FROM Contact WHERE LastName LIKE 'sm%'")
    result = execute(query, rows, resolve_parent=store.parent, describe=store.describe)

``rows`` are the records of ``query.object`` exactly as stored, and ``execute`` does NOT
filter on ``IsDeleted``: the caller passes live rows for ``query`` and all rows for
``queryAll``. ``resolve_parent(row, relationship)`` is called with the canonical
relationship name (``Account``, ``Owner``, ``Account__r``; as written when no describe is
given) and returns the parent record or ``None``. The parent's sObject type in output comes
from describe (for a polymorphic relationship such as ``What``, the target whose key prefix
starts the parent's Id), else from the parent's own ``attributes.type``, else from the name
(``Account__r`` -> ``Account__c``). ``describe(name)`` is called with object names as the
query writes them, so it should match names case-insensitively, as Salesforce does.

Aggregate queries (COUNT(Id), SUM, GROUP BY, HAVING) answer AggregateResult rows, see
:mod:`soql_aggregate`. Parent-to-child subqueries need ``describe`` (the parent's
``childRelationships`` name the child object and its lookup field) and ``child_rows(name)``,
which returns the rows of a child object with the same IsDeleted filter as ``rows``; each
parent carries ``{"totalSize", "done", "records"}`` under the relationship name, or ``None``
when it has no children, as Salesforce answers.

``QueryResult.total_size`` is what Salesforce reports as ``totalSize``: the number of
records the query returns, after LIMIT and OFFSET (for COUNT(), the count, capped the
same way). Paging into batches of 2,000 is the caller's business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runner.sandbox.salesforce.compound import Parts, compound_value
from runner.sandbox.salesforce.soql_aggregate import Grouping
from runner.sandbox.salesforce.soql_ast import FieldRef, OrderItem, Query, SoqlError, SubQuery
from runner.sandbox.salesforce.soql_compile import WhereCompiler, sort_value
from runner.sandbox.salesforce.soql_parser import parse
from runner.sandbox.salesforce.soql_schema import Describe, ResolvedField, Schema

__all__ = ["FieldRef", "Query", "QueryResult", "SoqlError", "execute", "parse"]

Row = Mapping[str, Any]
ResolveParent = Callable[[Row, str], Row | None]
ChildRows = Callable[[str], Iterable[Row]]
GetterFor = Callable[[ResolvedField], Callable[[Row], Any]]

_NO_CHILD_RELATIONSHIP = (
    "Didn't understand relationship '{rel}' in FROM part of query call. If you are "
    "attempting to use a custom relationship, be sure to append the '__r' after the custom "
    "relationship name. Please reference your WSDL or the describe call for the appropriate "
    "names."
)


@dataclass
class QueryResult:
    records: list[dict[str, Any]] = field(default_factory=list)
    total_size: int = 0
    count_only: bool = False


def execute(
    query: Query,
    rows: Iterable[Row],
    *,
    resolve_parent: ResolveParent,
    describe: Describe | None = None,
    now: datetime | None = None,
    api_version: str = "62.0",
    child_rows: ChildRows | None = None,
) -> QueryResult:
    """Run a parsed query over ``rows``; raise :class:`SoqlError` for bad fields or values."""
    schema = Schema(query.object, describe, query.text, query.object_pos)
    run = _Run(schema, resolve_parent)
    moment = now or datetime.now(UTC)
    # Hold every row until the end: parents are memoised by id(row), and an id may be
    # reused once a row that was generated on the fly is dropped.
    rows = list(rows)
    if query.is_aggregate:
        return _aggregate(query, schema, run, rows, moment)
    selected = [schema.resolve(ref) for ref in query.fields]
    children = [_Children(sub, schema, describe, resolve_parent, child_rows, moment,
                          api_version) for sub in query.subqueries]
    matched = _filter(query, schema, run, rows, moment)
    if query.order_by:
        _sort(matched, [(item, schema.resolve(_plain(item))) for item in query.order_by],
              run.getter)

    start = query.offset or 0
    stop = None if query.limit is None else start + query.limit
    if query.count_only:
        count = len(matched[start:stop]) if (start or stop is not None) else len(matched)
        return QueryResult([], count, True)
    page = matched[start:stop]
    records = [run.shape(row, selected, schema.object_name, api_version) for row in page]
    for child in children:
        for row, record in zip(page, records, strict=True):
            record[child.name] = child.result_for(row)
    return QueryResult(records, len(records), False)


def _plain(item: OrderItem) -> FieldRef:
    if not isinstance(item.field, FieldRef):  # the parser admits aggregates when grouping
        raise SoqlError("MALFORMED_QUERY", f"{item.field.name} can only order a grouped query")
    return item.field


def _filter(query: Query, schema: Schema, run: _Run, rows: list[Row],
            moment: datetime) -> list[Row]:
    if query.where is None:
        return list(rows)
    keep = WhereCompiler(schema, run.getter, query.text, moment).compile(query.where)
    return [row for row in rows if keep(row)]


def _aggregate(query: Query, schema: Schema, run: _Run, rows: list[Row],
               moment: datetime) -> QueryResult:
    grouping = Grouping(query, schema, run.getter)
    matched = _filter(query, schema, run, rows, moment)
    groups = grouping.groups(matched)
    if query.having is not None:
        having = WhereCompiler(schema, grouping.group_getter, query.text, moment,
                               resolve=grouping.resolve).compile(query.having)
        groups = [g for g in groups if having(g)]
    if query.order_by:
        _sort(groups, [(item, grouping.resolve(item.field)) for item in query.order_by],
              grouping.group_getter)
    start = query.offset or 0
    stop = None if query.limit is None else start + query.limit
    page = groups[start:stop]
    if query.count_only:  # COUNT() with GROUP BY counts the groups
        return QueryResult([], len(page), True)
    records = [grouping.shape(group) for group in page]
    return QueryResult(records, len(records), False)


class _Children:
    """One parent-to-child subquery, evaluated once for every parent."""

    def __init__(self, sub: SubQuery, parent: Schema, describe: Describe | None,
                 resolve_parent: ResolveParent, child_rows: ChildRows | None,
                 moment: datetime, api_version: str) -> None:
        query = sub.query
        relationship = parent.child_relationship(sub.relationship)
        if relationship is None or describe is None:
            raise SoqlError("INVALID_TYPE", _NO_CHILD_RELATIONSHIP.format(
                rel=sub.relationship), text=query.text, pos=query.object_pos)
        self.name = str(relationship["relationshipName"])
        self.api_version = api_version
        self.by_parent: dict[str, list[dict[str, Any]]] = {}
        child_object = str(relationship["childSObject"])
        if describe(child_object) is None:
            return  # an object this org does not model holds no records
        schema = Schema(child_object, describe, query.text, query.object_pos)
        run = _Run(schema, resolve_parent)
        selected = [schema.resolve(ref) for ref in query.fields]
        link = schema.resolve(FieldRef((str(relationship["field"]),), query.object_pos))
        link_of = run.getter(link)
        matched = _filter(query, schema, run, list(child_rows(child_object))
                          if child_rows else [], moment)
        if query.order_by:
            _sort(matched, [(item, schema.resolve(_plain(item))) for item in query.order_by],
                  run.getter)
        grouped: dict[str, list[Row]] = {}
        for row in matched:
            parent_id = link_of(row)
            if parent_id:
                grouped.setdefault(str(parent_id), []).append(row)
        start = query.offset or 0
        stop = None if query.limit is None else start + query.limit
        for parent_id, members in grouped.items():
            self.by_parent[parent_id] = [
                run.shape(row, selected, schema.object_name, api_version)
                for row in members[start:stop]
            ]

    def result_for(self, parent: Row) -> dict[str, Any] | None:
        records = self.by_parent.get(str(_get(parent, "Id")))
        if not records:
            return None
        return {"totalSize": len(records), "done": True, "records": records}


def _sort(rows: list[Any], items: list[tuple[OrderItem, ResolvedField]],
          getter_for: GetterFor) -> None:
    for item, resolved in reversed(items):  # stable sorts, last key first
        if not resolved.sortable:
            raise SoqlError(
                "INVALID_FIELD", f"field '{item.field.name}' can not be sorted in a query call"
            )
        get = getter_for(resolved)
        to_key = sort_value(resolved.type)
        # After an optional reverse, the flag puts nulls where NULLS FIRST/LAST asks.
        null_flag = 0 if item.effective_nulls_first != item.descending else 1
        value_flag = 1 - null_flag

        def key(row: Row, get: Any = get, to_key: Any = to_key, nf: int = null_flag,
                vf: int = value_flag) -> tuple[int, Any]:  # fmt: skip
            value = to_key(get(row))
            return (nf, 0) if value is None else (vf, value)

        rows.sort(key=key, reverse=item.descending)


class _Run:
    """Field access for one execution, remembering each row's parents."""

    def __init__(self, schema: Schema, resolve_parent: ResolveParent) -> None:
        self.schema = schema
        self.resolve_parent = resolve_parent
        self._parents: dict[tuple[int, str], Row | None] = {}

    def parent(self, row: Row, relationship: str) -> Row | None:
        key = (id(row), relationship)
        if key not in self._parents:
            self._parents[key] = self.resolve_parent(row, relationship)
        return self._parents[key]

    def getter(self, resolved: ResolvedField) -> Callable[[Row], Any]:
        name = resolved.name
        rel = resolved.relationship
        parts = resolved.parts
        if rel is None:
            return lambda row: _get(row, name, parts)

        def from_parent(row: Row) -> Any:
            parent = self.parent(row, rel)
            return None if parent is None else _get(parent, name, parts)

        return from_parent

    def shape(
        self, row: Row, selected: list[ResolvedField], object_name: str, api_version: str
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": _attributes(object_name, row, api_version)}
        for resolved in selected:
            rel = resolved.relationship
            if rel is None:
                out[resolved.name] = _get(row, resolved.name, resolved.parts)
                continue
            parent = self.parent(row, rel)
            if parent is None:
                out.setdefault(rel, None)
                continue
            nested = out.get(rel)
            if nested is None:
                parent_type = (
                    resolved.parent_type
                    or self.schema.type_by_prefix(resolved.candidates, _get(parent, "Id"))
                    or _parent_type(parent, rel)
                )
                nested = out[rel] = {"attributes": _attributes(parent_type, parent, api_version)}
            nested[resolved.name] = _get(parent, resolved.name, resolved.parts)
        return out


def _get(row: Row, name: str, parts: Parts = ()) -> Any:
    if parts:  # a compound field (BillingAddress) is built from its components
        return compound_value(row, parts)
    if name in row:
        return row[name]
    lowered = name.lower()
    for key, value in row.items():  # stored casing may differ from the query's
        if key.lower() == lowered:
            return value
    return None


def _attributes(object_name: str, row: Row, api_version: str) -> dict[str, str]:
    version = api_version.removeprefix("v")
    return {
        "type": object_name,
        "url": f"/services/data/v{version}/sobjects/{object_name}/{_get(row, 'Id')}",
    }


def _parent_type(parent: Row, relationship: str) -> str:
    attributes = parent.get("attributes")
    if isinstance(attributes, Mapping) and attributes.get("type"):
        return str(attributes["type"])
    if relationship.endswith("__r"):
        return relationship[:-3] + "__c"
    return relationship
