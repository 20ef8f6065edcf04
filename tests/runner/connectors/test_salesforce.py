"""SalesforceConnector against the local org emulator: logins, batches, faults, API usage."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.classify import Failure
from runner.connectors.errors import ConnectorError
from runner.connectors.salesforce import SalesforceConnector, SalesforceSettings, _bulk_error
from runner.errors import ConfigError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory):
    from runner.sandbox.salesforce.server import start_emulator

    handle = start_emulator(tmp_path_factory.mktemp("sf"), reset=True)
    yield handle
    handle.stop()


@pytest.fixture(autouse=True)
def _no_faults(emulator):
    yield
    emulator.set_faults(None)
    emulator.set_api_limit(15000, 0)


def jwt_settings(emulator, **changes) -> SalesforceSettings:
    settings = SalesforceSettings(
        login_url=emulator.login_url, auth="jwt", username=emulator.username,
        consumer_key=emulator.consumer_key, private_key_file=emulator.private_key_file,
        ca_file=emulator.ca_file, api_version=emulator.api_version, timeout=10)
    for key, value in changes.items():
        setattr(settings, key, value)
    return settings


@pytest.fixture
def sf(emulator) -> SalesforceConnector:
    connector = SalesforceConnector(jwt_settings(emulator))
    connector.connect()
    return connector


def test_jwt_login_finds_the_integration_user(sf: SalesforceConnector, emulator) -> None:
    assert sf.user_id == emulator.user_id
    assert sf.instance_url == emulator.instance_url
    rows = sf.query_all(f"SELECT Id, Username FROM User WHERE Id = '{sf.user_id}'")
    assert rows[0]["Username"] == emulator.username


def test_jwt_key_as_pem_text(emulator) -> None:
    pem = Path(emulator.private_key_file).read_text()
    connector = SalesforceConnector(jwt_settings(emulator, private_key_file=None,
                                                 private_key=pem))
    connector.connect()
    assert connector.user_id == emulator.user_id


def test_password_login_with_and_without_security_token(emulator) -> None:
    for token in (emulator.security_token, None):
        settings = jwt_settings(emulator, auth="password", private_key_file=None,
                                password=emulator.password, security_token=token,
                                client_secret=emulator.consumer_secret)
        connector = SalesforceConnector(settings)
        connector.connect()
        assert connector.user_id == emulator.user_id


def test_wrong_password_is_fatal_with_a_clear_message(emulator) -> None:
    settings = jwt_settings(emulator, auth="password", password="not-the-password",
                            client_secret=emulator.consumer_secret)
    with pytest.raises(ConnectorError) as info:
        SalesforceConnector(settings).connect()
    err = info.value
    assert err.failure is Failure.FATAL and err.status == 400
    assert err.error_code == "invalid_grant"
    assert f"as {emulator.username}" in str(err) and "authentication failure" in str(err)
    assert "not-the-password" not in str(err)


def test_untrusted_certificate_is_fatal(emulator) -> None:
    with pytest.raises(ConnectorError, match="TLS certificate was not trusted") as info:
        SalesforceConnector(jwt_settings(emulator, ca_file=None)).connect()
    assert info.value.failure is Failure.FATAL


def test_missing_login_settings_are_config_errors(emulator, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="JWT login needs consumer_key"):
        SalesforceConnector(jwt_settings(emulator, consumer_key=None)).connect()
    with pytest.raises(ConfigError, match="CA file .* does not exist"):
        SalesforceConnector(jwt_settings(emulator, ca_file=str(tmp_path / "no.pem")))
    bad_key = tmp_path / "key.pem"
    bad_key.write_text("not a key")
    with pytest.raises(ConfigError, match="not a usable RSA key"):
        SalesforceConnector(jwt_settings(emulator, private_key_file=str(bad_key))).connect()


def test_expired_session_logs_in_again_and_repeats_the_call(sf, emulator) -> None:
    before = sf.sf.session_id
    emulator.expire_sessions()
    rows = sf.query_all("SELECT Id FROM User")
    assert rows and sf.sf.session_id != before


def test_expired_given_session_is_fatal(emulator) -> None:
    settings = SalesforceSettings(auth="session", instance_url=emulator.instance_url,
                                  access_token=emulator.new_token(), ca_file=emulator.ca_file,
                                  api_version=emulator.api_version,
                                  username=emulator.username)
    connector = SalesforceConnector(settings)
    connector.connect()
    assert connector.user_id == emulator.user_id  # found by username
    emulator.expire_sessions()
    with pytest.raises(ConnectorError, match="INVALID_SESSION_ID") as info:
        connector.query_all("SELECT Id FROM User")
    assert info.value.failure is Failure.FATAL and info.value.status == 401


def test_collections_upsert_reports_each_record(sf) -> None:
    records = [
        {"StripeCustomerID__c": "cus_mixed_ok", "Name": "Valid Co"},
        {"StripeCustomerID__c": "cus_mixed_bad"},  # no Name
    ]
    first, second = sf.upsert_many("Account", "StripeCustomerID__c", records)
    assert first.success and first.created and first.id.startswith("001")
    assert first.failure is None
    assert not second.success and second.failure is Failure.SKIPPABLE
    assert second.error_code == "REQUIRED_FIELD_MISSING"
    assert "Required fields are missing: [Name]" in second.message
    again = sf.upsert_many("Account", "StripeCustomerID__c",
                           [{"StripeCustomerID__c": "cus_mixed_ok", "Name": "Renamed"}])
    assert again[0].success and again[0].created is False and again[0].id == first.id


def test_custom_validation_rule_message_reaches_the_outcome(sf) -> None:
    (outcome,) = sf.upsert_many("Payment__c", "StripeChargeID__c", [{
        "StripeChargeID__c": "ch_negative", "Name": "ch_negative", "Amount__c": -5,
        "Currency__c": "usd", "Status__c": "Completed", "Livemode__c": False}])
    assert outcome.failure is Failure.SKIPPABLE
    assert outcome.error_code == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert "Amount must not be negative" in outcome.message


def test_upsert_chunks_by_200_and_keeps_input_positions(sf) -> None:
    records = [{"StripeCustomerID__c": f"cus_chunk_{i:04d}", "Name": f"Chunk {i}"}
               for i in range(450)]
    records[321].pop("Name")
    calls_before = sf.api_calls
    outcomes = sf.upsert_many("Account", "StripeCustomerID__c", records)
    assert sf.api_calls - calls_before == 3
    assert [o.index for o in outcomes] == list(range(450))
    assert [o.index for o in outcomes if not o.success] == [321]
    found = sf.find_ids("Account", "StripeCustomerID__c",
                        ["cus_chunk_0000", "CUS_CHUNK_0449", "cus_chunk_0321", "cus_none"])
    assert len(found["cus_chunk_0000"]) == 1 and len(found["CUS_CHUNK_0449"]) == 1
    assert found["cus_chunk_0321"] == [] and found["cus_none"] == []


def test_insert_update_and_single_update(sf) -> None:
    (created,) = sf.insert_many("Account", [{"Name": "Inserted"}])
    assert created.success
    (updated,) = sf.update_many("Account", [{"Id": created.id, "Name": "Updated"}])
    assert updated.success
    sf.update("Account", created.id, {"Description": "single"})
    row = sf.query_all(f"SELECT Name, Description FROM Account WHERE Id = '{created.id}'")[0]
    assert (row["Name"], row["Description"]) == ("Updated", "single")
    with pytest.raises(ConnectorError) as info:
        sf.update("Account", created.id, {"Name": None})
    assert info.value.failure is Failure.SKIPPABLE and info.value.status == 400


def test_schema_drift_on_a_whole_call_is_fatal(sf) -> None:
    with pytest.raises(ConnectorError) as info:
        sf.query_all("SELECT Id, Gone__c FROM Account")
    assert info.value.failure is Failure.FATAL
    with pytest.raises(ConnectorError) as info:
        sf.describe("NoSuchObject__c")
    assert info.value.status == 404 and info.value.error_code == "NOT_FOUND"
    with pytest.raises(ConnectorError, match="invalid Salesforce object name"):
        sf.describe("Account; DROP")


def test_503_is_retriable(sf, emulator) -> None:
    emulator.set_faults("error503=1")
    with pytest.raises(ConnectorError) as info:
        sf.upsert_many("Account", "StripeCustomerID__c",
                       [{"StripeCustomerID__c": "cus_503", "Name": "x"}])
    assert info.value.failure is Failure.RETRIABLE and info.value.status == 503
    assert info.value.error_code == "SERVER_UNAVAILABLE"
    assert info.value.__cause__ is not None


def test_row_lock_on_a_whole_call_is_retriable(sf, emulator) -> None:
    emulator.set_faults("lock=1")
    with pytest.raises(ConnectorError) as info:
        sf.update("Account", "001Fb0000000001IAA", {"Name": "x"})
    assert info.value.failure is Failure.RETRIABLE
    assert info.value.error_code == "UNABLE_TO_LOCK_ROW"


def test_timeout_is_retriable(emulator) -> None:
    connector = SalesforceConnector(jwt_settings(emulator, timeout=0.2))
    # Log in with room to spare (a loaded machine may take longer than 0.2 s), then let
    # the org answer far slower than the timeout.
    connector.session.default_timeout = 30.0
    connector.connect()
    connector.session.default_timeout = 0.2
    emulator.set_faults("latency=1500ms")
    with pytest.raises(ConnectorError, match="timed out after 0.2 s") as info:
        connector.query_all("SELECT Id FROM Account")
    assert info.value.failure is Failure.RETRIABLE and info.value.status is None


def test_dropped_connection_is_retriable(sf, emulator) -> None:
    emulator.set_faults("drop=1")
    with pytest.raises(ConnectorError) as info:
        sf.query_all("SELECT Id FROM Account")
    assert info.value.failure is Failure.RETRIABLE


def test_api_usage_from_the_limit_header(sf, emulator) -> None:
    emulator.set_api_limit(1000, 500)
    sf.query_all("SELECT Id FROM Account LIMIT 1")
    assert sf.api_usage() == (501, 1000)
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 1000, "Remaining": 1000 - 502}
    assert sf.api_usage() == (502, 1000)


def test_exhausted_daily_budget_is_retriable(sf, emulator) -> None:
    emulator.set_api_limit(10, 10)
    with pytest.raises(ConnectorError) as info:
        sf.query_all("SELECT Id FROM Account")
    assert info.value.failure is Failure.RETRIABLE
    assert info.value.error_code == "REQUEST_LIMIT_EXCEEDED"


def test_bulk_upsert_maps_results_back_to_input(sf) -> None:
    records = [{"StripeCustomerID__c": "cus_bulk_1", "Name": "Bulk One"},
               {"StripeCustomerID__c": "cus_bulk_2", "Name": None},
               {"StripeCustomerID__c": "cus_mixed_ok", "Name": "Valid Co again"}]
    outcomes = sf.bulk_upsert("Account", "StripeCustomerID__c", records, poll_seconds=0.05)
    assert [o.index for o in outcomes] == [0, 1, 2]
    assert outcomes[0].success and outcomes[0].created
    assert outcomes[1].failure is Failure.SKIPPABLE
    assert outcomes[1].error_code == "REQUIRED_FIELD_MISSING"
    assert outcomes[2].success and outcomes[2].created is False
    assert sf.bulk_upsert("Account", "StripeCustomerID__c", []) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --",
         ("REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", ["Name"])),
        ("STRING_TOO_LONG:too long:Name,Site --", ("STRING_TOO_LONG", "too long",
                                                  ["Name", "Site"])),
        ("UNKNOWN:plain message", ("UNKNOWN", "plain message", [])),
    ],
)
def test_bulk_error_text(text: str, expected: tuple) -> None:
    error = _bulk_error(text)
    assert (error["statusCode"], error["message"], error["fields"]) == expected


def test_sandbox_json_config_logs_in(emulator) -> None:
    """What `run --sandbox` does: the `sandbox up --json` object -> config -> connector."""
    from runner.config import load_config

    sandbox = {
        "stripe": {"api_base": "http://127.0.0.1:9", "api_key": "sk_test_fieldbridge_sandbox",
                   "webhook_secret": "whsec_x123"},
        "salesforce": {"instance_url": emulator.instance_url,
                       "access_token": emulator.access_token, "ca_file": emulator.ca_file,
                       "login_url": emulator.login_url, "username": emulator.username,
                       "password": emulator.password, "consumer_key": emulator.consumer_key,
                       "security_token": emulator.security_token,
                       "private_key_file": emulator.private_key_file,
                       "api_version": emulator.api_version},
    }
    config = load_config(None, env={}, sandbox_json=sandbox, use_keyring=False)
    connector = SalesforceConnector(config.salesforce_connection())
    connector.connect()
    assert connector.user_id == emulator.user_id
    assert emulator.password in config.secret_values()


def test_expired_session_during_a_batch_write(sf, emulator) -> None:
    emulator.expire_sessions()
    (outcome,) = sf.upsert_many("Account", "StripeCustomerID__c",
                                [{"StripeCustomerID__c": "cus_after_expiry", "Name": "Late"}])
    assert outcome.success
