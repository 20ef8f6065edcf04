"""Conformance: price books, Orders and their items, as Salesforce enforces them (issue 14).

Driven through the unmodified simple-salesforce client. The org here is multi-currency
(``CurrencyIsoCode`` on the priced objects, as Salesforce adds it when multiple currencies are
enabled), so a USD Order refuses a EUR entry.

Sources for the refusals (error code and wording):
- Salesforce answers a bad line item with ``FIELD_INTEGRITY_EXCEPTION`` and the field, e.g.
  ``[{'fields': ['EffectiveDate'], 'message': ..., 'errorCode': 'FIELD_INTEGRITY_EXCEPTION'}]``
  from the REST API: https://dfc-org-production.my.site.com/forums/ForumsMain?id=9060G0000005P44QAE
- the entry's currency must be the parent's, refused as a field integrity exception:
  https://www.greytrix.com/blogs/salesforce/2026/04/17/fixing-pricebookentry-currency-mismatch-error-in-salesforce-multi-currency-setup-step-by-step-guide/
- a custom price needs the standard price (the standard entry of the same product and
  currency): http://www.fishofprey.com/2012/03/salesforce-obscure-field-integrity.html
- Order products need a price book entry; an activated Order is locked:
  https://salesforcedictionary.com/how-to/order
- sObject Tree request and response shapes:
  https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobject-tree.html
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api/responses_composite_sobject_tree.htm
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from runner.sandbox.salesforce import salesforce_client, start_emulator

pytestmark = pytest.mark.slow

_CURRENCY = {"name": "CurrencyIsoCode", "label": "Currency ISO Code", "type": "picklist",
             "length": 3, "restrictedPicklist": True,
             "picklistValues": [
                 {"value": "USD", "label": "U.S. Dollar", "active": True, "defaultValue": True,
                  "validFor": None},
                 {"value": "EUR", "label": "Euro", "active": True, "defaultValue": False,
                  "validFor": None}]}
# PricebookEntry has CurrencyIsoCode in the shipped org already (a multi-currency org's).
MULTI_CURRENCY = {"fields": {name: [dict(_CURRENCY)] for name in (
    "Order", "OrderItem", "Opportunity", "OpportunityLineItem")}}


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    h = start_emulator(tmp_path_factory.mktemp("sf-pricing"), reset=True,
                       metadata=[MULTI_CURRENCY])
    yield h
    h.stop()


def refused(call: Any, *args: Any) -> dict:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        call(*args)
    content = caught.value.content
    assert isinstance(content, list) and len(content) == 1, content
    return content[0]


@pytest.fixture(scope="module")
def world(sf: Any) -> dict[str, str]:
    """An Account, a product with standard USD and EUR prices, a custom book."""
    standard = sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0]["Id"]
    product = sf.Product2.create({"Name": "Seat", "ProductCode": "SEAT", "IsActive": True})["id"]
    usd = sf.PricebookEntry.create({"Pricebook2Id": standard, "Product2Id": product,
                                    "UnitPrice": 10, "IsActive": True,
                                    "CurrencyIsoCode": "USD"})["id"]
    eur = sf.PricebookEntry.create({"Pricebook2Id": standard, "Product2Id": product,
                                    "UnitPrice": 9, "IsActive": True,
                                    "CurrencyIsoCode": "EUR"})["id"]
    account = sf.Account.create({"Name": "Acme"})["id"]
    custom = sf.Pricebook2.create({"Name": "Partners", "IsActive": True})["id"]
    return {"standard": standard, "product": product, "usd": usd, "eur": eur,
            "account": account, "custom": custom}


def new_order(sf: Any, world: dict[str, str], **extra: Any) -> str:
    body = {"AccountId": world["account"], "EffectiveDate": "2026-12-01", "Status": "Draft",
            "CurrencyIsoCode": "USD", "Pricebook2Id": world["standard"], **extra}
    return sf.Order.create(body)["id"]


def item(order: str, entry: str, **extra: Any) -> dict:
    return {"OrderId": order, "PricebookEntryId": entry, "UnitPrice": 10, "Quantity": 2,
            **extra}


# -- the standard price book --------------------------------------------------------------
def test_every_org_has_one_standard_price_book(sf: Any) -> None:
    found = sf.query("SELECT Id, Name, IsActive FROM Pricebook2 WHERE IsStandard = true")
    assert found["totalSize"] == 1
    assert found["records"][0]["Name"] == "Standard Price Book"
    assert found["records"][0]["IsActive"] is True


def test_a_custom_price_needs_the_standard_price_first(sf: Any, world: dict) -> None:
    lonely = sf.Product2.create({"Name": "Lonely", "IsActive": True})["id"]
    error = refused(sf.PricebookEntry.create, {
        "Pricebook2Id": world["custom"], "Product2Id": lonely, "UnitPrice": 5,
        "IsActive": True, "CurrencyIsoCode": "USD"})
    assert error["errorCode"] == "STANDARD_PRICE_NOT_DEFINED"
    assert error["message"] == "Before creating a custom price, create a standard price."
    # With the standard price in place the custom one is accepted; it may use the standard.
    sf.PricebookEntry.create({"Pricebook2Id": world["standard"], "Product2Id": lonely,
                              "UnitPrice": 7, "IsActive": True, "CurrencyIsoCode": "USD"})
    custom = sf.PricebookEntry.create({
        "Pricebook2Id": world["custom"], "Product2Id": lonely, "UnitPrice": 5,
        "UseStandardPrice": True, "IsActive": True, "CurrencyIsoCode": "USD"})["id"]
    entry = sf.PricebookEntry.get(custom)
    assert entry["UnitPrice"] == 7 and entry["Name"] == "Lonely"


def test_one_entry_per_book_product_and_currency(sf: Any, world: dict) -> None:
    error = refused(sf.PricebookEntry.create, {
        "Pricebook2Id": world["standard"], "Product2Id": world["product"], "UnitPrice": 11,
        "IsActive": True, "CurrencyIsoCode": "USD"})
    assert error["errorCode"] == "DUPLICATE_VALUE"


# -- Order items ------------------------------------------------------------------------------
def test_an_order_item_needs_entry_price_and_quantity(sf: Any, world: dict) -> None:
    order = new_order(sf, world)
    error = refused(sf.OrderItem.create, {"OrderId": order})
    assert error["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert set(error["fields"]) == {"PricebookEntryId", "Quantity", "UnitPrice"}


def test_an_order_without_a_price_book_takes_no_items(sf: Any, world: dict) -> None:
    order = new_order(sf, world, Pricebook2Id=None)
    error = refused(sf.OrderItem.create, item(order, world["usd"]))
    assert error["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert error["fields"] == ["PricebookEntryId"]
    assert "order has no pricebook assigned" in error["message"]


def test_the_entry_must_be_in_the_orders_price_book(sf: Any, world: dict) -> None:
    order = new_order(sf, world, Pricebook2Id=world["custom"])
    error = refused(sf.OrderItem.create, item(order, world["usd"]))
    assert error["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert "different pricebook" in error["message"]


def test_the_entry_currency_must_be_the_orders(sf: Any, world: dict) -> None:
    order = new_order(sf, world)
    error = refused(sf.OrderItem.create, item(order, world["eur"]))
    assert error["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert error["message"] == ("field integrity exception: PricebookEntryId (pricebook entry "
                                "currency code does not match Order currency code)")


def test_an_inactive_entry_is_refused(sf: Any, world: dict) -> None:
    retired = sf.Product2.create({"Name": "Retired", "IsActive": False})["id"]
    entry = sf.PricebookEntry.create({"Pricebook2Id": world["standard"], "Product2Id": retired,
                                      "UnitPrice": 3, "IsActive": False,
                                      "CurrencyIsoCode": "USD"})["id"]
    error = refused(sf.OrderItem.create, item(new_order(sf, world), entry))
    assert error["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert "pricebook entry is inactive" in error["message"]


def test_the_items_product_must_be_the_entrys(sf: Any, world: dict) -> None:
    other = sf.Product2.create({"Name": "Other", "IsActive": True})["id"]
    error = refused(sf.OrderItem.create,
                    item(new_order(sf, world), world["usd"], Product2Id=other))
    assert error["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert error["fields"] == ["PricebookEntryId", "Product2Id"]


def test_an_item_is_priced_and_rolls_up_into_the_order(sf: Any, world: dict) -> None:
    order = new_order(sf, world)
    first = sf.OrderItem.create(item(order, world["usd"], UnitPrice=12.5, Quantity=2))["id"]
    sf.OrderItem.create(item(order, world["usd"], UnitPrice=10, Quantity=1))
    got = sf.OrderItem.get(first)
    assert (got["Product2Id"], got["ListPrice"], got["TotalPrice"]) == (
        world["product"], 10, 25)
    assert got["CurrencyIsoCode"] == "USD"
    assert sf.Order.get(order)["TotalAmount"] == 35
    sf.OrderItem.update(first, {"Quantity": 4})
    assert sf.Order.get(order)["TotalAmount"] == 60
    sf.OrderItem.delete(first)
    assert sf.Order.get(order)["TotalAmount"] == 10


def test_an_activated_order_takes_no_new_items(sf: Any, world: dict) -> None:
    order = new_order(sf, world)
    existing = sf.OrderItem.create(item(order, world["usd"]))["id"]
    sf.Order.update(order, {"Status": "Activated"})
    error = refused(sf.OrderItem.create, item(order, world["usd"]))
    assert error["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert "activated order" in error["message"]
    assert refused(sf.OrderItem.update, existing, {"Quantity": 9})["errorCode"] == (
        "FIELD_INTEGRITY_EXCEPTION")
    assert refused(sf.OrderItem.delete, existing)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


def test_the_price_book_of_an_order_with_items_is_fixed(sf: Any, world: dict) -> None:
    order = new_order(sf, world)
    sf.OrderItem.create(item(order, world["usd"]))
    error = refused(sf.Order.update, order, {"Pricebook2Id": world["custom"]})
    assert error["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert error["fields"] == ["Pricebook2Id"]


def test_an_opportunity_without_a_book_takes_its_first_items(sf: Any, world: dict) -> None:
    opportunity = sf.Opportunity.create({"Name": "Deal", "StageName": "Prospecting",
                                         "CloseDate": "2026-12-31",
                                         "CurrencyIsoCode": "USD"})["id"]
    line = {"OpportunityId": opportunity, "PricebookEntryId": world["usd"], "Quantity": 3}
    both = refused(sf.OpportunityLineItem.create, {**line, "UnitPrice": 1, "TotalPrice": 3})
    assert both["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    created = sf.OpportunityLineItem.create({**line, "TotalPrice": 30})["id"]
    assert sf.OpportunityLineItem.get(created)["UnitPrice"] == 10
    assert sf.Opportunity.get(opportunity)["Pricebook2Id"] == world["standard"]


# -- sObject Tree: an Order and its items, all or none -----------------------------------------
def tree_order(world: dict, name: str, entries: list[str]) -> dict:
    return {"records": [{
        "attributes": {"type": "Order", "referenceId": "order"},
        "Name": name, "AccountId": world["account"], "EffectiveDate": "2026-12-01",
        "Status": "Draft", "CurrencyIsoCode": "USD", "Pricebook2Id": world["standard"],
        "OrderItems": {"records": [
            {"attributes": {"type": "OrderItem", "referenceId": f"line{n}"},
             "PricebookEntryId": entry, "UnitPrice": 10, "Quantity": 1}
            for n, entry in enumerate(entries, start=1)]},
    }]}


def test_tree_creates_an_order_with_its_items(sf: Any, world: dict) -> None:
    answer = sf.restful("composite/tree/Order", method="POST",
                        json=tree_order(world, "Tree order", [world["usd"]] * 12))
    assert answer["hasErrors"] is False
    refs = [r["referenceId"] for r in answer["results"]]
    assert refs == ["order", *(f"line{n}" for n in range(1, 13))]
    order_id = answer["results"][0]["id"]
    items = sf.query(f"SELECT Id, OrderId FROM OrderItem WHERE OrderId = '{order_id}'")
    assert items["totalSize"] == 12
    assert sf.Order.get(order_id)["TotalAmount"] == 120


def test_tree_rolls_the_order_back_when_one_item_fails(sf: Any, world: dict) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite/tree/Order", method="POST",
                   json=tree_order(world, "Doomed order", [world["usd"], world["eur"]]))
    body = caught.value.content
    assert body["hasErrors"] is True
    assert [r["referenceId"] for r in body["results"]] == ["line2"]
    assert body["results"][0]["errors"][0]["statusCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert body["results"][0]["errors"][0]["fields"] == ["PricebookEntryId"]
    assert sf.query("SELECT Id FROM Order WHERE Name = 'Doomed order'")["totalSize"] == 0


def test_tree_refuses_duplicate_reference_ids(sf: Any, world: dict) -> None:
    body = tree_order(world, "Twice", [world["usd"], world["usd"]])
    body["records"][0]["OrderItems"]["records"][1]["attributes"]["referenceId"] = "line1"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite/tree/Order", method="POST", json=body)
    assert caught.value.content["results"][0]["errors"][0]["statusCode"] == "INVALID_INPUT"
    assert sf.query("SELECT Id FROM Order WHERE Name = 'Twice'")["totalSize"] == 0


# -- composite graph: each graph all or none -------------------------------------------------
def graph(graph_id: str, world: dict, invoice: str, entries: list[str]) -> dict:
    base = "/services/data/v62.0/sobjects"
    requests = [{"method": "PATCH", "url": f"{base}/Order/StripeInvoiceID__c/{invoice}",
                 "referenceId": "order", "body": {
                     "AccountId": world["account"], "EffectiveDate": "2026-12-01",
                     "Status": "Draft", "CurrencyIsoCode": "USD",
                     "Pricebook2Id": world["standard"]}}]
    requests += [{"method": "PATCH",
                  "url": f"{base}/OrderItem/StripeLineItemID__c/{invoice}-il{n}",
                  "referenceId": f"line{n}", "body": {
                      "OrderId": "@{order.id}", "PricebookEntryId": entry, "UnitPrice": 10,
                      "Quantity": 1}}
                 for n, entry in enumerate(entries, start=1)]
    return {"graphId": graph_id, "compositeRequest": requests}


def test_graph_upserts_orders_with_items_each_graph_all_or_none(sf: Any, world: dict) -> None:
    # Shapes: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_graph.htm
    answer = sf.restful("composite/graph", method="POST", json={"graphs": [
        graph("good", world, "in_good", [world["usd"], world["usd"]]),
        graph("bad", world, "in_bad", [world["usd"], world["eur"]]),
    ]})
    good, bad = answer["graphs"]
    assert (good["graphId"], good["isSuccessful"]) == ("good", True)
    assert [r["httpStatusCode"] for r in good["graphResponse"]["compositeResponse"]] == [
        201, 201, 201]
    assert bad["isSuccessful"] is False
    codes = [r["httpStatusCode"] for r in bad["graphResponse"]["compositeResponse"]]
    assert codes == [400, 400, 400]
    failing = bad["graphResponse"]["compositeResponse"][2]["body"][0]
    assert failing["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert sf.query("SELECT Id FROM Order WHERE StripeInvoiceID__c = 'in_bad'")["totalSize"] == 0
    order = sf.query("SELECT Id, TotalAmount FROM Order WHERE StripeInvoiceID__c = 'in_good'")
    assert order["records"][0]["TotalAmount"] == 20


# -- the shipped org (one currency: no CurrencyIsoCode) ----------------------------------------
def test_the_shipped_org_prices_items_without_currencies(tmp_path: Any) -> None:
    h = start_emulator(tmp_path / "single", reset=True)
    try:
        sf = salesforce_client(h)
        standard = sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"]
        product = sf.Product2.create({"Name": "Seat", "IsActive": True})["id"]
        entry = sf.PricebookEntry.create({"Pricebook2Id": standard[0]["Id"],
                                          "Product2Id": product, "UnitPrice": 10,
                                          "IsActive": True})["id"]
        account = sf.Account.create({"Name": "Acme"})["id"]
        order = sf.Order.create({"AccountId": account, "EffectiveDate": "2026-12-01",
                                 "Status": "Draft", "Pricebook2Id": standard[0]["Id"]})["id"]
        sf.OrderItem.create({"OrderId": order, "PricebookEntryId": entry, "UnitPrice": 10,
                             "Quantity": 3, "StripeLineItemID__c": "il_1"})
        assert sf.Order.get(order)["TotalAmount"] == 30
    finally:
        h.stop()
