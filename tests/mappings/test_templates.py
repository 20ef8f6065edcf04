"""Every shipped template loads, builds into a bundle, verifies and passes its fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from mappings.bundle import build_bundle, load_bundle, verify_bundle
from mappings.document.yamlio import dump_document, load_document
from mappings.engine.fixtures import format_fixture_report, run_fixtures
from mappings.schema.model import System
from mappings.schema.org_metadata import load_salesforce_catalog
from mappings.schema.stripe_catalog import load_stripe_catalog

TEMPLATES = sorted((Path(__file__).resolve().parents[2] / "mappings" / "templates").glob("*.yaml"))

# The seven use cases of the product brief, by template name.
USE_CASES = {
    "customer-account",
    "charges-payments",
    "subscriptions",
    "opportunity-to-subscription",
    "disputes-fraud-cases",
    "payouts",
    "account-to-stripe-customer",
    "anomaly-cases",
    "invoices-orders",  # issue 14: invoices -> Orders with OrderItems
    "products-prices",  # issue 14: products and prices <-> Product2 and PricebookEntry
    "product2-to-stripe-product",
    "refunds",
    "payment-intents",
}


def test_every_use_case_has_a_template() -> None:
    assert {load_document(p).name for p in TEMPLATES} == USE_CASES


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_template_is_in_canonical_form(path: Path) -> None:
    # Templates are written by the canonical dumper, so a user's save produces no diff.
    assert dump_document(load_document(path)) == path.read_text()


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_template_builds_verifies_and_passes_its_fixtures(path: Path, tmp_path: Path) -> None:
    doc = load_document(path)
    out = build_bundle(
        [doc],
        tmp_path / f"{path.stem}.fbz",
        stripe_catalog=load_stripe_catalog(),
        salesforce_catalog=load_salesforce_catalog(),
    )
    verify_bundle(out)
    bundle = load_bundle(out)
    assert [f.name for _, f in bundle.flows()] == [f.name for f in doc.flows]
    for flow in doc.flows:
        assert flow.fixtures, f"flow {flow.name} has no fixtures"
    (loaded,) = bundle.documents
    results = run_fixtures(loaded, bundle.schemas_by_name())
    report = format_fixture_report(results)
    assert results and all(r.passed for r in results), report


def test_template_targets_exist_in_the_shipped_org() -> None:
    sf = load_salesforce_catalog()
    stripe = load_stripe_catalog()
    for path in TEMPLATES:
        for flow in load_document(path).flows:
            catalog = sf if flow.target.system is System.SALESFORCE else stripe
            target = catalog[flow.target.object]
            if flow.target.system is System.SALESFORCE:
                for name in flow.target_fields():
                    assert target.find(name) is not None, f"{flow.name}: {name}"
