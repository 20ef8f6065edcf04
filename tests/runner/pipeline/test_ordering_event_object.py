"""event_object takes the object out of a Stripe event through mappings' split_event."""

from __future__ import annotations

from typing import Any

import pytest

from runner.pipeline.ordering import event_object

CHARGE = {"id": "ch_1", "object": "charge"}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"object": "event", "type": "charge.succeeded", "data": {"object": CHARGE}}, CHARGE),
        (CHARGE, None),  # not an event
        ({"Id": "001", "Name": "Acme"}, None),  # a Salesforce change
        ({"object": "event", "data": {}}, None),
        ({"object": "event", "data": {"object": "ch_1"}}, None),
    ],
)
def test_event_object(payload: dict[str, Any], expected: dict[str, Any] | None) -> None:
    assert event_object(payload) == expected
