"""Salesforce -> Stripe polling against the local sandboxes (one sandbox for the module).

Records are edited as the org's admin user, as a person would; the runner logs in as the
integration user, so its own writebacks are recognisable.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from mappings.document.model import TransformStep
from runner.pipeline.sf_poller import SalesforcePoller
from runner.pipeline.writeback import ORIGIN_KEY, is_stripe_echo
from runner.sandbox.salesforce.server import salesforce_client
from tests.runner.pipeline.conftest import create_plan, load_templates, template_documents

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def admin(sandbox: Any) -> Any:
    handle = sandbox.salesforce
    return salesforce_client(handle, access_token=handle.new_token("admin@fieldbridge.test"))


def with_price(price: str, documents: list | None = None) -> Any:
    """The templates, with the Closed Won subscription always on ``price`` (a bundle fix)."""
    docs = documents or template_documents()
    for doc in docs:
        for flow in doc.flows:
            if flow.name == "closed-won-to-subscription":
                for fm in flow.fields:
                    if fm.target == "items.0.price":
                        fm.sources = []
                        fm.transforms = [TransformStep("constant", {"value": price})]
    return load_templates(docs)


def poller(bundle: Any, store: Any, salesforce: Any, stripe: Any, **kw: Any) -> SalesforcePoller:
    # Each test starts its watermarks now: earlier tests' records are not its business.
    return SalesforcePoller(bundle, store, salesforce, stripe,
                            start=kw.pop("start", datetime.now(UTC)), **kw)


def customers_of(stripe: Any, key: str, value: str) -> list[dict]:
    return [c for c in stripe.list_objects("customer")
            if (c.get("metadata") or {}).get(key) == value]


def test_account_reaches_stripe_once_with_writeback_and_no_echo(
        bundle, store, salesforce, stripe, admin) -> None:
    p = poller(bundle, store, salesforce, stripe)
    account = admin.Account.create({"Name": "Poll Co", "Phone": "+1 555 0100",
                                    "BillingCity": "Paris", "BillingCountry": "FR"})
    first = p.poll_once()
    assert (first.created, first.updated, first.dead_lettered) == (1, 0, 0)
    [customer] = customers_of(stripe, "salesforceid", account["id"])
    assert customer["name"] == "Poll Co" and customer["address"]["city"] == "Paris"
    assert customer["metadata"][ORIGIN_KEY] == "salesforce"
    row = admin.Account.get(account["id"])
    assert row["StripeCustomerID__c"] == customer["id"]
    assert row["LastModifiedById"] == salesforce.user_id  # the writeback

    # The writeback changed the Account; the next poll sees it and does not sync it back.
    second = p.poll_once()
    assert second.echo == 1 and (second.created, second.updated) == (0, 0)
    assert p.poll_once().records == 0

    # The customer.created event the Stripe sandbox emitted for it is the runner's own.
    [event] = [e for e in stripe.events_since(None) if e["type"] == "customer.created"
               and e["data"]["object"]["id"] == customer["id"]]
    assert is_stripe_echo(store, event)

    # A person's edit updates the same customer (the Stripe id is on the Account).
    admin.Account.update(account["id"], {"Phone": "+1 555 0199"})
    third = p.poll_once()
    assert (third.created, third.updated) == (0, 1)
    assert stripe.retrieve("customer", customer["id"])["phone"] == "+1 555 0199"
    assert len(customers_of(stripe, "salesforceid", account["id"])) == 1


def test_first_start_syncs_changes_from_now_on(bundle, store, salesforce, stripe,
                                               admin) -> None:
    admin.Account.create({"Name": "Before Start Co"})
    p = SalesforcePoller(bundle, store, salesforce, stripe)  # no configured start
    report = p.poll_once()
    assert report.records == 0
    assert store.cursor_get("sf.watermark.account-to-customer") is not None


def test_closed_won_creates_one_subscription(store, salesforce, stripe, admin,
                                              sandbox) -> None:
    plan = create_plan(sandbox, "poll-pro")
    # The template as shipped: items[0][price], billed by invoice (the customer has no card).
    p = poller(load_templates(), store, salesforce, stripe)
    account = admin.Account.create({"Name": "Deal Co"})
    opp = admin.Opportunity.create({"Name": "Deal Co - Pro", "StageName": "Prospecting",
                                    "CloseDate": "2026-12-31", "AccountId": account["id"],
                                    "StripePriceID__c": plan, "TotalOpportunityQuantity": 3})
    p.poll_once()
    assert admin.Opportunity.get(opp["id"])["StripeSubscriptionID__c"] is None

    admin.Opportunity.update(opp["id"], {"StageName": "Closed Won"})
    report = p.poll_once()
    assert report.dead_lettered == 0, report.errors
    row = admin.Opportunity.get(opp["id"])
    customer, subscription = row["StripeCustomerID__c"], row["StripeSubscriptionID__c"]
    assert customer and subscription
    sub = stripe.retrieve("subscription", subscription)
    assert sub["customer"] == customer
    assert sub["items"]["data"][0]["plan"]["id"] == plan
    assert sub["items"]["data"][0]["quantity"] == 3
    assert sub["metadata"]["salesforce_opportunity_id"] == opp["id"]
    cus = stripe.retrieve("customer", customer)
    assert cus["name"] == "Deal Co"  # Account.Name through the relationship
    assert cus["metadata"]["salesforceid"] == account["id"]

    # Saving the won Opportunity again creates nothing.
    admin.Opportunity.update(opp["id"], {"Description": "signed"})
    again = p.poll_once()
    assert again.created == 0
    subs = list(stripe.list_objects("subscription", customer=customer))
    assert [s["id"] for s in subs] == [subscription]


def test_stripe_refusal_dead_letters_and_replays_after_the_fix(store, salesforce, stripe,
                                                               admin, sandbox) -> None:
    plan = create_plan(sandbox, "poll-replay")
    # The Opportunity names a price Stripe does not have: Stripe refuses the subscription.
    p = poller(load_templates(), store, salesforce, stripe)
    account = admin.Account.create({"Name": "Replay Co"})
    opp = admin.Opportunity.create({"Name": "Replay", "StageName": "Closed Won",
                                    "CloseDate": "2026-12-31", "AccountId": account["id"],
                                    "StripePriceID__c": "price_does_not_exist"})
    report = p.poll_once()
    assert report.dead_lettered >= 1
    [entry] = [e for e in store.dlq_list() if e.flow == "closed-won-to-subscription"]
    assert entry.source_id == opp["id"] and "404" in entry.error
    assert entry.record is not None
    assert entry.record["items"]["0"]["price"] == "price_does_not_exist"
    assert admin.Opportunity.get(opp["id"])["StripeSubscriptionID__c"] is None

    fixed = poller(with_price(plan), store, salesforce, stripe)
    replay = fixed.replay_dlq(entry.id)
    assert store.dlq_get(entry.id).status == "replayed", (replay, store.dlq_get(entry.id))
    subscription = admin.Opportunity.get(opp["id"])["StripeSubscriptionID__c"]
    assert subscription
    assert stripe.retrieve("subscription", subscription)["items"]["data"][0]["plan"]["id"] == plan


def test_a_change_saved_before_the_first_poll_is_found_once_watermarks_are_pinned(
        bundle, store, salesforce, stripe, admin) -> None:
    """No configured start means "changes from now on": the runner pins the watermarks when
    it starts, so an Account saved between the start and the first poll is synced (pinned by
    that first poll, it fell before the watermark and never was)."""
    p = SalesforcePoller(bundle, store, salesforce, stripe)
    p.pin_watermarks()
    time.sleep(0.01)  # the org's stamps have millisecond precision
    account = admin.Account.create({"Name": "Saved Before The First Poll"})["id"]
    report = p.poll_once(only=["account-to-customer"])
    assert report.created == 1
    assert customers_of(stripe, "salesforceid", account)


def test_failed_query_keeps_the_watermark(bundle, store, salesforce, stripe, admin,
                                          sandbox) -> None:
    p = poller(bundle, store, salesforce, stripe)
    p.poll_once()
    mark = store.cursor_get("sf.watermark.account-to-customer")
    admin.Account.create({"Name": "Fault Co"})
    sandbox.salesforce.set_faults("error503=1")
    try:
        failed = p.poll_once()
    finally:
        sandbox.salesforce.set_faults(None)
    assert failed.created == 0 and any("503" in e for e in failed.errors)
    assert store.cursor_get("sf.watermark.account-to-customer") == mark
    assert p.poll_once().created == 1
    assert store.cursor_get("sf.watermark.account-to-customer") != mark
