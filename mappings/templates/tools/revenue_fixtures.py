"""Write the fixtures of the revenue templates: products-prices, product2-to-stripe-product,
refunds, payment-intents and the subscription line items of subscriptions.

Inputs are Stripe's published examples (``mappings/data/stripe/fixtures3.json``: ``product``,
``price``, ``charge``, ``refund``, ``payment_intent``, ``subscription_item``) with a few
fields set per case: a charge with two partial refunds, a refund of each status, a
PaymentIntent of each status, products and prices active and archived. Expected records are
written by hand from the Salesforce schema, never computed by the engine. ``charge_with_refunds``
is also what the end-to-end tests compare against.

Run from the repository root after changing a template's fields:
``python -m mappings.templates.tools.revenue_fixtures``. Not needed at run time.
"""

from __future__ import annotations

import copy
from typing import Any

from mappings.document.model import Fixture
from mappings.document.yamlio import load_document, save_document
from mappings.templates.tools.write_fixtures import (
    ACCOUNT_ID,
    CUSTOMER,
    EXAMPLES,
    OPPORTUNITY_ID,
    ROOT,
    TEMPLATES,
)

STANDARD_BOOK = "01s000000000001AAA"
PRODUCT2_ID = "01t000000000001AAA"
PAYMENT_ID = "a0A000000000001AAA"
PRODUCT = EXAMPLES["product"]["id"]  # prod_QXg1hqf4jFNsqG
PRICE = EXAMPLES["price"]["id"]
CHARGE = EXAMPLES["charge"]["id"]  # ch_1PgafuB7WZ01zgkWXYmPNZs8
PI = EXAMPLES["payment_intent"]["id"]
JAN_2026 = 1767225600


def stripe(obj: str, **overrides: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLES[obj])
    data.update(overrides)
    return data


def event(event_type: str, obj: str, n: int, **overrides: Any) -> dict[str, Any]:
    return {
        "id": f"evt_fixture_{obj}_{n}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": JAN_2026,
        "livemode": False,
        "type": event_type,
        "data": {"object": stripe(obj, **overrides)},
    }


def refund(n: int, amount: int, status: str = "succeeded", **overrides: Any) -> dict[str, Any]:
    """Stripe's refund example as refund ``n`` of the example charge."""
    return stripe("refund", id=f"re_1Pgc72B7WZ01zgkW{n:08d}", amount=amount, status=status,
                  charge=CHARGE, created=JAN_2026 + n, **overrides)


def charge_with_refunds(amount: int, refunds: list[dict[str, Any]],
                        currency: str = "usd") -> dict[str, Any]:
    """The example charge after ``refunds``: amount_refunded is the sum of those that took
    money back (pending or succeeded), as Stripe counts it."""
    taken = sum(r["amount"] for r in refunds if r["status"] in ("pending", "succeeded"))
    return {
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": taken,
        "refunded": taken == amount,
        "currency": currency,
        "customer": CUSTOMER,
        "refunds": {"object": "list", "data": refunds, "has_more": False,
                    "url": f"/v1/charges/{CHARGE}/refunds"},
    }


TWO_PARTIAL = [refund(1, 2500, reason="requested_by_customer"), refund(2, 1500)]
_STATUS_WORDS = {"pending": "Pending", "requires_action": "Requires Action",
                 "succeeded": "Succeeded", "failed": "Failed", "canceled": "Canceled"}


def _refund_expected(r: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The Refund__c of USD refund ``r`` (created a few seconds into 2026)."""
    return {
        "StripeRefundID__c": r["id"],
        "Name": r["id"],
        "Amount__c": r["amount"] / 100,
        "Currency__c": "USD",
        "Status__c": _STATUS_WORDS[r["status"]],
        "Reason__c": r.get("reason"),
        "StripeChargeID__c": CHARGE,
        "Refunded_At__c": f"2026-01-01T00:00:{r['created'] - JAN_2026:02d}.000+0000",
        **extra,
    }


def _refund_events() -> list[Fixture]:
    cases = [
        ("refund.created", "succeeded", "requested_by_customer"),
        ("refund.created", "pending", None),
        ("charge.refund.updated", "requires_action", None),
        ("refund.updated", "failed", "duplicate"),
        ("refund.updated", "canceled", "fraudulent"),
    ]
    out = []
    for n, (event_type, status, reason) in enumerate(cases, start=1):
        r = refund(10 + n, 500 * n, status, reason=reason)
        ev = event(event_type, "refund", n)
        ev["data"]["object"] = r
        out.append(Fixture(
            name=f"{status} refund ({event_type}) under its Payment",
            input=ev,
            lookups={f"Payment__c.StripeChargeID__c={CHARGE}": PAYMENT_ID},
            expected=_refund_expected(r, Payment__c=PAYMENT_ID),
        ))
    return out


def _refund_children() -> list[Fixture]:
    out = []
    for n, status in enumerate(_STATUS_WORDS, start=1):
        r = refund(20 + n, 300 * n, status)
        out.append(Fixture(name=f"{status} refund of the charge", input=r,
                           expected=_refund_expected(r)))
    return out


def _charge_refunded() -> list[Fixture]:
    partial = event("charge.refunded", "charge", 1, description="Order 1042",
                    **charge_with_refunds(10000, TWO_PARTIAL))
    full_refunds = [refund(3, 1999)]
    full = event("charge.refunded", "charge", 2, description=None,
                 **charge_with_refunds(1999, full_refunds))
    return [
        Fixture(
            name="two partial refunds: Amount_Refunded__c is their sum, status unchanged",
            input=partial,
            expected={"StripeChargeID__c": CHARGE, "Name": "Order 1042", "Amount__c": 100,
                      "Amount_Refunded__c": 40, "Currency__c": "USD",
                      "Status__c": "Completed"},
        ),
        Fixture(
            name="a full refund reads Refunded",
            input=full,
            expected={"StripeChargeID__c": CHARGE, "Name": CHARGE, "Amount__c": 19.99,
                      "Amount_Refunded__c": 19.99, "Currency__c": "USD",
                      "Status__c": "Refunded"},
        ),
    ]


def _pi(n: int, event_type: str, status: str, **overrides: Any) -> dict[str, Any]:
    base = {"status": status, "customer": CUSTOMER, "latest_charge": CHARGE,
            "last_payment_error": None, "description": "Order 1042", "amount_received": 0}
    base.update(overrides)
    return event(event_type, "payment_intent", n, **base)


def _payment(status: str, **extra: Any) -> dict[str, Any]:
    return {"StripeChargeID__c": CHARGE, "StripePaymentIntentID__c": PI, "Name": "Order 1042",
            "Amount__c": 10.99, "Currency__c": "USD", "Status__c": status,
            "Failure_Message__c": None, "StripeCustomerID__c": CUSTOMER, "Livemode__c": False,
            "Account__c": ACCOUNT_ID, **extra}


ACCOUNT_LOOKUP = {f"Account.StripeCustomerID__c={CUSTOMER}": ACCOUNT_ID}


def _payment_intents() -> list[Fixture]:
    declined = {"type": "card_error", "code": "card_declined",
                "message": "Your card was declined."}
    return [
        Fixture(name="succeeded payment completes its Payment",
                input=_pi(1, "payment_intent.succeeded", "succeeded", amount_received=1099),
                lookups=ACCOUNT_LOOKUP, expected=_payment("Completed")),
        Fixture(name="failed payment (waiting for a new method) reads Failed with the reason",
                input=_pi(2, "payment_intent.payment_failed", "requires_payment_method",
                          last_payment_error=declined),
                lookups=ACCOUNT_LOOKUP,
                expected=_payment("Failed", Failure_Message__c="Your card was declined.")),
        Fixture(name="payment waiting for 3-D Secure reads Requires Action",
                input=_pi(3, "payment_intent.requires_action", "requires_action"),
                lookups=ACCOUNT_LOOKUP, expected=_payment("Requires Action")),
        Fixture(name="canceled after a charge attempt reads Canceled (expanded latest_charge)",
                input=_pi(4, "payment_intent.canceled", "canceled", description=None,
                          latest_charge={"id": CHARGE, "object": "charge"},
                          cancellation_reason="abandoned"),
                lookups=ACCOUNT_LOOKUP, expected=_payment("Canceled", Name=CHARGE)),
        Fixture(name="API before 2022-11-15: the charge listed under charges",
                input=_pi(6, "payment_intent.succeeded", "succeeded", latest_charge=None,
                          charges={"object": "list", "data": [stripe("charge")],
                                   "has_more": False,
                                   "url": f"/v1/charges?payment_intent={PI}"}),
                lookups=ACCOUNT_LOOKUP, expected=_payment("Completed")),
        Fixture(name="canceled before any charge: no Payment to update",
                input=_pi(5, "payment_intent.canceled", "canceled", latest_charge=None),
                expect_skip=True),
    ]


def _opportunities() -> list[Fixture]:
    return [
        Fixture(name="succeeded payment names its Opportunity: Closed Won",
                input=_pi(1, "payment_intent.succeeded", "succeeded",
                          metadata={"opportunity_id": OPPORTUNITY_ID}),
                expected={"Id": OPPORTUNITY_ID, "StageName": "Closed Won"}),
        Fixture(name="the Opportunity named by salesforce_opportunity_id, not the Account",
                input=_pi(2, "payment_intent.succeeded", "succeeded",
                          metadata={"salesforce_id": ACCOUNT_ID,
                                    "salesforce_opportunity_id": OPPORTUNITY_ID}),
                expected={"Id": OPPORTUNITY_ID, "StageName": "Closed Won"}),
        Fixture(name="a salesforce_id that is an Account is not an Opportunity",
                input=_pi(3, "payment_intent.succeeded", "succeeded",
                          metadata={"salesforce_id": ACCOUNT_ID}),
                expect_skip=True),
        Fixture(name="a payment without metadata leaves Opportunities alone",
                input=_pi(4, "payment_intent.succeeded", "succeeded"), expect_skip=True),
    ]


def _products() -> list[Fixture]:
    return [
        Fixture(name="active product becomes an active Product2",
                input=event("product.created", "product", 1),
                expected={"StripeProductID__c": PRODUCT, "Name": "T-shirt",
                          "Description": "Comfortable gray cotton t-shirt", "IsActive": True}),
        Fixture(name="archived product becomes inactive",
                input=event("product.updated", "product", 2, active=False, description=None),
                expected={"StripeProductID__c": PRODUCT, "Name": "T-shirt",
                          "Description": None, "IsActive": False}),
    ]


PRICE_LOOKUPS = {"Pricebook2.IsStandard=True": STANDARD_BOOK,
                 f"Product2.StripeProductID__c={PRODUCT}": PRODUCT2_ID}


def _entry(price_id: str, unit: float, currency: str) -> dict[str, Any]:
    """The standard entry of the example product in ``currency``, last set by ``price_id``."""
    return {"StripeProductCurrency__c": f"{PRODUCT}|{currency}", "StripePriceID__c": price_id,
            "UnitPrice": unit, "CurrencyIsoCode": currency, "IsActive": True,
            "Pricebook2Id": STANDARD_BOOK, "Product2Id": PRODUCT2_ID}


YEARLY_USD = "price_1PgafmB7WZ01zgkWYear0001"


def _prices() -> list[Fixture]:
    return [
        Fixture(name="monthly USD price becomes the product's USD standard price book entry",
                input=event("price.created", "price", 1), lookups=PRICE_LOOKUPS,
                expected=_entry(PRICE, 20, "USD")),
        Fixture(name="yearly USD price of the same product updates that same USD entry",
                input=event("price.created", "price", 6, id=YEARLY_USD, unit_amount=20000,
                            unit_amount_decimal="20000",
                            recurring={**EXAMPLES["price"]["recurring"], "interval": "year"}),
                lookups=PRICE_LOOKUPS, expected=_entry(YEARLY_USD, 200, "USD")),
        Fixture(name="one-off EUR price of the same product: its own entry (one per currency)",
                input=event("price.created", "price", 2, id="price_1PgafmB7WZ01zgkWEur00001",
                            currency="eur", unit_amount=1850, recurring=None,
                            type="one_time"),
                lookups=PRICE_LOOKUPS, expected=_entry("price_1PgafmB7WZ01zgkWEur00001", 18.5,
                                                       "EUR")),
        Fixture(name="JPY price (zero-decimal currency)",
                input=event("price.created", "price", 3, id="price_1PgafmB7WZ01zgkWJpy00001",
                            currency="jpy", unit_amount=2000),
                lookups=PRICE_LOOKUPS, expected=_entry("price_1PgafmB7WZ01zgkWJpy00001", 2000,
                                                       "JPY")),
        Fixture(name="archived price leaves the entry its product's other prices share",
                input=event("price.updated", "price", 5, active=False), lookups=PRICE_LOOKUPS,
                expect_skip=True),
        Fixture(name="a deleted price marks its product's entry in its currency, archived or not",
                input=event("price.deleted", "price", 7, active=False),
                expected={"StripeProductCurrency__c": f"{PRODUCT}|USD",
                          "StripeDeletedAt__c": "2026-01-01T00:00:00.000+0000"}),
        Fixture(name="tiered price has no single unit price: no entry",
                input=event("price.created", "price", 4, billing_scheme="tiered",
                            unit_amount=None, unit_amount_decimal=None, tiers_mode="graduated"),
                expect_skip=True),
    ]


def _product2_to_stripe() -> list[Fixture]:
    record = {
        "attributes": {"type": "Product2",
                       "url": f"/services/data/v62.0/sobjects/Product2/{PRODUCT2_ID}"},
        "Id": PRODUCT2_ID, "Name": "Gold support", "Description": "24/7 phone support",
        "IsActive": True, "StripeProductID__c": None,
    }
    return [
        Fixture(name="active Product becomes a Stripe product carrying its Salesforce Id",
                input=record,
                expected={"name": "Gold support", "description": "24/7 phone support",
                          "active": True, "metadata": {"salesforceid": PRODUCT2_ID}}),
        Fixture(name="inactive linked Product archives its Stripe product",
                input={**record, "IsActive": False, "Description": None,
                       "StripeProductID__c": PRODUCT},
                expected={"name": "Gold support", "description": None, "active": False,
                          "metadata": {"salesforceid": PRODUCT2_ID}}),
    ]


def _subscription_items() -> list[Fixture]:
    item = stripe("subscription_item")
    yearly = copy.deepcopy(item)
    yearly["id"] = "si_QXhVyearly0001"
    yearly["quantity"] = 12
    yearly["price"].update(id="price_1PgafmB7WZ01zgkWYear0001", nickname="Gold yearly",
                           currency="eur", unit_amount=19900,
                           recurring={**yearly["price"]["recurring"], "interval": "year"})
    return [
        Fixture(name="monthly item of a known product",
                input=item,
                lookups={f"Product2.StripeProductID__c={PRODUCT}": PRODUCT2_ID},
                expected={"StripeSubscriptionItemID__c": "si_QXhVBoJ7NQdNXh",
                          "Name": PRICE, "StripePriceID__c": PRICE,
                          "StripeProductID__c": PRODUCT, "Quantity__c": 1,
                          "Unit_Amount__c": 20, "Currency__c": "USD", "Interval__c": "month",
                          "Product__c": PRODUCT2_ID}),
        Fixture(name="yearly EUR item named by its price nickname, product not synced",
                input=yearly,
                expected={"StripeSubscriptionItemID__c": "si_QXhVyearly0001",
                          "Name": "Gold yearly",
                          "StripePriceID__c": "price_1PgafmB7WZ01zgkWYear0001",
                          "StripeProductID__c": PRODUCT, "Quantity__c": 12,
                          "Unit_Amount__c": 199, "Currency__c": "EUR", "Interval__c": "year",
                          "Product__r": {"StripeProductID__c": PRODUCT}}),
    ]


FLOW_FIXTURES = {
    ("products-prices", "product-to-product2"): _products,
    ("products-prices", "price-to-pricebook-entry"): _prices,
    ("product2-to-stripe-product", "product2-to-product"): _product2_to_stripe,
    ("refunds", "charge-refunds-to-payment"): _charge_refunded,
    ("refunds", "refund-to-record"): _refund_events,
    ("payment-intents", "payment-intent-to-payment"): _payment_intents,
    ("payment-intents", "payment-intent-to-opportunity"): _opportunities,
}
CHILD_FIXTURES = {
    ("refunds", "charge-refunds-to-payment", "Refunds__r"): _refund_children,
    ("subscriptions", "subscription-to-contract", "Subscription_Line_Items__r"):
        _subscription_items,
}
FILES = ("products-prices", "product2-to-stripe-product", "refunds", "payment-intents",
         "subscriptions")


def main() -> None:
    for name in FILES:
        path = TEMPLATES / f"{name}.yaml"
        doc = load_document(path)
        for flow in doc.flows:
            make = FLOW_FIXTURES.get((doc.name, flow.name))
            if make is not None:
                flow.fixtures = make()
            for child in flow.children:
                make = CHILD_FIXTURES.get((doc.name, flow.name, child.relationship))
                if make is not None:
                    child.fixtures = make()
        save_document(doc, path)
        print(f"wrote fixtures into {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
