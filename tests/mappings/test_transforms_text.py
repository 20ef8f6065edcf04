"""Text transforms: names, joins, case, truncation and conversions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from mappings.document.model import TransformStep
from mappings.errors import TransformError
from mappings.schema.model import FieldKind, FieldSchema
from mappings.transforms import CompileEnv, build_step
from mappings.transforms.context import RecordContext


def env_for(target: FieldSchema | None = None) -> CompileEnv:
    return CompileEnv(value_maps={}, rates=None, target=target)


def apply(name: str, value: Any, env: CompileEnv | None = None, **args: Any) -> Any:
    return build_step(TransformStep(name, args), env or env_for())(value, RecordContext({}))


@pytest.mark.parametrize(
    ("full", "first", "last"),
    [
        ("Jenny Rosen", "Jenny", "Rosen"),
        ("  Jenny   Rosen ", "Jenny", "Rosen"),
        ("Rosen", None, "Rosen"),
        ("Mary Ann Smith", "Mary Ann", "Smith"),
        ("Ludwig van Beethoven", "Ludwig", "van Beethoven"),
        ("Ana de la Cruz", "Ana", "de la Cruz"),
        ("Van Morrison", "Van", "Morrison"),
        ("de Gaulle", "de", "Gaulle"),  # the first word stays a first name
        ("", None, None),
        ("   ", None, None),
        ("José Álvarez", "José", "Álvarez"),
    ],
)
def test_split_name(full: str, first: str | None, last: str | None) -> None:
    assert apply("split_name", full, part="first") == first
    assert apply("split_name", full, part="last") == last


def test_split_name_bad_part() -> None:
    with pytest.raises(TransformError, match="argument 'part' must be one of 'first', 'last'"):
        build_step(TransformStep("split_name", {"part": "middle"}))


@pytest.mark.parametrize(
    ("values", "args", "expected"),
    [
        (["Jenny", "Rosen"], {}, "Jenny Rosen"),
        (["Jenny", None, "Rosen"], {}, "Jenny Rosen"),
        (["Jenny", "", "Rosen"], {"separator": "-"}, "Jenny-Rosen"),
        (["a", None, "b"], {"separator": ",", "skip_empty": False}, "a,,b"),
        ([None, ""], {}, None),
        (["Order", 42], {"separator": "#"}, "Order#42"),
        ([Decimal("19.90"), "USD"], {}, "19.90 USD"),
        ("single", {}, "single"),
        (None, {}, None),
    ],
)
def test_concat(values: Any, args: dict, expected: Any) -> None:
    assert apply("concat", values, **args) == expected


def test_concat_rejects_objects() -> None:
    with pytest.raises(TransformError, match="concat: expected text"):
        apply("concat", ["a", {"b": 1}])


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("trim", "  a b  ", "a b"),
        ("trim", "\tx\n", "x"),
        ("upper", "Jenny", "JENNY"),
        ("lower", "JENNY@Example.COM", "jenny@example.com"),
        ("title", "jenny rosen", "Jenny Rosen"),
        ("upper", 12, "12"),
        ("trim", None, None),
        ("upper", None, None),
    ],
)
def test_case_and_trim(name: str, value: Any, expected: Any) -> None:
    assert apply(name, value) == expected


@pytest.mark.parametrize("name", ["trim", "upper", "lower", "title", "prefix", "suffix"])
def test_text_transforms_refuse_objects(name: str) -> None:
    args = {"text": "x"} if name in ("prefix", "suffix") else {}
    with pytest.raises(TransformError, match=f"{name}: expected text, got"):
        apply(name, {"a": 1}, **args)


def test_truncate_with_length_warns() -> None:
    ctx = RecordContext({})
    step = build_step(TransformStep("truncate", {"length": 5}))
    assert step("abcdefgh", ctx) == "abcde"
    assert ctx.warnings == ["truncated from 8 to 5 characters"]


def test_truncate_short_value_untouched() -> None:
    ctx = RecordContext({})
    assert build_step(TransformStep("truncate", {"length": 5}))("abc", ctx) == "abc"
    assert ctx.warnings == []


def test_truncate_to_target_length() -> None:
    target = FieldSchema(path="Description__c", kind=FieldKind.STRING, length=255)
    ctx = RecordContext({})
    result = build_step(TransformStep("truncate"), env_for(target))("x" * 300, ctx)
    assert result == "x" * 255
    assert ctx.warnings == ["truncated from 300 to 255 characters"]


def test_explicit_length_beats_target() -> None:
    target = FieldSchema(path="Name", kind=FieldKind.STRING, length=80)
    assert apply("truncate", "abcdef", env_for(target), length=3) == "abc"


@pytest.mark.parametrize(
    ("target", "args", "message"),
    [
        (None, {}, "give length, or map to a target field that has a length"),
        (FieldSchema(path="Notes", kind=FieldKind.TEXT), {}, "give length"),
        (None, {"length": 0}, "length must be at least 1"),
        (None, {"length": "10"}, "argument 'length' must be an integer"),
        (None, {"length": True}, "argument 'length' must be an integer"),
    ],
)
def test_truncate_build_errors(target: FieldSchema | None, args: dict, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        build_step(TransformStep("truncate", args), env_for(target))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a", "a"),
        (12, "12"),
        (1.5, "1.5"),
        (Decimal("19.90"), "19.90"),
        (Decimal("1E+2"), "100"),
        (True, "true"),
        (False, "false"),
        ({"b": 1, "a": [1, 2]}, '{"a":[1,2],"b":1}'),
        (None, None),
    ],
)
def test_to_string(value: Any, expected: Any) -> None:
    assert apply("to_string", value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12", 12),
        (" -3 ", -3),
        ("19.99", Decimal("19.99")),
        ("1e3", Decimal("1e3")),
        (7, 7),
        (2.5, 2.5),
        (Decimal("1.5"), Decimal("1.5")),
        (None, None),
    ],
)
def test_to_number(value: Any, expected: Any) -> None:
    result = apply("to_number", value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize("value", ["abc", "", "NaN", "Infinity", True, [1], float("nan")])
def test_to_number_rejects(value: Any) -> None:
    with pytest.raises(TransformError, match="cannot convert .* to a number"):
        apply("to_number", value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("Yes", True),
        (" on ", True),
        ("1", True),
        (1, True),
        ("FALSE", False),
        ("no", False),
        ("0", False),
        ("", False),
        (0, False),
        (None, None),
    ],
)
def test_to_boolean(value: Any, expected: Any) -> None:
    assert apply("to_boolean", value) is expected


@pytest.mark.parametrize("value", ["maybe", 2, -1, [True]])
def test_to_boolean_rejects(value: Any) -> None:
    with pytest.raises(TransformError, match="cannot convert .* to a boolean"):
        apply("to_boolean", value)


@pytest.mark.parametrize(
    ("name", "args", "value", "expected"),
    [
        ("prefix", {"text": "stripe:"}, "ch_1", "stripe:ch_1"),
        ("suffix", {"text": " (Stripe)"}, "Jenny", "Jenny (Stripe)"),
        ("prefix", {"text": "#"}, 42, "#42"),
        ("prefix", {"text": "x"}, None, None),
        ("replace", {"old": "_", "new": " "}, "card_declined_x", "card declined x"),
        ("replace", {"old": "a", "new": ""}, "banana", "bnn"),
        ("replace", {"old": "a", "new": "b"}, None, None),
    ],
)
def test_prefix_suffix_replace(name: str, args: dict, value: Any, expected: Any) -> None:
    assert apply(name, value, **args) == expected


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("prefix", {}, "missing required argument 'text'"),
        ("suffix", {"text": 1}, "argument 'text' must be a string"),
        ("replace", {"old": "", "new": "x"}, "'old' must not be empty"),
        ("replace", {"old": "a"}, "missing required argument 'new'"),
        ("concat", {"separator": None}, "argument 'separator' must be a string"),
        ("concat", {"skip_empty": "yes"}, "argument 'skip_empty' must be a boolean"),
        ("upper", {"locale": "tr"}, "unknown argument 'locale'"),
    ],
)
def test_build_errors(name: str, args: dict, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        build_step(TransformStep(name, args))
