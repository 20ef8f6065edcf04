"""Fast tests of the pipeline's pure parts and of its decisions over fake connectors."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from mappings.bundle import build_bundle, load_bundle
from mappings.schema.model import Catalog, System
from mappings.schema.stripe_catalog import load_stripe_catalog
from runner.errors import ConfigError
from runner.pipeline.batching import check_batch_size, chunks
from runner.pipeline.bundle_runtime import LoadedBundle
from runner.pipeline.dedup import decide_dedup
from runner.pipeline.lookups import LookupResolver, lookup_values
from runner.pipeline.ordering import is_stale, is_tied, newest_per_object, refreshed_event
from runner.pipeline.router import flow_order
from runner.pipeline.sf_poller import SalesforcePoller, soql_datetime, source_fields
from runner.pipeline.writeback import (
    idempotency_key,
    is_stripe_echo,
    note_stripe_write,
    source_fingerprint,
    with_origin,
)
from runner.state.records import InboxEvent
from runner.state.store import StateStore
from tests.runner.pipeline.conftest import load_templates, template_documents


def inbox(event_id: str, created: int, object_id: str | None = "sub_1") -> InboxEvent:
    return InboxEvent(event_id=event_id, type="customer.subscription.updated",
                      object_id=object_id, created=created, payload={}, attempts=1,
                      status="processing", source="test")


@pytest.fixture(scope="module")
def bundle() -> Any:
    return load_templates()


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}") as opened:
        yield opened


# -- ordering ----------------------------------------------------------------------------

@pytest.mark.parametrize(("created", "event_id", "applied", "stale"), [
    (10, "evt_b", None, False),
    (10, "evt_b", (10, "evt_b"), False),  # the same event again (a redelivery) is applied
    (9, "evt_z", (10, "evt_a"), True),
    (10, "evt_a", (10, "evt_b"), True),  # same second: ordered by id, but see is_tied
    (11, "evt_a", (10, "evt_z"), False),
])
def test_stale_is_strictly_older(created, event_id, applied, stale) -> None:
    assert is_stale(inbox(event_id, created), applied) is stale


@pytest.mark.parametrize(("created", "event_id", "applied", "tied"), [
    (10, "evt_b", None, False),
    (10, "evt_b", (10, "evt_b"), False),  # a redelivery of the applied event
    (10, "evt_a", (10, "evt_b"), True),  # same second, other event: order unknowable
    (10, "evt_z", (10, "evt_b"), True),
    (11, "evt_a", (10, "evt_z"), False),
])
def test_tied_means_same_second_other_event(created, event_id, applied, tied) -> None:
    assert is_tied(inbox(event_id, created), applied) is tied


def test_newest_per_object_keeps_one_event_per_object() -> None:
    events = [inbox("evt_1", 5), inbox("evt_2", 7), inbox("evt_3", 6),
              inbox("evt_4", 1, "sub_2"), inbox("evt_5", 1, None), inbox("evt_6", 1, None)]
    newest, superseded, tied = newest_per_object(events)
    assert {k: e.event_id for k, e in newest.items()} == {
        "sub_1": "evt_2", "sub_2": "evt_4", "event:evt_5": "evt_5", "event:evt_6": "evt_6"}
    assert sorted(e.event_id for e in superseded) == ["evt_1", "evt_3"]
    assert tied == set()


def test_events_of_one_object_in_the_same_second_are_tied() -> None:
    # A charge and its refund a few milliseconds apart: ids say nothing about their order.
    events = [inbox("evt_refund", 7), inbox("evt_succeeded", 7), inbox("evt_other", 7, "sub_2")]
    newest, superseded, tied = newest_per_object(events)
    assert [e.event_id for e in superseded] == ["evt_refund"]
    assert tied == {"sub_1"}


def test_refreshed_event_swaps_the_object_only() -> None:
    payload = {"id": "evt_1", "type": "x.updated", "data": {
        "object": {"id": "sub_1", "status": "old"}, "previous_attributes": {"status": "x"}}}
    fresh = refreshed_event(payload, {"id": "sub_1", "status": "new"})
    assert fresh["data"] == {"object": {"id": "sub_1", "status": "new"}}
    assert fresh["id"] == "evt_1" and payload["data"]["object"]["status"] == "old"


# -- batching ----------------------------------------------------------------------------

def test_chunks_and_batch_size() -> None:
    assert [len(c) for c in chunks(list(range(450)), 200)] == [200, 200, 50]
    assert check_batch_size(200) == 200
    for bad in (0, 201, 2.5, True):
        with pytest.raises(ValueError, match="batch_size must be a whole number from 1 to 200"):
            check_batch_size(bad)  # type: ignore[arg-type]


# -- poller helpers ----------------------------------------------------------------------

@pytest.mark.parametrize(("given", "expected"), [
    ("2026-11-27T13:20:03.123+0000", "2026-11-27T13:20:03.123Z"),
    ("2026-11-27T13:20:03Z", "2026-11-27T13:20:03.000Z"),
    ("2026-11-27T15:20:03.5+02:00", "2026-11-27T13:20:03.500Z"),
    ("2026-11-27", "2026-11-27T00:00:00.000Z"),
])
def test_soql_datetime(given: str, expected: str) -> None:
    assert soql_datetime(given) == expected


def test_soql_datetime_refuses_nonsense() -> None:
    with pytest.raises(ConfigError, match="'yesterday' is not a Salesforce datetime"):
        soql_datetime("yesterday")


def test_source_fields_of_the_templates(bundle) -> None:
    fields = source_fields(bundle.flow("closed-won-to-subscription").flow)
    assert set(fields) == {"StripeCustomerID__c", "StripePriceID__c", "TotalOpportunityQuantity",
                           "Id", "StripeSubscriptionID__c", "StageName"}
    customer = source_fields(bundle.flow("closed-won-to-customer").flow)
    assert "Account.Name" in customer and "StripeCustomerID__c" in customer


def test_poller_query_shape(bundle, store) -> None:
    p = SalesforcePoller(bundle, store, salesforce=None, stripe=None)  # type: ignore[arg-type]
    soql = p.query_for(bundle.flow("closed-won-to-customer"), "2026-01-01T00:00:00.000Z",
                       "006x' OR Name != '")
    assert soql.startswith("SELECT Id, SystemModstamp, LastModifiedById, IsDeleted, Account.Name, "
                           "Name,")
    assert "FROM Opportunity WHERE (SystemModstamp > 2026-01-01T00:00:00.000Z OR " \
        "(SystemModstamp = 2026-01-01T00:00:00.000Z AND Id > '006xORName'))" in soql
    assert soql.endswith("ORDER BY SystemModstamp, Id LIMIT 200")
    with pytest.raises(ValueError, match="page_size must be from 1 to 2000"):
        SalesforcePoller(bundle, store, None, None, page_size=0)  # type: ignore[arg-type]


def test_idempotency_key_and_fingerprint() -> None:
    a = idempotency_key("f", "001A", "2026-01-01T00:00:00.000+0000")
    assert a == idempotency_key("f", "001A", "2026-01-01T00:00:00.000+0000")
    assert a != idempotency_key("f", "001A", "2026-01-01T00:00:00.001+0000")
    assert a != idempotency_key("f", "001A", "2026-01-01T00:00:00.000+0000", "replay:1:1")
    record = {"Id": "001A", "Name": "Acme", "Account": {"Name": "Parent"},
              "SystemModstamp": "t1", "LastModifiedById": "005A"}
    paths = ["Id", "Name", "Account.Name"]
    fp = source_fingerprint("f", record, paths)
    touched = {**record, "SystemModstamp": "t2", "LastModifiedById": "005B"}
    assert source_fingerprint("f", touched, paths) == fp  # a save that changed nothing
    assert source_fingerprint("f", {**record, "Name": "Other"}, paths) != fp
    assert source_fingerprint("g", record, paths) != fp  # per flow


def test_stripe_echo_needs_origin_and_an_own_write(store) -> None:
    event = {"id": "evt_1", "object": "event", "type": "customer.created",
             "request": {"idempotency_key": None},
             "data": {"object": {"id": "cus_abcdef1", "metadata": {}}}}
    note_stripe_write(store, "cus_abcdef1", "key-1", created=True)
    assert not is_stripe_echo(store, event)  # no origin mark: a customer made in Stripe
    marked = copy.deepcopy(event)
    marked["data"]["object"]["metadata"] = with_origin({})["metadata"]
    assert is_stripe_echo(store, marked)
    updated = {**marked, "type": "customer.updated"}
    assert not is_stripe_echo(store, updated)  # no key: only the creation is surely ours
    assert is_stripe_echo(store, {**updated, "request": {"idempotency_key": "key-1"}})
    assert not is_stripe_echo(store, {**updated, "request": {"idempotency_key": "other"}})


# -- lookups and dedup over a fake Salesforce ----------------------------------------------

class FakeSalesforce:
    def __init__(self, rows: dict[tuple[str, str], dict[str, list[str]]]) -> None:
        self.rows = rows
        self.queries: list[tuple[str, str, list]] = []
        self.api_calls = 0

    def find_ids(self, obj: str, field: str, values: Any) -> dict[Any, list[str]]:
        values = list(values)
        self.queries.append((obj, field, values))
        # Like SOQL (and the connector), text compares case-insensitively.
        table = {k.casefold(): ids for k, ids in self.rows.get((obj, field), {}).items()}
        return {v: list(table.get(str(v).casefold(), [])) for v in values}


def test_resolver_asks_the_xref_first_then_one_query_per_field(store) -> None:
    store.xref_put("Account", "cus_known001", "001KNOWN", "test")
    sf = FakeSalesforce({("Account", "StripeCustomerID__c"): {
        "cus_found0001": ["001FOUND"], "cus_twice0001": ["001A", "001B"]}})
    resolver = LookupResolver(store, sf)  # type: ignore[arg-type]
    wanted = [("Account", "StripeCustomerID__c", v) for v in
              ("cus_known001", "cus_found0001", "cus_twice0001", "cus_none00001")]
    resolver.prefetch(wanted * 3)
    assert len(sf.queries) == 1
    assert sorted(sf.queries[0][2]) == ["cus_found0001", "cus_none00001", "cus_twice0001"]
    assert resolver("Account", "StripeCustomerID__c", "cus_known001") == "001KNOWN"
    assert resolver("Account", "StripeCustomerID__c", "cus_found0001") == "001FOUND"
    assert resolver("Account", "StripeCustomerID__c", "cus_twice0001") is None  # ambiguous
    assert resolver("Account", "StripeCustomerID__c", "cus_none00001") is None
    assert len(sf.queries) == 1  # all answered from the batch's cache
    assert store.xref_get("Account", "cus_found0001") == "001FOUND"  # remembered


def test_lookup_values_read_expanded_objects(bundle) -> None:
    flow = bundle.flow("charge-to-payment").flow
    assert lookup_values(flow, {"customer": {"id": "cus_x1234567", "object": "customer"}}) == [
        ("Account", "StripeCustomerID__c", "cus_x1234567")]
    assert lookup_values(flow, {"customer": None}) == []


def test_dedup_decisions(store) -> None:
    sf = FakeSalesforce({
        ("Contact", "StripeCustomerID__c"): {"cus_existing1": ["003E"]},
        ("Contact", "Email"): {"one@example.com": ["003O"],
                               "two@example.com": ["003T1", "003T2"]},
    })
    records = [{"StripeCustomerID__c": "cus_existing1", "Email": "two@example.com"},
               {"StripeCustomerID__c": "cus_new000001", "Email": "ONE@example.com"},
               {"StripeCustomerID__c": "cus_new000002", "Email": "two@example.com"},
               {"StripeCustomerID__c": "cus_new000003", "Email": "new@example.com"},
               {"StripeCustomerID__c": "cus_new000004", "Email": None}]
    decisions = decide_dedup(sf, store, "Contact", "StripeCustomerID__c",  # type: ignore[arg-type]
                             ["Email"], records)
    assert [(d.kind, d.sf_id) for d in decisions] == [
        ("existing", "003E"), ("link", "003O"), ("review", None), ("create", None),
        ("create", None)]
    assert [c["Id"] for c in decisions[2].candidates] == ["003T1", "003T2"]
    assert len(sf.queries) == 2  # one per field for the whole batch


# -- loading -------------------------------------------------------------------------------

def test_loaded_from_a_bundle_file(tmp_path: Path) -> None:
    path = build_bundle(template_documents(), tmp_path / "templates.fbz")
    loaded = LoadedBundle.from_bundle(load_bundle(path))
    assert loaded.source == str(path)
    assert [c.name for c in loaded.flows_for_event("charge.refunded")] == [
        "charge-to-payment", "charge-refunds-to-payment"]
    assert {c.name for c in loaded.salesforce_flows} == {
        "account-to-customer", "closed-won-to-customer", "closed-won-to-subscription",
        "product2-to-product"}
    assert loaded.flows_for_event("coupon.created") == []


def test_a_flow_whose_target_the_snapshot_lacks_is_refused() -> None:
    # The charges template alone: which template's flow is named first is not the point.
    charges = [doc for doc in template_documents()
               if any(flow.name == "charge-to-payment" for flow in doc.flows)]
    with pytest.raises(ConfigError, match="flow 'charge-to-payment': the bundle has no "
                                          "schema of its target Payment__c"):
        LoadedBundle.from_documents(charges, Catalog(System.SALESFORCE), load_stripe_catalog())


def test_flows_run_in_lookup_dependency_order(bundle) -> None:
    """Account before the Payment__c that looks it up, before the Refund__c that looks up the
    Payment__c, however the documents are ordered (charges-payments sorts before
    customer-account)."""
    order = [c.name for c in flow_order(bundle)]
    assert order.index("customer-to-account") < order.index("charge-to-payment") \
        < order.index("refund-to-record")
    assert order.index("product-to-product2") < order.index("price-to-pricebook-entry")
    assert order.index("price-to-pricebook-entry") < order.index("invoice-to-order-with-items")
