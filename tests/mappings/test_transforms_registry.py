"""The registry: lookup, argument checking, the library's contents and shared conventions."""

from __future__ import annotations

from typing import Any

import pytest

import mappings.transforms as transforms
from mappings.document.model import RatesTable, TransformStep
from mappings.errors import TransformError
from mappings.schema.model import FieldKind, FieldSchema
from mappings.transforms import (
    CompileEnv,
    ParamSpec,
    TransformSpec,
    all_transforms,
    build_step,
    get_transform,
    register,
)
from mappings.transforms.context import RecordContext, resolve_path
from mappings.transforms.registry import CATEGORIES, PARAM_KINDS, check_args

ENV = CompileEnv(
    value_maps={"m": {"a": "A"}},
    rates=RatesTable(base="EUR", rates={"USD": 1.1}),
    target=FieldSchema(path="Name", kind=FieldKind.STRING, length=80),
)

# The smallest valid arguments of every transform in the library.
MINIMAL_ARGS: dict[str, dict[str, Any]] = {
    "minor_to_decimal": {"currency": "usd"},
    "decimal_to_minor": {"currency": "usd"},
    "convert_currency": {"to": "EUR", "from": "USD"},
    "unix_to_datetime": {},
    "unix_to_date": {},
    "datetime_to_unix": {},
    "date_to_unix": {},
    "map": {"table": "m"},
    "metadata": {"key": "k"},
    "split_name": {"part": "last"},
    "concat": {},
    "trim": {},
    "upper": {},
    "lower": {},
    "title": {},
    "truncate": {},
    "to_string": {},
    "to_number": {},
    "to_boolean": {},
    "prefix": {"text": "x"},
    "suffix": {"text": "x"},
    "replace": {"old": "a", "new": "b"},
    "coalesce": {},
    "default": {"value": "d"},
    "constant": {"value": "c"},
    "flatten_address": {"part": "city"},
    "jsonata": {"expr": "$value"},
}
# The transforms whose job is to handle a missing value.
NONE_HANDLERS = {"coalesce", "default", "constant", "jsonata"}


def test_importing_the_package_registers_the_whole_library() -> None:
    assert {spec.name for spec in all_transforms()} == set(MINIMAL_ARGS)


def test_all_transforms_sorted_by_category_then_name() -> None:
    keys = [(CATEGORIES.index(s.category), s.name) for s in all_transforms()]
    assert keys == sorted(keys)


@pytest.mark.parametrize("spec", all_transforms(), ids=lambda s: s.name)
def test_specs_are_complete(spec: TransformSpec) -> None:
    assert spec.label and spec.description
    assert spec.category in CATEGORIES
    assert len({p.name for p in spec.params}) == len(spec.params)
    for param in spec.params:
        assert param.kind in PARAM_KINDS
        assert (param.kind == "enum") == bool(param.choices)
    assert get_transform(spec.name) is spec


@pytest.mark.parametrize("name", sorted(MINIMAL_ARGS))
def test_none_in_none_out(name: str) -> None:
    step = build_step(TransformStep(name, MINIMAL_ARGS[name]), ENV)
    result = step(None, RecordContext({}))
    if name not in NONE_HANDLERS:
        assert result is None
    elif name in ("default", "constant"):
        assert result == MINIMAL_ARGS[name]["value"]
    else:
        assert result is None


def test_multi_input_flags() -> None:
    assert {s.name for s in all_transforms() if s.multi_input} == {"concat", "coalesce"}


@pytest.mark.parametrize(
    ("name", "kind"),
    [("minor_to_decimal", FieldKind.CURRENCY), ("unix_to_datetime", FieldKind.DATETIME),
     ("unix_to_date", FieldKind.DATE), ("to_boolean", FieldKind.BOOLEAN), ("map", None)],
)  # fmt: skip
def test_output_kinds(name: str, kind: FieldKind | None) -> None:
    assert get_transform(name).output_kind == kind


def test_unknown_transform_lists_known() -> None:
    with pytest.raises(TransformError, match="unknown transform 'explode'; known: ") as info:
        get_transform("explode")
    assert "minor_to_decimal" in str(info.value) and "jsonata" in str(info.value)
    with pytest.raises(TransformError, match="unknown transform 'explode'"):
        build_step(TransformStep("explode"), ENV)


def _probe(args: Any, env: CompileEnv) -> Any:
    return lambda value, ctx: (value, dict(args))


PROBE = TransformSpec(
    name="_probe",
    label="Probe",
    description="echoes its checked arguments",
    params=(
        ParamSpec("s", "string"),
        ParamSpec("i", "integer"),
        ParamSpec("n", "number", default=1.5),
        ParamSpec("b", "boolean", default=False),
        ParamSpec("m", "mapping"),
        ParamSpec("e", "enum", choices=("x", "y")),
        ParamSpec("p", "path"),
        ParamSpec("a", "any"),
        ParamSpec("r", "string", required=True),
    ),
    build=_probe,
    category="logic",
)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "transform '_probe': missing required argument 'r'"),
        ({"r": "x", "zz": 1}, "unknown argument 'zz' \\(allowed: s, i, n, b, m, e, p, a, r\\)"),
        ({"r": 1}, "argument 'r' must be a string, got 1"),
        ({"r": "x", "i": 1.0}, "argument 'i' must be an integer"),
        ({"r": "x", "i": True}, "argument 'i' must be an integer"),
        ({"r": "x", "n": "1"}, "argument 'n' must be a number"),
        ({"r": "x", "n": False}, "argument 'n' must be a number"),
        ({"r": "x", "b": 1}, "argument 'b' must be a boolean"),
        ({"r": "x", "m": []}, "argument 'm' must be a mapping"),
        ({"r": "x", "e": "z"}, "argument 'e' must be one of 'x', 'y', got 'z'"),
        ({"r": "x", "p": None}, "argument 'p' must be a path"),
    ],
)
def test_check_args_errors(args: dict, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        check_args(PROBE, args)


def test_check_args_fills_defaults_but_not_none_defaults() -> None:
    checked = check_args(PROBE, {"r": "x", "a": None, "i": 3, "e": "y", "m": {"k": 1}})
    assert checked == {"r": "x", "a": None, "i": 3, "e": "y", "m": {"k": 1}, "n": 1.5, "b": False}
    assert "s" not in checked  # not given, default None: absent so builders can tell


def test_args_must_be_a_mapping() -> None:
    with pytest.raises(TransformError, match="args must be a mapping"):
        check_args(PROBE, ["r"])  # type: ignore[arg-type]


def test_register_refuses_duplicates_and_bad_categories() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register(get_transform("trim"))
    bad = TransformSpec("_bad", "Bad", "bad", (), _probe, category="magic")
    with pytest.raises(ValueError, match="unknown category 'magic'"):
        register(bad)
    with pytest.raises(TransformError):
        get_transform("_bad")


def test_param_spec_refuses_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown kind 'float'"):
        ParamSpec("x", "float")


def test_build_step_default_env_and_no_args() -> None:
    step = build_step(TransformStep("upper", {}))
    assert step("a", RecordContext({})) == "A"
    step = build_step(TransformStep("upper", None))  # type: ignore[arg-type]
    assert step("b", RecordContext({})) == "B"


RECORD = {"id": "ch_1", "billing_details": {"address": {"city": "Paris"}},
          "items": [{"price": 5}, {"price": 7}], "n": None}  # fmt: skip


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("id", "ch_1"),
        ("billing_details.address.city", "Paris"),
        ("billing_details.address.zip", None),
        ("items.1.price", 7),
        ("items.-1.price", 7),
        ("items.5.price", None),
        ("items.x", None),
        ("n.deeper", None),
        ("id.deeper", None),
        ("missing", None),
        ("$event.type", "charge.succeeded"),
        ("$event.data.object.id", "ch_1"),
    ],
)
def test_record_context_get(path: str, expected: Any) -> None:
    ctx = RecordContext(RECORD, {"type": "charge.succeeded", "data": {"object": RECORD}})
    assert ctx.get(path) == expected


def test_record_context_without_event() -> None:
    ctx = RecordContext(RECORD)
    assert ctx.get("$event.type") is None
    assert ctx.get("$event") is None
    assert resolve_path(None, "a.b") is None


def test_public_names() -> None:
    for name in transforms.__all__:
        assert hasattr(transforms, name)
