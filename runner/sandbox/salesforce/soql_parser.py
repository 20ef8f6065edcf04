"""A recursive-descent parser for the SOQL subset the emulator answers.

Grammar (keywords case-insensitive)::

    query     := SELECT select FROM object [WHERE cond] [ORDER BY order (, order)*]
                 [LIMIT int] [OFFSET int]
    select    := COUNT() | field (, field)*
    cond      := [NOT] term ((AND term)* | (OR term)*)
    term      := field op value | field [NOT] IN (value, ...) | ( cond )
    order     := field [ASC | DESC] [NULLS FIRST | NULLS LAST]

Like Salesforce, AND and OR cannot be mixed at one level without parentheses
(``a OR b AND c`` is refused with ``unexpected token: 'AND'``), and NOT may only open a
condition (``a AND NOT b`` is refused; ``a AND (NOT b)`` is fine). Everything outside the
subset (subqueries, GROUP BY, aggregates other than COUNT(), TYPEOF, semi-joins, date
functions) is refused as MALFORMED_QUERY naming the token it stopped at.
"""

from __future__ import annotations

from runner.sandbox.salesforce.soql_ast import (
    BoolOp,
    Compare,
    Condition,
    FieldRef,
    InList,
    Not,
    OrderItem,
    Query,
    SoqlError,
    Value,
)
from runner.sandbox.salesforce.soql_dates import (
    N_LITERALS,
    PLAIN_LITERALS,
    parse_date_literal,
    parse_datetime_literal,
)
from runner.sandbox.salesforce.soql_lexer import Token, tokenize

_AGGREGATES = {"COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX"}
_UNSUPPORTED_CLAUSES = {
    "GROUP": "GROUP BY is not supported by the emulator",
    "HAVING": "HAVING is not supported by the emulator",
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

    def query(self) -> Query:
        self.expect_kw("SELECT")
        fields, count_only = self.select_list()
        self.expect_kw("FROM")
        obj = self.tok
        if obj.kind != "ident" or "." in obj.text:
            raise self.error(hint="expected an object name")
        self.advance()
        query = Query(
            object=obj.text,
            fields=fields,
            count_only=count_only,
            text=self.text,
            object_pos=obj.pos,
        )
        if self.tok.kind == "comma":
            raise self.error(hint="only one object may follow FROM")
        if self.tok.is_kw("WHERE"):
            self.advance()
            query.where = self.condition()
        if self.tok.is_kw("ORDER"):
            order_tok = self.advance()
            self.expect_kw("BY")
            if count_only:
                raise SoqlError(
                    "MALFORMED_QUERY",
                    "ORDER BY cannot be used with COUNT()",
                    text=self.text,
                    pos=order_tok.pos,
                )
            query.order_by = self.order_list()
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
        if self.tok.kind != "eof":
            raise self.error()
        return query

    def select_list(self) -> tuple[list[FieldRef], bool]:
        fields: list[FieldRef] = []
        seen: set[str] = set()
        count_only = False
        while True:
            tok = self.tok
            if tok.kind == "lparen":
                raise self.error(hint="subqueries are not supported by the emulator")
            if tok.kind != "ident" or tok.is_kw("FROM"):
                raise self.error(hint="expected a field name")
            if self.peek().kind == "lparen":
                name = tok.text.upper()
                if name == "COUNT" and self.peek(2).kind == "rparen":
                    self.i += 3
                    count_only = True
                elif name in _AGGREGATES:
                    raise self.error(
                        hint=f"the aggregate {name}(...) is not supported; only COUNT() is"
                    )
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
                fields.append(ref)
            if self.tok.kind != "comma":
                break
            self.advance()
        if count_only and fields:
            raise SoqlError(
                "MALFORMED_QUERY",
                "COUNT() must be the only element in the SELECT list",
                text=self.text,
                pos=self.tokens[1].pos,
            )
        return fields, count_only

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

    def order_list(self) -> list[OrderItem]:
        items: list[OrderItem] = []
        while True:
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

    def condition(self) -> Condition:
        if self.tok.is_kw("NOT"):
            self.advance()
            first: Condition = Not(self.term())
        else:
            first = self.term()
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
            operands.append(self.term())
        if joiner is None:
            return first
        return BoolOp("AND" if joiner == "AND" else "OR", tuple(operands))

    def term(self) -> Condition:
        if self.tok.kind == "lparen":
            self.advance()
            if self.tok.is_kw("SELECT"):
                raise self.error(hint="subqueries are not supported by the emulator")
            inner = self.condition()
            self.expect("rparen", "')'")
            return inner
        if self.tok.kind == "ident" and self.peek().kind == "lparen":
            raise self.error(hint=f"the function {self.tok.text}() is not supported")
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
            raise self.error(hint="bind variables are not supported")
        raise self.error(hint="expected a value")
