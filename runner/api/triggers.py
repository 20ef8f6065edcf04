"""Light: what the studio's trigger editor asks of the runner about Salesforce triggers.

Which topic a flow listens to and the runner's default poll interval are plain names and
numbers. Whether an org offers a topic is the runner's own start-up rule
(:mod:`runner.pubsub.probe`, the same ``GetTopic`` call), asked only when the user has a
Salesforce connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner.pubsub.topics import flow_topic
from runner.settings import number_text, setting

if TYPE_CHECKING:
    from mappings.document.model import Flow

__all__ = [
    "POLL_INTERVAL", "SALESFORCE_TRIGGERS", "flow_topic", "number_text", "org_offers",
]

# The runner's defaults: a flow whose topic the org does not offer is polled this often.
POLL_INTERVAL: float = setting("runner.poll_interval").default
SALESFORCE_TRIGGERS: str = setting("runner.salesforce_triggers").default


def org_offers(salesforce: Any, flow: Flow) -> bool:
    """Whether the org of a logged-in Salesforce connector offers ``flow``'s topic, as the
    runner asks at start-up (False when the Pub/Sub API cannot be reached)."""
    # Lazy: grpc and the Pub/Sub client add ~0.33 s (importtime); the studio needs them only
    # when a flow dialog asks about a connected org.
    from runner.pubsub.probe import offered_topics

    topic = flow_topic(flow)
    return offered_topics(salesforce, [topic])[topic]
