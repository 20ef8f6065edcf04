"""The one write path with child collections, on the org emulator: an invoice becomes an Order
with its OrderItems in one all-or-none graph, and updates reconcile the items by line id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mappings.document.model import DeletionPolicy
from mappings.document.yamlio import load_document
from mappings.schema.org_metadata import load_salesforce_catalog
from mappings.schema.stripe_catalog import load_stripe_catalog
from mappings.templates.tools.invoice_fixtures import CUSTOMER, event, invoice_with_lines, line
from runner.classify import Failure
from runner.connectors.salesforce import SalesforceConnector, SalesforceSettings
from runner.pipeline.bundle_runtime import CompiledFlow, LoadedBundle
from runner.pipeline.outcomes import TaskOutcome
from runner.pipeline.writer import MemoryLedger, SalesforceWriter, WriteItem
from runner.sandbox.salesforce import salesforce_client, start_emulator

pytestmark = pytest.mark.slow

TEMPLATE = Path(__file__).resolve().parents[3] / "mappings" / "templates" / "invoices-orders.yaml"
PRICES = 6  # price_1PgafmB7WZ01zgk0000<n> of prod_QXgafmB7WZ000<n>, n = 1..6, each product
# with an active standard USD entry


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    handle = start_emulator(tmp_path_factory.mktemp("children-org"), reset=True)
    sf = salesforce_client(handle)
    standard = sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0]["Id"]
    for n in range(1, PRICES + 2):
        product = sf.Product2.create({"Name": f"Seat pack {n}", "IsActive": True})["id"]
        sf.PricebookEntry.create({"Pricebook2Id": standard, "Product2Id": product,
                                  "UnitPrice": 15, "IsActive": n <= PRICES,
                                  "StripePriceID__c": f"price_1PgafmB7WZ01zgk{n:05d}",
                                  "StripeProductCurrency__c": f"{product_of(n)}|USD"})
    sf.Account.create({"Name": "Acme", "StripeCustomerID__c": CUSTOMER})
    yield handle, sf
    handle.stop()


@pytest.fixture(scope="module")
def connector(org: Any) -> SalesforceConnector:
    h = org[0]
    c = SalesforceConnector(SalesforceSettings(
        login_url=h.login_url, auth="password", username=h.username, password=h.password,
        security_token=h.security_token, consumer_key=h.consumer_key,
        client_secret=h.consumer_secret, ca_file=str(h.ca_file), api_version=h.api_version))
    c.connect()
    return c


@pytest.fixture(scope="module")
def compiled() -> CompiledFlow:
    loaded = LoadedBundle.from_documents([load_document(TEMPLATE)], load_salesforce_catalog(),
                                         load_stripe_catalog())
    return loaded.flows["invoice-to-order-with-items"]


def write(connector: SalesforceConnector, compiled: CompiledFlow,
          invoices: list[dict[str, Any]], ledger: MemoryLedger | None = None,
          ) -> tuple[list[WriteItem], dict[str, int]]:
    calls: dict[str, int] = {"graph": 0, "other": 0}
    graph = connector.composite_graph

    def counted(graphs: Any) -> Any:
        calls["graph"] += 1
        return graph(graphs)

    connector.composite_graph = counted  # type: ignore[method-assign]
    before = connector.api_calls
    items = [WriteItem(data=event("invoice.paid", inv, n), payload={})
             for n, inv in enumerate(invoices)]
    try:
        SalesforceWriter(connector, ledger or MemoryLedger()).write(compiled.flow,
                                                                     compiled.plan, items)
    finally:
        del connector.composite_graph
    calls["other"] = connector.api_calls - before - calls["graph"]
    return items, calls


def product_of(n: int) -> str:
    """The Stripe product of price ``n``."""
    return f"prod_QXgafmB7WZ{n:04d}"


def ln(invoice: str, n: int, **kwargs: Any) -> dict[str, Any]:
    """Line ``n`` of ``invoice`` (line ids are unique across invoices, as Stripe's are),
    priced by price ``n`` of product ``n``."""
    number = int("".join(c for c in invoice if c.isdigit()) or 0)
    return line(1000 * number + n, invoice=invoice, price=f"price_1PgafmB7WZ01zgk{n:05d}",
                product=product_of(n), **kwargs)


def items_of(sf: Any, invoice: str) -> dict[str, dict[str, Any]]:
    rows = sf.query(f"SELECT Id, StripeLineItemID__c, Quantity, UnitPrice, "
                    f"PricebookEntry.StripePriceID__c FROM OrderItem "
                    f"WHERE Order.StripeInvoiceID__c = '{invoice}'")["records"]
    return {r["StripeLineItemID__c"]: r for r in rows}


def test_an_invoice_becomes_an_order_with_its_items_in_one_graph(org: Any, connector: Any,
                                                                 compiled: Any) -> None:
    sf = org[1]
    key = "in_children_1"
    invoice = invoice_with_lines([ln(key, n, quantity=n) for n in (1, 2, 3)], id=key)
    (item,), calls = write(connector, compiled, [invoice])
    assert item.outcome is TaskOutcome.WRITTEN, item.error
    assert calls["graph"] == 1
    found = items_of(sf, key)
    assert sorted(found) == [ln(key, n)["id"] for n in (1, 2, 3)]
    for n in (1, 2, 3):
        row = found[ln(key, n)["id"]]
        assert row["Quantity"] == n and row["UnitPrice"] == 15
        assert row["PricebookEntry"]["StripePriceID__c"] == f"price_1PgafmB7WZ01zgk{n:05d}"
    assert item.family is not None
    assert sorted(item.family.ids["OrderItems"]) == sorted(r["Id"] for r in found.values())
    order = sf.query("SELECT Id, TotalAmount, Pricebook2.IsStandard FROM Order "
                     "WHERE StripeInvoiceID__c = 'in_children_1'")["records"][0]
    assert order["Id"] == item.sf_id
    assert order["TotalAmount"] == 15 * (1 + 2 + 3)
    assert order["Pricebook2"]["IsStandard"] is True


def test_an_update_reconciles_the_items_by_line_id(org: Any, connector: Any,
                                                  compiled: Any) -> None:
    sf = org[1]
    key = "in_children_2"
    first, _ = write(connector, compiled, [invoice_with_lines([ln(key, n) for n in (1, 2, 3)],
                                                              id=key)])
    assert first[0].outcome is TaskOutcome.WRITTEN, first[0].error
    before = items_of(sf, key)
    ledger = MemoryLedger()
    (item,), calls = write(connector, compiled, [invoice_with_lines(
        [ln(key, 1, quantity=5), ln(key, 3), ln(key, 4)], id=key)], ledger)
    assert item.outcome is TaskOutcome.WRITTEN, item.error
    assert calls["graph"] == 1
    after = items_of(sf, key)
    assert sorted(after) == [ln(key, n)["id"] for n in (1, 3, 4)]  # line 2 gone: deleted
    assert after[ln(key, 1)["id"]]["Id"] == before[ln(key, 1)["id"]]["Id"]  # updated by Id
    assert after[ln(key, 1)["id"]]["Quantity"] == 5
    assert item.family is not None
    assert [r.key for r in item.family.removals] == [ln(key, 2)["id"]]
    # Every record the graph wrote or deleted is the runner's own (no echo as a trigger),
    # and each new or kept line is cross-referenced to its OrderItem.
    assert ("OrderItem", before[ln(key, 2)["id"]]["Id"]) in ledger.own_writes
    assert {("OrderItem", row["Id"]) for row in after.values()} <= set(ledger.own_writes)
    assert ledger.xrefs[("OrderItem", ln(key, 4)["id"])] == after[ln(key, 4)["id"]]["Id"]


def test_a_refused_item_leaves_no_order_behind(org: Any, connector: Any, compiled: Any) -> None:
    sf = org[1]
    key = "in_children_3"
    inactive = PRICES + 1
    invoice = invoice_with_lines([ln(key, 1), ln(key, inactive)], id=key)
    (item,), _ = write(connector, compiled, [invoice])
    assert item.outcome is TaskOutcome.DEAD_LETTERED
    assert item.failure is Failure.SKIPPABLE
    assert item.error_code == "FIELD_INTEGRITY_EXCEPTION"
    assert f"OrderItem {ln(key, inactive)['id']}" in (item.error or "")
    assert sf.query(f"SELECT Id FROM Order WHERE StripeInvoiceID__c = '{key}'")["totalSize"] == 0


def test_eighty_invoices_of_twelve_lines_take_three_graph_calls(org: Any, connector: Any,
                                                                compiled: Any) -> None:
    sf = org[1]
    invoices = [invoice_with_lines([line(100_000 + 100 * k + n, invoice=f"in_bulk{k:03d}",
                                         price=f"price_1PgafmB7WZ01zgk{n % PRICES + 1:05d}",
                                         product=product_of(n % PRICES + 1))
                                    for n in range(12)], id=f"in_bulk{k:03d}")
                for k in range(80)]
    items, calls = write(connector, compiled, invoices)
    assert [i.outcome for i in items] == [TaskOutcome.WRITTEN] * 80, items[0].error
    assert calls["graph"] == 3  # 38 + 38 + 4 graphs of 13 nodes (500 nodes a call)
    # Lookups (Account, the standard price book, the entries) and the reconciliation query.
    assert calls["other"] == 4
    count = sf.query("SELECT COUNT() FROM OrderItem WHERE Order.StripeInvoiceID__c LIKE "
                     "'in_bulk%'")["totalSize"]
    assert count == 80 * 12


def test_a_truncated_list_is_not_written_in_part(connector: Any, compiled: Any) -> None:
    invoice = invoice_with_lines([ln("in_cut", n) for n in range(1, 11)], id="in_cut")
    invoice["lines"]["has_more"] = True
    (item,), calls = write(connector, compiled, [invoice])  # this writer cannot fetch
    assert item.outcome is TaskOutcome.DEAD_LETTERED
    assert item.error_code == "LIST_TRUNCATED"
    assert "lines.data of in_cut is cut off" in (item.error or "")
    assert calls == {"graph": 0, "other": 0}


def test_predict_shows_the_children_and_what_would_be_removed(org: Any, connector: Any,
                                                              compiled: Any) -> None:
    key = "in_children_2"  # lines 1, 3, 4 after the update test
    item = WriteItem(data=event("invoice.paid", invoice_with_lines([ln(key, 1)], id=key), 9),
                     payload={})
    SalesforceWriter(connector, MemoryLedger()).predict(compiled.flow, compiled.plan, [item])
    assert item.outcome is None and item.write is not None
    assert [c["StripeLineItemID__c"] for c in item.children["OrderItems"]] == [ln(key, 1)["id"]]
    assert item.family is not None
    assert sorted(r.key for r in item.family.removals) == [ln(key, 3)["id"], ln(key, 4)["id"]]


def test_a_parent_with_more_children_than_a_graph_holds_is_refused_whole(
        connector: Any, compiled: Any) -> None:
    key = "in_children_500"
    invoice = invoice_with_lines([line(500_000 + n, invoice=key,
                                       price=f"price_1PgafmB7WZ01zgk{n % PRICES + 1:05d}",
                                       product=product_of(n % PRICES + 1))
                                  for n in range(500)], id=key)
    (item,), calls = write(connector, compiled, [invoice])
    assert item.outcome is TaskOutcome.DEAD_LETTERED
    assert (item.error_code, item.failure) == ("LIMIT_EXCEEDED", Failure.SKIPPABLE)
    assert "has 500 child records" in (item.error or "")
    assert calls["graph"] == 0


def test_mark_on_a_child_object_without_the_mark_field_fails_that_parent_only(
        org: Any, connector: Any) -> None:
    """OrderItem has no StripeDeletedAt__c: the reconciliation query still runs (it does not
    ask for the field), and the parent whose line is gone is refused with Salesforce's
    answer, its graph rolled back."""
    doc = load_document(TEMPLATE)
    doc.flows[0].children[0].on_removed = DeletionPolicy.MARK
    marked = LoadedBundle.from_documents([doc], load_salesforce_catalog(),
                                         load_stripe_catalog()).flows[doc.flows[0].name]
    key, other = "in_children_6", "in_children_7"
    first, _ = write(connector, marked, [invoice_with_lines([ln(key, 1), ln(key, 2)], id=key),
                                         invoice_with_lines([ln(other, 1)], id=other)])
    assert [i.outcome for i in first] == [TaskOutcome.WRITTEN] * 2
    items, _ = write(connector, marked, [
        invoice_with_lines([ln(key, 1, quantity=7)], id=key),
        invoice_with_lines([ln(other, 1, quantity=7)], id=other)])
    gone, kept = items
    assert gone.outcome is TaskOutcome.DEAD_LETTERED and gone.failure is Failure.SKIPPABLE
    assert f"OrderItem {ln(key, 2)['id']}" in (gone.error or "")
    assert kept.outcome is TaskOutcome.WRITTEN
    sf = org[1]
    assert items_of(sf, key)[ln(key, 1)["id"]]["Quantity"] == 1  # rolled back
    assert items_of(sf, other)[ln(other, 1)["id"]]["Quantity"] == 7
