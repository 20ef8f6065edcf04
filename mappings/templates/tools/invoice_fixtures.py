"""Write the fixtures of the invoices-orders template: real Stripe shapes in, records out.

Inputs are Stripe's published ``invoice`` and ``line_item`` examples
(``mappings/data/stripe/fixtures3.json``) with a few fields set per case; the invoice of the
first fixture has 12 lines, as an invoice the runner has completed (Stripe's payload carries
10 and ``has_more``). Expected records are written by hand. ``invoice_with_lines`` is also
what the runner's tests and benchmark send through the sandboxes.

Run from the repository root after changing the template's fields:
``python -m mappings.templates.tools.invoice_fixtures``. Not needed at run time.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from mappings.document.model import Fixture
from mappings.document.yamlio import load_document, save_document

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "mappings" / "templates" / "invoices-orders.yaml"
EXAMPLES = json.loads((ROOT / "mappings/data/stripe/fixtures3.json").read_text())["resources"]

CUSTOMER = "cus_QXg1o8vcGmoR32"
ACCOUNT_ID = "001000000000001AAA"
STANDARD_BOOK = "01s000000000001AAA"
ENTRY_ID = "01u000000000001AAA"
PAID_AT = 1767225600  # 2026-01-01
INVOICE_ID = EXAMPLES["invoice"]["id"]


def line(n: int, *, invoice: str = INVOICE_ID, price: str | None = None,
         product: str | None = None, quantity: int = 1, unit_amount: int = 1500,
         currency: str = "usd") -> dict[str, Any]:
    """Stripe's line_item example as line ``n`` of ``invoice``, priced by ``price`` of
    ``product`` (by default ``prod_QXgafmB7WZ<n>``)."""
    data = copy.deepcopy(EXAMPLES["line_item"])
    data.update(id=f"il_1Pgc6sB7WZ01zgkW{n:08d}", invoice=invoice, quantity=quantity,
                amount=unit_amount * quantity, currency=currency,
                description=f"Seat pack {n}", subtotal=unit_amount * quantity,
                pricing={"type": "price_details",
                         "price_details": {"price": price or f"price_1PgafmB7WZ01zgk{n:05d}",
                                           "product": product or f"prod_QXgafmB7WZ{n:04d}"},
                         "unit_amount_decimal": str(unit_amount)})
    data["parent"]["type"] = "invoice_item_details"
    return data


def invoice_with_lines(lines: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    """Stripe's invoice example holding ``lines`` (complete: ``has_more`` false)."""
    data = copy.deepcopy(EXAMPLES["invoice"])
    data.update(customer=CUSTOMER, status="paid", description=None, number="FB-0001",
                status_transitions={"finalized_at": PAID_AT - 600, "marked_uncollectible_at":
                                    None, "paid_at": PAID_AT, "voided_at": None})
    data["lines"] = {"object": "list", "data": lines, "has_more": False,
                     "url": f"/v1/invoices/{data['id']}/lines"}
    data.update(overrides)
    return data


def event(event_type: str, obj: dict[str, Any], n: int) -> dict[str, Any]:
    return {"id": f"evt_fixture_invoice_lines_{n}", "object": "event",
            "api_version": "2026-10-28.endive", "created": PAID_AT, "livemode": False,
            "type": event_type, "data": {"object": obj}}


def entry_key(product: str, currency: str = "USD") -> str:
    """A line's lookup of its product's standard entry in its currency, as a fixture names it."""
    return f"PricebookEntry.StripeProductCurrency__c={product}|{currency}"


# The parent's lookups, and its lines' (each line's product has its USD entry).
PARENT_LOOKUPS = {f"Account.StripeCustomerID__c={CUSTOMER}": ACCOUNT_ID,
                  "Pricebook2.IsStandard=True": STANDARD_BOOK,
                  **{entry_key(f"prod_QXgafmB7WZ{n:04d}"): f"01u0000000000{n:02d}AAA"
                     for n in range(1, 13)}}
ORDER = {"StripeInvoiceID__c": INVOICE_ID, "EffectiveDate": "2026-01-01",
         "Description": "FB-0001", "AccountId": ACCOUNT_ID, "Pricebook2Id": STANDARD_BOOK,
         "Status": "Draft"}

ORDER_FIXTURES = [
    Fixture(
        name="a paid invoice with 12 lines becomes a draft Order on the standard price book",
        input=event("invoice.paid", invoice_with_lines([line(n) for n in range(1, 13)]), 1),
        lookups=PARENT_LOOKUPS,
        expected=ORDER,
    ),
    Fixture(
        name="a finalized invoice not paid yet is an Order dated when it was finalized",
        input=event("invoice.finalized", invoice_with_lines(
            [line(1)], status="open", status_transitions={
                "finalized_at": PAID_AT - 86400, "marked_uncollectible_at": None,
                "paid_at": None, "voided_at": None}), 2),
        lookups=PARENT_LOOKUPS,
        expected={**ORDER, "EffectiveDate": "2025-12-31"},
    ),
    Fixture(
        name="a voided invoice marks its Order (on_delete: mark)",
        input=event("invoice.voided", invoice_with_lines(
            [line(1)], status="void", status_transitions={
                "finalized_at": PAID_AT - 86400, "marked_uncollectible_at": None,
                "paid_at": None, "voided_at": PAID_AT}), 4),
        lookups=PARENT_LOOKUPS,
        expected={"StripeInvoiceID__c": INVOICE_ID, "StripeDeletedAt__c": "2026-01-01T00:00:00.000+0000"},
    ),
    Fixture(
        name="a draft invoice is not an Order yet",
        input=event("invoice.updated", invoice_with_lines([line(1)], status="draft"), 3),
        expect_skip=True,
    ),
]

OLD_API_LINE = line(4, price="price_1PgafmB7WZ01zgkW6dKueIc5", quantity=2, unit_amount=1000)
del OLD_API_LINE["pricing"]  # before 2025-03-31.basil a line names its price object instead
OLD_API_LINE["price"] = {**EXAMPLES["price"], "product": "prod_QXgafmB7WZ0001"}
ITEM_FIXTURES = [
    Fixture(
        name="three seats at 9.99 are one Order Product of quantity 3",
        input=line(1, price="price_1PgafmB7WZ01zgkW6dKueIc5", quantity=3, unit_amount=999),
        lookups={entry_key("prod_QXgafmB7WZ0001"): ENTRY_ID},
        expected={"StripeLineItemID__c": "il_1Pgc6sB7WZ01zgkW00000001", "Quantity": 3,
                  "UnitPrice": 9.99, "Description": "Seat pack 1",
                  "PricebookEntryId": ENTRY_ID},
    ),
    Fixture(
        name="a yen line has no minor units",
        input=line(2, price="price_1PgafmB7WZ01zgkW6dKueIc5", quantity=2, unit_amount=5000,
                   currency="jpy"),
        lookups={entry_key("prod_QXgafmB7WZ0002", "JPY"): "01u000000000002AAA"},
        expected={"StripeLineItemID__c": "il_1Pgc6sB7WZ01zgkW00000002", "Quantity": 2,
                  "UnitPrice": 5000, "Description": "Seat pack 2",
                  "PricebookEntryId": "01u000000000002AAA"},
    ),
    Fixture(
        name="a line whose product has no entry in its currency is reported, not guessed",
        input=line(3, price="price_unknown00001", currency="eur"),
        lookups={entry_key("prod_QXgafmB7WZ0003"): ENTRY_ID},
        expected={"StripeLineItemID__c": "il_1Pgc6sB7WZ01zgkW00000003", "Quantity": 1,
                  "UnitPrice": 15, "Description": "Seat pack 3"},
        expected_issues=["LOOKUP_UNRESOLVED"],
    ),
    Fixture(
        name="an older API version's line finds its entry by price.product",
        input=OLD_API_LINE,
        lookups={entry_key("prod_QXgafmB7WZ0001"): ENTRY_ID},
        expected={"StripeLineItemID__c": "il_1Pgc6sB7WZ01zgkW00000004", "Quantity": 2,
                  "UnitPrice": 10, "Description": "Seat pack 4",
                  "PricebookEntryId": ENTRY_ID},
    ),
]


def main() -> None:
    doc = load_document(TEMPLATE)
    flow = doc.flows[0]
    flow.fixtures = ORDER_FIXTURES
    flow.children[0].fixtures = ITEM_FIXTURES
    save_document(doc, TEMPLATE)
    print(f"wrote fixtures into {TEMPLATE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
