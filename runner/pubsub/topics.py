"""Pub/Sub topic names, as Salesforce forms them (the runner and the emulator both use these)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mappings.document.model import Flow

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


def flow_topic(flow: Flow) -> str:
    """The topic a Salesforce-triggered flow listens to: its platform event's, else its
    object's change events (the runner's plan and the studio's trigger editor ask this)."""
    event = flow.trigger.salesforce_event
    if event is not None:
        return event_topic(event.event)
    change = flow.trigger.salesforce_change
    return change_topic(change.object if change is not None else flow.source.object)
