"""The demo seed, checked through the real clients rather than through its own summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.sandbox.seed import (
    CARD_DECLINED,
    DEMO_CUSTOMERS,
    LINK_EMAIL,
    LINK_ID,
    LINK_NONE,
    PLAN_ID,
    SALESFORCE_ONLY,
    WON,
    seed_demo,
)
from runner.sandbox.stripe_sandbox import StripeSandbox

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seeded(sandbox: StripeSandbox):
    sandbox.flush()
    return seed_demo(sandbox, None)


def test_demo_table_is_a_useful_spread():
    links = {d.salesforce for d in DEMO_CUSTOMERS}
    assert {LINK_ID, LINK_EMAIL, LINK_NONE} <= links
    assert len({d.email for d in DEMO_CUSTOMERS}) == len(DEMO_CUSTOMERS) == 6
    assert any(d.card == CARD_DECLINED and d.charges for d in DEMO_CUSTOMERS)
    assert sum(d.subscribe for d in DEMO_CUSTOMERS) == 2
    stages = {o.stage for d in (*DEMO_CUSTOMERS, SALESFORCE_ONLY) for o in d.opportunities}
    assert WON in stages and len(stages) > 1


def test_stripe_side_matches_the_table(sandbox: StripeSandbox, seeded):
    client = sandbox.client()
    customers = client.v1.customers.list(params={"limit": 100}).data
    assert sorted(c.email for c in customers) == sorted(d.email for d in DEMO_CUSTOMERS)
    assert seeded.stripe_customers == {c.email: c.id for c in customers}

    by_email = {c.email: c for c in customers}
    for demo in DEMO_CUSTOMERS:
        customer = by_email[demo.email]
        assert customer.metadata["company"] == demo.company
        charges = client.v1.charges.list(params={"customer": customer.id, "limit": 100}).data
        one_offs = [c for c in charges if c.description and c.description.startswith(demo.company)]
        assert sorted(c.amount for c in one_offs) == sorted(demo.charges)
        want_status = "failed" if demo.card == CARD_DECLINED else "succeeded"
        assert {c.status for c in one_offs} <= {want_status}
        refunded = sum(c.amount_refunded for c in charges)
        assert refunded == demo.refund
        subs = client.v1.subscriptions.list(params={"customer": customer.id}).data
        assert [s["items"].data[0].plan.id for s in subs] == ([PLAN_ID] if demo.subscribe else [])


def test_summary_counts_agree_with_the_sandbox(sandbox: StripeSandbox, seeded):
    client = sandbox.client()
    charges = client.v1.charges.list(params={"limit": 100}).data
    assert seeded.charges_succeeded == sum(c.status == "succeeded" for c in charges)
    assert seeded.charges_failed == sum(c.status == "failed" for c in charges) == 1
    assert seeded.refunds == len(client.v1.refunds.list(params={"limit": 100}).data)
    assert seeded.subscriptions == len(client.v1.subscriptions.list().data) == 2


def test_seeding_twice_creates_nothing_new(sandbox: StripeSandbox, seeded):
    again = seed_demo(sandbox, None)
    assert again.created == 0
    assert again.stripe_customers == seeded.stripe_customers
    assert len(sandbox.client().v1.customers.list(params={"limit": 100}).data) == 6


def test_salesforce_side(sandbox: StripeSandbox, seeded, tmp_path: Path):
    server = pytest.importorskip("runner.sandbox.salesforce.server")
    handle = server.start_emulator(tmp_path / "org")
    try:
        sf = server.salesforce_client(handle)
        summary = seed_demo(sandbox, sf)
        linked = [d for d in DEMO_CUSTOMERS if d.salesforce == LINK_ID]
        for demo in linked:
            rows = sf.query(
                "SELECT Name, StripeCustomerID__c FROM Account "
                f"WHERE StripeCustomerID__c = '{seeded.stripe_customers[demo.email]}'"
            )["records"]
            assert [r["Name"] for r in rows] == [demo.company]
        by_email = [d for d in DEMO_CUSTOMERS if d.salesforce == LINK_EMAIL]
        for demo in by_email:
            account = sf.query(
                f"SELECT StripeCustomerID__c FROM Account WHERE Name = '{demo.company}'"
            )["records"]
            assert account[0]["StripeCustomerID__c"] is None
            contact = sf.query(
                f"SELECT Account.Name FROM Contact WHERE Email = '{demo.email}'"
            )["records"]
            assert contact[0]["Account"]["Name"] == demo.company
        stripe_only = [d.company for d in DEMO_CUSTOMERS if d.salesforce is LINK_NONE]
        names = {r["Name"] for r in sf.query_all("SELECT Name FROM Account")["records"]}
        assert SALESFORCE_ONLY.company in names and not names & set(stripe_only)
        won = sf.query(f"SELECT COUNT() FROM Opportunity WHERE StageName = '{WON}'")
        open_ = sf.query(f"SELECT COUNT() FROM Opportunity WHERE StageName != '{WON}'")
        assert (won["totalSize"], open_["totalSize"]) == (
            summary.opportunities_won, summary.opportunities_open)
        assert summary.opportunities_won > 0 and summary.opportunities_open > 0
        assert seed_demo(sandbox, sf).created == 0
    finally:
        handle.stop()
