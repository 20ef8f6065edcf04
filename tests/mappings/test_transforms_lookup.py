"""Value maps, metadata, logic (coalesce/default/constant) and address flattening."""

from __future__ import annotations

from typing import Any

import pytest

from mappings.document.model import TransformStep
from mappings.errors import TransformError
from mappings.transforms import CompileEnv, build_step
from mappings.transforms.context import RecordContext

ENV = CompileEnv(
    value_maps={
        "refund_reason": {"duplicate": "Duplicate", "fraudulent": "Fraud"},
        "stripe_charge_status": {"succeeded": "Paid"},  # a document's table wins
        "codes": {1: "one", "2": "two"},
    },
    rates=None,
    target=None,
)
NO_MAPS = CompileEnv(value_maps={}, rates=None, target=None)


def apply(name: str, value: Any, env: CompileEnv = ENV, /, **args: Any) -> Any:
    return build_step(TransformStep(name, args), env)(value, RecordContext({}))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("succeeded", "Completed"), ("failed", "Failed"), ("pending", "Pending"), (None, None)],
)
def test_builtin_charge_status_table(value: Any, expected: Any) -> None:
    assert apply("map", value, NO_MAPS, table="stripe_charge_status", strict=True) == expected


def test_document_table_overrides_builtin() -> None:
    assert apply("map", "succeeded", table="stripe_charge_status") == "Paid"


@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        ("duplicate", {"table": "refund_reason"}, "Duplicate"),
        ("requested_by_customer", {"table": "refund_reason"}, "requested_by_customer"),
        ("requested_by_customer", {"table": "refund_reason", "default": "Other"}, "Other"),
        ("x", {"table": "refund_reason", "default": None}, None),
        (1, {"table": "codes"}, "one"),
        ("1", {"table": "codes"}, "one"),  # YAML may read keys as numbers
        (2, {"table": "codes"}, "two"),
        ("red", {"values": {"red": "Rouge"}}, "Rouge"),
        ("blue", {"values": {"red": "Rouge"}, "default": "Autre"}, "Autre"),
        ({"a": 1}, {"values": {"red": "Rouge"}}, {"a": 1}),  # unhashable passes through
    ],
)
def test_map(value: Any, args: dict, expected: Any) -> None:
    assert apply("map", value, **args) == expected


@pytest.mark.parametrize("value", ["refunded", 7, ["x"]])
def test_map_strict_refuses_unmapped(value: Any) -> None:
    with pytest.raises(TransformError, match=r"is not in value map 'stripe_charge_status'"):
        apply("map", value, NO_MAPS, table="stripe_charge_status", strict=True)


def test_map_strict_inline_values() -> None:
    with pytest.raises(TransformError, match="'blue' is not in the map's values"):
        apply("map", "blue", values={"red": "Rouge"}, strict=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"table": "nope"}, "unknown value map 'nope'; known: codes, refund_reason"),
        ({}, "give either 'table' or 'values'"),
        ({"table": "codes", "values": {"a": 1}}, "give either 'table' or 'values'"),
        ({"values": ["a"]}, "argument 'values' must be a mapping"),
        ({"table": "codes", "strict": "yes"}, "argument 'strict' must be a boolean"),
    ],
)
def test_map_build_errors(args: dict, message: str) -> None:
    with pytest.raises(TransformError, match=message) as info:
        build_step(TransformStep("map", args), ENV)
    assert "'map'" in str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [({"order_id": "ord_1", "x": "y"}, "ord_1"), ({}, None), ({"order_id": None}, None), (None, None)],
)  # fmt: skip
def test_metadata(value: Any, expected: Any) -> None:
    assert apply("metadata", value, key="order_id") == expected


def test_metadata_rejects_non_object() -> None:
    with pytest.raises(TransformError, match="expected a metadata object"):
        apply("metadata", "ord_1", key="order_id")


def test_metadata_needs_key() -> None:
    with pytest.raises(TransformError, match="missing required argument 'key'"):
        build_step(TransformStep("metadata", {}))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([None, "", "b@x.com", "c"], "b@x.com"),
        (["a", "b"], "a"),
        ([None, 0], 0),  # zero and False are values, not gaps
        ([None, False], False),
        ([None, ""], None),
        ([], None),
        (None, None),
        ("", None),
        ("solo", "solo"),
    ],
)
def test_coalesce(values: Any, expected: Any) -> None:
    assert apply("coalesce", values) == expected


@pytest.mark.parametrize(
    ("value", "fallback", "expected"),
    [(None, "Stripe", "Stripe"), ("", "Stripe", "Stripe"), ("Web", "Stripe", "Web"),
     (0, 5, 0), (False, True, False), (None, None, None)],
)  # fmt: skip
def test_default(value: Any, fallback: Any, expected: Any) -> None:
    assert apply("default", value, value=fallback) == expected


@pytest.mark.parametrize("value", [None, "x", 3, {"a": 1}])
def test_constant(value: Any) -> None:
    assert apply("constant", value, value="Stripe") == "Stripe"
    assert apply("constant", value, value=None) is None


@pytest.mark.parametrize("name", ["default", "constant"])
def test_value_is_required(name: str) -> None:
    with pytest.raises(TransformError, match="missing required argument 'value'"):
        build_step(TransformStep(name, {}))


FULL = {
    "line1": "510 Townsend St",
    "line2": "Suite 4",
    "city": "San Francisco",
    "state": "CA",
    "postal_code": "94103",
    "country": "US",
}
PARTIAL = {"line1": "1 Rue de Rivoli", "line2": None, "city": "Paris", "state": None,
           "postal_code": "75001", "country": "FR"}  # fmt: skip
EMPTY = {"line1": None, "line2": "", "city": None, "state": None, "postal_code": None,
         "country": None}  # fmt: skip


@pytest.mark.parametrize(
    ("address", "part", "expected"),
    [
        (FULL, "street", "510 Townsend St\nSuite 4"),
        (FULL, "city", "San Francisco"),
        (FULL, "state", "CA"),
        (FULL, "postal_code", "94103"),
        (FULL, "country", "US"),
        (FULL, "oneline", "510 Townsend St, Suite 4, San Francisco, CA 94103, US"),
        (PARTIAL, "street", "1 Rue de Rivoli"),
        (PARTIAL, "state", None),
        (PARTIAL, "oneline", "1 Rue de Rivoli, Paris, 75001, FR"),
        (EMPTY, "street", None),
        (EMPTY, "oneline", None),
        ({}, "city", None),
        (None, "street", None),
    ],
)
def test_flatten_address(address: Any, part: str, expected: Any) -> None:
    assert apply("flatten_address", address, part=part) == expected


def test_flatten_address_rejects_text() -> None:
    with pytest.raises(TransformError, match="expected an address object"):
        apply("flatten_address", "510 Townsend St", part="city")


@pytest.mark.parametrize("args", [{}, {"part": "zip"}])
def test_flatten_address_build_errors(args: dict) -> None:
    with pytest.raises(TransformError, match="flatten_address.*'part'"):
        build_step(TransformStep("flatten_address", args))
