"""Salesforce API calls of the products-prices template in one batch, against the sandbox
org: products, then their prices (the standard price book a constant lookup asked once),
then a second price of each product in the same currency (after a state reset), which finds
the product's entry by StripeProductCurrency__c and updates it by Id without the fields
Salesforce fixes at creation. Figures are printed beside the naive one-call-per-record
count."""

from __future__ import annotations

import uuid
from typing import Any

from runner.pipeline.processor import Processor
from runner.sandbox.stripe_events import make_event
from runner.state.store import StateStore
from tests.runner.pipeline.test_processor import claim_all, rows

N = 120


def _events(tag: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    products, prices = [], []
    for n in range(N):
        product = f"prod_{tag}{n:04d}"
        products.append(make_event("product.created", overrides={
            "id": product, "name": f"Part {n}", "active": True}))
        prices.append(make_event("price.created", overrides={
            "id": f"price_{tag}{n:04d}", "product": product, "currency": "eur",
            "unit_amount": 100 + n, "active": True, "billing_scheme": "per_unit"}))
    return products, prices


def test_prices_cost_a_few_calls_per_batch_and_a_second_price_updates(bundle, salesforce, stripe,
                                                                tmp_path) -> None:
    tag = uuid.uuid4().hex[:8]
    products, prices = _events(tag)
    figures = {}
    with StateStore.open(f"sqlite:///{tmp_path / 'a.sqlite'}") as store:
        for name, events in (("products", products), ("prices", prices)):
            before = salesforce.api_calls
            report = Processor(bundle, store, salesforce, stripe).process_events(
                claim_all(store, events))
            assert report.written == N and not report.errors, report
            figures[name] = salesforce.api_calls - before
    # A fresh state (no cross references) sees a yearly EUR price of each product: the
    # product's one EUR entry is updated, no second entry is tried.
    yearly = [make_event("price.created", overrides={
        **e["data"]["object"], "id": f"price_{tag}y{n:04d}", "unit_amount": 1000 + n})
        for n, e in enumerate(prices)]
    with StateStore.open(f"sqlite:///{tmp_path / 'b.sqlite'}") as store:
        before = salesforce.api_calls
        report = Processor(bundle, store, salesforce, stripe).process_events(
            claim_all(store, yearly))
        assert report.written == N and not report.errors and report.dead_lettered == 0, report
        figures["second prices"] = salesforce.api_calls - before
    entries = rows(salesforce, "SELECT StripeProductCurrency__c, StripePriceID__c, UnitPrice, "
                               "IsActive, CurrencyIsoCode, Pricebook2.IsStandard FROM "
                               "PricebookEntry WHERE StripeProductCurrency__c LIKE "
                               f"'prod_{tag}%'")
    assert sorted((e["StripeProductCurrency__c"], e["StripePriceID__c"], e["UnitPrice"])
                  for e in entries) == [(f"prod_{tag}{n:04d}|EUR", f"price_{tag}y{n:04d}",
                                         (1000 + n) / 100) for n in range(N)]
    assert all(e["IsActive"] and e["CurrencyIsoCode"] == "EUR"
               and e["Pricebook2"]["IsStandard"] for e in entries)
    for name, calls in figures.items():
        print(f"{name}: {N} records, {calls} Salesforce calls (naive: {N})")
    # Products: one upsert call. Prices: the standard book asked once (the products are in
    # the cross references the products wrote), the keys once, one upsert call. The second prices,
    # with no cross references: the book, the products, the keys, one update call.
    assert figures == {"products": 1, "prices": 3, "second prices": 4}
