"""Aggregate queries: GROUP BY, HAVING and the aggregate functions, as AggregateResult rows.

Each group becomes one "group record": a dict holding the grouped fields' values (under
``field:<lower name>``) and every aggregate the query mentions (under ``Aggregate.key``).
HAVING and ORDER BY then run over group records with the ordinary WHERE compiler and sort,
and the output row takes the select list's names: the alias, else the field's own name
(``Account.Name`` -> ``Name``) or ``expr0``, ``expr1``... for unaliased aggregates, as
Salesforce numbers them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from runner.sandbox.salesforce.soql_ast import Aggregate, Condition, FieldRef, Query, SoqlError
from runner.sandbox.salesforce.soql_compile import kind_of, sort_value
from runner.sandbox.salesforce.soql_schema import ResolvedField, Schema

Row = Mapping[str, Any]
GetterFor = Callable[[ResolvedField], Callable[[Row], Any]]

# Functions that take only numbers, and the types MIN/MAX cannot order.
_NUMERIC_ONLY = frozenset({"SUM", "AVG"})
_UNORDERED_KINDS = frozenset({"boolean", "compound"})


def _field_key(ref: FieldRef) -> str:
    return f"field:{ref.name.lower()}"


class Grouping:
    """Resolves a grouped query's names and computes its group records."""

    def __init__(self, query: Query, schema: Schema, getter_for: GetterFor) -> None:
        self.query = query
        self.schema = schema
        self.getter_for = getter_for
        self.grouped = {ref.name.lower(): schema.resolve(ref) for ref in query.group_by}
        self.aggregates: dict[str, tuple[Aggregate, ResolvedField]] = {}
        for aggregate in _mentioned(query):
            self._add(aggregate)

    def _add(self, aggregate: Aggregate) -> ResolvedField:
        if aggregate.key not in self.aggregates:
            resolved = self.schema.resolve(aggregate.field)
            self._check(aggregate, resolved)
            self.aggregates[aggregate.key] = (aggregate, resolved)
        return self.aggregates[aggregate.key][1]

    def _check(self, aggregate: Aggregate, resolved: ResolvedField) -> None:
        kind = kind_of(resolved.type)
        numeric_ok = kind in (None, "number")
        ordered_ok = kind not in _UNORDERED_KINDS
        if (aggregate.function in _NUMERIC_ONLY and not numeric_ok) or (
            aggregate.function in ("MIN", "MAX") and not ordered_ok
        ) or (aggregate.function.startswith("COUNT") and kind == "compound"):
            raise SoqlError(
                "INVALID_FIELD",
                f"field {aggregate.field.name} does not support aggregate operator "
                f"{aggregate.function}",
                text=self.query.text,
                pos=aggregate.pos,
            )

    # -- names for HAVING and ORDER BY -------------------------------------------------
    def resolve(self, ref: FieldRef | Aggregate) -> ResolvedField:
        """A grouped field or an aggregate as a field of the group record."""
        if isinstance(ref, Aggregate):
            resolved = self._add(ref)
            if ref.function.startswith("COUNT"):
                value_type: str | None = "int"
            elif ref.function in _NUMERIC_ONLY:
                value_type = "double"
            else:
                value_type = resolved.type
            return ResolvedField(FieldRef((ref.name,), ref.pos), None, ref.key, value_type)
        grouped = self.grouped.get(ref.name.lower())
        if grouped is None:
            raise SoqlError("MALFORMED_QUERY", f"Field must be grouped or aggregated: "
                            f"{ref.name}", text=self.query.text, pos=ref.pos)
        return replace(grouped, relationship=None, name=_field_key(ref), parts=())

    @staticmethod
    def group_getter(resolved: ResolvedField) -> Callable[[Row], Any]:
        name = resolved.name
        return lambda group: group.get(name)

    # -- computing -----------------------------------------------------------------------
    def groups(self, rows: Iterable[Row]) -> list[dict[str, Any]]:
        """One group record per distinct combination of the grouped values, in first-seen
        order; without GROUP BY, one group over every row (even none)."""
        getters = [(key, self.getter_for(r), sort_value(r.type))
                   for key, r in self.grouped.items()]
        buckets: dict[tuple, list[Row]] = {}
        firsts: dict[tuple, dict[str, Any]] = {}
        for row in rows:
            values = [(key, get(row)) for key, get, _ in getters]
            # Strings group case-insensitively, as Salesforce's collation does.
            ident = tuple(to_key(value) for (_, value), (_, _, to_key) in zip(values, getters,
                                                                             strict=True))
            if ident not in buckets:
                buckets[ident] = []
                firsts[ident] = {f"field:{key}": value for key, value in values}
            buckets[ident].append(row)
        if not self.grouped and not buckets:
            buckets[()] = []
            firsts[()] = {}
        out = []
        for ident, members in buckets.items():
            group = dict(firsts[ident])
            for key, (aggregate, resolved) in self.aggregates.items():
                group[key] = _compute(aggregate.function, resolved, members,
                                      self.getter_for(resolved))
            out.append(group)
        return out

    def shape(self, group: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
        unnamed = 0
        for item in self.query.select:
            if isinstance(item, Aggregate):
                if item.alias:
                    name = item.alias
                else:
                    name, unnamed = f"expr{unnamed}", unnamed + 1
                out[name] = group.get(item.key)
            elif isinstance(item, FieldRef):
                name = self.query.field_aliases.get(item.name.lower()) or item.field
                resolved = self.grouped[item.name.lower()]
                out[name] = group.get(_field_key(item)) if not resolved.parts else None
        return out


def _mentioned(query: Query) -> list[Aggregate]:
    found = list(query.aggregates)
    found += [item.field for item in query.order_by if isinstance(item.field, Aggregate)]
    found += _in_condition(query.having)
    return found


def _in_condition(cond: Condition | None) -> list[Aggregate]:
    if cond is None:
        return []
    operands = getattr(cond, "operands", None)
    if operands is not None:
        return [a for c in operands for a in _in_condition(c)]
    operand = getattr(cond, "operand", None)
    if operand is not None:
        return _in_condition(operand)
    field = getattr(cond, "field", None)
    return [field] if isinstance(field, Aggregate) else []


def _compute(function: str, resolved: ResolvedField, rows: list[Row],
             get: Callable[[Row], Any]) -> Any:
    values = [v for v in (get(row) for row in rows) if v is not None]
    if function == "COUNT":
        return len(values)
    to_key = sort_value(resolved.type)
    if function == "COUNT_DISTINCT":
        return len({to_key(v) for v in values})
    if function in _NUMERIC_ONLY:
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if not numbers:
            return None
        total = sum(numbers)
        return total / len(numbers) if function == "AVG" else total
    if not values:
        return None
    pick = min if function == "MIN" else max
    return pick(values, key=to_key)
