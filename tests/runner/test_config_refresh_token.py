"""A ``refresh_token`` Salesforce connection in the runner's configuration, and its secret's
redaction."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from runner.config import load_config
from runner.errors import ConfigError
from runner.secrets import SecretRedactor

CONNECTION = """
[connections.salesforce.default]
auth = "refresh_token"
login_url = "https://test.salesforce.com"
consumer_key = "3MVG9studio"
"""
TOKEN = "5Aep861TheApprovedRefreshTokenValue.xyz"
ENV = {"FIELDBRIDGE_SALESFORCE_DEFAULT_REFRESH_TOKEN": TOKEN}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "runner.toml"
    path.write_text(text)
    return path


def test_refresh_token_connection_from_the_environment(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CONNECTION), env=ENV, use_keyring=False)
    settings = config.salesforce_connection()
    assert settings.auth == "refresh_token" and settings.refresh_token == TOKEN
    assert settings.consumer_key == "3MVG9studio"
    assert TOKEN not in repr(settings)
    assert TOKEN in settings.secret_values() and TOKEN in config.secret_values()


def test_refresh_token_from_the_secrets_file(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[salesforce.default]\nrefresh_token = "{TOKEN}"\n')
    secrets.chmod(0o600)
    config = load_config(write(tmp_path, CONNECTION),
                         env={"FIELDBRIDGE_SECRETS_FILE": str(secrets)}, use_keyring=False)
    assert config.salesforce_connection().refresh_token == TOKEN


def test_a_missing_refresh_token_says_where_to_put_it(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CONNECTION), env={}, use_keyring=False)
    with pytest.raises(ConfigError, match="has no refresh_token: set "
                       "FIELDBRIDGE_SALESFORCE_DEFAULT_REFRESH_TOKEN"):
        config.salesforce_connection()


def test_a_missing_consumer_key_is_refused(tmp_path: Path) -> None:
    text = CONNECTION.replace('consumer_key = "3MVG9studio"\n', "")
    config = load_config(write(tmp_path, text), env=ENV, use_keyring=False)
    with pytest.raises(ConfigError, match="refresh-token login but has no consumer_key"):
        config.salesforce_connection()


def test_the_redactor_masks_refresh_tokens() -> None:
    redactor = SecretRedactor([TOKEN])
    record = logging.LogRecord("x", logging.INFO, __file__, 1,
                               "token %s and refresh_token=%s", (TOKEN, "other-secret"), None)
    redactor.filter(record)
    assert TOKEN not in record.getMessage() and "other-secret" not in record.getMessage()


def test_client_id_is_the_oauth_name_of_the_consumer_key(tmp_path: Path) -> None:
    text = CONNECTION.replace("consumer_key =", "client_id =")
    config = load_config(write(tmp_path, text), env=ENV, use_keyring=False)
    assert config.salesforce_connection().consumer_key == "3MVG9studio"


def test_a_consumer_key_and_a_different_client_id_are_refused(tmp_path: Path) -> None:
    text = CONNECTION + 'client_id = "3MVG9other"\n'
    config = load_config(write(tmp_path, text), env=ENV, use_keyring=False)
    with pytest.raises(ConfigError, match="both consumer_key and client_id, and they differ"):
        config.salesforce_connection()
