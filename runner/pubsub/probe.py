"""Which Pub/Sub topics an org offers: one channel, then ``GetTopic`` per topic.

The rule the runner's start (:func:`runner.pubsub.triggers.start_triggers`) and the studio's
trigger editor (:mod:`runner.api.triggers`) both follow, so the studio says what the runner
will do: a topic is offered when the API can be reached with the connection's session and
``GetTopic`` answers ``can_subscribe``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import grpc

from runner.pubsub.client import PubSubClient, Session

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 5.0  # seconds to reach the Pub/Sub API before it counts as not offered


def open_client(salesforce: Any, timeout: float = PROBE_TIMEOUT) -> PubSubClient | None:
    """A ready client to the Pub/Sub API of a logged-in Salesforce connector, or None when
    the connector has no Pub/Sub endpoint or session, or the API cannot be reached (logged)."""
    settings = getattr(salesforce, "settings", None)
    endpoint = getattr(settings, "pubsub_endpoint", None)
    if not endpoint or not hasattr(salesforce, "pubsub_session"):
        return None
    client: PubSubClient | None = None
    try:
        client = PubSubClient(endpoint, lambda refresh: Session(*salesforce.pubsub_session(refresh)),
                              ca_file=getattr(settings, "ca_file", None))
        grpc.channel_ready_future(client.channel).result(timeout=timeout)
    except Exception as exc:  # unreachable, no session: not offered
        log.warning("the Pub/Sub API at %s cannot be reached (%s)", endpoint,
                    exc.__class__.__name__ if not str(exc) else exc)
        if client is not None:
            client.close()
        return None
    return client


def offers(client: PubSubClient | None, topic: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether ``client``'s org offers ``topic`` (GetTopic answers can_subscribe)."""
    if client is None:
        return False
    try:
        return bool(client.topic(topic, timeout=timeout).can_subscribe)
    except grpc.RpcError:
        return False


def offered_topics(salesforce: Any, topics: Iterable[str],
                   timeout: float = PROBE_TIMEOUT) -> dict[str, bool]:
    """``topic -> offered`` for a logged-in Salesforce connector (all False when the API
    cannot be reached); the channel is closed before it returns."""
    client = open_client(salesforce, timeout)
    try:
        return {topic: offers(client, topic, timeout) for topic in topics}
    finally:
        if client is not None:
            client.close()
