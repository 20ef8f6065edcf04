"""Products, price books and line items: the integrity rules Salesforce enforces on save.

A line item (OrderItem, OpportunityLineItem) is priced by a PricebookEntry, and Salesforce
refuses the save when the entry does not fit its parent:

- the parent's price book must be the entry's (an Order without ``Pricebook2Id`` can have
  no items), the entry must be active, its product must be the item's product, and in a
  multi-currency org (``CurrencyIsoCode`` on the objects) its currency the parent's;
- an activated Order takes no new items and its items cannot change or be deleted;
- a custom price book's entry needs the product's standard price first, and one product has
  one entry per price book and currency.

Each refusal carries Salesforce's error code (``FIELD_INTEGRITY_EXCEPTION``,
``STANDARD_PRICE_NOT_DEFINED``, ``DUPLICATE_VALUE``). Salesforce also fills values: an
item's ``Product2Id``, ``ListPrice`` and ``TotalPrice``, an entry's ``Name`` and
``ProductCode``, and the Order's ``TotalAmount`` (a roll-up of its items).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from runner.sandbox.salesforce.errors import RecordError, SfError

STANDARD_PRICE_BOOK = "Standard Price Book"
CURRENCY = "CurrencyIsoCode"
# Line item object -> its parent's lookup field and the parent's object name.
_LINE_PARENTS: dict[str, tuple[str, str]] = {
    "OrderItem": ("OrderId", "Order"),
    "OpportunityLineItem": ("OpportunityId", "Opportunity"),
}

Lookup = Callable[[object], dict | None]


def integrity(message: str, *fields: str) -> RecordError:
    """Salesforce's ``field integrity exception: <fields> (<reason>)`` refusal."""
    named = ", ".join(fields)
    return RecordError(SfError("FIELD_INTEGRITY_EXCEPTION",
                               f"field integrity exception: {named} ({message})", fields))


def is_activated(order: Mapping[str, Any] | None) -> bool:
    if not order:
        return False
    return order.get("StatusCode") == "Activated" or order.get("Status") == "Activated"


def check_save(object_name: str, record: dict, previous: Mapping[str, Any] | None,
               live: Lookup, rows: Callable[[str], list[dict]]) -> dict[str, dict]:
    """Refuse a save Salesforce refuses, and fill the values it derives, in place.

    ``live`` returns a live record by id (or None); ``rows`` the live records of an object.
    Runs after the required-field check, so the fields it reads are present. Returns the
    changes the save makes to other records (parent id -> values), for the caller to write.
    """
    if object_name in _LINE_PARENTS:
        return _line_item(object_name, record, previous, live)
    if object_name == "PricebookEntry":
        _pricebook_entry(record, previous, live, rows)
    elif object_name == "Order":
        if previous is None:
            record.setdefault("TotalAmount", 0.0)  # no items yet
        else:
            _order_update(record, previous, rows)
    return {}


def check_delete(object_name: str, record: Mapping[str, Any], live: Lookup) -> None:
    if object_name == "OrderItem" and is_activated(live(record.get("OrderId"))):
        raise integrity("cannot delete an order product from an activated order", "OrderId")


def order_total(order_id: str, rows: Callable[[str], list[dict]]) -> float:
    """The Order's ``TotalAmount``: the sum of its live items' ``TotalPrice``."""
    return float(sum(float(item.get("TotalPrice") or 0) for item in rows("OrderItem")
                     if item.get("OrderId") == order_id))


# -- line items ---------------------------------------------------------------------------
def _line_item(object_name: str, record: dict, previous: Mapping[str, Any] | None,
               live: Lookup) -> dict[str, dict]:
    parent_field, parent_name = _LINE_PARENTS[object_name]
    parent = live(record.get(parent_field))
    if object_name == "OrderItem" and is_activated(parent):
        # New items, and changes to existing ones, are refused once the Order is activated.
        verb = "add an order product to" if previous is None else "change an order product on"
        raise integrity(f"cannot {verb} an activated order", parent_field)
    if previous is not None:
        _derive_totals(object_name, record)
        return {}
    entry_id = record.get("PricebookEntryId")
    if not entry_id:
        # OrderItem requires the entry (the describe says so); an OpportunityLineItem
        # can name its product only, which Salesforce still prices through an entry.
        raise RecordError(SfError("REQUIRED_FIELD_MISSING",
                                  "Required fields are missing: [PricebookEntryId]",
                                  ("PricebookEntryId",)))
    entry = live(entry_id) or {}
    book = parent.get("Pricebook2Id") if parent else None
    parent_changes: dict[str, dict] = {}
    if object_name == "OpportunityLineItem" and parent is not None and not book:
        # An Opportunity without a price book takes the first item's (Salesforce sets it).
        book = entry.get("Pricebook2Id")
        parent_changes[parent["Id"]] = {"Pricebook2Id": book}
    if not book or entry.get("Pricebook2Id") != book:
        raise integrity(f"pricebook entry is in a different pricebook than the one assigned "
                        f"to the {parent_name.lower()}, or {parent_name.lower()} has no "
                        "pricebook assigned", "PricebookEntryId")
    if not entry.get("IsActive"):
        raise integrity("pricebook entry is inactive", "PricebookEntryId")
    product = record.get("Product2Id")
    if product and product != entry.get("Product2Id"):
        raise integrity("pricebook entry's product does not match the product given",
                        "PricebookEntryId", "Product2Id")
    record["Product2Id"] = entry.get("Product2Id")
    # Only a multi-currency org has CurrencyIsoCode on these objects.
    if parent is not None and CURRENCY in parent and CURRENCY in entry:
        if parent.get(CURRENCY) != entry.get(CURRENCY):
            raise integrity(f"pricebook entry currency code does not match "
                            f"{parent_name} currency code", "PricebookEntryId")
        if CURRENCY in record:
            record[CURRENCY] = parent.get(CURRENCY)
    if object_name == "OpportunityLineItem":
        _opportunity_prices(record, entry)
    elif record.get("ListPrice") is None:
        record["ListPrice"] = entry.get("UnitPrice")
    _derive_totals(object_name, record)
    return parent_changes


def _opportunity_prices(record: dict, entry: Mapping[str, Any]) -> None:
    unit, total = record.get("UnitPrice"), record.get("TotalPrice")
    if unit is not None and total is not None:
        raise integrity("cannot specify both unit price and total price", "TotalPrice")
    if unit is None and total is None:
        raise RecordError(SfError("REQUIRED_FIELD_MISSING",
                                  "Required fields are missing: [UnitPrice, TotalPrice]",
                                  ("UnitPrice", "TotalPrice")))
    record["ListPrice"] = entry.get("UnitPrice")
    quantity = float(record.get("Quantity") or 0)
    if unit is None and quantity:
        record["UnitPrice"] = float(total) / quantity  # type: ignore[arg-type]


def _derive_totals(object_name: str, record: dict) -> None:
    unit, quantity = record.get("UnitPrice"), record.get("Quantity")
    if isinstance(unit, int | float) and isinstance(quantity, int | float):
        record["TotalPrice"] = round(float(unit) * float(quantity), 2)


# -- price book entries -------------------------------------------------------------------
def _pricebook_entry(record: dict, previous: Mapping[str, Any] | None, live: Lookup,
                     rows: Callable[[str], list[dict]]) -> None:
    product = live(record.get("Product2Id")) or {}
    record["Name"] = product.get("Name")
    record["ProductCode"] = product.get("ProductCode")
    if previous is not None:
        return
    book = live(record.get("Pricebook2Id")) or {}
    currency = record.get(CURRENCY)
    same = [e for e in rows("PricebookEntry")
            if e.get("Product2Id") == record.get("Product2Id")
            and e.get(CURRENCY) == currency and e["Id"] != record["Id"]]
    if any(e.get("Pricebook2Id") == record.get("Pricebook2Id") for e in same):
        raise RecordError(SfError("DUPLICATE_VALUE",
                                  "This price definition already exists in this price book",
                                  ()))
    if book.get("IsStandard"):
        return
    standard = [e for e in same if (live(e.get("Pricebook2Id")) or {}).get("IsStandard")]
    if not standard:
        raise RecordError(SfError("STANDARD_PRICE_NOT_DEFINED",
                                  "Before creating a custom price, create a standard price.",
                                  ()))
    if record.get("UseStandardPrice"):
        record["UnitPrice"] = standard[0].get("UnitPrice")


# -- orders -------------------------------------------------------------------------------
def _order_update(record: dict, previous: Mapping[str, Any],
                  rows: Callable[[str], list[dict]]) -> None:
    if record.get("Pricebook2Id") == previous.get("Pricebook2Id"):
        return
    if any(item.get("OrderId") == record["Id"] for item in rows("OrderItem")):
        raise integrity("cannot change the pricebook of an order that has order products",
                        "Pricebook2Id")
