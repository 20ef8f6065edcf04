"""Which Salesforce-triggered flows listen to events, and what an event batch names."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import ConfigError
from runner.pipeline.bundle_runtime import LoadedBundle
from runner.pubsub.client import Received
from runner.pubsub.triggers import commit_time, flow_ids, plan_triggers, topic_of

TEMPLATES = Path(__file__).resolve().parents[3] / "mappings" / "templates"
ACCOUNT = "/data/AccountChangeEvent"
WON = "/event/Opportunity_Closed_Won__e"


@pytest.fixture(scope="module")
def flows() -> list:
    out = []
    for name in ("account-to-stripe-customer", "opportunity-to-subscription"):
        out += LoadedBundle.from_template(TEMPLATES / f"{name}.yaml").salesforce_flows
    return out


def test_topics_of_the_templates(flows) -> None:
    assert {c.name: topic_of(c) for c in flows} == {
        "account-to-customer": ACCOUNT,
        "closed-won-to-customer": WON,
        "closed-won-to-subscription": WON,
    }


@pytest.mark.parametrize(("mode", "offered", "topics", "polled"), [
    ("auto", {ACCOUNT, WON}, {ACCOUNT: 1, WON: 2}, set()),
    ("auto", {ACCOUNT}, {ACCOUNT: 1},
     {"closed-won-to-customer", "closed-won-to-subscription"}),
    ("auto", set(), {}, {"account-to-customer", "closed-won-to-customer",
                         "closed-won-to-subscription"}),
    ("cdc", {ACCOUNT, WON}, {ACCOUNT: 1, WON: 2}, set()),
    ("poll", {ACCOUNT, WON}, {}, {"account-to-customer", "closed-won-to-customer",
                                  "closed-won-to-subscription"}),
])
def test_plan(flows, mode, offered, topics, polled) -> None:
    plan = plan_triggers(flows, mode, lambda topic: topic in offered)
    assert {t: len(names) for t, names in plan.topics.items()} == topics
    assert set(plan.polled) == polled


def test_cdc_without_the_topic_refuses_in_one_sentence(flows) -> None:
    with pytest.raises(ConfigError, match="needs the Pub/Sub topic /data/AccountChangeEvent"):
        plan_triggers(flows, "cdc", lambda topic: False)


def test_a_platform_event_only_flow_cannot_be_polled(flows) -> None:
    won = next(c for c in flows if c.name == "closed-won-to-customer")
    won.flow.trigger.salesforce_change = None
    try:
        with pytest.raises(ConfigError, match="cannot be polled"):
            plan_triggers([won], "poll", lambda topic: True)
        with pytest.raises(ConfigError, match="cannot be polled"):
            plan_triggers([won], "auto", lambda topic: False)
    finally:
        won.flow.trigger.salesforce_change = flows[0].flow.trigger.salesforce_change


def _change(kind: str, ids: list[str], entity: str = "Account", ts: int = 1000) -> Received:
    header = {"entityName": entity, "recordIds": ids, "changeType": kind,
              "commitTimestamp": ts}
    return Received(b"r", "s", {"ChangeEventHeader": header})


def test_flow_ids_split_changes_and_deletions(flows) -> None:
    account = flows[0]
    events = [_change("CREATE", ["001A"]), _change("UPDATE", ["001B", "001C"]),
              _change("DELETE", ["001D"]), _change("UPDATE", ["006X"], "Opportunity", 3000)]
    assert flow_ids(account, events) == (["001A", "001B", "001C"], ["001D"])
    assert commit_time(events).timestamp() == 3.0


def test_platform_events_name_their_record(flows) -> None:
    won = next(c for c in flows if c.name == "closed-won-to-subscription")
    event = Received(b"r", "s", {"OpportunityId__c": "006A", "CreatedDate": 5000})
    assert flow_ids(won, [event]) == (["006A"], [])
    assert flow_ids(flows[0], [event]) == ([], [])
