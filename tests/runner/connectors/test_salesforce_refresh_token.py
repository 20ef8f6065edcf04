"""A ``refresh_token`` connection (what "Log in with Salesforce" approved) on the emulator:
the connector logs in with the refresh-token grant, and again when the session expires.

Salesforce's refresh token flow:
https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_refresh_token_flow.htm
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from runner.classify import Failure
from runner.connectors.errors import ConnectorError
from runner.connectors.salesforce import SalesforceConnector, SalesforceSettings
from runner.errors import ConfigError
from runner.oauth_login import revoke_token
from runner.sandbox.salesforce.server import start_emulator
from tests.runner.oauth_browser import approve_in_browser

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    handle = start_emulator(tmp_path_factory.mktemp("sf-refresh"), reset=True)
    yield handle
    handle.stop()


def settings(emulator: Any, refresh_token: str | None) -> SalesforceSettings:
    return SalesforceSettings(login_url=emulator.login_url, auth="refresh_token",
                              consumer_key=emulator.consumer_key, refresh_token=refresh_token,
                              ca_file=emulator.ca_file, api_version=emulator.api_version,
                              timeout=10)


def test_refresh_token_login_refreshes_an_expired_session(emulator: Any) -> None:
    approved = approve_in_browser(emulator)
    connector = SalesforceConnector(settings(emulator, approved.refresh_token))
    connector.connect()
    assert connector.user_id == emulator.user_id and connector.org_id
    before = connector.sf.session_id
    emulator.expire_sessions()
    rows = connector.query_all("SELECT Id FROM User")  # INVALID_SESSION_ID -> refresh -> retry
    assert rows and connector.sf.session_id != before
    assert approved.refresh_token not in repr(connector.settings)
    assert approved.refresh_token in connector.settings.secret_values()


def test_a_revoked_refresh_token_is_fatal_with_the_reason(emulator: Any) -> None:
    approved = approve_in_browser(emulator)
    assert approved.refresh_token is not None
    connector = SalesforceConnector(settings(emulator, approved.refresh_token))
    connector.connect()
    revoke_token(emulator.login_url, approved.refresh_token, ca_file=emulator.ca_file)
    # The session from the revoked token is gone too; logging in again is refused.
    with pytest.raises(ConnectorError, match="invalid_grant") as info:
        connector.query_all("SELECT Id FROM User")
    assert info.value.failure is Failure.FATAL
    assert approved.refresh_token not in str(info.value)


def test_missing_refresh_token_is_a_config_error(emulator: Any) -> None:
    with pytest.raises(ConfigError, match="refresh-token login needs refresh_token"):
        SalesforceConnector(settings(emulator, None)).connect()
