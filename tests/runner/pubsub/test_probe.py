"""Which topics an org offers (runner.pubsub.probe), asked as the runner's start and the
studio's trigger editor ask it, against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mappings.document.model import Action, Flow, ObjectRef, Operation, SalesforceEvent, Trigger
from mappings.schema.model import System
from runner.api.triggers import org_offers
from runner.pubsub.probe import offered_topics
from runner.sandbox.salesforce.auth import ORG_ID
from runner.sandbox.salesforce.server import EmulatorHandle, start_emulator


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    h = start_emulator(tmp_path_factory.mktemp("sf"))
    try:
        yield h
    finally:
        h.stop()


@dataclass
class _Settings:
    pubsub_endpoint: str
    ca_file: Path | None


class _Connector:
    """What the probe uses of a logged-in SalesforceConnector."""

    def __init__(self, handle: EmulatorHandle, endpoint: str | None = None) -> None:
        self.handle = handle
        self.settings = _Settings(endpoint or handle.pubsub_endpoint, handle.ca_file)

    def pubsub_session(self, refresh: bool) -> tuple[str, str, str]:
        return self.handle.new_token(), self.handle.instance_url, ORG_ID


def test_offered_topics(handle: EmulatorHandle) -> None:
    topics = ["/data/AccountChangeEvent", "/event/Opportunity_Closed_Won__e", "/event/Nope__e"]
    assert offered_topics(_Connector(handle), topics) == {
        "/data/AccountChangeEvent": True,
        "/event/Opportunity_Closed_Won__e": True,
        "/event/Nope__e": False,
    }


def test_an_unreachable_api_offers_nothing(handle: EmulatorHandle) -> None:
    connector = _Connector(handle, "127.0.0.1:9")
    assert offered_topics(connector, ["/data/AccountChangeEvent"], timeout=0.5) == {
        "/data/AccountChangeEvent": False}


def _flow(event: str | None) -> Flow:
    return Flow(
        name="deals",
        trigger=Trigger(salesforce_event=SalesforceEvent(event) if event else None),
        source=ObjectRef(System.SALESFORCE, "Opportunity"),
        target=ObjectRef(System.STRIPE, "customer"),
        operation=Operation(Action.CREATE),
    )


def test_the_studio_asks_about_a_flow_as_the_runner_does(handle: EmulatorHandle) -> None:
    connector = _Connector(handle)
    assert org_offers(connector, _flow(None))  # /data/OpportunityChangeEvent
    assert org_offers(connector, _flow("Opportunity_Closed_Won__e"))
    assert not org_offers(connector, _flow("Nope__e"))
