"""The connections dialog says what a tested Stripe key may not do for the workspace's flows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.services.connections import ConnectionStore, StripeConnection, stripe_key_gaps
from app.views.connections_dialog import ConnectionsDialog
from mappings.document.model import MappingDocument
from mappings.document.yamlio import load_document
from runner.sandbox.stripe_sandbox import StripeSandbox, start_stripe_sandbox

TEMPLATES = Path(__file__).resolve().parents[2] / "mappings" / "templates"
NO_PAYOUTS = "rk_test_studio_nopayouts"
NO_CUSTOMERS = "rk_test_studio_nocustomers"
SENTENCE = "this key cannot read Payouts: the payout-to-record flow will fail"


@pytest.fixture(scope="module")
def stripe_sandbox() -> Iterator[StripeSandbox]:
    with start_stripe_sandbox() as sandbox:
        sandbox.declare_restricted_keys({
            NO_PAYOUTS: {"customers": "read", "charges": "read", "payouts": "none"},
            NO_CUSTOMERS: {"payouts": "read"},
        })
        yield sandbox


@pytest.fixture
def documents() -> list[MappingDocument]:
    return [load_document(TEMPLATES / "payouts.yaml"),
            load_document(TEMPLATES / "charges-payments.yaml")]


@pytest.fixture
def store(tmp_path: Path, memory_keyring: object) -> ConnectionStore:
    return ConnectionStore(tmp_path / "connections.json")


def test_the_service_names_the_missing_permission(stripe_sandbox, documents, store) -> None:
    conn = StripeConnection("Restricted", api_base=stripe_sandbox.api_base).with_key(NO_PAYOUTS)
    conn.api_base = stripe_sandbox.api_base
    assert stripe_key_gaps(conn, documents, store) == [SENTENCE]
    full = StripeConnection("Full", api_base=stripe_sandbox.api_base,
                            api_key=stripe_sandbox.api_key)
    assert stripe_key_gaps(full, documents, store) == []
    assert stripe_key_gaps(StripeConnection("No key"), documents, store) == []


def test_the_dialog_lists_what_the_key_lacks_and_still_saves(
    qtbot, stripe_sandbox, documents, store
) -> None:
    dialog = ConnectionsDialog(store, documents=lambda: documents)
    qtbot.addWidget(dialog)
    dialog.new_connection("stripe")
    dialog.stripe_form.name.setText("Restricted")
    dialog.stripe_form.api_key.setText(NO_PAYOUTS)
    dialog.stripe_form.api_base.setText(stripe_sandbox.api_base)
    with qtbot.waitSignal(dialog.testFinished, timeout=30_000) as signal:
        assert dialog.test()
    assert signal.args[0].ok
    assert dialog.key_gaps.isVisibleTo(dialog)
    assert SENTENCE in dialog.key_gaps.text()
    assert "Charges" not in dialog.key_gaps.text()  # read is all the charges flow needs

    assert dialog.save_button.isEnabled()
    assert dialog.save()
    assert "Restricted" in [c.name for c in store.stripe_connections()]
    assert SENTENCE in dialog.key_gaps.text()  # the warning stays in view after saving

    dialog.new_connection("stripe")
    assert not dialog.key_gaps.isVisibleTo(dialog)


def test_without_documents_no_key_check(qtbot, stripe_sandbox, store) -> None:
    dialog = ConnectionsDialog(store)
    qtbot.addWidget(dialog)
    dialog.new_connection("stripe")
    dialog.stripe_form.name.setText("Restricted")
    dialog.stripe_form.api_key.setText(NO_PAYOUTS)
    dialog.stripe_form.api_base.setText(stripe_sandbox.api_base)
    with qtbot.waitSignal(dialog.testFinished, timeout=30_000):
        assert dialog.test()
    assert not dialog.key_gaps.isVisibleTo(dialog)


def test_a_key_refused_by_the_connection_test_still_gets_its_flows_checked(
    qtbot, stripe_sandbox, documents, store
) -> None:
    """The connection test reads customers; a key without them may still suit the flows."""
    dialog = ConnectionsDialog(store, documents=lambda: documents[:1])
    qtbot.addWidget(dialog)
    dialog.new_connection("stripe")
    dialog.stripe_form.name.setText("Payouts only")
    dialog.stripe_form.api_key.setText(NO_CUSTOMERS)
    dialog.stripe_form.api_base.setText(stripe_sandbox.api_base)
    with qtbot.waitSignal(dialog.testFinished, timeout=30_000) as signal:
        assert dialog.test()
    assert signal.args[0].reason == "permission"
    assert not dialog.key_gaps.isVisibleTo(dialog)  # the payouts flow has what it needs
