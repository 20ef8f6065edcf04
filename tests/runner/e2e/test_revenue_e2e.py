"""The revenue templates end to end (issue 14): Stripe SDK calls on the sandbox, signed
webhooks into ``fieldbridge-runner run``, records in the Salesforce emulator.

- a charge refunded twice in part becomes two ``Refund__c`` under its ``Payment__c``, and the
  payment's ``Amount_Refunded__c`` is their sum;
- products and prices reach ``Product2`` and the standard price book's ``PricebookEntry``,
  one per product and currency (``StripeProductCurrency__c``): a second price of a product
  in a currency that has its entry (monthly, then yearly USD) updates that entry, and an
  archived price leaves it active for the product's other prices; an archived product turns
  inactive.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mappings.templates.tools.revenue_fixtures import charge_with_refunds, refund
from runner.sandbox.stripe_events import deliver, make_event
from runner.state.store import StateStore
from tests.runner.e2e.helpers import (
    RunnerProcess,
    build_template_bundle,
    charge_counts,
    customer_with_card,
    soql_rows,
    wait_for,
)

pytestmark = pytest.mark.slow

# Generous: the machine is shared and the runner polls once a second.
WAIT = 90


@pytest.fixture(scope="module")
def refunds_bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "refunds.fbz"
    return build_template_bundle(out, ("charges-payments", "customer-account", "refunds"))


@pytest.fixture(scope="module")
def intents_bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "intents.fbz"
    return build_template_bundle(out, ("charges-payments", "payment-intents"))


@pytest.fixture(scope="module")
def subscriptions_bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "subscriptions.fbz"
    return build_template_bundle(out, ("customer-account", "products-prices", "subscriptions"))


@pytest.fixture(scope="module")
def prices_bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "prices.fbz"
    return build_template_bundle(out, ("products-prices",))


def _refunds(sf, charge: str) -> list[dict]:
    return soql_rows(sf, "SELECT StripeRefundID__c, Amount__c, Status__c, Payment__c "
                         f"FROM Refund__c WHERE StripeChargeID__c = '{charge}'")


def _payment(sf, charge: str) -> dict | None:
    rows = soql_rows(sf, "SELECT Id, Amount__c, Amount_Refunded__c, Status__c FROM Payment__c "
                         f"WHERE StripeChargeID__c = '{charge}'")
    return rows[0] if len(rows) == 1 else None


def test_two_partial_refunds_become_two_records_that_add_up(sandbox, sf, refunds_bundle,
                                                            state_url, tmp_path: Path) -> None:
    runner = RunnerProcess(refunds_bundle, sandbox.json_path, state_url, tmp_path).start()
    try:
        client = sandbox.stripe.client()
        customer = customer_with_card(client, "Refund Person", "refunds.e2e@example.com")
        charge = client.v1.charges.create(params={
            "amount": 10000, "currency": "usd", "customer": customer,
            "description": "e2e order with refunds"}).id
        wait_for(lambda: _payment(sf, charge), WAIT, "the charge's Payment__c")
        made = [client.v1.refunds.create(params={"charge": charge, "amount": amount,
                                                  "reason": "requested_by_customer"}).id
                for amount in (2500, 1500)]

        def settled() -> bool:
            payment = _payment(sf, charge)
            return (payment is not None and payment["Amount_Refunded__c"] == 40.0
                    and len(_refunds(sf, charge)) == 2)

        wait_for(settled, WAIT, "two Refund__c and the payment's refunded total")
        payment = _payment(sf, charge)
        refunds = _refunds(sf, charge)
        assert sorted(r["StripeRefundID__c"] for r in refunds) == sorted(made)
        assert sorted(r["Amount__c"] for r in refunds) == [15.0, 25.0]
        assert all(r["Payment__c"] == payment["Id"] for r in refunds)
        assert all(r["Status__c"] == "Succeeded" for r in refunds)
        assert payment["Amount_Refunded__c"] == sum(r["Amount__c"] for r in refunds)
        assert payment["Status__c"] == "Completed"  # partly refunded: the charge stands
        with StateStore.open(state_url) as store:
            assert [(e.flow, e.error) for e in store.dlq_list()] == []
    finally:
        assert runner.stop() == 0


def test_charge_refunded_alone_writes_the_payment_with_all_its_refunds(
        sandbox, sf, refunds_bundle, state_url, tmp_path: Path) -> None:
    """No refund.* event (lost, or not subscribed): the charge.refunded payload alone carries
    the refunds, and the payment and its refunds are written together."""
    charge = f"ch_e2eAlone{tmp_path.name[-8:].replace('_', '')}"
    refunds = [refund(91, 1200), refund(92, 800, status="pending")]
    for r in refunds:
        r["id"] = f"re_{charge[3:]}{r['id'][-2:]}"
        r["charge"] = charge
    event = make_event("charge.refunded", overrides={
        "id": charge, "description": "e2e refunded alone", "customer": None,
        **charge_with_refunds(5000, refunds)})
    runner = RunnerProcess(refunds_bundle, sandbox.json_path, state_url, tmp_path).start()
    try:
        assert deliver(runner.webhook_url, event, sandbox.stripe.webhook_secret) \
            .status_code == 200
        wait_for(lambda: len(_refunds(sf, charge)) == 2, WAIT, "the charge's two Refund__c")
        payment = _payment(sf, charge)
        rows = _refunds(sf, charge)
        assert payment is not None and payment["Amount_Refunded__c"] == 20.0
        assert sorted((r["Amount__c"], r["Status__c"]) for r in rows) == [
            (8.0, "Pending"), (12.0, "Succeeded")]
        assert all(r["Payment__c"] == payment["Id"] for r in rows)
        assert payment["Amount_Refunded__c"] == sum(r["Amount__c"] for r in rows)
    finally:
        assert runner.stop() == 0


def _entries(sf, product2_id: str) -> dict[str, dict]:
    """The product's entries by currency."""
    rows = soql_rows(sf, "SELECT Id, StripeProductCurrency__c, StripePriceID__c, UnitPrice, "
                         "CurrencyIsoCode, IsActive, Pricebook2.IsStandard FROM PricebookEntry "
                         f"WHERE Product2Id = '{product2_id}'")
    return {r["CurrencyIsoCode"]: r for r in rows}


def test_products_and_prices_reach_the_standard_price_book(sandbox, sf, prices_bundle,
                                                           state_url, tmp_path: Path) -> None:
    runner = RunnerProcess(prices_bundle, sandbox.json_path, state_url, tmp_path).start()
    try:
        client = sandbox.stripe.client()
        product = client.v1.products.create(params={
            "name": "Gold plan", "description": "Everything, with phone support"}).id
        usd = client.v1.prices.create(params={
            "product": product, "currency": "usd", "unit_amount": 2900,
            "recurring": {"interval": "month"}}).id
        eur = client.v1.prices.create(params={
            "product": product, "currency": "eur", "unit_amount": 2700,
            "recurring": {"interval": "month"}}).id

        def product_row() -> dict | None:
            rows = soql_rows(sf, "SELECT Id, Name, Description, IsActive FROM Product2 "
                                 f"WHERE StripeProductID__c = '{product}'")
            return rows[0] if rows else None

        row = wait_for(product_row, WAIT, "the Product2 of the Stripe product")
        assert (row["Name"], row["Description"], row["IsActive"]) == (
            "Gold plan", "Everything, with phone support", True)
        wait_for(lambda: len(_entries(sf, row["Id"])) == 2, WAIT, "an entry per currency")
        entries = _entries(sf, row["Id"])
        assert (entries["USD"]["StripeProductCurrency__c"], entries["USD"]["StripePriceID__c"],
                entries["USD"]["UnitPrice"]) == (f"{product}|USD", usd, 29.0)
        assert (entries["EUR"]["StripeProductCurrency__c"], entries["EUR"]["StripePriceID__c"],
                entries["EUR"]["UnitPrice"]) == (f"{product}|EUR", eur, 27.0)
        assert all(e["IsActive"] and e["Pricebook2"]["IsStandard"] for e in entries.values())

        # A yearly USD price: Salesforce keeps one standard entry per product and currency,
        # so it updates the USD entry (its price and UnitPrice), never a second one.
        yearly = client.v1.prices.create(params={
            "product": product, "currency": "usd", "unit_amount": 29000,
            "recurring": {"interval": "year"}}).id
        wait_for(lambda: _entries(sf, row["Id"])["USD"]["StripePriceID__c"] == yearly, WAIT,
                 "the USD entry to follow the yearly price")
        after = _entries(sf, row["Id"])
        assert len(after) == 2 and after["USD"]["Id"] == entries["USD"]["Id"]
        assert (after["USD"]["UnitPrice"], after["USD"]["IsActive"]) == (290.0, True)

        # Archiving the monthly USD price leaves the entry the yearly one uses; archiving
        # the product turns it inactive.
        client.v1.prices.update(usd, params={"active": False})
        client.v1.products.update(product, params={"active": False})
        wait_for(lambda: product_row()["IsActive"] is False, WAIT, "the product inactive")
        assert _entries(sf, row["Id"]) == after
        with StateStore.open(state_url) as store:
            mine = {product, usd, eur, yearly}
            assert [(e.flow, e.error) for e in store.dlq_list() if e.source_id in mine] == []
    finally:
        assert runner.stop() == 0


def test_payment_intents_update_the_payment_and_close_the_opportunity(
        sandbox, sf, intents_bundle, state_url, tmp_path: Path) -> None:
    account = sf.Account.create({"Name": "Intent Buyer"})["id"]
    opportunity = sf.Opportunity.create({"Name": "Intent deal", "AccountId": account,
                                         "StageName": "Negotiation/Review",
                                         "CloseDate": "2026-12-31"})["id"]
    runner = RunnerProcess(intents_bundle, sandbox.json_path, state_url, tmp_path).start()
    try:
        client = sandbox.stripe.client()
        customer = customer_with_card(client, "Intent Person", "intents.e2e@example.com")
        card = client.v1.customers.retrieve(customer).invoice_settings.default_payment_method
        paid = client.v1.payment_intents.create(params={
            "amount": 4200, "currency": "usd", "customer": customer, "payment_method": card,
            "confirm": True, "metadata": {"opportunity_id": opportunity}})
        assert paid.status == "succeeded"
        charge = paid.latest_charge if isinstance(paid.latest_charge, str) else \
            paid.latest_charge.id

        def payment() -> dict | None:
            rows = soql_rows(sf, "SELECT StripePaymentIntentID__c, Status__c, Amount__c "
                                 f"FROM Payment__c WHERE StripeChargeID__c = '{charge}'")
            return rows[0] if rows and rows[0]["StripePaymentIntentID__c"] else None

        row = wait_for(payment, WAIT, "the payment intent on its charge's Payment__c")
        assert (row["StripePaymentIntentID__c"], row["Status__c"], row["Amount__c"]) == (
            paid.id, "Completed", 42.0)

        def stage() -> str:
            return soql_rows(sf, "SELECT StageName FROM Opportunity "
                                 f"WHERE Id = '{opportunity}'")[0]["StageName"]

        wait_for(lambda: stage() == "Closed Won", WAIT, "the named Opportunity Closed Won")
        # The charge events and the PaymentIntent's write one Payment__c, keyed by the charge.
        assert charge_counts(sf, [charge]) == {charge: 1}
        with StateStore.open(state_url) as store:
            assert [(e.flow, e.error) for e in store.dlq_list()] == []
    finally:
        assert runner.stop() == 0


def test_a_subscription_becomes_a_contract_with_a_line_per_item(
        sandbox, sf, subscriptions_bundle, state_url, tmp_path: Path) -> None:
    runner = RunnerProcess(subscriptions_bundle, sandbox.json_path, state_url,
                           tmp_path).start()
    try:
        client = sandbox.stripe.client()
        customer = customer_with_card(client, "Contract Person", "contract.e2e@example.com")
        # A product per price: the standard price book holds one USD entry per product.
        products = [client.v1.products.create(params={"name": name}).id
                    for name in ("Seats", "Support")]
        prices = [client.v1.prices.create(params={
            "product": product, "currency": "usd", "unit_amount": amount,
            "recurring": {"interval": "month"}}).id
            for product, amount in zip(products, (1000, 2500), strict=True)]
        sub = client.v1.subscriptions.create(params={"customer": customer, "items": [
            {"price": prices[0], "quantity": 3}, {"price": prices[1]}]})
        items = {i.id: i for i in sub["items"].data}

        def lines() -> list[dict]:
            return soql_rows(sf, "SELECT StripeSubscriptionItemID__c, StripePriceID__c, "
                                 "Quantity__c, Unit_Amount__c, Currency__c, Interval__c, "
                                 "Subscription_Contract__r.StripeSubscriptionID__c, "
                                 "Product__r.StripeProductID__c FROM Subscription_Line_Item__c "
                                 f"WHERE Subscription_Contract__r.StripeSubscriptionID__c = "
                                 f"'{sub.id}'")

        wait_for(lambda: len(lines()) == 2, WAIT, "the contract's two line items")
        got = {r["StripeSubscriptionItemID__c"]: r for r in lines()}
        assert set(got) == set(items)
        by_price = {r["StripePriceID__c"]: r for r in got.values()}
        assert (by_price[prices[0]]["Quantity__c"], by_price[prices[0]]["Unit_Amount__c"]) == (
            3, 10.0)
        assert (by_price[prices[1]]["Quantity__c"], by_price[prices[1]]["Unit_Amount__c"]) == (
            1, 25.0)
        assert all(r["Currency__c"] == "USD" and r["Interval__c"] == "month"
                   for r in got.values())
        # The line's product resolved when the product arrived first (same batch or before).
        linked = [r["Product__r"] for r in got.values() if r["Product__r"]]
        assert all(p["StripeProductID__c"] in products for p in linked)
        # Catch-up also replays the sandbox's earlier events (other tests' prices): only
        # this test's objects are asked about.
        mine = {*products, *prices, sub.id, customer}
        with StateStore.open(state_url) as store:
            assert [(e.flow, e.error) for e in store.dlq_list() if e.source_id in mine] == []
    finally:
        assert runner.stop() == 0


def test_a_product_deleted_in_stripe_marks_its_product2(sandbox, sf, prices_bundle, state_url,
                                                        tmp_path: Path) -> None:
    runner = RunnerProcess(prices_bundle, sandbox.json_path, state_url, tmp_path).start()
    try:
        client = sandbox.stripe.client()
        product = client.v1.products.create(params={"name": "Retired gadget"}).id

        def row() -> dict | None:
            rows = soql_rows(sf, "SELECT Id, StripeDeletedAt__c FROM Product2 "
                                 f"WHERE StripeProductID__c = '{product}'")
            return rows[0] if rows else None

        wait_for(row, WAIT, "the Product2")
        client.v1.products.delete(product)
        marked = wait_for(lambda: (r := row()) and r["StripeDeletedAt__c"], WAIT,
                          "StripeDeletedAt__c on the Product2")
        assert str(marked).startswith("20")  # a datetime; the record is kept (mark)
    finally:
        assert runner.stop() == 0
