"""Resolves the field names of a query against describe data.

With a describe callback, names are matched case-insensitively, unknown ones raise
INVALID_FIELD in Salesforce's words, and each field comes back with its canonical casing
and its describe type. Without one, names are taken as written and types are unknown
(the evaluator then infers them from the literals and the stored values).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from runner.sandbox.salesforce.compound import Parts, compound_parts
from runner.sandbox.salesforce.soql_ast import FieldRef, SoqlError

Describe = Callable[[str], Mapping[str, Any] | None]

_NO_COLUMN = (
    "No such column '{field}' on entity '{entity}'. If you are attempting to use a custom "
    "field, be sure to append the '__c' after the custom field name. Please reference your "
    "WSDL or the describe call for the appropriate names."
)
_NO_RELATIONSHIP = (
    "Didn't understand relationship '{rel}' in field path. If you are attempting to use a "
    "custom relationship, be sure to append the '__r' after the custom relationship name. "
    "Please reference your WSDL or the describe call for the appropriate names."
)
_NO_OBJECT = (
    "sObject type '{entity}' is not supported. If you are attempting to use a custom object, "
    "be sure to append the '__c' after the entity name. Please reference your WSDL or the "
    "describe call for the appropriate names."
)


@dataclass(frozen=True)
class ResolvedField:
    """One field path after resolution.

    ``relationship`` is the canonical relationship name (the key of the nested parent
    record in output), ``name`` the canonical field name, ``type`` the describe type
    (``None`` when unknown), ``parent_type`` the parent's sObject type when known.
    """

    ref: FieldRef
    relationship: str | None
    name: str
    type: str | None
    parent_type: str | None = None
    filterable: bool = True
    sortable: bool = True
    candidates: tuple[str, ...] = ()  # every type a polymorphic relationship may point to
    parts: Parts = ()  # a compound field's components (address, geolocation)


class Schema:
    def __init__(self, object_name: str, describe: Describe | None, text: str, pos: int) -> None:
        self._describe = describe
        self._text = text
        self._cache: dict[str, Mapping[str, Any] | None] = {}
        self.object_name = object_name
        self.known = describe is not None
        self._fields: dict[str, Mapping[str, Any]] = {}
        self._relationships: dict[str, Mapping[str, Any]] = {}
        self._desc_fields: list[Mapping[str, Any]] = []
        self._children: dict[str, Mapping[str, Any]] = {}
        if describe is None:
            return
        desc = self._lookup(object_name)
        if desc is None:
            raise SoqlError(
                "INVALID_TYPE", _NO_OBJECT.format(entity=object_name), text=text, pos=pos
            )
        self.object_name = str(desc.get("name") or object_name)
        self._fields = _field_index(desc)
        self._desc_fields = list(desc.get("fields", []))
        self._relationships = {
            str(f["relationshipName"]).lower(): f
            for f in desc.get("fields", [])
            if f.get("relationshipName")
        }
        for child in desc.get("childRelationships") or []:
            name = child.get("relationshipName")
            if name:  # several lookups may share a name; the first one answers, as listed
                self._children.setdefault(str(name).lower(), child)

    def _lookup(self, name: str) -> Mapping[str, Any] | None:
        if name not in self._cache:
            assert self._describe is not None
            self._cache[name] = self._describe(name)
        return self._cache[name]

    def resolve(self, ref: FieldRef) -> ResolvedField:
        if not self.known:
            return ResolvedField(ref, ref.relationship, ref.field, None)
        if ref.relationship is None:
            f = self._fields.get(ref.field.lower())
            if f is None:
                raise SoqlError(
                    "INVALID_FIELD",
                    _NO_COLUMN.format(field=ref.field, entity=self.object_name),
                    text=self._text,
                    pos=ref.pos,
                )
            return _resolved(ref, None, f, None, self._desc_fields)
        rel = self._relationships.get(ref.relationship.lower())
        if rel is None:
            raise SoqlError(
                "INVALID_FIELD",
                _NO_RELATIONSHIP.format(rel=ref.relationship),
                text=self._text,
                pos=ref.pos,
            )
        rel_name = str(rel["relationshipName"])
        targets = list(rel.get("referenceTo") or [])
        parent_type = str(targets[0]) if len(targets) == 1 else None
        parent_desc = self._lookup(parent_type) if parent_type else None
        if parent_desc is None:
            # Polymorphic (Owner -> User or Group) or an object we have no describe for:
            # take the name as written, as without describe.
            return ResolvedField(
                ref, rel_name, ref.field, None, parent_type, candidates=tuple(map(str, targets))
            )
        parent_name = str(parent_desc.get("name") or parent_type)
        f = _field_index(parent_desc).get(ref.field.lower())
        if f is None:
            raise SoqlError(
                "INVALID_FIELD",
                _NO_COLUMN.format(field=ref.field, entity=parent_name),
                text=self._text,
                pos=ref.pos,
            )
        return _resolved(ref, rel_name, f, parent_name, parent_desc.get("fields", []))

    def child_relationship(self, name: str) -> Mapping[str, Any] | None:
        """The describe's childRelationships entry named ``name`` (any case)."""
        return self._children.get(name.lower())

    def type_by_prefix(self, candidates: tuple[str, ...], record_id: object) -> str | None:
        """Which of a polymorphic relationship's targets an id belongs to, by key prefix."""
        if not self.known or not isinstance(record_id, str):
            return None
        for name in candidates:
            desc = self._lookup(name)
            if desc and desc.get("keyPrefix") and record_id.startswith(str(desc["keyPrefix"])):
                return str(desc.get("name") or name)
        return None


def _field_index(desc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(f["name"]).lower(): f for f in desc.get("fields", [])}


def _resolved(
    ref: FieldRef,
    rel: str | None,
    f: Mapping[str, Any],
    parent_type: str | None,
    fields: list[Mapping[str, Any]],
) -> ResolvedField:
    return ResolvedField(
        ref,
        rel,
        str(f["name"]),
        str(f.get("type") or "string"),
        parent_type,
        filterable=bool(f.get("filterable", True)),
        sortable=bool(f.get("sortable", True)),
        parts=compound_parts(fields, f),
    )
