"""A small, safe evaluator for validation-rule formulas (never Python ``eval``).

Supports what validation rules mostly use: field references (``Amount__c``,
``Account.Name``), number / string / boolean literals, arithmetic ``+ - * / ^``, string
concatenation ``&``, comparisons ``= == != <> < > <= >=``, ``&&`` / ``||`` and the functions
AND, OR, NOT, IF, ISBLANK, ISNULL, ISPICKVAL, LEN, TEXT, VALUE, BLANKVALUE, NULLVALUE,
CONTAINS, BEGINS, UPPER, LOWER, TRIM, ABS, ROUND, MAX, MIN. Blank values follow Salesforce's
"treat blank as blank": arithmetic on blank is blank, and a comparison with blank is false.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Getter = Callable[[str], Any]


class FormulaError(ValueError):
    """The formula cannot be parsed or evaluated."""


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>\d+(?:\.\d*)?|\.\d+)
    | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<op>&&|\|\||==|!=|<>|<=|>=|[-+*/^&=<>!(),])
    )""",
    re.VERBOSE,
)

# Binding powers: higher binds tighter.
_INFIX = {
    "||": 1,
    "&&": 2,
    "=": 3, "==": 3, "!=": 3, "<>": 3, "<": 3, ">": 3, "<=": 3, ">=": 3,
    "+": 4, "-": 4, "&": 4,
    "*": 5, "/": 5,
    "^": 6,
}
_PREFIX_POWER = 7


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    source = source.rstrip()
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if not match or match.end() == pos:
            raise FormulaError(f"unexpected character {source[pos:].strip()[:1]!r} at {pos}")
        kind = match.lastgroup or ""
        tokens.append(Token(kind, match.group(kind), match.start(kind)))
        pos = match.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


# The AST is nested tuples: ("lit", v) ("field", name) ("call", NAME, args) ("bin", op, l, r)
# ("neg", x) ("not", x).
class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = tokenize(source)
        self.index = 0

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            found = token.text or "end of formula"
            raise FormulaError(f"expected {text!r} at {token.pos}, found {found!r}")

    def parse(self) -> tuple:
        node = self.expression(0)
        if self.peek().kind != "end":
            token = self.peek()
            raise FormulaError(f"unexpected {token.text!r} at {token.pos}")
        return node

    def expression(self, min_power: int) -> tuple:
        node = self.prefix()
        while True:
            token = self.peek()
            power = _INFIX.get(token.text) if token.kind == "op" else None
            if power is None or power <= min_power:
                return node
            self.take()
            # ^ is right-associative; everything else is left-associative.
            right = self.expression(power - 1 if token.text == "^" else power)
            node = ("bin", token.text, node, right)

    def prefix(self) -> tuple:
        token = self.take()
        if token.kind == "num":
            return ("lit", float(token.text))
        if token.kind == "str":
            body = token.text[1:-1]
            return ("lit", re.sub(r"\\(.)", r"\1", body))
        if token.kind == "op" and token.text == "(":
            node = self.expression(0)
            self.expect(")")
            return node
        if token.kind == "op" and token.text == "-":
            return ("neg", self.expression(_PREFIX_POWER))
        if token.kind == "op" and token.text == "+":
            return self.expression(_PREFIX_POWER)
        if token.kind == "op" and token.text == "!":
            return ("not", self.expression(_PREFIX_POWER))
        if token.kind == "name":
            upper = token.text.upper()
            if self.peek().text == "(":
                self.take()
                args: list[tuple] = []
                if self.peek().text != ")":
                    args.append(self.expression(0))
                    while self.peek().text == ",":
                        self.take()
                        args.append(self.expression(0))
                self.expect(")")
                if upper not in _FUNCTIONS:
                    raise FormulaError(f"unknown function {token.text}")
                return ("call", upper, tuple(args))
            if upper in ("TRUE", "FALSE"):
                return ("lit", upper == "TRUE")
            if upper == "NULL":
                return ("lit", None)
            return ("field", token.text)
        found = token.text or "end of formula"
        raise FormulaError(f"unexpected {found!r} at {token.pos}")


@dataclass(frozen=True)
class Formula:
    source: str
    tree: tuple

    def evaluate(self, get: Getter) -> Any:
        return _eval(self.tree, get)

    def fields(self) -> set[str]:
        found: set[str] = set()
        _collect_fields(self.tree, found)
        return found


def compile_formula(source: str) -> Formula:
    if not isinstance(source, str) or not source.strip():
        raise FormulaError("a formula must be a non-empty string")
    return Formula(source, _Parser(source).parse())


def evaluate(source: str, get: Getter) -> Any:
    return compile_formula(source).evaluate(get)


def _collect_fields(node: tuple, found: set[str]) -> None:
    kind = node[0]
    if kind == "field":
        found.add(node[1])
    elif kind == "call":
        for arg in node[2]:
            _collect_fields(arg, found)
    elif kind == "bin":
        _collect_fields(node[2], found)
        _collect_fields(node[3], found)
    elif kind in ("neg", "not"):
        _collect_fields(node[1], found)


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _number(value: Any) -> float | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise FormulaError("a checkbox is not a number")
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise FormulaError(f"{value!r} is not a number") from None


def _truth(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise FormulaError(f"{value!r} is not true or false")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(left, bool) or isinstance(right, bool):
        return left, right
    if isinstance(left, int | float) or isinstance(right, int | float):
        return _number(left), _number(right)
    return _text(left), _text(right)


def _compare(op: str, left: Any, right: Any) -> bool:
    if op in ("=", "==", "!=", "<>"):
        if _blank(left) or _blank(right):
            equal = _blank(left) and _blank(right)
        else:
            a, b = _comparable(left, right)
            equal = a == b
        return equal if op in ("=", "==") else not equal
    if _blank(left) or _blank(right):
        return False
    a, b = _comparable(left, right)
    try:
        if op == "<":
            return a < b
        if op == ">":
            return a > b
        if op == "<=":
            return a <= b
        return a >= b
    except TypeError:
        raise FormulaError(f"cannot compare {left!r} with {right!r}") from None


def _eval(node: tuple, get: Getter) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "field":
        return get(node[1])
    if kind == "neg":
        value = _number(_eval(node[1], get))
        return None if value is None else -value
    if kind == "not":
        return not _truth(_eval(node[1], get))
    if kind == "call":
        return _FUNCTIONS[node[1]](node[2], get)
    op, left_node, right_node = node[1], node[2], node[3]
    if op == "&&":
        return _truth(_eval(left_node, get)) and _truth(_eval(right_node, get))
    if op == "||":
        return _truth(_eval(left_node, get)) or _truth(_eval(right_node, get))
    left, right = _eval(left_node, get), _eval(right_node, get)
    if op == "&":
        return _text(left) + _text(right)
    if op in _INFIX and _INFIX[op] == 3:
        return _compare(op, left, right)
    a, b = _number(left), _number(right)
    if a is None or b is None:
        return None
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            raise FormulaError("division by zero")
        return a / b
    return a**b


def _arity(name: str, args: tuple, low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if not low <= len(args) <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        raise FormulaError(f"{name} takes {expected} arguments, got {len(args)}")


def _fn_and(args: tuple, get: Getter) -> bool:
    return all(_truth(_eval(a, get)) for a in args)


def _fn_or(args: tuple, get: Getter) -> bool:
    return any(_truth(_eval(a, get)) for a in args)


def _fn_not(args: tuple, get: Getter) -> bool:
    _arity("NOT", args, 1)
    return not _truth(_eval(args[0], get))


def _fn_if(args: tuple, get: Getter) -> Any:
    _arity("IF", args, 3)
    return _eval(args[1] if _truth(_eval(args[0], get)) else args[2], get)


def _fn_isblank(args: tuple, get: Getter) -> bool:
    _arity("ISBLANK", args, 1)
    return _blank(_eval(args[0], get))


def _fn_ispickval(args: tuple, get: Getter) -> bool:
    _arity("ISPICKVAL", args, 2)
    return _text(_eval(args[0], get)) == _text(_eval(args[1], get))


def _fn_len(args: tuple, get: Getter) -> float:
    _arity("LEN", args, 1)
    return float(len(_text(_eval(args[0], get))))


def _fn_text(args: tuple, get: Getter) -> str:
    _arity("TEXT", args, 1)
    return _text(_eval(args[0], get))


def _fn_value(args: tuple, get: Getter) -> float | None:
    _arity("VALUE", args, 1)
    return _number(_eval(args[0], get))


def _fn_blankvalue(args: tuple, get: Getter) -> Any:
    _arity("BLANKVALUE", args, 2)
    value = _eval(args[0], get)
    return _eval(args[1], get) if _blank(value) else value


def _fn_contains(args: tuple, get: Getter) -> bool:
    _arity("CONTAINS", args, 2)
    return _text(_eval(args[1], get)) in _text(_eval(args[0], get))


def _fn_begins(args: tuple, get: Getter) -> bool:
    _arity("BEGINS", args, 2)
    return _text(_eval(args[0], get)).startswith(_text(_eval(args[1], get)))


def _string_fn(name: str, fn: Callable[[str], str]) -> Callable[[tuple, Getter], str]:
    def call(args: tuple, get: Getter) -> str:
        _arity(name, args, 1)
        return fn(_text(_eval(args[0], get)))

    return call


def _fn_abs(args: tuple, get: Getter) -> float | None:
    _arity("ABS", args, 1)
    value = _number(_eval(args[0], get))
    return None if value is None else abs(value)


def _fn_round(args: tuple, get: Getter) -> float | None:
    _arity("ROUND", args, 2)
    value, digits = _number(_eval(args[0], get)), _number(_eval(args[1], get))
    if value is None or digits is None:
        return None
    return float(round(value, int(digits)))


def _extreme(name: str, pick: Callable[..., float]) -> Callable[[tuple, Getter], Any]:
    def call(args: tuple, get: Getter) -> float | None:
        _arity(name, args, 1, 255)
        values = [_number(_eval(a, get)) for a in args]
        if any(v is None for v in values):
            return None
        return pick(values)

    return call


_FUNCTIONS: dict[str, Callable[[tuple, Getter], Any]] = {
    "AND": _fn_and,
    "OR": _fn_or,
    "NOT": _fn_not,
    "IF": _fn_if,
    "ISBLANK": _fn_isblank,
    "ISNULL": _fn_isblank,
    "ISPICKVAL": _fn_ispickval,
    "LEN": _fn_len,
    "TEXT": _fn_text,
    "VALUE": _fn_value,
    "BLANKVALUE": _fn_blankvalue,
    "NULLVALUE": _fn_blankvalue,
    "CONTAINS": _fn_contains,
    "BEGINS": _fn_begins,
    "UPPER": _string_fn("UPPER", str.upper),
    "LOWER": _string_fn("LOWER", str.lower),
    "TRIM": _string_fn("TRIM", str.strip),
    "ABS": _fn_abs,
    "ROUND": _fn_round,
    "MAX": _extreme("MAX", max),
    "MIN": _extreme("MIN", min),
}
