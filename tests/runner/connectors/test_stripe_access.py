"""What a Stripe key may do for a workspace's flows: the needs, the sentences, the probes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mappings.document.model import MappingDocument
from mappings.document.yamlio import load_document
from runner.api.connectors import (
    AccessResult,
    StripeNeed,
    StripeSettings,
    check_stripe_access,
    missing_sentences,
    stripe_needs,
)
from runner.connectors.stripe_access import (
    missing_permission_sentence,
    outcome_of,
    resource_label,
)
from runner.sandbox.stripe_sandbox import start_stripe_sandbox

TEMPLATES = Path(__file__).resolve().parents[3] / "mappings" / "templates"


def _templates(*names: str) -> list[MappingDocument]:
    return [load_document(TEMPLATES / f"{name}.yaml") for name in names]


def test_needs_are_stripe_sources_read_and_stripe_targets_written() -> None:
    needs = stripe_needs(_templates("payouts", "account-to-stripe-customer"))
    assert StripeNeed("payout", "read", ("payout-to-record",)) in needs
    written = [n for n in needs if n.access == "write"]
    assert [n.object for n in written] == ["customer"]
    assert all(n.object != "Payout__c" for n in needs)  # Salesforce objects are not Stripe's


def test_a_need_names_every_flow_once() -> None:
    doc = _templates("payouts")[0]
    twice = [doc, doc]
    (payout_read,) = [n for n in stripe_needs(twice) if n.object == "payout"]
    assert payout_read.flows == ("payout-to-record",)


@pytest.mark.parametrize(
    ("need", "sentence"),
    [
        (StripeNeed("payout", "read", ("payouts",)),
         "this key cannot read Payouts: the payouts flow will fail"),
        (StripeNeed("customer", "write", ("a", "b", "c")),
         "this key cannot write Customers: the a, b and c flows will fail"),
        (StripeNeed("checkout.session", "read", ("checkout",)),
         "this key cannot read Checkout Sessions: the checkout flow will fail"),
    ],
)
def test_sentences(need: StripeNeed, sentence: str) -> None:
    assert missing_permission_sentence(need) == sentence


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(403, "no_permission"), (404, "ok"), (400, "ok"), (401, "error"), (500, "error"), (None, "error")],
)
def test_outcome_of_a_probe(status: int | None, outcome: str) -> None:
    assert outcome_of(status) == outcome


def test_labels() -> None:
    assert resource_label("early_fraud_warning") == "Radar Early Fraud Warnings"
    assert resource_label("balance_transaction") == "Balance Transactions"


def test_missing_sentences_keep_only_permissions() -> None:
    need = StripeNeed("payout", "read", ("payouts",))
    results = [AccessResult(need, "ok", ""), AccessResult(need, "error", "network"),
               AccessResult(need, "no_permission", "this key cannot read Payouts: x")]
    assert missing_sentences(results) == ["this key cannot read Payouts: x"]


@pytest.mark.slow
def test_probes_against_the_sandbox() -> None:
    docs = _templates("payouts", "charges-payments", "account-to-stripe-customer")
    key = "rk_test_access_probe"
    with start_stripe_sandbox() as sandbox:
        sandbox.declare_restricted_keys(
            {key: {"payouts": "none", "charges": "read", "customers": "read"}})
        settings = StripeSettings(api_key=key, api_base=sandbox.api_base, flavor="localstripe")
        results = check_stripe_access(settings, docs)
        by = {(r.need.object, r.need.access): r for r in results}
        assert by[("payout", "read")].outcome == "no_permission"
        assert by[("charge", "read")].outcome == "ok"
        assert by[("customer", "write")].outcome == "no_permission"
        assert missing_sentences(results) == [
            "this key cannot read Payouts: the payout-to-record flow will fail",
            "this key cannot write Customers: the account-to-customer flow will fail",
        ]

        full = StripeSettings(api_key=sandbox.api_key, api_base=sandbox.api_base,
                              flavor="localstripe")
        assert all(r.outcome == "ok" for r in check_stripe_access(full, docs))
        wrong = StripeSettings(api_key="rk_test_undeclared", api_base=sandbox.api_base,
                               flavor="localstripe")
        assert {r.outcome for r in check_stripe_access(wrong, docs)} == {"error"}
