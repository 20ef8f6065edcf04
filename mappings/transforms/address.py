"""Structure: a Stripe address object flattened into Salesforce's address fields.

Stripe: ``{line1, line2, city, state, postal_code, country}``. Salesforce compound
addresses keep both lines in one Street field separated by a newline, which is what
``street`` produces.
"""

from __future__ import annotations

from collections.abc import Mapping
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

PARTS = ("street", "city", "state", "postal_code", "country", "oneline")


def _text(address: Mapping[str, Any], key: str) -> str:
    value = address.get(key)
    if value is None:
        return ""
    return str(value).strip()


def street(address: Mapping[str, Any]) -> str | None:
    lines = [line for line in (_text(address, "line1"), _text(address, "line2")) if line]
    return "\n".join(lines) or None


def oneline(address: Mapping[str, Any]) -> str | None:
    """ "1 Main St, Apt 2, Springfield, IL 62701, US": for a single text field."""
    region = " ".join(p for p in (_text(address, "state"), _text(address, "postal_code")) if p)
    parts = (
        _text(address, "line1"),
        _text(address, "line2"),
        _text(address, "city"),
        region,
        _text(address, "country"),
    )
    return ", ".join(p for p in parts if p) or None


def _build_flatten_address(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    part = args["part"]
    if part == "street":
        pick = street
    elif part == "oneline":
        pick = oneline
    else:

        def pick(address: Mapping[str, Any]) -> str | None:
            return _text(address, part) or None

    def step(value: Any, ctx: StepContext) -> Any:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise TransformError(f"flatten_address: expected an address object, got {value!r}")
        return pick(value)

    return step


register(
    TransformSpec(
        name="flatten_address",
        label="Address part",
        description=(
            "One part of a Stripe address: street (line1 and line2 joined by a newline, as "
            "Salesforce stores them), city, state, postal_code, country, or oneline "
            '("line1, line2, city, state postal_code, country"). Empty parts give None.'
        ),
        params=(ParamSpec("part", "enum", required=True, choices=PARTS, label="Part"),),
        build=_build_flatten_address,
        category="structure",
        output_kind=FieldKind.STRING,
    )
)
