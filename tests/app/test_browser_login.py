"""Log in with Salesforce from the connections dialog, against the org emulator: the
browser (played by form posts) logs in and approves, the form keeps the refresh token, Save
puts it in the keyring, and the connection then reaches the org with it alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from app.services.connections import ConnectionStore, SalesforceConnection, test_connection
from app.views.connections_dialog import ConnectionsDialog, SalesforceForm
from runner.api.oauth import LoginError, refresh_access_token
from runner.sandbox.salesforce import start_emulator
from tests.runner.oauth_browser import FormBrowser


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    h = start_emulator(tmp_path_factory.mktemp("sf-studio-login"), reset=True)
    yield h
    h.stop()


def _browser(handle: Any) -> Any:
    """What the system browser and the user do with the authorize URL."""
    def open_(url: str) -> None:
        back = FormBrowser(handle.ca_file).log_in(url, handle.username, handle.password)
        callback = requests.Session()
        callback.trust_env = False
        assert callback.get(back).status_code == 200
    return open_


def _form(qtbot, handle: Any) -> SalesforceForm:
    form = SalesforceForm()
    qtbot.addWidget(form)
    form.load(SalesforceConnection("emulator", "refresh_token", handle.login_url,
                                   consumer_key=handle.consumer_key, ca_file=str(handle.ca_file)),
              set())
    form.open_browser = _browser(handle)
    return form


def test_log_in_with_salesforce_keeps_a_refresh_token_that_connects(
        qtbot, handle, tmp_path, memory_keyring) -> None:
    form = _form(qtbot, handle)
    assert not form.browser_login.isHidden() and form.password.isHidden()
    call = form.start_browser_login()
    assert call is not None
    qtbot.waitUntil(lambda: "Logged in as user" in form.login_status.text(), timeout=20000)
    assert handle.user_id in form.login_status.text()
    conn = form.connection()
    assert conn.auth == "refresh_token" and conn.refresh_token
    assert conn.refresh_token not in repr(conn)
    store = ConnectionStore(tmp_path / "connections.json")
    store.add(conn)
    assert store.secret(store.get("salesforce", "emulator"), "refresh_token") == \
        conn.refresh_token
    assert conn.refresh_token not in (tmp_path / "connections.json").read_text()
    result = test_connection(store.get("salesforce", "emulator"), store)
    assert result.ok, result.message


def test_a_second_click_cancels_the_login(qtbot, handle) -> None:
    form = _form(qtbot, handle)
    form.open_browser = lambda url: None  # the user never comes back
    assert form.start_browser_login() is not None
    assert form.browser_login.text() == "Cancel login"
    assert form.start_browser_login() is None  # cancels
    qtbot.waitUntil(lambda: "Not logged in" in form.login_status.text(), timeout=10000)
    assert "cancelled" in form.login_status.text()
    assert form.browser_login.text() == "Log in with Salesforce…"


def test_remove_connection_revokes_the_refresh_token(qtbot, handle, tmp_path,
                                                     memory_keyring) -> None:
    form = _form(qtbot, handle)
    form.start_browser_login()
    qtbot.waitUntil(lambda: "Logged in as user" in form.login_status.text(), timeout=20000)
    conn = form.connection()
    store = ConnectionStore(tmp_path / "connections.json")
    store.add(conn)
    refresh_access_token(handle.login_url, handle.consumer_key, conn.refresh_token,
                         ca_file=handle.ca_file)  # works while the connection is there
    dialog = ConnectionsDialog(store)
    qtbot.addWidget(dialog)
    dialog.select("salesforce", "emulator")
    dialog.remove()
    assert dialog.revoking is not None
    qtbot.waitUntil(lambda: "revoked" in dialog.message.text(), timeout=20000)
    with pytest.raises(LoginError, match="invalid_grant"):
        refresh_access_token(handle.login_url, handle.consumer_key, conn.refresh_token,
                             ca_file=handle.ca_file)
