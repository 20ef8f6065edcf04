"""Turns a WHERE clause into one Python closure, and ORDER BY items into sort keys.

Compiling once per query keeps the per-row work to a few dict lookups and comparisons:
10,000 rows are filtered in tens of milliseconds.

Semantics follow SOQL rather than SQL: ``= null`` / ``!= null`` test for null, ``!=`` and
``NOT IN`` match rows whose field is null, ordering operators never match a null, string
comparisons and LIKE ignore case, and a 15-character id literal matches its 18-character
form. A relative date literal is a range of whole UTC days: ``=`` means inside it, ``<``
before its start, ``>`` after its end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from runner.sandbox.salesforce.soql_ast import (
    Aggregate,
    BoolOp,
    Compare,
    Condition,
    FieldRef,
    InList,
    Not,
    SoqlError,
    Value,
)
from runner.sandbox.salesforce.soql_dates import relative_range, to_date, to_datetime
from runner.sandbox.salesforce.soql_schema import ResolvedField, Schema

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]
Getter = Callable[[Row], Any]
GetterFor = Callable[[ResolvedField], Getter]
Resolve = Callable[[FieldRef | Aggregate], ResolvedField]

_STRING_TYPES = {
    "string", "textarea", "picklist", "multipicklist", "phone", "url", "email", "combobox",
    "encryptedstring", "time", "base64",
}  # fmt: skip
_NUMBER_TYPES = {"int", "double", "currency", "percent", "long"}
_TYPE_WORDS = {"int": "integer", "datetime": "dateTime"}
_ID_RE = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


def kind_of(describe_type: str | None) -> str | None:
    """The comparison family of a describe type: string, id, number, boolean, date, datetime."""
    if describe_type is None:
        return None
    if describe_type in ("id", "reference"):
        return "id"
    if describe_type in _NUMBER_TYPES:
        return "number"
    if describe_type in ("boolean", "date", "datetime"):
        return describe_type
    if describe_type in _STRING_TYPES:
        return "string"
    return "compound"  # address, location, anyType...: Salesforce cannot filter on them


class WhereCompiler:
    """Compiles WHERE over records, or (with ``resolve`` naming the group's values) HAVING."""

    def __init__(self, schema: Schema, getter_for: GetterFor, text: str, now: datetime,
                 resolve: Resolve | None = None) -> None:
        self.schema = schema
        self.getter_for = getter_for
        self.text = text
        self.now = now
        self.resolve = resolve or self._resolve_field

    def _resolve_field(self, ref: FieldRef | Aggregate) -> ResolvedField:
        if isinstance(ref, Aggregate):  # the parser admits these in HAVING only
            raise SoqlError("MALFORMED_QUERY", f"{ref.name} can only be filtered in HAVING",
                            text=self.text, pos=ref.pos)
        return self.schema.resolve(ref)

    def compile(self, cond: Condition) -> Predicate:
        if isinstance(cond, BoolOp):
            parts = [self.compile(c) for c in cond.operands]
            if cond.op == "AND":
                return lambda row: all(p(row) for p in parts)
            return lambda row: any(p(row) for p in parts)
        if isinstance(cond, Not):
            inner = self.compile(cond.operand)
            return lambda row: not inner(row)
        if isinstance(cond, InList):
            return self._in_list(cond)
        return self._compare(cond)

    # -- helpers --------------------------------------------------------------------------

    def _field(self, ref: FieldRef | Aggregate) -> tuple[ResolvedField, Getter]:
        resolved = self.resolve(ref)
        if not resolved.filterable:
            raise SoqlError(
                "INVALID_FIELD",
                f"field '{ref.name}' can not be filtered in a query call",
                text=self.text,
                pos=ref.pos,
            )
        return resolved, self.getter_for(resolved)

    def _fail(self, field: ResolvedField, value: Value, reason: str) -> SoqlError:
        return SoqlError("INVALID_QUERY_FILTER_OPERATOR", reason, text=self.text, pos=value.pos)

    def _kind(self, field: ResolvedField, value: Value) -> str:
        """The comparison family, checked against the literal the way Salesforce checks it."""
        kind = kind_of(field.type)
        if kind is None:  # no describe: the literal decides
            return {"relative": "date", "null": "any"}.get(value.kind, value.kind)
        if value.kind == "null":
            return kind
        name = field.ref.name
        word = _TYPE_WORDS.get(field.type or "", field.type)
        if kind == "compound":
            raise self._fail(field, value, f"field '{name}' of type {word} can not be filtered")
        if kind in ("string", "id"):
            if value.kind != "string":
                raise self._fail(
                    field,
                    value,
                    f"value of filter criterion for field '{name}' must be of type string "
                    "and should be enclosed in quotes",
                )
            if kind == "id" and not _ID_RE.match(value.value):
                raise self._fail(field, value, f"invalid ID field: {value.value}")
            return kind
        wanted = {"number": ("number",), "boolean": ("boolean",)}.get(kind, (kind, "relative"))
        if value.kind not in wanted:
            raise self._fail(
                field,
                value,
                f"value of filter criterion for field '{name}' must be of type {word} "
                "and should not be enclosed in quotes",
            )
        return kind

    # -- comparisons ----------------------------------------------------------------------

    def _compare(self, cond: Compare) -> Predicate:
        field, get = self._field(cond.field)
        value, op = cond.value, cond.op
        if op == "LIKE" and kind_of(field.type) not in (None, "string"):
            raise self._fail(field, value, f"invalid operator on {field.type} field: LIKE")
        kind = self._kind(field, value)
        if value.kind == "null":
            if op == "=":
                return lambda row: get(row) is None
            if op == "!=":
                return lambda row: get(row) is not None
            raise SoqlError(
                "MALFORMED_QUERY",
                f"unexpected token: 'null' (null can only be compared with = or !=, not {op})",
                text=self.text,
                pos=value.pos,
            )
        if op == "LIKE":
            return _like(get, value.raw or "")
        if value.kind == "relative":
            return self._relative(get, value, op)
        coerce, target = self._literal(kind, value)
        if op == "=":
            return lambda row: (v := coerce(get(row))) is not None and v == target
        if op == "!=":
            return lambda row: (v := coerce(get(row))) is None or v != target
        compare = _ORDERING[op]
        return lambda row: (v := coerce(get(row))) is not None and compare(v, target)

    def _in_list(self, cond: InList) -> Predicate:
        field, get = self._field(cond.field)
        wants_null = any(v.kind == "null" for v in cond.values)
        tests: list[Predicate] = []
        targets: set[Any] = set()
        coerce: Callable[[Any], Any] | None = None
        for value in cond.values:
            if value.kind == "null":
                continue
            kind = self._kind(field, value)
            if value.kind == "relative":
                tests.append(self._relative(get, value, "="))
                continue
            coerce, target = self._literal(kind, value)
            targets.add(target)

        def member(row: Row) -> bool:
            raw = get(row)
            if raw is None:
                return wants_null
            if coerce is not None and coerce(raw) in targets:
                return True
            return any(t(row) for t in tests)

        if cond.negated:
            return lambda row: not member(row)
        return member

    def _literal(self, kind: str, value: Value) -> tuple[Callable[[Any], Any], Any]:
        """A coercion for stored values and the literal in the same comparable form."""
        if kind == "string":
            return _as_text, value.value.casefold()
        if kind == "id":
            return _as_id, value.value[:15]
        if kind == "number":
            return _as_number, value.value
        if kind == "boolean":
            return _as_bool, value.value
        if kind == "date":
            return to_date, value.value
        if kind == "datetime":
            return to_datetime, value.value
        return _as_text, str(value.value).casefold()

    def _relative(self, get: Getter, value: Value, op: str) -> Predicate:
        name, n = value.value
        try:
            start, end = relative_range(name, n, self.now)
        except (OverflowError, ValueError) as exc:
            raise SoqlError(
                "MALFORMED_QUERY",
                f"{value.text} reaches outside the calendar",
                text=self.text,
                pos=value.pos,
            ) from exc
        # Whole UTC days: comparing a datetime's UTC day is the same as comparing the instant.
        checks: dict[str, Callable[[date], bool]] = {
            "=": lambda d: start <= d < end,
            "<": lambda d: d < start,
            "<=": lambda d: d < end,
            ">": lambda d: d >= end,
            ">=": lambda d: d >= start,
        }
        if op == "!=":
            return lambda row: (d := to_date(get(row))) is None or not (start <= d < end)
        check = checks[op]
        return lambda row: (d := to_date(get(row))) is not None and check(d)


_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).casefold()


def _as_id(value: Any) -> str | None:
    return value[:15] if isinstance(value, str) else None


def _as_number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def like_regex(raw: str) -> re.Pattern[str]:
    """SOQL LIKE to a regex: ``%`` any run, ``_`` one character, ``\\%`` and ``\\_`` literal."""
    out: list[str] = []
    escapes = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            out.append(re.escape(escapes.get(nxt.lower(), nxt)))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _like(get: Getter, raw: str) -> Predicate:
    pattern = like_regex(raw)
    return lambda row: isinstance(v := get(row), str) and pattern.fullmatch(v) is not None


# -- ORDER BY ---------------------------------------------------------------------------


def sort_value(describe_type: str | None) -> Callable[[Any], Any]:
    """The sort key of one stored value (``None`` sorts as null) for a describe type."""
    kind = kind_of(describe_type)
    if kind == "string":
        return _as_text
    if kind == "id":
        return lambda v: v if isinstance(v, str) else None
    if kind == "number":
        return _as_number
    if kind == "boolean":
        return _as_bool
    if kind == "date":
        return to_date
    if kind == "datetime":
        return to_datetime
    return _untyped_sort_value


def _untyped_sort_value(value: Any) -> Any:
    # Without describe the type is unknown: rank by Python type so a column that mixes
    # them still sorts instead of raising.
    if value is None:
        return None
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (1, value)
    return (2, str(value).casefold())
