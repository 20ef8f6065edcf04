"""Schema snapshots (mappings.schema.serialize): lossless round trips and clear refusals."""

from __future__ import annotations

import json

import pytest

from mappings.errors import SchemaError
from mappings.schema.model import (
    Catalog,
    ChildRelationship,
    FieldKind,
    FieldSchema,
    ObjectSchema,
    System,
)
from mappings.schema.serialize import (
    catalog_from_dict,
    catalog_to_dict,
    field_schema_to_dict,
    object_schema_from_dict,
    object_schema_to_dict,
)


def _every_fact() -> FieldSchema:
    """A field with every fact set away from its default."""
    return FieldSchema(
        path="Status__c",
        kind=FieldKind.PICKLIST,
        native_type="picklist",
        label="Status",
        description="Where the payment stands",
        nullable=False,
        required=True,
        length=40,
        precision=18,
        scale=2,
        enum_values=("Completed", "Failed"),
        restricted=True,
        createable=False,
        updateable=False,
        external_id=True,
        id_lookup=True,
        unique=True,
        reference_to=("Account", "Contact"),
        relationship_name="Account__r",
        expandable=True,
        free_keys=True,
        calculated=True,
        default_on_create=True,
    )


def _objects() -> list[ObjectSchema]:
    payment = ObjectSchema(
        System.SALESFORCE,
        "Payment__c",
        label="Payment",
        description="One Stripe charge",
        fields={"Name": FieldSchema("Name", FieldKind.STRING), "Status__c": _every_fact()},
        key_prefix="a01",
        custom=True,
        label_plural="Payments",
        child_relationships=(ChildRelationship("Refunds__r", "Refund__c", "Payment__c"),),
    )
    bare = ObjectSchema(System.SALESFORCE, "Lead")
    return [payment, bare]


@pytest.mark.parametrize("obj", _objects(), ids=lambda o: o.name)
def test_object_schema_round_trip(obj: ObjectSchema) -> None:
    data = object_schema_to_dict(obj)
    assert json.loads(json.dumps(data)) == data  # JSON-ready
    assert object_schema_from_dict(data) == obj


def test_defaults_are_left_out() -> None:
    assert field_schema_to_dict(FieldSchema("id", FieldKind.ID)) == {"path": "id", "kind": "id"}


def test_stripe_object_with_event_types_round_trips() -> None:
    charge = ObjectSchema(
        System.STRIPE,
        "charge",
        fields={
            "metadata": FieldSchema("metadata", FieldKind.MAP, free_keys=True),
            "customer": FieldSchema("customer", FieldKind.REFERENCE, expandable=True),
        },
        event_types=("charge.succeeded", "charge.failed"),
    )
    assert object_schema_from_dict(object_schema_to_dict(charge)) == charge


def test_catalog_round_trip() -> None:
    catalog = Catalog(System.SALESFORCE, api_version="62.0")
    for obj in _objects():
        catalog.add(obj)
    data = catalog_to_dict(catalog)
    again = catalog_from_dict(json.loads(json.dumps(data)))
    assert again == catalog
    assert again.names() == ["Lead", "Payment__c"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "a schema catalog needs 'system' and 'objects'"),
        ({"system": "hubspot"}, "unknown system 'hubspot'"),
        ({"system": "stripe", "objects": {}}, "a schema catalog's 'objects' must be a list"),
        (
            {"system": "stripe", "objects": [{"system": "salesforce", "name": "Lead"}]},
            "object 'Lead' is a salesforce object in a stripe catalog",
        ),
        (
            {
                "system": "stripe",
                "objects": [{"system": "stripe", "name": "charge", "fields": [{"path": "x"}]}],
            },
            "object 'charge', fields[0]: a field needs 'path' and 'kind'",
        ),
        (
            {
                "system": "stripe",
                "objects": [
                    {
                        "system": "stripe",
                        "name": "charge",
                        "fields": [{"path": "x", "kind": "blob"}],
                    }
                ],
            },
            "object 'charge', fields[0]: unknown field kind 'blob'",
        ),
        (
            {
                "system": "stripe",
                "objects": [
                    {
                        "system": "stripe",
                        "name": "charge",
                        "fields": [{"path": "x", "kind": "id", "size": 1}],
                    }
                ],
            },
            "object 'charge', fields[0]: unknown field facts ['size']",
        ),
        (
            {
                "system": "salesforce",
                "objects": [
                    {"system": "salesforce", "name": "Order", "child_relationships": {}}
                ],
            },
            "object 'Order': 'child_relationships' must be a list",
        ),
        (
            {
                "system": "salesforce",
                "objects": [
                    {
                        "system": "salesforce",
                        "name": "Order",
                        "child_relationships": [{"name": "OrderItems", "child": "OrderItem"}],
                    }
                ],
            },
            "object 'Order', child_relationships[0]: needs 'name', 'child' and 'field'",
        ),
    ],
)
def test_bad_snapshots_are_refused(data: object, message: str) -> None:
    with pytest.raises(SchemaError) as err:
        catalog_from_dict(data)
    assert str(err.value) == message
