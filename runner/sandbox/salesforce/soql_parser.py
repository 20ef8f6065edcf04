"""A recursive-descent parser for the SOQL subset the emulator answers.

Grammar (keywords case-insensitive)::

    query     := SELECT select FROM object [WHERE cond] [GROUP BY field (, field)*]
                 [HAVING cond] [ORDER BY order (, order)*] [LIMIT int] [OFFSET int]
    select    := COUNT() | item (, item)*
    item      := field [alias] | aggregate [alias] | ( subquery )
    aggregate := (COUNT | COUNT_DISTINCT | SUM | AVG | MIN | MAX) ( field )
    subquery  := SELECT field (, field)* FROM childRelationship [WHERE cond]
                 [ORDER BY order (, order)*] [LIMIT int] [OFFSET int]
    cond      := [NOT] term ((AND term)* | (OR term)*)
    term      := lhs op value | lhs [NOT] IN (value, ...) | ( cond )
    lhs       := field | aggregate (aggregates in HAVING only)
    order     := (field | aggregate) [ASC | DESC] [NULLS FIRST | NULLS LAST]

Like Salesforce, AND and OR cannot be mixed at one level without parentheses
(``a OR b AND c`` is refused with ``unexpected token: 'AND'``), NOT may only open a
condition (``a AND NOT b`` is refused; ``a AND (NOT b)`` is fine), and in a grouped query
every selected or ordered field must be grouped or aggregated. Everything outside the
subset (nested subqueries, semi-joins, TYPEOF, date functions, GROUP BY ROLLUP/CUBE, WITH,
FOR, USING SCOPE, INCLUDES/EXCLUDES, bind variables) is refused as MALFORMED_QUERY naming
the construct.
"""

from __future__ import annotations

from runner.sandbox.salesforce.soql_ast import (
    AGGREGATE_FUNCTIONS,
    Aggregate,
    BoolOp,
    Compare,
    Condition,
    FieldRef,
    InList,
    Not,
    OrderItem,
    Query,
    SoqlError,
    SubQuery,
    Value,
)
from runner.sandbox.salesforce.soql_dates import (
    N_LITERALS,
    PLAIN_LITERALS,
    parse_date_literal,
    parse_datetime_literal,
)
from runner.sandbox.salesforce.soql_lexer import Token, tokenize

_UNSUPPORTED_CLAUSES = {
    "WITH": "WITH clauses are not supported by the emulator",
    "FOR": "FOR VIEW/REFERENCE/UPDATE is not supported by the emulator",
    "USING": "USING SCOPE is not supported by the emulator",
    "TYPEOF": "TYPEOF is not supported by the emulator",
    "INCLUDES": "INCLUDES is not supported by the emulator",
    "EXCLUDES": "EXCLUDES is not supported by the emulator",
}
MAX_OFFSET = 2000


def parse(text: str) -> Query:
    """Parse one SOQL query; raise :class:`SoqlError` (MALFORMED_QUERY) when it is not valid."""
    if not isinstance(text, str) or not text.strip():
        raise SoqlError("MALFORMED_QUERY", "unexpected token: <EOF> (the query is empty)")
    return _Parser(text).query()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    # -- token helpers --------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def error(self, tok: Token | None = None, hint: str | None = None) -> SoqlError:
        tok = tok or self.tok
        if tok.kind == "eof":
            shown = "<EOF>"
        elif tok.kind == "string":
            shown = f"'{tok.raw}'"
        else:
            shown = tok.text
        if tok.kind == "ident":  # naming the unsupported feature beats "expected X"
            hint = _UNSUPPORTED_CLAUSES.get(tok.text.upper(), hint)
        reason = f"unexpected token: '{shown}'" if tok.kind != "eof" else "unexpected token: <EOF>"
        if hint:
            reason += f" ({hint})"
        return SoqlError("MALFORMED_QUERY", reason, text=self.text, pos=tok.pos)

    def expect_kw(self, word: str) -> Token:
        if not self.tok.is_kw(word):
            raise self.error(hint=f"expected {word}")
        return self.advance()

    def expect(self, kind: str, what: str) -> Token:
        if self.tok.kind != kind:
            raise self.error(hint=f"expected {what}")
        return self.advance()

    # -- query ----------------------------------------------------------------------------

    def query(self, *, nested: bool = False) -> Query:
        self.expect_kw("SELECT")
        query = Query(object="", text=self.text)
        self.select_list(query, nested=nested)
        self.expect_kw("FROM")
        obj = self.tok
        if obj.kind != "ident" or "." in obj.text:
            raise self.error(hint="expected an object name")
        self.advance()
        query.object, query.object_pos = obj.text, obj.pos
        if self.tok.kind == "comma":
            raise self.error(hint="only one object may follow FROM")
        if self.tok.is_kw("WHERE"):
            self.advance()
            query.where = self.condition()
        if self.tok.is_kw("GROUP"):
            if nested:
                raise self.error(hint="GROUP BY is not supported in a subquery")
            self.advance()
            self.expect_kw("BY")
            if self.tok.is_kw("ROLLUP", "CUBE") and self.peek().kind == "lparen":
                raise self.error(hint=f"GROUP BY {self.tok.text.upper()} is not supported by "
                                 "the emulator")
            query.group_by = self.field_list()
        if self.tok.is_kw("HAVING"):
            having_tok = self.advance()
            if not query.group_by:
                raise SoqlError("MALFORMED_QUERY", "HAVING can only be used with GROUP BY",
                                text=self.text, pos=having_tok.pos)
            query.having = self.condition(having=True)
        if self.tok.is_kw("ORDER"):
            order_tok = self.advance()
            self.expect_kw("BY")
            if query.count_only and not query.group_by:
                raise SoqlError(
                    "MALFORMED_QUERY",
                    "ORDER BY cannot be used with COUNT()",
                    text=self.text,
                    pos=order_tok.pos,
                )
            query.order_by = self.order_list(aggregates=query.is_aggregate)
        if self.tok.is_kw("LIMIT"):
            self.advance()
            query.limit = self.integer("LIMIT")
        if self.tok.is_kw("OFFSET"):
            self.advance()
            offset_tok = self.tok
            query.offset = self.integer("OFFSET")
            if query.offset > MAX_OFFSET:
                raise SoqlError(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    f"Maximum SOQL offset allowed is {MAX_OFFSET}",
                    text=self.text,
                    pos=offset_tok.pos,
                )
        if nested:
            if self.tok.kind != "rparen":
                raise self.error(hint="expected ')' to close the subquery")
        elif self.tok.kind != "eof":
            raise self.error()
        self._check_grouping(query)
        return query

    def _check_grouping(self, query: Query) -> None:
        """Salesforce's rules for aggregate queries, which need no describe to check."""
        if query.field_aliases and not query.is_aggregate:
            ref = next(f for f in query.fields if f.name.lower() in query.field_aliases)
            alias = query.field_aliases[ref.name.lower()]
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{alias}' (aliases are only "
                            "allowed in aggregate queries)", text=self.text, pos=ref.pos)
        if not query.is_aggregate:
            return
        grouped = {ref.name.lower() for ref in query.group_by}
        if query.subqueries:
            raise SoqlError("MALFORMED_QUERY", "subqueries cannot be used in an aggregate "
                            "query", text=self.text, pos=query.subqueries[0].pos)
        for ref in query.fields:
            if ref.name.lower() not in grouped:
                raise SoqlError("MALFORMED_QUERY", f"Field must be grouped or aggregated: "
                                f"{ref.name}", text=self.text, pos=ref.pos)
        for item in query.order_by:
            ordered = item.field
            if isinstance(ordered, FieldRef) and ordered.name.lower() not in grouped:
                raise SoqlError("MALFORMED_QUERY", f"Ordered field must be grouped or "
                                f"aggregated: {ordered.name}", text=self.text, pos=ordered.pos)

    def select_list(self, query: Query, *, nested: bool) -> None:
        seen: set[str] = set()
        while True:
            tok = self.tok
            if tok.kind == "lparen":
                if nested:
                    raise self.error(hint="nested subqueries are not supported by the emulator")
                query.subqueries.append(self.subquery())
                query.select.append(query.subqueries[-1])
            elif tok.kind != "ident" or tok.is_kw("FROM"):
                raise self.error(hint="expected a field name")
            elif self.peek().kind == "lparen":
                name = tok.text.upper()
                if name == "COUNT" and self.peek(2).kind == "rparen":
                    self.i += 3
                    query.count_only = True
                elif name in AGGREGATE_FUNCTIONS:
                    if nested:
                        raise self.error(hint="aggregate functions are not supported in a "
                                         "subquery")
                    aggregate = self.aggregate(alias=True)
                    query.aggregates.append(aggregate)
                    query.select.append(aggregate)
                else:
                    raise self.error(hint=f"the function {tok.text}() is not supported")
            else:
                ref = self.field_ref()
                key = ref.name.lower()
                if key in seen:
                    raise SoqlError(
                        "MALFORMED_QUERY",
                        f"duplicate field selected: {ref.name}",
                        text=self.text,
                        pos=ref.pos,
                    )
                seen.add(key)
                alias = self.alias()
                if alias:
                    query.field_aliases[key] = alias
                query.fields.append(ref)
                query.select.append(ref)
            if self.tok.kind != "comma":
                break
            self.advance()
        if query.count_only and (query.fields or query.aggregates or query.subqueries):
            raise SoqlError(
                "MALFORMED_QUERY",
                "COUNT() must be the only element in the SELECT list",
                text=self.text,
                pos=self.tokens[1].pos,
            )

    def alias(self) -> str | None:
        """An alias after a select item: an identifier followed by ',' or FROM.

        The lookahead keeps a misspelt keyword (``SELECT Id FORM Account``) reported at the
        keyword rather than taken for an alias.
        """
        tok, after = self.tok, self.peek()
        if (tok.kind == "ident" and "." not in tok.text and not tok.is_kw("FROM")
                and (after.kind == "comma" or after.is_kw("FROM"))):
            self.advance()
            return tok.text
        return None

    def aggregate(self, *, alias: bool = False) -> Aggregate:
        name_tok = self.advance()
        self.expect("lparen", "'('")
        if self.tok.kind == "rparen":
            raise self.error(hint=f"{name_tok.text.upper()}() needs a field here")
        if self.tok.kind == "ident" and self.peek().kind == "lparen":
            raise self.error(hint=f"the function {self.tok.text}() is not supported inside "
                             f"{name_tok.text.upper()}()")
        ref = self.field_ref()
        self.expect("rparen", "')'")
        return Aggregate(name_tok.text.upper(), ref, name_tok.pos,
                         self.alias() if alias else None)

    def subquery(self) -> SubQuery:
        open_tok = self.advance()
        if not self.tok.is_kw("SELECT"):
            raise self.error(hint="expected SELECT to open a subquery")
        inner = self.query(nested=True)
        self.expect("rparen", "')'")
        if inner.count_only:
            raise SoqlError("MALFORMED_QUERY", "COUNT() is not supported in a subquery",
                            text=self.text, pos=open_tok.pos)
        return SubQuery(inner, open_tok.pos)

    def field_list(self) -> list[FieldRef]:
        refs: list[FieldRef] = []
        while True:
            if self.tok.kind == "ident" and self.peek().kind == "lparen":
                raise self.error(hint=f"the function {self.tok.text}() is not supported")
            refs.append(self.field_ref())
            if self.tok.kind != "comma":
                return refs
            self.advance()

    def field_ref(self) -> FieldRef:
        tok = self.tok
        if tok.kind != "ident":
            raise self.error(hint="expected a field name")
        path = tuple(tok.text.split("."))
        if len(path) > 2:
            raise SoqlError(
                "MALFORMED_QUERY",
                f"unexpected token: '{tok.text}' (the emulator follows one level of parent "
                "relationship, e.g. Account.Name)",
                text=self.text,
                pos=tok.pos,
            )
        if tok.text.upper() in _UNSUPPORTED_CLAUSES:
            raise self.error()
        self.advance()
        return FieldRef(path, tok.pos)

    def integer(self, clause: str) -> int:
        tok = self.tok
        if tok.kind != "number" or not tok.text.isdigit():
            raise self.error(hint=f"{clause} takes a non-negative integer")
        self.advance()
        return int(tok.text)

    def order_list(self, *, aggregates: bool = False) -> list[OrderItem]:
        items: list[OrderItem] = []
        while True:
            ref: FieldRef | Aggregate
            if self.tok.kind == "ident" and self.peek().kind == "lparen":
                if not (aggregates and self.tok.text.upper() in AGGREGATE_FUNCTIONS):
                    raise self.error(hint=f"the function {self.tok.text}() is not supported "
                                     "in ORDER BY")
                ref = self.aggregate()
            else:
                ref = self.field_ref()
            descending = False
            nulls_first: bool | None = None
            if self.tok.is_kw("ASC", "DESC"):
                descending = self.advance().text.upper() == "DESC"
            if self.tok.is_kw("NULLS"):
                self.advance()
                if not self.tok.is_kw("FIRST", "LAST"):
                    raise self.error(hint="expected FIRST or LAST after NULLS")
                nulls_first = self.advance().text.upper() == "FIRST"
            items.append(OrderItem(ref, descending, nulls_first))
            if self.tok.kind != "comma":
                return items
            self.advance()

    # -- conditions -----------------------------------------------------------------------

    def condition(self, *, having: bool = False) -> Condition:
        if self.tok.is_kw("NOT"):
            self.advance()
            first: Condition = Not(self.term(having))
        else:
            first = self.term(having)
        operands = [first]
        joiner: str | None = None
        while self.tok.is_kw("AND", "OR"):
            word = self.tok.text.upper()
            if joiner is not None and word != joiner:
                raise self.error(hint="use parentheses to mix AND and OR")
            joiner = word
            self.advance()
            if self.tok.is_kw("NOT"):
                raise self.error(hint="put NOT inside parentheses: AND (NOT ...)")
            operands.append(self.term(having))
        if joiner is None:
            return first
        return BoolOp("AND" if joiner == "AND" else "OR", tuple(operands))

    def term(self, having: bool = False) -> Condition:
        if self.tok.kind == "lparen":
            self.advance()
            if self.tok.is_kw("SELECT"):
                raise self.error(hint="subqueries are not supported in a condition")
            inner = self.condition(having=having)
            self.expect("rparen", "')'")
            return inner
        ref: FieldRef | Aggregate
        if self.tok.kind == "ident" and self.peek().kind == "lparen":
            if self.tok.text.upper() not in AGGREGATE_FUNCTIONS:
                raise self.error(hint=f"the function {self.tok.text}() is not supported")
            if not having:
                raise self.error(hint="aggregate functions can only be filtered in HAVING")
            ref = self.aggregate()
        else:
            ref = self.field_ref()
        tok = self.tok
        if tok.kind == "op":
            self.advance()
            op = "!=" if tok.text == "<>" else tok.text
            return Compare(ref, op, self.value())
        if tok.is_kw("LIKE"):
            self.advance()
            value = self.value()
            if value.kind != "string":
                raise SoqlError(
                    "MALFORMED_QUERY",
                    f"unexpected token: '{value.text}' (LIKE takes a quoted string)",
                    text=self.text,
                    pos=value.pos,
                )
            return Compare(ref, "LIKE", value)
        if tok.is_kw("NOT") and self.peek().is_kw("IN"):
            self.i += 2
            return InList(ref, self.value_list(), negated=True)
        if tok.is_kw("IN"):
            self.advance()
            return InList(ref, self.value_list(), negated=False)
        raise self.error(hint="expected a comparison operator")

    def value_list(self) -> tuple[Value, ...]:
        if self.tok.kind == "colon":
            raise self.error(hint="bind variables are not supported: Bind variables only "
                             "allowed in Apex code")
        self.expect("lparen", "'(' after IN")
        if self.tok.is_kw("SELECT"):
            raise self.error(hint="semi-join subqueries are not supported by the emulator")
        values = [self.value()]
        while self.tok.kind == "comma":
            self.advance()
            values.append(self.value())
        self.expect("rparen", "')'")
        return tuple(values)

    def value(self) -> Value:
        tok = self.tok
        kind = tok.kind
        if kind == "string":
            self.advance()
            return Value("string", tok.text, tok.pos, raw=tok.raw, text=f"'{tok.raw}'")
        if kind == "number":
            self.advance()
            number: int | float = (
                int(tok.text) if tok.text.lstrip("+-").isdigit() else float(tok.text)
            )
            return Value("number", number, tok.pos, text=tok.text)
        if kind == "date":
            self.advance()
            try:
                return Value("date", parse_date_literal(tok.text), tok.pos, text=tok.text)
            except ValueError as exc:
                raise self.error(tok, hint="not a valid date") from exc
        if kind == "datetime":
            self.advance()
            try:
                return Value("datetime", parse_datetime_literal(tok.text), tok.pos, text=tok.text)
            except ValueError as exc:
                raise self.error(tok, hint="not a valid datetime") from exc
        if kind == "ident":
            word = tok.text.upper()
            if word in ("TRUE", "FALSE"):
                self.advance()
                return Value("boolean", word == "TRUE", tok.pos, text=tok.text)
            if word == "NULL":
                self.advance()
                return Value("null", None, tok.pos, text=tok.text)
            if word in PLAIN_LITERALS:
                self.advance()
                return Value("relative", (word, None), tok.pos, text=tok.text)
            if word in N_LITERALS:
                self.advance()
                if self.tok.kind != "colon":
                    raise self.error(hint=f"{word} needs a number, e.g. {word}:7")
                self.advance()
                n_tok = self.tok
                if n_tok.kind != "number" or not n_tok.text.isdigit():
                    raise self.error(hint=f"{word} needs a non-negative integer")
                self.advance()
                return Value(
                    "relative", (word, int(n_tok.text)), tok.pos, text=f"{tok.text}:{n_tok.text}"
                )
            if "FISCAL" in word:
                raise self.error(hint="fiscal date literals are not supported by the emulator")
        if kind == "colon":
            raise self.error(hint="bind variables are not supported: Bind variables only "
                             "allowed in Apex code")
        raise self.error(hint="expected a value")
