"""Status bar connection badges: how each connection reads, and how they follow the preview
and test-run panels' choices and the connections' edits."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app import asyncloop
from app.document.document import StudioDocument, default_catalogs
from app.services import (
    LOCAL_SANDBOX,
    SOURCE_STRIPE,
    SalesforceConnection,
    Services,
    StripeConnection,
)
from app.views.main_window import MainWindow
from app.views.statusbar import describe_connection
from app.workspace import studio_settings

SANDBOX_LOGIN = "https://test.salesforce.com"


@pytest.mark.parametrize(
    ("system", "conn", "text", "mode"),
    [
        ("stripe", None, "Stripe: not connected", "none"),
        ("stripe", StripeConnection(LOCAL_SANDBOX, builtin=True), "Stripe · Local sandbox",
         "local"),
        ("stripe", StripeConnection("Acme", "test"), "Stripe · Acme · TEST", "test"),
        ("stripe", StripeConnection("Acme", "live"), "Stripe · Acme · LIVE", "live"),
        ("salesforce", SalesforceConnection(LOCAL_SANDBOX, builtin=True),
         "Salesforce · Local sandbox", "local"),
        ("salesforce", SalesforceConnection("Prod", username="ops@acme.com"),
         "Salesforce · ops@acme.com @ production", "live"),
        ("salesforce", SalesforceConnection("QA", login_url=SANDBOX_LOGIN + "/",
                                            username="qa@acme.com.qa"),
         "Salesforce · qa@acme.com.qa @ sandbox org", "test"),
        ("salesforce", SalesforceConnection(
            "Dev", login_url="https://acme--dev.sandbox.my.salesforce.com"),
         "Salesforce · Dev @ acme--dev.sandbox.my.salesforce.com", "test"),
        ("salesforce", SalesforceConnection("Mine", login_url="https://acme.my.salesforce.com",
                                            username="me@acme.com"),
         "Salesforce · me@acme.com @ acme.my.salesforce.com", "live"),
    ],
)
def test_describe_connection(system, conn, text, mode):
    shown, shown_mode, tooltip = describe_connection(system, conn)
    assert (shown, shown_mode) == (text, mode)
    assert tooltip


def test_live_and_production_tooltips_warn():
    _t, _m, tip = describe_connection("stripe", StripeConnection("Acme", "live"))
    assert "real money" in tip
    _t, _m, tip = describe_connection("salesforce", SimpleNamespace(
        name="Prod", builtin=False, login_url="https://login.salesforce.com", username=""))
    assert "refused" in tip


@pytest.fixture
def window(qtbot, tmp_path, memory_keyring) -> MainWindow:
    services = Services(config_path=tmp_path / "connections.json",
                        sandbox_dir=tmp_path / "sandbox")
    win = MainWindow(
        StudioDocument(catalogs=default_catalogs()),
        settings=studio_settings(tmp_path / "settings.ini"),
        ask_unsaved=lambda _parent, _name: "discard",
        services=services,
    )
    qtbot.addWidget(win)
    win.open_template("charges-payments")
    yield win
    asyncloop.set_error_sink(None)


def test_badges_start_on_the_local_sandbox(window):
    assert window.stripe_badge.text() == "Stripe · Local sandbox"
    assert window.salesforce_badge.text() == "Salesforce · Local sandbox"
    assert window.stripe_badge.property("mode") == "local"


def test_badges_follow_the_panels_choices_and_the_connection_edits(window):
    store = window.services.store
    store.add(StripeConnection("Acme").with_key("sk_test_" + "x" * 24))
    store.add(SalesforceConnection("QA", auth="password", login_url=SANDBOX_LOGIN,
                                   username="qa@acme.com.qa", consumer_key="3MVG9ck",
                                   password="pw"))
    # adding connections changes no choice
    assert window.stripe_badge.text() == "Stripe · Local sandbox"

    window.preview_panel.set_source(SOURCE_STRIPE, "Acme")
    assert window.stripe_badge.text() == "Stripe · Acme · TEST"
    assert window.stripe_badge.property("mode") == "test"
    window.testrun_panel.set_connection("QA")
    assert window.salesforce_badge.text() == "Salesforce · qa@acme.com.qa @ sandbox org"
    assert window.current_connections == {"stripe": "Acme", "salesforce": "QA"}

    # an edit in the connections dialog: the key is now a live one
    store.update("Acme", StripeConnection("Acme").with_key("sk_live_" + "y" * 24))
    assert window.stripe_badge.text() == "Stripe · Acme · LIVE"
    assert window.stripe_badge.property("mode") == "live"
    # a removed connection falls back to the built-in one
    store.remove("salesforce", "QA")
    assert window.salesforce_badge.text() == "Salesforce · Local sandbox"
    assert window.current_connections["salesforce"] == LOCAL_SANDBOX


def test_unknown_system_is_refused(window):
    with pytest.raises(ValueError, match="unknown system 'paypal'"):
        window.use_connection("paypal", "x")


def test_clicking_a_badge_opens_the_connections_dialog(window, qtbot):
    from PySide6.QtCore import Qt

    qtbot.mouseClick(window.stripe_badge, Qt.MouseButton.LeftButton)
    from app.views.connections_dialog import ConnectionsDialog

    assert any(isinstance(d, ConnectionsDialog) for d in window._dialogs)
