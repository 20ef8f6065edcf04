"""Pub/Sub topic names, as Salesforce forms them (the runner and the emulator both use these)."""

from __future__ import annotations

ALL_CHANGES = "/data/ChangeEvents"


def change_event_name(object_name: str) -> str:
    """``Account`` -> ``AccountChangeEvent``; ``Invoice__c`` -> ``Invoice__ChangeEvent``."""
    if object_name.endswith("__c"):
        return f"{object_name[:-3]}__ChangeEvent"
    return f"{object_name}ChangeEvent"


def change_topic(object_name: str) -> str:
    """The change events of one object: ``/data/AccountChangeEvent``."""
    return f"/data/{change_event_name(object_name)}"


def event_topic(event_name: str) -> str:
    """A platform event's topic: ``/event/Opportunity_Closed_Won__e``."""
    return f"/event/{event_name}"
