"""Schema snapshots as plain JSON-ready data, for bundles and caches.

The round trip is lossless: ``object_schema_from_dict(object_schema_to_dict(o)) == o``.
Field facts equal to their dataclass default are left out so a snapshot stays small; reading
fills them back in from the same defaults.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mappings.errors import SchemaError
from mappings.schema.model import (
    Catalog,
    ChildRelationship,
    FieldKind,
    FieldSchema,
    ObjectSchema,
    System,
)

_FIELD_DEFAULTS = {
    f.name: f.default
    for f in dataclasses.fields(FieldSchema)
    if f.default is not dataclasses.MISSING
}
_TUPLE_FIELDS = {"enum_values", "reference_to"}
_FIELD_KEYS = {f.name for f in dataclasses.fields(FieldSchema)}


def field_schema_to_dict(fs: FieldSchema) -> dict[str, Any]:
    data: dict[str, Any] = {"path": fs.path, "kind": fs.kind.value}
    for name, default in _FIELD_DEFAULTS.items():
        value = getattr(fs, name)
        if value != default:
            data[name] = list(value) if name in _TUPLE_FIELDS else value
    return data


def field_schema_from_dict(data: Any, where: str = "field") -> FieldSchema:
    if not isinstance(data, dict) or "path" not in data or "kind" not in data:
        raise SchemaError(f"{where}: a field needs 'path' and 'kind'")
    unknown = set(data) - _FIELD_KEYS
    if unknown:
        raise SchemaError(f"{where}: unknown field facts {sorted(unknown)}")
    values = dict(data)
    try:
        values["kind"] = FieldKind(values["kind"])
    except ValueError as exc:
        raise SchemaError(f"{where}: unknown field kind {data['kind']!r}") from exc
    for name in _TUPLE_FIELDS & set(values):
        values[name] = tuple(values[name])
    try:
        return FieldSchema(**values)
    except TypeError as exc:
        raise SchemaError(f"{where}: {exc}") from exc


def object_schema_to_dict(obj: ObjectSchema) -> dict[str, Any]:
    data: dict[str, Any] = {"system": obj.system.value, "name": obj.name}
    if obj.label:
        data["label"] = obj.label
    if obj.description:
        data["description"] = obj.description
    if obj.event_types:
        data["event_types"] = list(obj.event_types)
    if obj.key_prefix is not None:
        data["key_prefix"] = obj.key_prefix
    if obj.custom:
        data["custom"] = True
    if obj.label_plural:
        data["label_plural"] = obj.label_plural
    if obj.child_relationships:
        data["child_relationships"] = [
            {"name": r.name, "child": r.child, "field": r.field} for r in obj.child_relationships
        ]
    data["fields"] = [field_schema_to_dict(f) for f in obj.fields.values()]
    return data


def object_schema_from_dict(data: Any) -> ObjectSchema:
    if not isinstance(data, dict) or "system" not in data or "name" not in data:
        raise SchemaError("an object schema needs 'system' and 'name'")
    name = data["name"]
    try:
        system = System(data["system"])
    except ValueError as exc:
        raise SchemaError(f"object {name!r}: unknown system {data['system']!r}") from exc
    fields_data = data.get("fields", [])
    if not isinstance(fields_data, list):
        raise SchemaError(f"object {name!r}: 'fields' must be a list")
    fields: dict[str, FieldSchema] = {}
    for i, item in enumerate(fields_data):
        fs = field_schema_from_dict(item, where=f"object {name!r}, fields[{i}]")
        fields[fs.path] = fs
    return ObjectSchema(
        system=system,
        name=name,
        label=data.get("label", ""),
        description=data.get("description", ""),
        fields=fields,
        event_types=tuple(data.get("event_types", ())),
        key_prefix=data.get("key_prefix"),
        custom=bool(data.get("custom", False)),
        label_plural=str(data.get("label_plural", "")),
        child_relationships=_child_relationships(data.get("child_relationships", []), name),
    )


def _child_relationships(data: Any, name: str) -> tuple[ChildRelationship, ...]:
    if not isinstance(data, list):
        raise SchemaError(f"object {name!r}: 'child_relationships' must be a list")
    out: list[ChildRelationship] = []
    for i, item in enumerate(data):
        parts = [item.get(key) for key in ("name", "child", "field")] if isinstance(item, dict) else []
        texts = [p for p in parts if isinstance(p, str) and p]
        if len(texts) != 3:
            raise SchemaError(
                f"object {name!r}, child_relationships[{i}]: needs 'name', 'child' and 'field'"
            )
        out.append(ChildRelationship(texts[0], texts[1], texts[2]))
    return tuple(out)


def catalog_to_dict(catalog: Catalog) -> dict[str, Any]:
    return {
        "system": catalog.system.value,
        "api_version": catalog.api_version,
        "objects": [object_schema_to_dict(o) for o in catalog.objects.values()],
    }


def catalog_from_dict(data: Any) -> Catalog:
    if not isinstance(data, dict) or "system" not in data:
        raise SchemaError("a schema catalog needs 'system' and 'objects'")
    try:
        system = System(data["system"])
    except ValueError as exc:
        raise SchemaError(f"unknown system {data['system']!r}") from exc
    objects = data.get("objects", [])
    if not isinstance(objects, list):
        raise SchemaError("a schema catalog's 'objects' must be a list")
    catalog = Catalog(system=system, api_version=str(data.get("api_version", "")))
    for item in objects:
        obj = object_schema_from_dict(item)
        if obj.system is not system:
            raise SchemaError(
                f"object {obj.name!r} is a {obj.system.value} object in a {system.value} catalog"
            )
        catalog.add(obj)
    return catalog
