"""Connections: keyring-backed round trips, bad input, the dialog, and the reasons a test
names for a failure (against the local sandboxes)."""

from __future__ import annotations

import json
from pathlib import Path

import keyring
import pytest

from app.document.document import StudioDocument, default_catalogs
from app.services.connections import (
    KEYRING_SERVICE,
    LOCAL_SANDBOX,
    SANDBOX_LOGIN,
    ConnectionsError,
    ConnectionStore,
    SalesforceConnection,
    StripeConnection,
    keyring_username,
    test_connection,
)
from app.services.sandbox import SandboxService
from app.views.connections_dialog import STORED, ConnectionsDialog


@pytest.fixture
def store(tmp_path, memory_keyring) -> ConnectionStore:
    return ConnectionStore(tmp_path / "config" / "connections.json")


def _all_text_under(folder: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


SECRET_KEY = "sk_live_51Hsecretkeyvalue0123456789"


def test_stripe_round_trip_keeps_the_secret_in_the_keyring_only(store, memory_keyring, tmp_path):
    store.add(StripeConnection("Acme EU", api_key=SECRET_KEY))
    username = keyring_username("stripe", "Acme EU", "api_key")
    assert username == "stripe:Acme EU:api_key"  # what the runner reads
    assert memory_keyring.entries[(KEYRING_SERVICE, username)] == SECRET_KEY
    saved = json.loads(store.config_path.read_text())
    assert saved["stripe"] == [{"name": "Acme EU", "mode": "live", "api_base": None}]
    # A workspace saved next to it holds no secret either.
    document = StudioDocument(catalogs=default_catalogs())
    document.open_template("customer-account")
    document.save_as(tmp_path / "workspace")
    assert SECRET_KEY not in _all_text_under(tmp_path)

    reopened = ConnectionStore(store.config_path)
    conn = reopened.get("stripe", "Acme EU")
    assert conn.mode == "live" and conn.badge == "LIVE" and conn.api_key == ""
    assert reopened.stripe_settings("Acme EU").api_key == SECRET_KEY

    # Editing without typing the key keeps the stored one; renaming moves it.
    reopened.update("Acme EU", StripeConnection("Acme Europe", api_base="https://proxy.example"))
    assert reopened.stripe_settings("Acme Europe").api_key == SECRET_KEY
    assert (KEYRING_SERVICE, username) not in memory_keyring.entries
    assert reopened.get("stripe", "Acme Europe").mode == "live"

    reopened.remove("stripe", "Acme Europe")
    assert memory_keyring.entries == {}
    assert ConnectionStore(store.config_path).stripe_connections()[-1].name == LOCAL_SANDBOX


def test_salesforce_round_trip(store, memory_keyring, tmp_path):
    key_file = tmp_path / "server.key"
    key_file.write_text("-----BEGIN PRIVATE KEY-----\n")
    store.add(SalesforceConnection(
        "Sales sandbox", "password", SANDBOX_LOGIN, "ops@acme.example", "3MVGconsumer",
        password="hunter2-password", security_token="TOKEN123", client_secret="shh-secret"))
    store.add(SalesforceConnection(
        "Prod JWT", "jwt", "https://acme.my.salesforce.com", "ops@acme.example", "3MVGk",
        private_key_file=str(key_file)))
    text = store.config_path.read_text()
    for secret in ("hunter2-password", "TOKEN123", "shh-secret"):
        assert secret not in text
        assert secret in memory_keyring.entries.values()
    reopened = ConnectionStore(store.config_path)
    sandbox = reopened.get("salesforce", "Sales sandbox")
    assert sandbox.badge == "SANDBOX ORG" and sandbox.is_sandbox_org
    assert sandbox.password == ""  # not in the file, not filled in
    settings = reopened.salesforce_settings("Sales sandbox")
    assert (settings.password, settings.security_token) == ("hunter2-password", "TOKEN123")
    prod = reopened.get("salesforce", "Prod JWT")
    assert prod.badge == "acme.my.salesforce.com" and not prod.is_sandbox_org
    assert reopened.salesforce_settings("Prod JWT").private_key_file == str(key_file)
    reopened.remove("salesforce", "Sales sandbox")
    assert memory_keyring.entries == {}


@pytest.mark.parametrize(
    ("conn", "message"),
    [
        (StripeConnection("a", api_key="pk_test_123"), "starts with sk_test_"),
        (StripeConnection("a", api_key=""), "needs its API key"),
        (StripeConnection("", api_key="sk_test_123"), "needs a name"),
        (StripeConnection(LOCAL_SANDBOX, api_key="sk_test_123"), "built-in"),
        (StripeConnection("a", api_key="sk_test_1", api_base="ftp://x"), "not an http"),
        (SalesforceConnection("s", "jwt", "https://login.salesforce.com", "u", "k"),
         "private key file"),
        (SalesforceConnection("s", "password", "http://login.salesforce.com", "u", "k"),
         "must start with https://"),
        (SalesforceConnection("s", "password", username="", consumer_key="k"), "username"),
        (SalesforceConnection("s", "jwt", username="u", consumer_key="k",
                              private_key_file="/nonexistent/key.pem"), "does not exist"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(store, conn, message):
    with pytest.raises(ConnectionsError, match=message):
        store.add(conn)
    assert not store.config_path.exists()


def test_duplicate_names_and_builtins(store):
    store.add(StripeConnection("A", api_key="sk_test_123456"))
    with pytest.raises(ConnectionsError, match="already exists"):
        store.add(StripeConnection("A", api_key="sk_test_654321"))
    with pytest.raises(ConnectionsError, match="cannot be removed"):
        store.remove("salesforce", LOCAL_SANDBOX)
    with pytest.raises(ConnectionsError, match="no stripe connection named 'B'"):
        store.remove("stripe", "B")


def test_a_broken_connections_file_is_named(tmp_path, memory_keyring):
    path = tmp_path / "connections.json"
    path.write_text("{not json")
    with pytest.raises(ConnectionsError, match="cannot read the connections file"):
        ConnectionStore(path)
    path.write_text(json.dumps({"format": 99}))
    with pytest.raises(ConnectionsError, match="not a format-1 connections file"):
        ConnectionStore(path)


def test_scenario_9_without_a_keyring_the_session_keeps_the_key_marked_not_saved(
    qtbot, tmp_path
):
    """Issue 13, scenario 9 (was: a refusal quoting keyring's "No recommended backend …
    Install keyrings.alt"): the connection is saved, its key is held in memory for the
    session, the dialog says so in the user's terms and marks it "not saved"."""
    from keyring.backends.fail import Keyring as FailKeyring

    previous = keyring.get_keyring()
    keyring.set_keyring(FailKeyring())
    try:
        store = ConnectionStore(tmp_path / "connections.json")
        dialog = ConnectionsDialog(store)
        qtbot.addWidget(dialog)
        dialog.new_connection("stripe")
        dialog.stripe_form.name.setText("Shop")
        dialog.stripe_form.api_key.setText("sk_test_123456")
        assert dialog.save()
        text = dialog.message.text()
        assert "NOT saved" in text and "until you close the studio" in text
        assert "password store" in text
        assert "keyrings.alt" not in text and "backend" not in text
        conn = store.get("stripe", "Shop")
        assert store.unsaved_secrets(conn) == ["api_key"]
        assert store.stripe_settings("Shop").api_key == "sk_test_123456"  # usable now
        assert "sk_test_123456" not in store.config_path.read_text()  # never on disk
        row = dialog.list.item([e for e in dialog.entries()].index(("stripe", "Shop")))
        assert "not saved" in row.toolTip()
        # a new session (the studio restarted) has no key: nothing was written anywhere
        assert ConnectionStore(tmp_path / "connections.json").secret(conn, "api_key") is None
        dialog.select("stripe", "Shop")
        dialog.remove()
        assert store.unsaved_secrets(conn) == []
    finally:
        keyring.set_keyring(previous)


# -- the dialog ---------------------------------------------------------------------------


def test_dialog_adds_edits_and_removes_without_prefilling_secrets(
    qtbot, store, memory_keyring, tmp_path
):
    dialog = ConnectionsDialog(store)
    qtbot.addWidget(dialog)
    assert ("stripe", LOCAL_SANDBOX) in dialog.entries()
    assert ("salesforce", LOCAL_SANDBOX) in dialog.entries()
    assert not dialog.remove_button.isEnabled()  # the built-in pair stays

    dialog.new_connection("stripe")
    dialog.stripe_form.name.setText("Shop")
    dialog.stripe_form.api_key.setText("sk_test_shopkey123")
    assert "test mode" in dialog.stripe_form.mode.text()
    assert dialog.save()
    assert ("stripe", "Shop") in dialog.entries()
    assert memory_keyring.entries[(KEYRING_SERVICE, "stripe:Shop:api_key")] == "sk_test_shopkey123"
    assert "sk_test_shopkey123" not in store.config_path.read_text()

    dialog.select("stripe", "Shop")
    form = dialog.stripe_form
    assert form.api_key.text() == "" and form.api_key.placeholderText() == STORED
    assert form.api_key.echoMode() == form.api_key.EchoMode.Password
    form.api_base.setText("https://proxy.example")
    assert dialog.save()
    assert store.stripe_settings("Shop").api_key == "sk_test_shopkey123"  # kept

    dialog.new_connection("stripe")
    dialog.stripe_form.name.setText("Bad")
    dialog.stripe_form.api_key.setText("pk_live_oops")
    assert not dialog.save()
    assert "sk_live_" in dialog.message.text()

    dialog.select("stripe", "Shop")
    dialog.remove()
    assert ("stripe", "Shop") not in dialog.entries()
    assert memory_keyring.entries == {}

    dialog.new_connection("salesforce")
    sf = dialog.salesforce_form
    sf.name.setText("Org")
    sf.login.setCurrentIndex(1)
    sf.auth.setCurrentIndex(sf.auth.findData("password"))
    sf.username.setText("me@example.com")
    sf.consumer_key.setText("3MVG")
    sf.password.setText("pw-secret")
    assert dialog.save()
    dialog.select("salesforce", "Org")
    assert sf.password.text() == "" and sf.password.placeholderText() == STORED
    assert sf.security_token.placeholderText() == ""  # none stored
    dialog.resize(820, 480)
    dialog.grab().save(str(tmp_path / "connections_dialog.png"))


# -- connection tests against the local sandboxes ---------------------------------------------


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    service = SandboxService(tmp_path_factory.mktemp("sandbox"), seed=None)
    service.ensure_up()
    yield service
    service.stop()


@pytest.fixture
def sandbox_store(tmp_path, sandbox, memory_keyring) -> ConnectionStore:
    return ConnectionStore(tmp_path / "connections.json", sandbox=sandbox)


def _org(sandbox, **changes) -> SalesforceConnection:
    sf = sandbox.ensure_up().salesforce
    values = dict(name="Emulator", auth="password", login_url=sf.login_url,
                  username=sf.username, consumer_key=sf.consumer_key, ca_file=str(sf.ca_file),
                  password=sf.password, security_token=sf.security_token,
                  client_secret=sf.consumer_secret)
    values.update(changes)
    return SalesforceConnection(**values)


@pytest.mark.slow
def test_builtin_sandbox_connections_pass(sandbox_store):
    for conn in (sandbox_store.get("stripe", LOCAL_SANDBOX),
                 sandbox_store.get("salesforce", LOCAL_SANDBOX)):
        result = test_connection(conn, sandbox_store)
        assert result.ok, result.message
        assert result.reason == "ok"


@pytest.mark.slow
def test_stripe_bad_key_is_reported_as_such(sandbox, sandbox_store):
    api_base = sandbox.ensure_up().stripe.api_base
    result = test_connection(StripeConnection("S", api_base=api_base, api_key="sk_x"),
                             sandbox_store)
    assert not result.ok
    assert result.reason == "config"  # refused before any call: not a Stripe key at all
    result = test_connection(
        StripeConnection("S", api_base=api_base, api_key="rk_test_"), sandbox_store)
    assert (result.ok, result.reason) == (False, "bad_key")
    assert "API key was refused" in result.message


@pytest.mark.slow
@pytest.mark.parametrize(
    ("changes", "reason", "words"),
    [
        ({"password": "not-the-password"}, "login", "wrong username, password"),
        ({"consumer_key": "3MVGnot-this-org"}, "wrong_org", "not known to this org"),
        ({"login_url": "https://127.0.0.1:1"}, "network", "refused"),
    ],
)
def test_salesforce_failures_name_their_reason(sandbox, sandbox_store, changes, reason, words):
    result = test_connection(_org(sandbox, **changes), sandbox_store)
    assert (result.ok, result.reason) == (False, reason), result.detail
    assert words in result.message
    assert "not-the-password" not in result.message + result.detail  # secrets stay out


@pytest.mark.slow
def test_salesforce_certificate_mismatch(sandbox, sandbox_store, tmp_path):
    import trustme

    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    result = test_connection(_org(sandbox, ca_file=str(other_ca)), sandbox_store)
    assert (result.ok, result.reason) == (False, "certificate"), result.detail
    assert "certificate" in result.message


@pytest.mark.slow
def test_the_dialog_test_button_shows_the_result(qtbot, sandbox_store):
    dialog = ConnectionsDialog(sandbox_store)
    qtbot.addWidget(dialog)
    dialog.select("salesforce", LOCAL_SANDBOX)
    with qtbot.waitSignal(dialog.testFinished, timeout=30_000) as signal:
        assert dialog.test()
    assert signal.args[0].ok
    assert "logged in" in dialog.message.text()
    assert dialog.test_button.isEnabled()


def test_dialog_accepts_the_services_facade(qtbot, tmp_path, memory_keyring):
    from app.services import Services

    services = Services(config_path=tmp_path / "c.json", sandbox_dir=tmp_path / "sandbox")
    dialog = ConnectionsDialog(services)
    qtbot.addWidget(dialog)
    assert dialog.store is services.store
    assert ("salesforce", LOCAL_SANDBOX) in dialog.entries()
