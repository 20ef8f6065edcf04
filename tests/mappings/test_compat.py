"""The one type-compatibility table (mappings.schema.compat) and its conversion hints."""

from __future__ import annotations

import pytest

from mappings.schema.compat import conversion_hint, kinds_compatible, source_kind, target_field
from mappings.schema.model import FieldKind, FieldSchema, ObjectSchema, System

K = FieldKind


@pytest.mark.parametrize(
    ("source", "target", "ok"),
    [
        (K.INTEGER, K.CURRENCY, True),
        (K.INTEGER, K.STRING, True),
        (K.TIMESTAMP, K.DATETIME, False),
        # Was True in the editor's copy, False in the compiler's: Unix seconds in a text
        # field is almost always a date the user meant to convert.
        (K.TIMESTAMP, K.TEXT, False),
        (K.TIMESTAMP, K.STRING, False),
        (K.STRING, K.BOOLEAN, False),
        (K.BOOLEAN, K.BOOLEAN, True),
        (K.OBJECT, K.STRING, False),
        (K.STRING, K.NUMBER, False),
        (K.ANY, K.DATE, True),
        (K.LIST, K.MULTIPICKLIST, True),
        # Was True in the compiler's copy: Salesforce refuses a date-time for a date field.
        (K.DATETIME, K.DATE, False),
        (K.MAP, K.OBJECT, True),
        # Was True in the editor's copy: a decimal into a whole-number field loses its cents.
        (K.NUMBER, K.INTEGER, False),
        (K.CURRENCY, K.INTEGER, False),
        (K.PERCENT, K.INTEGER, False),
        # Was False in the editor's copy: Unix seconds are a whole number as they are.
        (K.TIMESTAMP, K.INTEGER, True),
        (K.INTEGER, K.TIMESTAMP, True),
        (K.INTEGER, K.NUMBER, True),
        (K.DATE, K.STRING, True),
    ],
)
def test_kinds_compatible_table(source: FieldKind, target: FieldKind, ok: bool) -> None:
    assert kinds_compatible(source, target) is ok


@pytest.mark.parametrize(
    ("source", "target", "hint"),
    [
        (K.TIMESTAMP, K.DATETIME, "unix_to_datetime"),
        (K.TIMESTAMP, K.STRING, "unix_to_datetime"),
        (K.TIMESTAMP, K.DATE, "unix_to_date"),
        (K.DATETIME, K.TIMESTAMP, "datetime_to_unix"),
        (K.DATE, K.TIMESTAMP, "date_to_unix"),
        (K.CURRENCY, K.INTEGER, "decimal_to_minor"),
        (K.NUMBER, K.INTEGER, "jsonata"),
        (K.OBJECT, K.TEXT, "jsonata"),
        (K.STRING, K.BOOLEAN, None),
    ],
)
def test_conversion_hint(source: FieldKind, target: FieldKind, hint: str | None) -> None:
    assert conversion_hint(source, target) == hint


def test_every_hint_names_an_incompatible_pair() -> None:
    for source in K:
        for target in K:
            if conversion_hint(source, target) is not None:
                assert not kinds_compatible(source, target), (source, target)


def _charge() -> ObjectSchema:
    fields = [
        FieldSchema("created", K.TIMESTAMP),
        FieldSchema("metadata", K.MAP, free_keys=True),
    ]
    return ObjectSchema(System.STRIPE, "charge", fields={f.path: f for f in fields})


def test_source_kind_of_a_free_key_is_any_and_of_the_map_is_map() -> None:
    charge = _charge()
    assert source_kind(charge, "created") is K.TIMESTAMP
    assert source_kind(charge, "metadata.order_id") is K.ANY
    assert source_kind(charge, "metadata") is K.MAP
    assert source_kind(charge, "nope") is None


def test_target_field_of_a_free_key_is_stripe_metadata_text() -> None:
    charge = _charge()
    assert target_field(charge, "metadata.order_id") == FieldSchema(
        "metadata.order_id", K.STRING, length=500
    )
    assert target_field(charge, "metadata") is charge.fields["metadata"]
    assert target_field(charge, "nope") is None
