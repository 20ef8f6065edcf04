"""split_event: the one rule for unwrapping a Stripe event into (record, envelope)."""

from __future__ import annotations

from typing import Any

import pytest

from mappings.schema.stripe_events import split_event

CHARGE = {"id": "ch_1", "object": "charge"}
EVENT = {"id": "evt_1", "object": "event", "type": "charge.succeeded", "data": {"object": CHARGE}}


@pytest.mark.parametrize(
    ("payload", "record", "envelope"),
    [
        (EVENT, CHARGE, EVENT),
        (CHARGE, CHARGE, None),  # a Stripe object is its own record
        ({"Id": "001", "Name": "Acme"}, {"Id": "001", "Name": "Acme"}, None),
        # An event with nothing inside to map is itself the record.
        ({"object": "event", "data": {}}, {"object": "event", "data": {}}, None),
        (
            {"object": "event", "data": {"object": "ch_1"}},
            {"object": "event", "data": {"object": "ch_1"}},
            None,
        ),
        ({"object": "event", "data": "x"}, {"object": "event", "data": "x"}, None),
        # data.object without "object": "event" is not an event.
        ({"data": {"object": CHARGE}}, {"data": {"object": CHARGE}}, None),
        ([EVENT], None, None),
        (None, None, None),
    ],
)
def test_split_event(payload: Any, record: Any, envelope: Any) -> None:
    assert split_event(payload) == (record, envelope)
