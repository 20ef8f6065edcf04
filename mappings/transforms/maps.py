"""Lookups inside the record: value maps (status codes -> picklist values) and metadata keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mappings.errors import TransformError
from mappings.transforms.registry import (
    CompileEnv,
    ParamSpec,
    StepContext,
    StepFn,
    TransformSpec,
    register,
)

# Tables every document can name without declaring them; a document's own value_maps
# entry of the same name wins.
BUILTIN_TABLES: dict[str, dict[str, Any]] = {
    "stripe_charge_status": {
        "succeeded": "Completed",
        "failed": "Failed",
        "pending": "Pending",
    },
}

_MISSING = object()


def _build_map(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    name = "map"
    if ("table" in args) == ("values" in args):
        raise TransformError(f"transform {name!r}: give either 'table' or 'values'")
    if "table" in args:
        table_name = args["table"]
        table = env.value_maps.get(table_name)
        if table is None:
            table = BUILTIN_TABLES.get(table_name)
        if table is None:
            known = sorted({*env.value_maps, *BUILTIN_TABLES})
            raise TransformError(
                f"transform {name!r}: unknown value map {table_name!r}; known: {', '.join(known)}"
            )
        label = f"value map {table_name!r}"
    else:
        table = args["values"]
        label = "the map's values"
    # YAML keys may be read as numbers or booleans; also index them by their text so that
    # the value 2 finds the key "2" and the other way round.
    lookup: dict[Any, Any] = {}
    for key, mapped in table.items():
        lookup[key] = mapped
        lookup.setdefault(str(key), mapped)
    strict = args.get("strict", False)
    has_default = "default" in args
    default = args.get("default")

    def step(value: Any, ctx: StepContext) -> Any:
        if value is None:
            return None
        try:
            found = lookup.get(value, _MISSING)
        except TypeError:  # unhashable (a dict or list): never a key
            found = _MISSING
        if found is _MISSING and type(value) is not str:
            found = lookup.get(str(value), _MISSING)
        if found is not _MISSING:
            return found
        if strict:
            raise TransformError(f"{value!r} is not in {label}")
        return default if has_default else value

    return step


def _build_metadata(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    key = args["key"]

    def step(value: Any, ctx: StepContext) -> Any:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise TransformError(
                f"cannot read metadata key {key!r} from {value!r}: expected a metadata object"
            )
        return value.get(key)

    return step


register(
    TransformSpec(
        name="map",
        label="Map values",
        description=(
            "Replace a value through a table: a value map of the document (table), the "
            "built-in stripe_charge_status, or inline values. An unmapped value raises when "
            "strict, else becomes default when given, else passes through unchanged."
        ),
        params=(
            ParamSpec("table", "string", label="Value map", description="name of a value map"),
            ParamSpec("values", "mapping", label="Values", description="inline table {from: to}"),
            ParamSpec("default", "any", label="Otherwise", description="result for unmapped values"),
            ParamSpec("strict", "boolean", default=False, label="Refuse unknown values", description="refuse unmapped values"),
        ),
        build=_build_map,
        category="lookup",
    )
)
register(
    TransformSpec(
        name="metadata",
        label="Metadata key",
        description="The value of one key of a Stripe metadata object (None when absent).",
        params=(ParamSpec("key", "string", required=True, label="Key", description="metadata key"),),
        build=_build_metadata,
        category="lookup",
    )
)
