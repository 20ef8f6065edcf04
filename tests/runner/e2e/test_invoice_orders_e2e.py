"""An invoice with 12 lines paid in Stripe becomes one Order with 12 OrderItems (issue 14):
Stripe SDK calls on the sandbox, signed webhooks into ``fieldbridge-runner run``, records in
the Salesforce emulator.

The Stripe prices are created in the Stripe sandbox and their Product2 and standard
PricebookEntry (one per product and currency, ``StripeProductCurrency__c = prod_...|USD``)
seeded in the org through its REST API, as an admin or the products-prices template would;
two of the lines are two prices of one product, which share its entry. The invoice's
webhook payloads carry 10 lines and
``has_more``, so the runner reads the other 2 from Stripe before it writes the Order and its
items in one graph.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.state.store import StateStore
from tests.runner.e2e.helpers import (
    RunnerProcess,
    build_template_bundle,
    customer_with_card,
    soql_rows,
    wait_for,
)

pytestmark = pytest.mark.slow

WAIT = 120  # generous: the machine is shared and the runner polls once a second
LINES = 12


@pytest.fixture(scope="module")
def invoices_bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "invoices.fbz"
    return build_template_bundle(out, ("customer-account", "invoices-orders"))


def priced(client, sf, name: str, *unit_amounts: int) -> list[tuple[str, str]]:
    """USD prices of a new product, and the product's one standard USD PricebookEntry in
    the org: ``(price, entry)`` per price."""
    product = client.v1.products.create(params={"name": name}).id
    prices = [client.v1.prices.create(params={
        "product": product, "currency": "usd", "unit_amount": amount}).id
        for amount in unit_amounts]
    standard = soql_rows(sf, "SELECT Id FROM Pricebook2 WHERE IsStandard = true")[0]["Id"]
    product2 = sf.Product2.create({"Name": name, "IsActive": True,
                                   "StripeProductID__c": product})["id"]
    entry = sf.PricebookEntry.create({
        "Pricebook2Id": standard, "Product2Id": product2, "UnitPrice": unit_amounts[-1] / 100,
        "IsActive": True, "StripePriceID__c": prices[-1],
        "StripeProductCurrency__c": f"{product}|USD"})["id"]
    return [(price, entry) for price in prices]


def test_a_paid_invoice_with_12_lines_becomes_one_order_with_12_items(
        sandbox, sf, invoices_bundle, state_url, tmp_path: Path) -> None:
    runner = RunnerProcess(invoices_bundle, sandbox.json_path, state_url, tmp_path).start()
    try:
        client = sandbox.stripe.client()
        customer = customer_with_card(client, "Twelve Lines Inc", "lines.e2e@example.com")
        # One product per line, but the last two lines are a monthly and a yearly price of
        # one product: the standard price book has one USD entry per product, which both use.
        entry_of = {price: entry for n in range(LINES - 2)
                    for price, entry in priced(client, sf, f"E2E seat pack {n + 1}",
                                               100 * (n + 1))}
        entry_of.update(priced(client, sf, "E2E seat pack plan", 1100, 12000))
        prices = list(entry_of)
        assert len(prices) == LINES and len(set(entry_of.values())) == LINES - 1
        wait_for(lambda: soql_rows(sf, "SELECT Id FROM Account WHERE StripeCustomerID__c = "
                                       f"'{customer}'"), WAIT, "the customer's Account")

        invoice = client.v1.invoices.create(params={
            "customer": customer, "pending_invoice_items_behavior": "exclude"})
        for n, price in enumerate(prices):
            client.v1.invoice_items.create(params={
                "customer": customer, "invoice": invoice.id, "price": price,
                "quantity": 1 + n % 3})
        client.v1.invoices.finalize_invoice(invoice.id)
        paid = client.v1.invoices.pay(invoice.id)
        assert paid.status == "paid" and paid.lines.has_more is True  # 10 in the payload
        lines = [*paid.lines.data, *client.v1.invoices.line_items.list(
            invoice.id, params={"starting_after": paid.lines.data[-1].id}).data]
        assert len(lines) == LINES

        def items() -> list[dict] | None:
            rows = soql_rows(sf, "SELECT Id, OrderId, StripeLineItemID__c, Quantity, "
                                 "UnitPrice, PricebookEntryId FROM OrderItem WHERE "
                                 f"Order.StripeInvoiceID__c = '{invoice.id}'")
            return rows if len(rows) == LINES else None

        rows = wait_for(items, WAIT, "the Order's 12 OrderItems")
        orders = soql_rows(sf, "SELECT Id, TotalAmount, Status, Account.StripeCustomerID__c, "
                               "Pricebook2.IsStandard FROM Order WHERE StripeInvoiceID__c = "
                               f"'{invoice.id}'")
        assert len(orders) == 1
        order = orders[0]
        assert order["Account"]["StripeCustomerID__c"] == customer
        assert order["Pricebook2"]["IsStandard"] is True and order["Status"] == "Draft"
        by_line = {r["StripeLineItemID__c"]: r for r in rows}
        assert sorted(by_line) == sorted(line.id for line in lines)
        for line in lines:
            row = by_line[line.id]
            assert row["OrderId"] == order["Id"]
            assert row["PricebookEntryId"] == entry_of[line.price.id]  # the right entry
            assert row["Quantity"] == line.quantity
            assert row["UnitPrice"] == line.amount / 100 / line.quantity
        assert order["TotalAmount"] == paid.amount_paid / 100
        with StateStore.open(state_url) as store:
            assert [(e.flow, e.error) for e in store.dlq_list()] == []
    finally:
        assert runner.stop() == 0


def test_a_voided_invoice_marks_its_order_and_keeps_its_items(
        sandbox, sf, invoices_bundle, state_url, tmp_path: Path) -> None:
    runner = RunnerProcess(invoices_bundle, sandbox.json_path, state_url, tmp_path).start()
    try:
        client = sandbox.stripe.client()
        customer = customer_with_card(client, "Voided Invoice Co", "void.e2e@example.com")
        ((price, _entry),) = priced(client, sf, "E2E void seat", 700)
        wait_for(lambda: soql_rows(sf, "SELECT Id FROM Account WHERE StripeCustomerID__c = "
                                       f"'{customer}'"), WAIT, "the customer's Account")
        invoice = client.v1.invoices.create(params={
            "customer": customer, "pending_invoice_items_behavior": "exclude"})
        client.v1.invoice_items.create(params={"customer": customer, "invoice": invoice.id,
                                               "price": price, "quantity": 2})
        client.v1.invoices.finalize_invoice(invoice.id)

        def order() -> dict | None:
            rows = soql_rows(sf, "SELECT Id, StripeDeletedAt__c, (SELECT Id FROM OrderItems) "
                                 f"FROM Order WHERE StripeInvoiceID__c = '{invoice.id}'")
            return rows[0] if rows else None

        written = wait_for(order, WAIT, "the open invoice's Order")
        assert written["StripeDeletedAt__c"] is None
        client.v1.invoices.void_invoice(invoice.id)
        marked = wait_for(lambda: (o := order()) and o["StripeDeletedAt__c"] and o, WAIT,
                          "the Order marked deleted")
        assert marked["Id"] == written["Id"]
        assert len(marked["OrderItems"]["records"]) == 1  # the items stay with it
        with StateStore.open(state_url) as store:
            assert [(e.flow, e.error) for e in store.dlq_list()] == []
    finally:
        assert runner.stop() == 0
