"""Text: names, joins, case, truncation to the target's length, and simple conversions."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from mappings.errors import TransformError
from mappings.schema.model import FieldKind
from mappings.transforms.registry import (
    CompileEnv,
    ParamSpec,
    StepContext,
    StepFn,
    TransformSpec,
    register,
)

# Lower-case words that start a family name ("Ludwig van Beethoven", "Ana de la Cruz").
NAME_PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "la", "le", "du", "da", "di", "dos",
     "das", "ter", "ten", "bin", "ibn", "al", "st", "st."}
)  # fmt: skip


def as_text(value: Any, transform: str) -> str:
    """Text from a string or a number; booleans and containers are refused as text."""
    if type(value) is str:
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise TransformError(f"{transform}: expected text, got {value!r}")
    return to_string(value)


def split_name(full: str) -> tuple[str | None, str | None]:
    """(first, last) the way Salesforce wants them: LastName is required, so it is never empty.

    The last word is the last name, together with the particles before it ("van", "de la");
    everything before that is the first name. A single word is a last name alone.
    """
    words = full.split()
    if not words:
        return None, None
    if len(words) == 1:
        return None, words[0]
    start = len(words) - 1
    while start > 1 and words[start - 1].lower() in NAME_PARTICLES:
        start -= 1
    return " ".join(words[:start]), " ".join(words[start:])


def _build_split_name(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    index = 0 if args["part"] == "first" else 1

    def step(value: Any, ctx: StepContext) -> Any:
        if value is None:
            return None
        return split_name(as_text(value, "split_name"))[index]

    return step


def _build_concat(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    separator = args["separator"]
    skip_empty = args["skip_empty"]

    def step(value: Any, ctx: StepContext) -> Any:
        if value is None:
            return None
        items = value if isinstance(value, list | tuple) else (value,)
        if skip_empty:
            parts = [as_text(v, "concat") for v in items if v is not None and v != ""]
            return separator.join(parts) if parts else None
        return separator.join("" if v is None else as_text(v, "concat") for v in items)

    return step


def _simple(name: str, method: Any) -> Any:
    def build(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
        def step(value: Any, ctx: StepContext) -> Any:
            if value is None:
                return None
            if type(value) is str:
                return method(value)
            return method(as_text(value, name))

        return step

    return build


def _build_truncate(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    length = args.get("length")
    if length is None:
        if env.target is None or not env.target.length:
            raise TransformError(
                "transform 'truncate': give length, or map to a target field that has a length"
            )
        length = env.target.length
    if length < 1:
        raise TransformError(f"transform 'truncate': length must be at least 1, got {length}")

    def step(value: Any, ctx: StepContext) -> Any:
        if value is None:
            return None
        text = value if type(value) is str else as_text(value, "truncate")
        if len(text) <= length:
            return text
        ctx.warn(f"truncated from {len(text)} to {length} characters")
        return text[:length]

    return step


def to_string(value: Any) -> str:
    """Text for any JSON-like value: booleans as true/false, decimals without exponent."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return str(value)


def to_number(value: Any) -> int | float | Decimal:
    """A number from a number or numeric text: int when whole, else Decimal (exact)."""
    if isinstance(value, bool):
        raise TransformError(f"cannot convert {value!r} to a number")
    if isinstance(value, int | float | Decimal):
        if isinstance(value, float | Decimal) and not (
            value == value and abs(value) != float("inf")
        ):
            raise TransformError(f"cannot convert {value!r} to a number")
        return value
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = Decimal("NaN")
        if number.is_finite():
            return number
    raise TransformError(f"cannot convert {value!r} to a number")


_TRUE = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "off", ""})


def to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise TransformError(f"cannot convert {value!r} to a boolean")


def _converting(convert: Callable[[Any], Any]) -> Callable[[Mapping[str, Any], CompileEnv], StepFn]:
    """The builder of a step that converts every value but null (which stays null)."""

    def build(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
        def step(value: Any, ctx: StepContext) -> Any:
            return None if value is None else convert(value)

        return step

    return build


def _build_prefix(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    text = args["text"]

    def step(value: Any, ctx: StepContext) -> Any:
        return None if value is None else text + as_text(value, "prefix")

    return step


def _build_suffix(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    text = args["text"]

    def step(value: Any, ctx: StepContext) -> Any:
        return None if value is None else as_text(value, "suffix") + text

    return step


def _build_replace(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    old, new = args["old"], args["new"]
    if old == "":
        raise TransformError("transform 'replace': 'old' must not be empty")

    def step(value: Any, ctx: StepContext) -> Any:
        return None if value is None else as_text(value, "replace").replace(old, new)

    return step


def _text_spec(
    name: str, label: str, description: str, build: Any, params: tuple[ParamSpec, ...] = (),
    kind: FieldKind | None = FieldKind.STRING, multi_input: bool = False,
) -> None:  # fmt: skip
    register(
        TransformSpec(
            name=name,
            label=label,
            description=description,
            params=params,
            build=build,
            category="text",
            output_kind=kind,
            multi_input=multi_input,
        )
    )


_text_spec(
    "split_name",
    "Split name",
    "First or last name from a full name. The last word (with particles such as van, de "
    "la) is the last name, the words before it the first name; a single word is a last "
    "name with no first name, because Salesforce requires LastName.",
    _build_split_name,
    (ParamSpec("part", "enum", required=True, choices=("first", "last"), label="Part"),),
)
_text_spec(
    "concat",
    "Join",
    "Join the source values with a separator; empty values are skipped unless skip_empty "
    "is false. Nothing left gives None.",
    _build_concat,
    (
        ParamSpec("separator", "string", default=" ", label="Separator"),
        ParamSpec("skip_empty", "boolean", default=True, label="Skip empty values"),
    ),
    multi_input=True,
)
_text_spec("trim", "Trim", "Remove leading and trailing white space.", _simple("trim", str.strip))
_text_spec("upper", "Upper case", "Upper-case the text.", _simple("upper", str.upper))
_text_spec("lower", "Lower case", "Lower-case the text.", _simple("lower", str.lower))
_text_spec("title", "Title case", "Capitalise Each Word.", _simple("title", str.title))
_text_spec(
    "truncate",
    "Truncate",
    "Cut the text to length characters, or to the target field's length when no length "
    "is given; a cut is reported as a warning.",
    _build_truncate,
    (ParamSpec("length", "integer", label="Maximum length", description="maximum characters (default: target's)"),),
)
_text_spec(
    "to_string",
    "To text",
    "Any value as text: true/false, decimals as written, objects as compact JSON.",
    _converting(to_string),
)
_text_spec(
    "to_number",
    "To number",
    "A number from numeric text: an integer when whole, else an exact decimal.",
    _converting(to_number),
    kind=FieldKind.NUMBER,
)
_text_spec(
    "to_boolean",
    "To boolean",
    "true/yes/y/1/on → true, false/no/n/0/off/empty → false; anything else is an error.",
    _converting(to_boolean),
    kind=FieldKind.BOOLEAN,
)
_text_spec(
    "prefix",
    "Prefix",
    "Put text before the value.",
    _build_prefix,
    (ParamSpec("text", "string", required=True, label="Text"),),
)
_text_spec(
    "suffix",
    "Suffix",
    "Put text after the value.",
    _build_suffix,
    (ParamSpec("text", "string", required=True, label="Text"),),
)
_text_spec(
    "replace",
    "Replace",
    "Replace every occurrence of old with new.",
    _build_replace,
    (ParamSpec("old", "string", required=True, label="Replace"),
     ParamSpec("new", "string", required=True, label="With")),
)
