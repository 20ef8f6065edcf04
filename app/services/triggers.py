"""Which Salesforce trigger a connected org supports, in one sentence for the flow dialog.

The runner decides at start-up (``runner.salesforce_triggers = auto``): a flow listens to its
topic (its platform event's, else its object's change events) where the org offers it, and
is polled otherwise; a flow triggered only by a platform event cannot be polled. This module
says the same thing before the runner starts, asking the org as the runner does
(:func:`runner.api.triggers.org_offers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.services.connections import LOCAL_SANDBOX
from mappings.document.model import Flow
from runner.api.triggers import POLL_INTERVAL, number_text, org_offers

if TYPE_CHECKING:
    from app.services import Services

POLL_EVERY = f"every {number_text(POLL_INTERVAL)} s"


def support_sentence(flow: Flow, offered: bool | None) -> str:
    """What the runner will do for ``flow``'s Salesforce trigger; ``offered`` is whether the
    org offers its topic, None when no org was asked."""
    event = flow.trigger.salesforce_event
    pollable = flow.trigger.salesforce_change is not None
    if event is None:
        if offered is None:
            return ("Decided when the runner starts: real-time changes where the org offers "
                    f"them, otherwise it polls {POLL_EVERY}.")
        if offered:
            return "Real-time changes are available on this org."
        return f"Real-time changes are not offered by this org: the runner will poll {POLL_EVERY}."
    name = event.event
    if offered is None:
        fallback = (f"otherwise it polls {POLL_EVERY}" if pollable else
                    "otherwise it cannot start this flow (a platform event cannot be polled)")
        return f"Decided when the runner starts: it listens to {name} where the org offers it, {fallback}."
    if offered:
        return f"The platform event {name} is available on this org."
    if pollable:
        return f"This org does not offer the platform event {name}: the runner will poll {POLL_EVERY}."
    return (f"This org does not offer the platform event {name}, and a platform event cannot "
            "be polled: the runner will refuse to start this flow.")


def trigger_support(services: Services, connection: str | None, flow: Flow) -> str:
    """:func:`support_sentence` for the org of ``connection`` (None: no Salesforce connection).

    Blocking (a login, then a ``GetTopic`` with a timeout): call it off the UI thread. The
    built-in sandbox is asked only when it is already running, so opening a dialog does
    not start it."""
    if connection is None or (connection == LOCAL_SANDBOX and not services.sandbox.running):
        return support_sentence(flow, None)
    return support_sentence(flow, org_offers(services.salesforce_connector(connection), flow))
