"""A lookup by a constant (``Pricebook2.IsStandard = true``): read, written, mapped, resolved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mappings.document.yamlio import dump_document, load_document, loads_document
from mappings.engine.fixtures import fixture_resolver
from mappings.engine.plan import compile_flow
from mappings.errors import DocumentError
from mappings.schema.org_metadata import load_salesforce_catalog
from mappings.schema.stripe_catalog import load_stripe_catalog
from runner.pipeline.lookups import LookupResolver, lookup_values

DOC = """\
format: 1
name: prices
flows:
  - name: price-to-entry
    trigger:
      stripe_events:
        - price.created
    source:
      system: stripe
      object: price
    target:
      system: salesforce
      object: PricebookEntry
    operation:
      action: insert
    fields:
      - target: StripePriceID__c
        source: id
    lookups:
      - target: Pricebook2Id
        object: Pricebook2
        match_field: IsStandard
        value: true
      - target: Product2Id
        object: Product2
        match_field: StripeProductID__c
        source: product
    defaults:
      UnitPrice: 5
    fixtures:
      - name: one
        input:
          id: price_1
          object: price
          product: prod_1
        expected:
          StripePriceID__c: price_1
          UnitPrice: 5
"""


def _plan():
    doc = loads_document(DOC)
    return doc, compile_flow(doc.flows[0], doc, load_salesforce_catalog()["PricebookEntry"],
                             source_schema=load_stripe_catalog()["price"])


def test_a_constant_lookup_round_trips_through_yaml() -> None:
    doc = loads_document(DOC)
    lk = doc.flows[0].lookups[0]
    assert lk.constant and lk.value is True and lk.source == ""
    assert dump_document(doc) == DOC


@pytest.mark.parametrize("edit, words", [
    ("        value: true\n", "        value: true\n        source: id\n"),
    ("        value: true\n", ""),
])
def test_a_lookup_needs_exactly_one_of_source_and_value(edit: str, words: str) -> None:
    with pytest.raises(DocumentError):
        loads_document(DOC.replace(edit, words))


def test_the_engine_resolves_the_constant_whatever_the_record() -> None:
    _doc, plan = _plan()
    asked: list[tuple[str, str, Any]] = []

    def resolve(obj: str, field: str, value: Any) -> str | None:
        asked.append((obj, field, value))
        return {"Pricebook2": "01s000000000001AAA", "Product2": "01t000000000001AAA"}[obj]

    result = plan.apply({"id": "price_1", "object": "price", "product": "prod_1"}, resolve)
    assert result.ok, result.issues
    assert result.record["Pricebook2Id"] == "01s000000000001AAA"
    assert ("Pricebook2", "IsStandard", True) in asked
    # Without a resolver (preview), the reference is written as Salesforce names it.
    preview = plan.apply({"id": "price_1", "object": "price", "product": "prod_1"})
    assert preview.record["Pricebook2"] == {"IsStandard": True}


def test_a_fixture_answers_a_constant_lookup_by_its_value() -> None:
    _doc, plan = _plan()
    resolver = fixture_resolver({"Pricebook2.IsStandard=True": "01sSTD",
                                 "Product2.StripeProductID__c=prod_1": "01tP"})
    record = plan.apply({"id": "price_1", "object": "price", "product": "prod_1"},
                        resolver).record
    assert record["Pricebook2Id"] == "01sSTD" and record["Product2Id"] == "01tP"


class _Org:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str, list]] = []

    def find_ids(self, obj: str, field: str, values: Any) -> dict[Any, list[str]]:
        values = list(values)
        self.asked.append((obj, field, values))
        return {v: (["01sSTD"] if v is True else []) for v in values}


class _NoXrefs:
    def xref_get_many(self, sf_object: str, stripe_ids: Any) -> dict[str, str]:
        return {}

    def xref_put(self, sf_object: str, stripe_id: str, sf_id: str, flow: str) -> None:
        raise AssertionError("a constant is not a Stripe id to remember")


def test_the_runner_asks_once_per_batch_and_keeps_the_bool() -> None:
    doc, _plan_ = _plan()
    flow = doc.flows[0]
    wanted = lookup_values(flow, {"product": "prod_1"}) * 3
    assert ("Pricebook2", "IsStandard", True) in wanted
    org = _Org()
    resolver = LookupResolver(_NoXrefs(), org)  # type: ignore[arg-type]
    resolver.prefetch([w for w in wanted if w[0] == "Pricebook2"])
    assert org.asked == [("Pricebook2", "IsStandard", [True])]  # a bool, never 'True'
    assert resolver("Pricebook2", "IsStandard", True) == "01sSTD"
    assert len(org.asked) == 1


def test_shipped_templates_still_load(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(DOC)
    assert load_document(path).flows[0].lookups[1].source == "product"
