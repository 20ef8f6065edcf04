"""Write the templates' fixtures: real Stripe object shapes in, hand-written records out.

The inputs are the example objects of ``mappings/data/stripe/fixtures3.json`` (Stripe's own
published examples, current API shape) with a few fields overridden per case, wrapped in an
event envelope. The expected records below are written by hand from the Salesforce schema,
never computed by the engine: they are what a person checking the mapping expects.

Run from the repository root after changing a template's fields:
``python mappings/templates/tools/write_fixtures.py``. Not needed at run time.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from mappings.document.model import Fixture
from mappings.document.yamlio import load_document, save_document

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "mappings" / "templates"
EXAMPLES = json.loads((ROOT / "mappings/data/stripe/fixtures3.json").read_text())["resources"]

CUSTOMER = "cus_QXg1o8vcGmoR32"
ACCOUNT_ID = "001000000000001AAA"
T_1234567890 = "2009-02-13T23:31:30.000+0000"
D_1234567890 = "2009-02-13"


def event(event_type: str, obj: str, n: int, **overrides: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLES[obj])
    data.update(overrides)
    return {
        "id": f"evt_fixture_{obj.replace('.', '_')}_{n}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": 1767225600,
        "livemode": False,
        "type": event_type,
        "data": {"object": data},
    }


CHARGE = EXAMPLES["charge"]
SUBSCRIPTION = EXAMPLES["subscription"]
INVOICE = EXAMPLES["invoice"]
OPPORTUNITY_ID = "006000000000001AAA"
JENNY = {
    "name": "Jenny Rosen",
    "email": "jenny.rosen@example.com",
    "phone": "+1 415 555 0100",
    "address": {"city": "San Francisco", "country": "US", "line1": "510 Townsend St",
                "line2": "Floor 2", "postal_code": "94103", "state": "CA"},
}
OPPORTUNITY = {
    "attributes": {"type": "Opportunity", "url": f"/services/data/v62.0/sobjects/Opportunity/{OPPORTUNITY_ID}"},
    "Id": OPPORTUNITY_ID,
    "Name": "Acme - 200 seats",
    "AccountId": ACCOUNT_ID,
    "Account": {"attributes": {"type": "Account"}, "Name": "Acme Corp"},
    "StageName": "Closed Won",
    "Amount": 58800.0,
    "TotalOpportunityQuantity": 200,
    "StripeCustomerID__c": None,
    "StripeSubscriptionID__c": None,
    "StripePriceID__c": "price_1PgafmB7WZ01zgkW6dKueIc5",
}
CHARGE_COMMON = {
    "StripeChargeID__c": CHARGE["id"],
    "Name": CHARGE["description"],
    "Description__c": CHARGE["description"],
    "Payment_Method_Type__c": "card",
    "Card_Brand__c": "visa",
    "Card_Last4__c": "4242",
    "StripeBalanceTransactionID__c": "txn_1PgaxNB7WZ01zgkWEV3TLf40",
    "Livemode__c": False,
    "Receipt_URL__c": CHARGE["receipt_url"],
    "Paid_At__c": T_1234567890,
}

FIXTURES: dict[tuple[str, str], list[Fixture]] = {
    ("charges-payments", "charge-to-payment"): [
        Fixture(
            name="succeeded USD charge of a known customer",
            input=event(
                "charge.succeeded", "charge", 1, amount=1999, customer=CUSTOMER,
                receipt_email="jenny.rosen@example.com",
            ),
            lookups={f"Account.StripeCustomerID__c={CUSTOMER}": ACCOUNT_ID},
            expected={
                **CHARGE_COMMON,
                "Amount__c": 19.99,
                "Amount_Refunded__c": 0,
                "Currency__c": "USD",
                "Status__c": "Completed",
                "Receipt_Email__c": "jenny.rosen@example.com",
                "Failure_Message__c": None,
                "StripeCustomerID__c": CUSTOMER,
                "Account__c": ACCOUNT_ID,
            },
        ),
        Fixture(
            name="failed JPY charge without a customer (zero-decimal currency)",
            input=event(
                "charge.failed", "charge", 2, amount=5000, currency="jpy", status="failed",
                paid=False, failure_message="Your card was declined.",
            ),
            expected={
                **CHARGE_COMMON,
                "Amount__c": 5000,
                "Amount_Refunded__c": 0,
                "Currency__c": "JPY",
                "Status__c": "Failed",
                "Receipt_Email__c": None,
                "Failure_Message__c": "Your card was declined.",
                "StripeCustomerID__c": None,
            },
        ),
        Fixture(
            name="refunded KWD charge, account linked by external id (three-decimal currency)",
            input=event(
                "charge.refunded", "charge", 3, amount=12345, amount_refunded=12345,
                currency="kwd", refunded=True, customer=CUSTOMER,
            ),
            expected={
                **CHARGE_COMMON,
                "Amount__c": 12.345,
                "Amount_Refunded__c": 12.345,
                "Currency__c": "KWD",
                "Status__c": "Refunded",
                "Receipt_Email__c": None,
                "Failure_Message__c": None,
                "StripeCustomerID__c": CUSTOMER,
                "Account__r": {"StripeCustomerID__c": CUSTOMER},
            },
        ),
    ],
    ("customer-account", "customer-to-account"): [
        Fixture(
            name="customer with name, phone and billing address",
            input=event("customer.created", "customer", 1, **JENNY),
            expected={
                "StripeCustomerID__c": CUSTOMER,
                "Name": "Jenny Rosen",
                "Phone": "+1 415 555 0100",
                "Description": None,
                "BillingStreet": "510 Townsend St\nFloor 2",
                "BillingCity": "San Francisco",
                "BillingState": "CA",
                "BillingPostalCode": "94103",
                "BillingCountry": "US",
                "ShippingStreet": None,
                "ShippingCity": None,
                "ShippingPostalCode": None,
                "ShippingCountry": None,
            },
        ),
        Fixture(
            name="customer with only an email is named after it",
            input=event("customer.updated", "customer", 2, email="ops@example.com"),
            expected={
                "StripeCustomerID__c": CUSTOMER,
                "Name": "ops@example.com",
                "Phone": None,
                "Description": None,
                "BillingStreet": None,
                "BillingCity": None,
                "BillingState": None,
                "BillingPostalCode": None,
                "BillingCountry": None,
                "ShippingStreet": None,
                "ShippingCity": None,
                "ShippingPostalCode": None,
                "ShippingCountry": None,
            },
        ),
        # customer.deleted: the flow's on_delete (mark) updates the Account with the
        # customer's last state and stamps it with the event's time.
        Fixture(
            name="deleted customer marks its Account deleted",
            input=event("customer.deleted", "customer", 5, **JENNY),
            expected={
                "StripeCustomerID__c": CUSTOMER,
                "Name": "Jenny Rosen",
                "Phone": "+1 415 555 0100",
                "Description": None,
                "BillingStreet": "510 Townsend St\nFloor 2",
                "BillingCity": "San Francisco",
                "BillingState": "CA",
                "BillingPostalCode": "94103",
                "BillingCountry": "US",
                "ShippingStreet": None,
                "ShippingCity": None,
                "ShippingPostalCode": None,
                "ShippingCountry": None,
                "StripeDeletedAt__c": "2026-01-01T00:00:00.000+0000",
            },
        ),
    ],
    ("customer-account", "customer-to-contact"): [
        Fixture(
            name="customer becomes the Account's contact",
            input=event("customer.created", "customer", 3, **JENNY),
            lookups={f"Account.StripeCustomerID__c={CUSTOMER}": ACCOUNT_ID},
            expected={
                "StripeCustomerID__c": CUSTOMER,
                "FirstName": "Jenny",
                "LastName": "Rosen",
                "Email": "jenny.rosen@example.com",
                "Phone": "+1 415 555 0100",
                "MailingStreet": "510 Townsend St\nFloor 2",
                "MailingCity": "San Francisco",
                "MailingPostalCode": "94103",
                "MailingCountry": "US",
                "AccountId": ACCOUNT_ID,
            },
        ),
        Fixture(
            name="customer without an email makes no contact",
            input=event("customer.created", "customer", 4, name="No Email Ltd"),
            expect_skip=True,
        ),
    ],
    ("subscriptions", "subscription-to-contract"): [
        Fixture(
            name="active subscription (current API shape: price, period on the item)",
            input=event("customer.subscription.created", "subscription", 1),
            lookups={f"Account.StripeCustomerID__c={CUSTOMER}": ACCOUNT_ID},
            expected={
                "StripeSubscriptionID__c": SUBSCRIPTION["id"],
                "Name": SUBSCRIPTION["id"],
                "Status__c": "Active",
                "Start_Date__c": D_1234567890,
                "Current_Period_Start__c": "2030-02-06",
                "Current_Period_End__c": "2000-12-08",
                "Canceled_At__c": T_1234567890,
                "Cancel_At_Period_End__c": True,
                "StripePriceID__c": "price_1PgafmB7WZ01zgkW6dKueIc5",
                "Amount__c": 20,
                "Currency__c": "USD",
                "Interval__c": "month",
                "Quantity__c": 1,
                "StripeCustomerID__c": CUSTOMER,
                "Account__c": ACCOUNT_ID,
            },
        ),
        Fixture(
            name="past-due subscription in the 2017 API shape (plan, period on the subscription)",
            input=event(
                "customer.subscription.updated", "subscription", 2,
                status="past_due", cancel_at_period_end=False, canceled_at=None,
                current_period_start=1767225600, current_period_end=1769904000,
                items={"object": "list", "data": [{
                    "id": "si_old", "object": "subscription_item", "quantity": 3,
                    "plan": {"id": "gold", "object": "plan", "amount": 4900, "currency": "eur",
                             "interval": "year", "nickname": "Gold yearly"},
                }]},
                currency="eur",
            ),
            expected={
                "StripeSubscriptionID__c": SUBSCRIPTION["id"],
                "Name": "Gold yearly",
                "Status__c": "Past Due",
                "Start_Date__c": D_1234567890,
                "Current_Period_Start__c": "2026-01-01",
                "Current_Period_End__c": "2026-02-01",
                "Canceled_At__c": None,
                "Cancel_At_Period_End__c": False,
                "StripePriceID__c": "gold",
                "Amount__c": 49,
                "Currency__c": "EUR",
                "Interval__c": "year",
                "Quantity__c": 3,
                "StripeCustomerID__c": CUSTOMER,
                "Account__r": {"StripeCustomerID__c": CUSTOMER},
            },
        ),
        Fixture(
            name="subscription without a top-level currency (Stripe sandbox shape) reads the plan's",
            input=event(
                "customer.subscription.created", "subscription", 3,
                currency=None, current_period_start=1767225600, current_period_end=1769904000,
                items={"object": "list", "data": [{
                    "id": "si_sandbox", "object": "subscription_item", "quantity": 1,
                    "plan": {"id": "pro", "object": "plan", "amount": 1500, "currency": "usd",
                             "interval": "month", "nickname": None},
                }]},
            ),
            expected={
                "StripeSubscriptionID__c": SUBSCRIPTION["id"],
                "Name": SUBSCRIPTION["id"],
                "Status__c": "Active",
                "Start_Date__c": D_1234567890,
                "Current_Period_Start__c": "2026-01-01",
                "Current_Period_End__c": "2026-02-01",
                "Canceled_At__c": T_1234567890,
                "Cancel_At_Period_End__c": True,
                "StripePriceID__c": "pro",
                "Amount__c": 15,
                "Currency__c": "USD",
                "Interval__c": "month",
                "Quantity__c": 1,
                "StripeCustomerID__c": CUSTOMER,
                "Account__r": {"StripeCustomerID__c": CUSTOMER},
            },
        ),
    ],
    ("subscriptions", "invoice-to-order"): [
        Fixture(
            name="paid invoice becomes a draft Order on the customer's Account",
            input=event(
                "invoice.payment_succeeded", "invoice", 1, number="7FE1103-0001",
                status="paid", amount_paid=4900,
                status_transitions={"finalized_at": 1767225000, "marked_uncollectible_at": None,
                                    "paid_at": 1767225600, "voided_at": None},
            ),
            lookups={f"Account.StripeCustomerID__c={CUSTOMER}": ACCOUNT_ID},
            expected={
                "StripeInvoiceID__c": INVOICE["id"],
                "EffectiveDate": "2026-01-01",
                "Description": "7FE1103-0001",
                "AccountId": ACCOUNT_ID,
                "Status": "Draft",
            },
        ),
        Fixture(
            name="an invoice whose customer has no Account is reported, not guessed",
            input=event("invoice.payment_succeeded", "invoice", 2, customer="cus_unknown"),
            lookups={f"Account.StripeCustomerID__c={CUSTOMER}": ACCOUNT_ID},
            expected={
                "StripeInvoiceID__c": INVOICE["id"],
                "EffectiveDate": D_1234567890,
                "Description": None,
                "Status": "Draft",
            },
            expected_issues=["LOOKUP_UNRESOLVED"],
        ),
    ],
    ("subscriptions", "invoice-paid-to-contract"): [
        Fixture(
            name="paid invoice stamps the subscription contract",
            input=event(
                "invoice.payment_succeeded", "invoice", 3, amount_paid=4900,
                parent={"type": "subscription_details", "quote_details": None,
                        "subscription_details": {"metadata": {}, "subscription": "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"}},
                status_transitions={"finalized_at": None, "marked_uncollectible_at": None,
                                    "paid_at": 1767225600, "voided_at": None},
            ),
            expected={
                "StripeSubscriptionID__c": "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw",
                "Last_Payment_Date__c": "2026-01-01T00:00:00.000+0000",
                "Last_Invoice_Amount__c": 49,
            },
        ),
        Fixture(
            name="a one-off invoice (no subscription) is skipped",
            input=event("invoice.payment_succeeded", "invoice", 4, parent=None),
            expect_skip=True,
        ),
    ],
    ("disputes-fraud-cases", "dispute-to-case"): [
        Fixture(
            name="dispute needing a response opens a Case",
            input=event("charge.dispute.created", "dispute", 1),
            expected={
                "StripeObjectID__c": "dp_1Pgc71B7WZ01zgkWMevJiAUx",
                "Subject": "Dispute (general) on ch_1PgafuB7WZ01zgkWXYmPNZs8",
                "Description": (
                    "Stripe dispute dp_1Pgc71B7WZ01zgkWMevJiAUx (general) is "
                    "warning_needs_response. Evidence due by 2024-08-14."
                ),
                "Priority": "Medium",
                "Origin": "Stripe",
                "Reason": "Dispute",
                "Status": "New",
            },
        ),
        Fixture(
            name="fraudulent dispute needing a response is high priority",
            input=event("charge.dispute.created", "dispute", 2, reason="fraudulent",
                        status="needs_response"),
            expected={
                "StripeObjectID__c": "dp_1Pgc71B7WZ01zgkWMevJiAUx",
                "Subject": "Dispute (fraudulent) on ch_1PgafuB7WZ01zgkWXYmPNZs8",
                "Description": (
                    "Stripe dispute dp_1Pgc71B7WZ01zgkWMevJiAUx (fraudulent) is "
                    "needs_response. Evidence due by 2024-08-14."
                ),
                "Priority": "High",
                "Origin": "Stripe",
                "Reason": "Dispute",
                "Status": "New",
            },
        ),
    ],
    ("disputes-fraud-cases", "fraud-warning-to-case"): [
        Fixture(
            name="actionable early fraud warning",
            input=event("radar.early_fraud_warning.created", "radar.early_fraud_warning", 1),
            expected={
                "StripeObjectID__c": "issfr_1Pgc79B7WZ01zgkWxwDzEIPX",
                "Subject": "Early fraud warning (misc) on ch_1234",
                "Description": (
                    "Card issuer reported misc on charge ch_1234. "
                    "Refund it before a dispute arrives."
                ),
                "Priority": "High",
                "Origin": "Stripe",
                "Reason": "Fraud Warning",
                "Status": "New",
            },
        ),
    ],
    ("payouts", "payout-to-record"): [
        Fixture(
            name="paid USD payout",
            input=event("payout.paid", "payout", 1, status="paid"),
            expected={
                "StripePayoutID__c": "po_1Pgc79B7WZ01zgkWu1KToYf4",
                "Name": "STRIPE PAYOUT",
                "Amount__c": 11,
                "Currency__c": "USD",
                "Arrival_Date__c": D_1234567890,
                "Status__c": "Paid",
                "Method__c": "standard",
                "Description__c": "STRIPE PAYOUT",
                "Automatic__c": True,
                "StripeBalanceTransactionID__c": "txn_1PgaxNB7WZ01zgkWEV3TLf40",
            },
        ),
        Fixture(
            name="failed JPY payout without description",
            input=event("payout.failed", "payout", 2, status="failed", amount=120000,
                        currency="jpy", description=None, arrival_date=1767225600),
            expected={
                "StripePayoutID__c": "po_1Pgc79B7WZ01zgkWu1KToYf4",
                "Name": "po_1Pgc79B7WZ01zgkWu1KToYf4",
                "Amount__c": 120000,
                "Currency__c": "JPY",
                "Arrival_Date__c": "2026-01-01",
                "Status__c": "Failed",
                "Method__c": "standard",
                "Description__c": None,
                "Automatic__c": True,
                "StripeBalanceTransactionID__c": "txn_1PgaxNB7WZ01zgkWEV3TLf40",
            },
        ),
    ],
    ("opportunity-to-subscription", "closed-won-to-customer"): [
        Fixture(
            name="won opportunity of Acme becomes a Stripe customer",
            input=OPPORTUNITY,
            expected={
                "name": "Acme Corp",
                "description": "Salesforce opportunity: Acme - 200 seats",
                "metadata": {"salesforceid": ACCOUNT_ID, "salesforce_opportunity_id": OPPORTUNITY_ID},
            },
        ),
    ],
    ("opportunity-to-subscription", "closed-won-to-subscription"): [
        Fixture(
            name="won opportunity starts a subscription on its price",
            input={**OPPORTUNITY, "StripeCustomerID__c": CUSTOMER},
            expected={
                "customer": CUSTOMER,
                "items": {"0": {"price": "price_1PgafmB7WZ01zgkW6dKueIc5", "quantity": 200}},
                "metadata": {"salesforce_opportunity_id": OPPORTUNITY_ID},
                "collection_method": "send_invoice",
                "days_until_due": 30,
            },
        ),
        Fixture(
            name="an opportunity already billed is not billed twice",
            input={**OPPORTUNITY, "StripeCustomerID__c": CUSTOMER,
                   "StripeSubscriptionID__c": "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"},
            expect_skip=True,
        ),
    ],
    ("account-to-stripe-customer", "account-to-customer"): [
        Fixture(
            name="account with billing address becomes a customer carrying its Salesforce Id",
            input={
                "attributes": {"type": "Account", "url": f"/services/data/v62.0/sobjects/Account/{ACCOUNT_ID}"},
                "Id": ACCOUNT_ID, "Name": "Acme Corp", "Phone": "+1 415 555 0199",
                "Description": "Enterprise customer", "BillingStreet": "1 Market St",
                "BillingCity": "San Francisco", "BillingState": "CA",
                "BillingPostalCode": "94105", "BillingCountry": "US", "StripeCustomerID__c": None,
            },
            expected={
                "name": "Acme Corp",
                "phone": "+1 415 555 0199",
                "description": "Enterprise customer",
                "address": {"line1": "1 Market St", "city": "San Francisco", "state": "CA",
                            "postal_code": "94105", "country": "US"},
                "metadata": {"salesforceid": ACCOUNT_ID},
            },
        ),
        # A deleted Account (queryAll, IsDeleted): on_delete (mark) stamps its customer.
        Fixture(
            name="deleted account marks its customer deleted",
            input={
                "attributes": {"type": "Account", "url": f"/services/data/v62.0/sobjects/Account/{ACCOUNT_ID}"},
                "Id": ACCOUNT_ID, "IsDeleted": True, "Name": "Acme Corp",
                "SystemModstamp": "2026-01-02T03:04:05.000+0000", "StripeCustomerID__c": CUSTOMER,
            },
            expected={"id": CUSTOMER, "metadata": {"salesforce_deleted_at": "2026-01-02T03:04:05Z"}},
        ),
    ],
}


def main() -> None:
    for path in sorted(TEMPLATES.glob("*.yaml")):
        doc = load_document(path)
        changed = False
        for flow in doc.flows:
            fixtures = FIXTURES.get((doc.name, flow.name))
            if fixtures is not None:
                flow.fixtures = fixtures
                changed = True
        if changed:
            save_document(doc, path)
            print(f"wrote fixtures into {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
