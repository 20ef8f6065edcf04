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
from runner.sandbox.salesforce.soql_ast import FieldRef, OrderItem, Query, SoqlError
from runner.sandbox.salesforce.soql_compile import WhereCompiler, sort_value
from runner.sandbox.salesforce.soql_parser import parse
from runner.sandbox.salesforce.soql_schema import Describe, ResolvedField, Schema

__all__ = ["FieldRef", "Query", "QueryResult", "SoqlError", "execute", "parse"]

Row = Mapping[str, Any]
ResolveParent = Callable[[Row, str], Row | None]


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
) -> QueryResult:
    """Run a parsed query over ``rows``; raise :class:`SoqlError` for bad fields or values."""
    schema = Schema(query.object, describe, query.text, query.object_pos)
    run = _Run(schema, resolve_parent)
    selected = [schema.resolve(ref) for ref in query.fields]
    moment = now or datetime.now(UTC)
    # Hold every row until the end: parents are memoised by id(row), and an id may be
    # reused once a row that was generated on the fly is dropped.
    rows = list(rows)

    matched: list[Row]
    if query.where is None:
        matched = rows
    else:
        compiler = WhereCompiler(schema, run.getter, query.text, moment)
        keep = compiler.compile(query.where)
        matched = [row for row in rows if keep(row)]

    if query.order_by:
        _sort(matched, [(item, schema.resolve(item.field)) for item in query.order_by], run)

    start = query.offset or 0
    stop = None if query.limit is None else start + query.limit
    if query.count_only:
        count = len(matched[start:stop]) if (start or stop is not None) else len(matched)
        return QueryResult([], count, True)
    page = matched[start:stop]
    records = [run.shape(row, selected, schema.object_name, api_version) for row in page]
    return QueryResult(records, len(records), False)


def _sort(rows: list[Row], items: list[tuple[OrderItem, ResolvedField]], run: _Run) -> None:
    for item, resolved in reversed(items):  # stable sorts, last key first
        if not resolved.sortable:
            raise SoqlError(
                "INVALID_FIELD", f"field '{item.field.name}' can not be sorted in a query call"
            )
        get = run.getter(resolved)
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
