"""The parsed form of a SOQL query, and the error every SOQL failure raises.

Positions are character offsets into the query text, kept so that errors can point at
the offending token the way Salesforce does (``ERROR at Row:1:Column:17``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from runner.errors import RunnerError

ErrorCode = Literal[
    "MALFORMED_QUERY",
    "INVALID_FIELD",
    "INVALID_TYPE",
    "INVALID_QUERY_FILTER_OPERATOR",
    "NUMBER_OUTSIDE_VALID_RANGE",
]


class SoqlError(RunnerError):
    """A query Salesforce would refuse; ``error_code`` and ``message`` are its answer.

    ``reason`` is the last line alone (``unexpected token: 'FORM'``); ``message`` adds the
    echo of the query line, a caret and ``ERROR at Row:r:Column:c`` as Salesforce does.
    """

    def __init__(
        self, error_code: ErrorCode, reason: str, *, text: str | None = None, pos: int | None = None
    ) -> None:
        self.error_code: str = error_code
        self.reason = reason
        self.message = _locate(reason, text, pos)
        super().__init__(self.message)


def _locate(reason: str, text: str | None, pos: int | None) -> str:
    if text is None or pos is None:
        return reason
    pos = max(0, min(pos, len(text)))
    row = text.count("\n", 0, pos) + 1
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    column = pos - line_start + 1
    return f"\n{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n{reason}"


@dataclass(frozen=True)
class FieldRef:
    """``Name`` (path of one) or ``Account.Name`` (relationship, then field on the parent)."""

    path: tuple[str, ...]
    pos: int = 0

    @property
    def name(self) -> str:
        return ".".join(self.path)

    @property
    def relationship(self) -> str | None:
        return self.path[0] if len(self.path) > 1 else None

    @property
    def field(self) -> str:
        return self.path[-1]


AGGREGATE_FUNCTIONS = frozenset({"COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX"})


@dataclass(frozen=True)
class Aggregate:
    """``COUNT(Id)``, ``SUM(Amount) total`` ...: an aggregate function over one field."""

    function: str  # upper case, one of AGGREGATE_FUNCTIONS
    field: FieldRef
    pos: int = 0
    alias: str | None = None

    @property
    def name(self) -> str:
        return f"{self.function}({self.field.name})"

    @property
    def key(self) -> str:
        """Identity for computing it once per group (the alias does not change the value)."""
        return f"{self.function}({self.field.name.lower()})"


LiteralKind = Literal["string", "number", "boolean", "null", "date", "datetime", "relative"]


@dataclass(frozen=True)
class Value:
    """A literal on the right of a comparison.

    ``value`` is ``str`` for strings (``raw`` keeps the text between the quotes, still
    escaped, which LIKE needs to tell ``\\%`` from ``%``), ``int``/``float`` for numbers,
    ``bool``, ``None``, ``datetime.date``, an aware ``datetime.datetime``, or for relative
    date literals a ``(NAME, n)`` tuple such as ``("LAST_N_DAYS", 7)`` or ``("TODAY", None)``.
    """

    kind: LiteralKind
    value: Any
    pos: int = 0
    raw: str | None = None
    text: str = ""


@dataclass(frozen=True)
class Compare:
    field: FieldRef | Aggregate  # an aggregate only in HAVING
    op: str  # = != < <= > >= LIKE
    value: Value


@dataclass(frozen=True)
class InList:
    field: FieldRef | Aggregate  # an aggregate only in HAVING
    values: tuple[Value, ...]
    negated: bool


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class BoolOp:
    op: Literal["AND", "OR"]
    operands: tuple[Condition, ...]


Condition = Compare | InList | Not | BoolOp


@dataclass(frozen=True)
class OrderItem:
    field: FieldRef | Aggregate  # an aggregate only in a grouped query
    descending: bool = False
    nulls_first: bool | None = None  # None: Salesforce's default (first for ASC, last for DESC)

    @property
    def effective_nulls_first(self) -> bool:
        return (not self.descending) if self.nulls_first is None else self.nulls_first


@dataclass
class SubQuery:
    """A parent-to-child subquery: ``(SELECT Name FROM Opportunities)``; ``query.object``
    is the child relationship name as written."""

    query: Query
    pos: int = 0

    @property
    def relationship(self) -> str:
        return self.query.object


SelectItem = FieldRef | Aggregate | SubQuery


@dataclass
class Query:
    """A parsed query. ``fields`` are the plain fields of the select list, ``select`` every
    item in written order (fields, aggregates and subqueries)."""

    object: str
    fields: list[FieldRef] = field(default_factory=list)
    count_only: bool = False
    where: Condition | None = None
    select: list[SelectItem] = field(default_factory=list)
    aggregates: list[Aggregate] = field(default_factory=list)
    subqueries: list[SubQuery] = field(default_factory=list)
    field_aliases: dict[str, str] = field(default_factory=dict)  # lower field name -> alias
    group_by: list[FieldRef] = field(default_factory=list)
    having: Condition | None = None
    order_by: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    text: str = ""
    object_pos: int = 0

    @property
    def is_aggregate(self) -> bool:
        """Answers with AggregateResult rows (or, for COUNT(), a bare count)."""
        return bool(self.aggregates or self.group_by)
