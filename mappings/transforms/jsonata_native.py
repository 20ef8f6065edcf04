"""The JSONata that mapping authors write, compiled into plain Python closures.

A field's JSONata step runs once per record, and jsonata-python spends tens of microseconds
on even ``refunded = true ? 'Refunded' : $lookup({...}, status)`` (frames, callbacks,
sequences). :func:`compile_native` walks the parsed tree once and builds closures for the
forms authors actually use:

- paths of names from the record, ``$value`` or ``$event``; literals; ``( )``;
- ``? :``, ``= != < <= > >=``, ``and``/``or``; ``-``, ``+ - * / %``, ``&``;
- ``$lookup`` on a literal object; ``$string $uppercase $lowercase $trim $length $substring
  $substringBefore $substringAfter $contains $replace $pad $join $exists $boolean $not
  $number $round $abs $floor $ceil``.

Anything else (lambdas, bindings, predicates, regexes, other functions) is refused at
compile time and the expression keeps running in jsonata-python.

Exactness. The closures follow jsonata-python 0.7, the engine they stand in for, not the
JSONata specification: ``None`` is *undefined* and :data:`NULL` is JSON null, as in
jsonata-python, and its own helpers (``Functions.string``, ``boolize``,
``convert_number``, the built-in functions themselves) are called rather than rewritten.
A native closure never reports an error itself: any value outside the shapes it handles
for certain (an array anywhere, a type jsonata would reject, a division by zero, anything
that raises) makes it return :data:`DEFER`, and the caller evaluates that record in
jsonata-python, which then produces the same result or the same error it always did. The
one difference left: jsonata-python refuses a record whose referenced top-level value holds
a non-JSON type (say a ``Decimal``) anywhere inside, even where the expression does not
read; the native closures only check the values they read.

Budget. A native closure runs each node of the tree at most once (no functions, no loops, no
recursion), and trees are limited to :data:`MAX_NODES` nodes and :data:`MAX_DEPTH` levels,
so it cannot run away; the time and depth budget of :mod:`mappings.limits` guards the
jsonata-python fallback only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import jsonata
from jsonata.functions import Functions
from jsonata.parser import Parser
from jsonata.utils import Utils

# JSON null inside an evaluation (undefined is None), jsonata-python's own marker.
NULL: Any = Utils.NULL_VALUE


class _Defer:
    """The type of :data:`DEFER`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DEFER"


# Returned by a native expression when this record must be evaluated by jsonata-python.
DEFER: Any = _Defer()

# Larger trees are left to jsonata-python (and its budget).
MAX_NODES = 256
MAX_DEPTH = 32

# (record, $value, $event) -> result (None for undefined, NULL for null)
_Node = Callable[[Any, Any, Any], Any]
NativeExpression = Callable[[Any, Any, Any], Any]


class _Unsupported(Exception):
    """Compile time: this tree (or part of it) is not one we compile."""


class _Bail(Exception):
    """Run time: this record must go to jsonata-python."""


_MISSING = object()
_BASE_ATTRS = frozenset(
    {"_outer_instance", "type", "value", "position", "bp", "lbp", "level", "id"}
)
# The only attributes each node kind may carry (set and truthy) for us to compile it: any other
# (a predicate, a group-by, a focus or index binding, keep-array, a tail-call thunk) is refused.
_ALLOWED_ATTRS = {
    "path": frozenset({"steps"}),
    "name": frozenset(),
    "variable": frozenset(),
    "string": frozenset(),
    "number": frozenset(),
    "value": frozenset(),
    "condition": frozenset({"condition", "then", "_else"}),
    "binary": frozenset({"lhs", "rhs"}),
    "unary": frozenset({"expression", "expressions", "lhs_object"}),
    "function": frozenset({"procedure", "arguments"}),
    "block": frozenset({"expressions"}),
}
_VARIABLES = frozenset({"value", "event"})
_JSON_SCALARS = frozenset({str, int, float, bool})

# Argument kinds a native call accepts; anything else goes to jsonata-python, whose signature
# check then raises or coerces as it always did.
#   s: a string or undefined   S: a string   n: a finite number or undefined
#   x: any value but an array  N: a number, string, boolean or undefined ($number)
#   A: an array of strings ($join)
_FUNCTIONS: dict[str, tuple[str, int]] = {
    # name: (argument kinds, how many are required)
    "string": ("x", 1),
    "uppercase": ("s", 1),
    "lowercase": ("s", 1),
    "trim": ("s", 1),
    "length": ("s", 1),
    "substring": ("snn", 2),
    "substringBefore": ("ss", 2),
    "substringAfter": ("ss", 2),
    "contains": ("sS", 2),
    "replace": ("sSSn", 3),
    "pad": ("sns", 2),
    "join": ("As", 1),
    "exists": ("x", 1),
    "boolean": ("x", 1),
    "not": ("x", 1),
    "number": ("N", 1),
    "round": ("nn", 1),
    "abs": ("n", 1),
    "floor": ("n", 1),
    "ceil": ("n", 1),
    "formatNumber": ("nS", 2),
    "fromMillis": ("nss", 1),
}


def compile_native(compiled: jsonata.Jsonata) -> NativeExpression | None:
    """Native closures for ``compiled``, or None when it uses anything beyond the subset.

    The result is called as ``fn(record, value, event)`` with the step's record, the value
    so far (as the step has it: Decimals are converted here) and the event envelope or None.
    It returns the plain result (None for undefined and null alike, as jsonata-python's
    ``evaluate`` does), or :data:`DEFER` when this record needs jsonata-python.
    """
    try:
        _measure(compiled.ast)
        root = _compile(compiled.ast)
    except _Unsupported:
        return None

    def run(record: Any, value: Any, event: Any) -> Any:
        try:
            result = root(record, value, event)
        except Exception:
            # _Bail, or anything jsonata-python may report its own way (a type error, a
            # division by zero, an overflow): it decides, with the same error as always.
            return DEFER
        if result is NULL:
            return None
        if result is None or type(result) in _JSON_SCALARS:
            return result
        return DEFER  # an object or array: jsonata-python builds those

    return run


def to_jsonata(value: Any) -> Any:
    """The step's value as JSONata sees it: Decimals become numbers (JSONata has no decimal
    type), integral ones integers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list | tuple):
        return [to_jsonata(v) for v in value]
    return value


# -- compiling ---------------------------------------------------------------------------


def _measure(ast: Any) -> None:
    """Refuse trees larger or deeper than the limits above (iteratively: any depth)."""
    count = 0
    stack: list[tuple[Any, int]] = [(ast, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, list | tuple):
            stack.extend((n, depth) for n in node)
            continue
        if not isinstance(node, Parser.Symbol):
            continue
        count += 1
        if count > MAX_NODES or depth > MAX_DEPTH:
            raise _Unsupported
        stack.extend((v, depth + 1) for k, v in vars(node).items() if k != "_outer_instance")


def _check_attrs(node: Any) -> str:
    kind = getattr(node, "type", None)
    allowed = _ALLOWED_ATTRS.get(kind) if isinstance(kind, str) else None
    if allowed is None:
        raise _Unsupported
    for key, val in vars(node).items():
        if val and key not in _BASE_ATTRS and key not in allowed:
            raise _Unsupported
    assert isinstance(kind, str)
    return kind


def _compile(node: Any) -> _Node:
    kind = _check_attrs(node)
    if kind in ("string", "number", "value"):
        return _literal(node)
    if kind == "path":
        return _path(node.steps)
    if kind == "name":
        return _path([node])
    if kind == "variable":
        return _path([node])
    if kind == "condition":
        return _condition(node)
    if kind == "binary":
        return _binary(node)
    if kind == "unary":
        return _unary(node)
    if kind == "block":
        if len(node.expressions or ()) != 1:
            raise _Unsupported
        return _compile(node.expressions[0])
    if kind == "function":
        return _function(node)
    raise _Unsupported


def _literal_value(node: Any) -> Any:
    kind = _check_attrs(node)
    if kind not in ("string", "number", "value"):
        raise _Unsupported
    value = node.value
    if value is None:
        return NULL
    if type(value) not in _JSON_SCALARS:
        raise _Unsupported
    return value


def _literal(node: Any) -> _Node:
    value = _literal_value(node)
    return lambda rec, val, ev: value


def _path(steps: list[Any]) -> _Node:
    """Names from the record, or from ``$value``/``$event`` when the first step is one."""
    if not steps:
        raise _Unsupported
    first = steps[0]
    start: str | None = None
    if _check_attrs(first) == "variable":
        if first.value not in _VARIABLES:
            raise _Unsupported
        start = first.value
        steps = steps[1:]
    names: list[str] = []
    for step in steps:
        if _check_attrs(step) != "name" or not isinstance(step.value, str):
            raise _Unsupported
        names.append(step.value)
    keys = tuple(names)

    if start is None and len(keys) == 1:
        (key,) = keys

        def top_level(rec: Any, val: Any, ev: Any) -> Any:
            if type(rec) is not dict:
                raise _Bail  # jsonata-python is handed a copy of the record: let it decide
            found = rec.get(key, _MISSING)
            if found is _MISSING:
                return None
            if found is None:
                return NULL
            if type(found) in _JSON_SCALARS or type(found) is dict:
                return found
            raise _Bail  # an array (a sequence in JSONata) or a non-JSON type

        return top_level

    if start is None:

        def from_record(rec: Any, val: Any, ev: Any) -> Any:
            if type(rec) is not dict:
                raise _Bail
            return _walk(rec, keys)

        return from_record
    if start == "event":
        return lambda rec, val, ev: _walk(_root_value(ev), keys)
    return lambda rec, val, ev: _walk(_root_value(to_jsonata(val)), keys)


def _root_value(value: Any) -> Any:
    """A variable's value as JSONata holds it (a binding of None is undefined)."""
    if value is None or type(value) in _JSON_SCALARS or type(value) is dict:
        return value
    raise _Bail


def _walk(current: Any, keys: tuple[str, ...]) -> Any:
    """Follow ``keys`` through nested objects, as a JSONata path does over single values."""
    if current is None:
        return None
    for key in keys:
        if type(current) is not dict:
            if isinstance(current, list | tuple):
                raise _Bail
            return None  # a name step on a string, a number, a boolean or null
        found = current.get(key, _MISSING)
        if found is _MISSING:
            return None
        if found is None:
            current = NULL
        elif type(found) in _JSON_SCALARS or type(found) is dict:
            current = found
        else:
            raise _Bail
    return current


def _boolize(value: Any) -> bool:
    if value is True or value is False:
        return value
    if isinstance(value, list):
        raise _Bail
    return jsonata.Jsonata.boolize(value)


def _condition(node: Any) -> _Node:
    test = _compile(node.condition)
    then = _compile(node.then)
    otherwise = _compile(node._else) if node._else is not None else None

    def condition(rec: Any, val: Any, ev: Any) -> Any:
        held = test(rec, val, ev)
        if held is True or (held is not False and held is not None and _boolize(held)):
            return then(rec, val, ev)
        return otherwise(rec, val, ev) if otherwise is not None else None

    return condition


def _number(value: Any) -> bool:
    """Whether ``value`` is a JSONata number we compute with (finite, not a boolean)."""
    return (type(value) is int) or (type(value) is float and math.isfinite(value))


def _binary(node: Any) -> _Node:
    op = node.value
    lhs = _compile(node.lhs)
    rhs = _compile(node.rhs)
    if op == "and":
        return lambda rec, val, ev: _boolize(lhs(rec, val, ev)) and _boolize(rhs(rec, val, ev))
    if op == "or":
        return lambda rec, val, ev: _boolize(lhs(rec, val, ev)) or _boolize(rhs(rec, val, ev))
    if op in ("=", "!="):
        negate = op == "!="
        literal = _literal_side(node.rhs)
        if literal is not _MISSING:
            return _equals_literal(lhs, literal, negate)

        def equality(rec: Any, val: Any, ev: Any) -> Any:
            left = lhs(rec, val, ev)
            right = rhs(rec, val, ev)
            if left is None or right is None:
                return False  # undefined on either side: false, for != as well
            if type(left) is str and type(right) is str:
                return (left == right) is not negate
            if isinstance(left, list) or isinstance(right, list):
                raise _Bail
            if type(left) is int or type(left) is float:
                left = float(left)
            if type(right) is int or type(right) is float:
                right = float(right)
            return Utils.is_deep_equal(left, right) is not negate

        return equality
    if op in ("<", "<=", ">", ">="):
        compare = _COMPARE[op]

        def comparison(rec: Any, val: Any, ev: Any) -> Any:
            left = lhs(rec, val, ev)
            right = rhs(rec, val, ev)
            if not (left is None or type(left) is str or _number(left)):
                raise _Bail
            if not (right is None or type(right) is str or _number(right)):
                raise _Bail
            if left is None or right is None:
                return None
            if type(left) is not type(right):
                if type(left) is str or type(right) is str:
                    raise _Bail  # a string against a number: jsonata-python's T2009
                left, right = float(left), float(right)
            return compare(left, right)

        return comparison
    if op in _ARITHMETIC:
        compute = _ARITHMETIC[op]

        def arithmetic(rec: Any, val: Any, ev: Any) -> Any:
            left = lhs(rec, val, ev)
            right = rhs(rec, val, ev)
            if not (left is None or _number(left)) or not (right is None or _number(right)):
                raise _Bail
            if left is None or right is None:
                return None
            return Utils.convert_number(compute(float(left), float(right)))

        return arithmetic
    if op == "&":

        def concat(rec: Any, val: Any, ev: Any) -> Any:
            return _text(lhs(rec, val, ev)) + _text(rhs(rec, val, ev))

        return concat
    raise _Unsupported


def _literal_side(node: Any) -> Any:
    """The value of a string or boolean literal (the usual right side of ``=``), else _MISSING."""
    kind = getattr(node, "type", None)
    if kind in ("string", "value") and type(node.value) in (str, bool):
        return _literal_value(node)
    return _MISSING


def _equals_literal(lhs: _Node, literal: str | bool, negate: bool) -> _Node:
    """``x = 'text'`` or ``x = true`` without the general comparison: jsonata-python's deep
    equality of a single value with a string or a boolean is identity of type and value
    (``1 = true`` and ``'1' = 1`` are false), and undefined compares false either way."""
    if type(literal) is bool:
        if negate:
            return lambda rec, val, ev: (
                (left := lhs(rec, val, ev)) is not None and left is not literal
            )
        return lambda rec, val, ev: lhs(rec, val, ev) is literal

    def equals_text(rec: Any, val: Any, ev: Any) -> Any:
        left = lhs(rec, val, ev)
        if left is None:
            return False
        return (type(left) is str and left == literal) is not negate

    return equals_text


def _text(value: Any) -> str:
    """A side of ``&``: undefined is empty, other values as ``$string`` shows them."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, list):
        raise _Bail
    out = Functions.string(value, None)
    if type(out) is not str:
        raise _Bail
    return out


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "%": lambda a, b: int(math.fmod(a, b)),
}


def _unary(node: Any) -> _Node:
    if node.value == "-" and node.expression is not None:
        inner = _compile(node.expression)

        def negate(rec: Any, val: Any, ev: Any) -> Any:
            value = inner(rec, val, ev)
            if value is None:
                return None
            if not _number(value):
                raise _Bail
            return Utils.convert_number(-float(value))

        return negate
    raise _Unsupported  # array and object constructors build values jsonata-python owns


def _function(node: Any) -> _Node:
    procedure = node.procedure
    if _check_attrs(procedure) != "variable":
        raise _Unsupported
    name = procedure.value
    args = list(node.arguments or ())
    if name == "lookup":
        return _lookup(args)
    spec = _FUNCTIONS.get(name)
    if spec is None:
        raise _Unsupported
    kinds, required = spec
    if not required <= len(args) <= len(kinds):
        raise _Unsupported
    native_fn = jsonata.Jsonata.static_frame.lookup(name)
    if not isinstance(native_fn, jsonata.Jsonata.JNativeFunction) or native_fn.method is None:
        raise _Unsupported
    method, nargs = native_fn.method, native_fn.nargs
    compiled = [
        _array_of(arg) if kind == "A" else _compile(arg)
        for kind, arg in zip(kinds, args, strict=False)
    ]
    checks = [_KIND_CHECKS[kind] for kind in kinds[: len(args)]]
    pairs = tuple(zip(compiled, checks, strict=True))

    def call(rec: Any, val: Any, ev: Any) -> Any:
        values = []
        for arg, check in pairs:
            value = arg(rec, val, ev)
            if not check(value):
                raise _Bail
            values.append(value)
        # What the interpreter calls once the signature has passed the arguments unchanged.
        return Functions._call(method, nargs, values)

    return call


def _lookup(args: list[Any]) -> _Node:
    """``$lookup({...literal...}, key)``: the table is built once."""
    if len(args) != 2:
        raise _Unsupported
    table_node, key_node = args
    if _check_attrs(table_node) != "unary" or table_node.value != "{":
        raise _Unsupported
    table: dict[str, Any] = {}
    for pair in table_node.lhs_object or ():
        key_part, value_part = pair
        if _check_attrs(key_part) != "string":
            raise _Unsupported
        if key_part.value in table:
            raise _Unsupported  # jsonata-python's D1009
        value = _literal_value(value_part)
        # The interpreter normalises a function's numeric result (2.0 -> 2).
        table[key_part.value] = Utils.convert_number(value) if Utils.is_numeric(value) else value
    key = _compile(key_node)

    def lookup(rec: Any, val: Any, ev: Any) -> Any:
        k = key(rec, val, ev)
        if k is None:
            return None
        if type(k) is not str:
            raise _Bail
        return table.get(k)

    return lookup


def _array_of(node: Any) -> _Node:
    """``$join``'s first argument: an array constructor of single values, or ``$value``."""
    kind = _check_attrs(node)
    if kind == "unary" and node.value == "[":
        items = [_compile(item) for item in node.expressions or ()]
        for item in node.expressions or ():
            if _check_attrs(item) == "unary" and item.value == "[":
                raise _Unsupported

        def array(rec: Any, val: Any, ev: Any) -> Any:
            out = []
            for item in items:
                value = item(rec, val, ev)
                if value is not None:
                    out.append(value)
            return out

        return array
    if kind == "variable" and node.value == "value":
        return lambda rec, val, ev: to_jsonata(val)
    return _compile(node)


def _is_text(value: Any) -> bool:
    return value is None or type(value) is str


def _is_number(value: Any) -> bool:
    return value is None or _number(value)


def _is_single(value: Any) -> bool:
    return value is None or value is NULL or type(value) in _JSON_SCALARS or type(value) is dict


def _is_strings(value: Any) -> bool:
    return type(value) is list and all(type(v) is str for v in value)


_KIND_CHECKS: dict[str, Callable[[Any], bool]] = {
    "s": _is_text,
    "S": lambda v: type(v) is str,
    "n": _is_number,
    "x": _is_single,
    "N": lambda v: v is None or type(v) in (str, bool) or _number(v),
    "A": _is_strings,
}
