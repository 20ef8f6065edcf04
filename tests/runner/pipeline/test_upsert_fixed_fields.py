"""An upsert that sets fields Salesforce fixes at creation (a PricebookEntry's price book,
product and currency): the writer updates an existing record by Id without them, since the
update half of an upsert would be refused, and upserts only new records whole."""

from __future__ import annotations

from typing import Any

from mappings.document.yamlio import load_document
from mappings.engine import compile_flow
from mappings.schema.org_metadata import load_salesforce_catalog
from runner.pipeline.writer import SalesforceWriter, WriteItem
from tests.runner.e2e.helpers import TEMPLATES

STANDARD = "01s000000000001AAA"
PRODUCT2 = "01t000000000001AAA"
EXISTING = "01u000000000007AAA"


class _Org:
    """Cross references know no key; the one query finds prod_1's EUR entry."""

    def __init__(self) -> None:
        self.queries: list[tuple[str, str, list]] = []

    def xref_get_many(self, obj: str, values: Any) -> dict[str, str]:
        return {}

    def find_ids(self, obj: str, field: str, values: Any) -> dict[str, list[str]]:
        values = list(values)
        self.queries.append((obj, field, values))
        return {v: [EXISTING] if v == "prod_1|EUR" else [] for v in values}


def _price(price_id: str, product: str) -> dict[str, Any]:
    return {"id": f"evt_{price_id}", "object": "event", "type": "price.updated",
            "data": {"object": {"id": price_id, "object": "price", "product": product,
                                "currency": "eur", "unit_amount": 1850, "active": True}}}


class _Resolver:
    def prefetch(self, wanted: Any) -> None:
        list(wanted)

    def __call__(self, obj: str, field: str, value: Any) -> str | None:
        return {"Pricebook2": STANDARD, "Product2": PRODUCT2}.get(obj)


def _decide(flow_name: str, items: list[WriteItem]) -> tuple[list, _Org]:
    """The products-prices flow's map and decide over ``items``; the groups and the org."""
    doc = load_document(TEMPLATES / "products-prices.yaml")
    flow = doc.flow(flow_name)
    assert flow is not None
    org = _Org()
    writer = SalesforceWriter(org, org, resolver=_Resolver(),  # type: ignore[arg-type]
                              transport=org)  # type: ignore[arg-type]
    plan = compile_flow(flow, doc, load_salesforce_catalog()[flow.target.object])
    return writer.decide(flow, writer.map(flow, plan, items)), org


def test_an_existing_entry_is_updated_without_the_fields_fixed_at_creation() -> None:
    # A yearly price of prod_1, whose EUR entry exists, and the first price of prod_2.
    old = WriteItem(_price("price_yearly", "prod_1"), {})
    new = WriteItem(_price("price_new", "prod_2"), {})
    groups, org = _decide("price-to-pricebook-entry", [old, new])
    assert groups == [[old], [new]]
    assert org.queries == [("PricebookEntry", "StripeProductCurrency__c",
                            ["prod_1|EUR", "prod_2|EUR"])]
    assert old.write is not None and (old.write.kind, old.write.sf_id) == ("update", EXISTING)
    assert old.body() == {"Id": EXISTING, "StripePriceID__c": "price_yearly", "IsActive": True,
                          "StripeProductCurrency__c": "prod_1|EUR", "UnitPrice": 18.5}
    assert new.write is not None and (new.write.kind, new.write.key) == (
        "upsert", "StripeProductCurrency__c")
    assert new.body() == {"StripePriceID__c": "price_new", "IsActive": True,
                          "StripeProductCurrency__c": "prod_2|EUR", "UnitPrice": 18.5,
                          "CurrencyIsoCode": "EUR", "Pricebook2Id": STANDARD,
                          "Product2Id": PRODUCT2}


def test_flows_without_such_fields_upsert_without_a_query() -> None:
    item = WriteItem({"id": "prod_1", "object": "product", "name": "Gold", "active": True}, {})
    groups, org = _decide("product-to-product2", [item])
    assert groups == [[item]]
    assert item.write is not None and item.write.kind == "upsert" and org.queries == []
