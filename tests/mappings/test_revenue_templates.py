"""The refunds template's promise, checked on the mapping itself: the Payment's
Amount_Refunded__c and its Refund__c children come from one charge payload, so the refunded
total equals the sum of the refunds that took money back (pending or succeeded; a failed or
canceled refund gives it back, as Stripe counts amount_refunded)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from mappings.document.yamlio import load_document
from mappings.engine import compile_flow
from mappings.schema.model import System
from mappings.schema.org_metadata import load_salesforce_catalog
from mappings.schema.stripe_catalog import load_stripe_catalog
from mappings.templates.tools.revenue_fixtures import charge_with_refunds, event, refund

TEMPLATES = Path(__file__).resolve().parents[2] / "mappings" / "templates"
TAKES_MONEY = {"Pending", "Succeeded"}


def _plan():
    doc = load_document(TEMPLATES / "refunds.yaml")
    flow = doc.flow("charge-refunds-to-payment")
    assert flow is not None
    sf, stripe = load_salesforce_catalog(), load_stripe_catalog()
    return compile_flow(flow, doc, sf["Payment__c"], source_schema=stripe["charge"],
                        schemas=lambda system, name: (
                            sf if system is System.SALESFORCE else stripe).get(name))


@pytest.mark.parametrize("refunds", [
    [(2500, "succeeded"), (1500, "succeeded")],
    [(999, "succeeded"), (1, "pending"), (3000, "failed")],
    [(5000, "canceled"), (2000, "requires_action"), (10000 - 2000, "succeeded")],
    [(333, "succeeded")] * 7,
], ids=["two partial", "pending and failed", "canceled and waiting", "seven"])
def test_the_refunded_total_is_the_sum_of_the_refunds_that_took_money(refunds) -> None:
    made = [refund(n, amount, status) for n, (amount, status) in enumerate(refunds, start=1)]
    result = _plan().apply(event("charge.refunded", "charge", 1,
                                 **charge_with_refunds(10000, made)))
    assert result.ok, result.issues
    children = result.children["Refunds__r"]
    assert [c.record["StripeRefundID__c"] for c in children] == [r["id"] for r in made]
    taken = sum((Decimal(str(c.record["Amount__c"])) for c in children
                 if c.record["Status__c"] in TAKES_MONEY), Decimal(0))
    assert Decimal(str(result.record["Amount_Refunded__c"])) == taken
    assert result.record["Status__c"] == ("Refunded" if taken == 100 else "Completed")


def test_a_charge_sent_without_its_refunds_writes_the_payment_and_no_child() -> None:
    """API versions from 2022-11-15 leave charge.refunds out: the payment's total still lands,
    and the refunds come from refund events (the collection's on_removed is ignore, so
    nothing already written is marked)."""
    ev = event("charge.refunded", "charge", 2, **charge_with_refunds(10000, [refund(1, 700)]))
    del ev["data"]["object"]["refunds"]
    result = _plan().apply(ev)
    assert result.ok, result.issues
    assert result.record["Amount_Refunded__c"] == 7
    assert result.children["Refunds__r"] == []
