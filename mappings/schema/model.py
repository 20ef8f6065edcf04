"""The common schema model for both sides: objects made of typed fields addressed by dot paths.

Stripe objects are nested JSON, so their fields are flattened to dot paths
(``billing_details.address.city``); Salesforce fields are flat API names. Both use the
same :class:`FieldSchema` so the engine, the validator and the suggestion ranker see one
vocabulary of :class:`FieldKind`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from mappings.errors import UnknownFieldError, UnknownObjectError

_INDEX = re.compile(r"\.\d+(?=\.|$)")


class System(StrEnum):
    STRIPE = "stripe"
    SALESFORCE = "salesforce"


class FieldKind(StrEnum):
    """What a value is, independent of the system's own type names."""

    STRING = "string"
    TEXT = "text"  # long text (textarea)
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    ID = "id"  # the record's own id
    REFERENCE = "reference"  # an id pointing to another object (Stripe expandable, SF lookup)
    BOOLEAN = "boolean"
    INTEGER = "integer"
    NUMBER = "number"  # double / decimal
    CURRENCY = "currency"  # a decimal money amount (Salesforce currency)
    PERCENT = "percent"
    TIMESTAMP = "timestamp"  # Unix seconds (Stripe)
    DATE = "date"
    DATETIME = "datetime"
    TIME = "time"
    PICKLIST = "picklist"  # one of enum_values
    MULTIPICKLIST = "multipicklist"
    OBJECT = "object"  # a nested object (its children are fields of their own)
    LIST = "list"
    MAP = "map"  # free keys, e.g. metadata.*
    ANY = "any"


@dataclass(frozen=True, slots=True)
class FieldSchema:
    """One field of an object.

    ``path`` is the dot path from the object root (Stripe) or the API name (Salesforce).
    Salesforce-only facts (createable, external_id, ...) default to the permissive value so
    that Stripe fields need not set them.
    """

    path: str
    kind: FieldKind
    native_type: str = ""  # the system's own type name ("currency", "Optional[str]", ...)
    label: str = ""
    description: str = ""
    nullable: bool = True
    required: bool = False  # must be given on create (Salesforce: not nillable, no default)
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    enum_values: tuple[str, ...] = ()
    restricted: bool = False  # only enum_values are accepted
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    id_lookup: bool = False
    unique: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    expandable: bool = False  # Stripe: an id that can be expanded to the object
    free_keys: bool = False  # Stripe: metadata.* style map with arbitrary keys
    calculated: bool = False
    default_on_create: bool = False  # Salesforce: defaultedOnCreate
    # Stripe: an integer amount in the currency's smallest unit (1999 is 19.99 USD). The
    # path of the object's field naming its currency ("currency", "refunds.data[].currency"),
    # "" when the object has none; None for a field that is not such an amount.
    minor_units_currency: str | None = None

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]


@dataclass(frozen=True, slots=True)
class ChildRelationship:
    """A Salesforce parent's child relationship (describe ``childRelationships``): ``Order``
    has ``ChildRelationship("OrderItems", "OrderItem", "OrderId")``."""

    name: str  # relationshipName (OrderItems)
    child: str  # childSObject (OrderItem)
    field: str  # the child's reference to the parent (OrderId)


@dataclass(slots=True)
class ObjectSchema:
    """An object type (``charge``, ``Payment__c``) and its fields by path."""

    system: System
    name: str
    label: str = ""
    description: str = ""
    fields: dict[str, FieldSchema] = field(default_factory=dict)
    # Stripe: the event types whose data.object is this object.
    event_types: tuple[str, ...] = ()
    # Salesforce: key prefix of record ids ("001" for Account), custom object flag.
    key_prefix: str | None = None
    custom: bool = False
    label_plural: str = ""
    # Salesforce: the relationships child records hang from (those with a name).
    child_relationships: tuple[ChildRelationship, ...] = ()

    def __iter__(self) -> Iterator[FieldSchema]:
        return iter(self.fields.values())

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.find(path) is not None

    def find(self, path: str) -> FieldSchema | None:
        """The field at ``path``, or the free-keys map that covers it (``metadata.order_id``)."""
        found = self.fields.get(path)
        if found is not None:
            return found
        # Salesforce API names are case-insensitive.
        if self.system is System.SALESFORCE:
            lowered = path.lower()
            for candidate in self.fields.values():
                if candidate.path.lower() == lowered:
                    return candidate
            return None
        if _INDEX.search(path):
            # A list element by position (items.data.0.price.id) is described once, as
            # items.data[].price.id.
            found = self.fields.get(_INDEX.sub("[]", path))
            if found is not None:
                return found
        parent, _, _ = path.rpartition(".")
        while parent:
            owner = self.fields.get(parent)
            if owner is not None and owner.free_keys:
                return owner
            parent, _, _ = parent.rpartition(".")
        return None

    def field(self, path: str) -> FieldSchema:
        found = self.find(path)
        if found is None:
            raise UnknownFieldError(f"{self.system.value} object {self.name!r} has no field {path!r}")
        return found

    def required_fields(self) -> list[FieldSchema]:
        return [f for f in self.fields.values() if f.required]

    def external_id_fields(self) -> list[FieldSchema]:
        return [f for f in self.fields.values() if f.external_id or f.path == "Id"]


@dataclass(slots=True)
class Catalog:
    """A set of object schemas of one system, by name (case-insensitive for Salesforce)."""

    system: System
    objects: dict[str, ObjectSchema] = field(default_factory=dict)
    api_version: str = ""

    def add(self, obj: ObjectSchema) -> None:
        self.objects[obj.name] = obj

    def get(self, name: str) -> ObjectSchema | None:
        found = self.objects.get(name)
        if found is None and self.system is System.SALESFORCE:
            lowered = name.lower()
            found = next((o for n, o in self.objects.items() if n.lower() == lowered), None)
        return found

    def __getitem__(self, name: str) -> ObjectSchema:
        found = self.get(name)
        if found is None:
            raise UnknownObjectError(f"no {self.system.value} object named {name!r}")
        return found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def names(self) -> list[str]:
        return sorted(self.objects)


SchemaLookup = Mapping[str, ObjectSchema]
