"""An invoice -> Order flow and a 12-line invoice for the child-collection tests (issue 14).

The shipped template (mappings/templates/invoices-orders.yaml) is used when it exists; this
builds the same shape in memory so the studio tests do not wait on it.
"""

from __future__ import annotations

import copy
from typing import Any

from mappings.document.model import (
    Action,
    ChildCollection,
    FieldMapping,
    Fixture,
    Flow,
    MappingDocument,
    ObjectRef,
    Operation,
    TransformStep,
    Trigger,
)
from mappings.schema.model import System

FLOW = "invoice-to-order"
MINOR = TransformStep("minor_to_decimal", {"currency_path": "currency"})
UNIX = TransformStep("unix_to_date", {})


def invoice_lines(count: int = 12, invoice: str = "in_1Q12Lines") -> list[dict[str, Any]]:
    """Invoice line items shaped as Stripe sends them (2025 API: pricing.price_details)."""
    lines = []
    for n in range(1, count + 1):
        lines.append(
            {
                "id": f"il_1Q{n:02d}line",
                "object": "line_item",
                "amount": 1500 * n,
                "currency": "usd",
                "description": f"Seat licence tier {n}",
                "invoice": invoice,
                "livemode": False,
                "metadata": {},
                "period": {"start": 1733097600, "end": 1735776000},
                "pricing": {
                    "type": "price_details",
                    "price_details": {"price": f"price_1Q{n:02d}", "product": f"prod_Q{n:02d}"},
                    "unit_amount_decimal": "1500",
                },
                "quantity": n,
            }
        )
    return lines


def invoice(count: int = 12, shown: int | None = None) -> dict[str, Any]:
    """An invoice with ``count`` lines, of which ``shown`` are embedded (``has_more`` when
    fewer), as an ``invoice.paid`` event."""
    lines = invoice_lines(count)
    shown = count if shown is None else shown
    obj = {
        "id": "in_1Q12Lines",
        "object": "invoice",
        "customer": "cus_Q12",
        "currency": "usd",
        "amount_paid": sum(line["amount"] for line in lines),
        "created": 1733097600,
        "status": "paid",
        "number": "F7A1-0012",
        "lines": {
            "object": "list",
            "data": lines[:shown],
            "has_more": shown < count,
            "total_count": count,
            "url": "/v1/invoices/in_1Q12Lines/lines",
        },
    }
    return {"id": "evt_1Q12", "object": "event", "type": "invoice.paid", "data": {"object": obj}}


def invoice_document(with_children: bool = False) -> MappingDocument:
    flow = Flow(
        name=FLOW,
        trigger=Trigger(stripe_events=["invoice.paid"]),
        source=ObjectRef(System.STRIPE, "invoice"),
        target=ObjectRef(System.SALESFORCE, "Order"),
        operation=Operation(Action.UPSERT, external_id="StripeInvoiceID__c"),
        fields=[
            FieldMapping("StripeInvoiceID__c", ["id"]),
            FieldMapping("EffectiveDate", ["created"], [UNIX]),
            FieldMapping("Description", ["number"]),
        ],
        defaults={"Status": "Draft", "AccountId": "001000000000001AAA"},
        fixtures=[Fixture(name="twelve-lines", input=invoice())],
    )
    if with_children:
        flow.children.append(
            ChildCollection(
                relationship="OrderItems",
                source="lines.data",
                object="line_item",
                target="OrderItem",
                parent_field="OrderId",
                external_id="StripeLineItemID__c",
                fields=[
                    FieldMapping("StripeLineItemID__c", ["id"]),
                    FieldMapping("Quantity", ["quantity"]),
                    FieldMapping("UnitPrice", ["amount"], [MINOR]),
                    FieldMapping("Description", ["description"]),
                ],
                defaults={"PricebookEntryId": "01u000000000001AAA"},
            )
        )
    return MappingDocument(name="invoices-orders", flows=[copy.deepcopy(flow)])
