"""runner.toml against the declaration, precedence of sources, connections and --sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.config import SETTINGS, describe_settings, load_config, read_sandbox_json, setting
from runner.errors import ConfigError
from runner.secrets import SECRET_FIELDS

FULL = """
[runner]
listen = "0.0.0.0:9000"
state_url = "sqlite:////tmp/fb.sqlite"
poll_interval = 5
batch_size = 150
worker_id = "w1"
require_signature = true
public_key = "/etc/fb/pub.pem"
log_format = "text"

[runner.alerts]
webhook_url = "https://hooks.example/T0/B0/abc"
smtp_host = "mail.example"
smtp_to = ["ops@example.com"]
dlq_alert_threshold = 3
api_budget_alert_percent = 25

[connections.stripe.eu]
account = "EU live"
api_base = "http://127.0.0.1:9999"

[connections.salesforce.prod]
login_url = "https://acme.my.salesforce.com"
auth = "password"
username = "int@acme.com"
consumer_key = "3MVGkey"
api_version = "61.0"

[flows]
exclude = ["disputes_to_cases"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "runner.toml"
    path.write_text(text)
    return path


def test_declaration_is_complete_and_introspectable() -> None:
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))
    for s in SETTINGS:
        assert s.description and s.type in (str, int, float, bool, list)
        assert s.env and s.env.startswith("FIELDBRIDGE_")
        if s.choices:
            assert s.default in s.choices
    for system, fields in SECRET_FIELDS.items():
        for field in fields:
            assert setting(f"connections.{system}.<name>.{field}").secret
    assert setting("runner.listen").default == "127.0.0.1:8787"
    rows = describe_settings()
    assert {"name", "type", "default", "description", "env", "secret"} <= set(rows[0])
    json.dumps(rows)  # plain data, ready for a generated reference


def test_defaults_without_a_file() -> None:
    config = load_config(None, env={}, use_keyring=False)
    assert config.listen == "127.0.0.1:8787"
    assert config.batch_size == 200 and config.log_format == "json"
    assert config.sources["runner.listen"] == "default"
    assert config.flow_enabled("anything")
    assert config.worker_id  # host:pid
    with pytest.raises(ConfigError, match=r"no api_key: set FIELDBRIDGE_STRIPE_DEFAULT_API_KEY"):
        config.stripe_connection()


def test_full_file(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    env = {"FIELDBRIDGE_STRIPE_EU_API_KEY": "sk_test_eu_key",
           "FIELDBRIDGE_SALESFORCE_PROD_PASSWORD": "pw-prod-1"}
    config = load_config(path, env=env, use_keyring=False)
    assert config.listen == "0.0.0.0:9000"
    assert config.poll_interval == 5.0 and isinstance(config.poll_interval, float)
    assert config.require_signature is True and config.worker_id == "w1"
    assert config.alerts.smtp_to == ["ops@example.com"]
    assert config.alerts.api_budget_alert_percent == 25.0
    assert not config.flow_enabled("disputes_to_cases") and config.flow_enabled("customers")
    stripe = config.stripe_connection()  # the only one
    assert (stripe.name, stripe.api_base, stripe.api_key, stripe.account) == \
        ("eu", "http://127.0.0.1:9999", "sk_test_eu_key", "EU live")
    sf = config.salesforce_connection("prod")
    assert (sf.auth, sf.username, sf.password, sf.api_version) == \
        ("password", "int@acme.com", "pw-prod-1", "61.0")
    assert {"sk_test_eu_key", "pw-prod-1", "https://hooks.example/T0/B0/abc"} <= \
        set(config.secret_values())
    with pytest.raises(ConfigError, match="no Salesforce connection named 'staging'"):
        config.salesforce_connection("staging")


def test_precedence_cli_over_env_over_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[runner]\nlisten = "1.1.1.1:1"\nbatch_size = 10\n')
    env = {"FIELDBRIDGE_LISTEN": "2.2.2.2:2", "FIELDBRIDGE_BATCH_SIZE": "20"}
    config = load_config(path, env=env, overrides={"runner.listen": "3.3.3.3:3"},
                         use_keyring=False)
    assert config.listen == "3.3.3.3:3" and config.sources["runner.listen"] == "command line"
    assert config.batch_size == 20
    assert config.sources["runner.batch_size"] == "environment FIELDBRIDGE_BATCH_SIZE"
    assert load_config(path, env={}, use_keyring=False).batch_size == 10


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[runner]\nlisten = 8787\n', r"runner.toml: \[runner\]: listen must be a string, not int"),
        ('[runner]\nbatch_size = "200"\n', "batch_size must be an integer"),
        ('[runner]\nrequire_signature = "yes"\n', "require_signature must be true or false"),
        ('[runner]\nlog_format = "xml"\n', "log_format must be one of json, text"),
        ('[runner]\nlisten_port = 1\n', r"runner.toml: unknown key 'runner.listen_port'"),
        ('[runnr]\nlisten = "x"\n', "unknown key 'runnr'"),
        ('[runner.alerts]\nsmtp_to = [1]\n', "smtp_to must be a list of strings"),
        ('runner = 5\n', "'runner' must be a table"),
        ('[connections.paypal.x]\na = 1\n', "unknown key 'connections.paypal'"),
        ('[connections.stripe.eu]\nkey = "x"\n', "unknown key 'connections.stripe.eu.key'"),
        ('[connections.salesforce.prod]\napi_version = 62.0\n', "api_version must be a string"),
        ('[connections.salesforce.prod]\nauth = "saml"\n', "auth must be one of jwt"),
        ('[connections.stripe."bad name"]\naccount = "x"\n', "invalid connection name"),
        ('[connections.stripe.eu]\napi_key = 42\n', "api_key must be a string, not int$"),
        ('[runner\n', "is not valid TOML"),
    ],
)
def test_bad_files_name_the_key_and_the_file(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_config(write(tmp_path, text), env={}, use_keyring=False)
    assert "runner.toml" in str(info.value)


def test_missing_file_and_bad_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigError, match="FIELDBRIDGE_BATCH_SIZE: expected an integer"):
        load_config(None, env={"FIELDBRIDGE_BATCH_SIZE": "lots"}, use_keyring=False)
    with pytest.raises(ConfigError, match="FIELDBRIDGE_REQUIRE_SIGNATURE: expected true or"):
        load_config(None, env={"FIELDBRIDGE_REQUIRE_SIGNATURE": "maybe"}, use_keyring=False)
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config(None, env={}, overrides={"runner.nope": "1"}, use_keyring=False)


def test_connections_from_environment_only() -> None:
    env = {"FIELDBRIDGE_STRIPE_DEFAULT_API_KEY": "sk_test_env_only",
           "FIELDBRIDGE_STRIPE_DEFAULT_WEBHOOK_SECRET": "whsec_a,whsec_b",
           "FIELDBRIDGE_STRIPE_DEFAULT_TIMEOUT": "7.5"}
    config = load_config(None, env=env, use_keyring=False)
    settings = config.stripe_connection()
    assert settings.webhook_secrets == ["whsec_a", "whsec_b"]
    assert settings.timeout == 7.5
    assert config.connection_names("stripe") == ["default"]


def test_jwt_connection_needs_a_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[connections.salesforce.default]\nusername = "u"\n')
    with pytest.raises(ConfigError, match="neither private_key_file nor a private_key"):
        load_config(path, env={}, use_keyring=False).salesforce_connection()


SANDBOX = {
    "stripe": {"api_base": "http://127.0.0.1:12111", "api_key": "sk_test_fieldbridge_sandbox",
               "webhook_secret": "whsec_sandbox123"},
    "salesforce": {"instance_url": "https://127.0.0.1:8443", "access_token": "00D!tok",
                   "ca_file": "/tmp/ca.pem", "login_url": "https://127.0.0.1:8443",
                   "username": "integration@fieldbridge.test", "password": "pw",
                   "consumer_key": "3MVG9x", "security_token": "st",
                   "private_key_file": "/tmp/jwt.pem", "api_version": "62.0"},
    "state_dir": "/tmp/sandbox",
}


def test_sandbox_json_targets_the_local_sandboxes(tmp_path: Path) -> None:
    sandbox_file = tmp_path / "sandbox.json"
    sandbox_file.write_text(json.dumps(SANDBOX) + "\n")
    env = {"FIELDBRIDGE_STRIPE_DEFAULT_API_KEY": "sk_live_should_lose"}
    config = load_config(write(tmp_path, FULL), env=env, sandbox_json=sandbox_file,
                         use_keyring=False)
    stripe = config.stripe_connection("default")
    assert (stripe.api_base, stripe.api_key, stripe.webhook_secrets, stripe.flavor) == \
        ("http://127.0.0.1:12111", "sk_test_fieldbridge_sandbox", ["whsec_sandbox123"],
         "localstripe")
    sf = config.salesforce_connection("default")
    assert (sf.auth, sf.login_url, sf.ca_file, sf.private_key_file, sf.consumer_key) == \
        ("jwt", "https://127.0.0.1:8443", "/tmp/ca.pem", "/tmp/jwt.pem", "3MVG9x")
    assert sf.password == "pw" and sf.access_token == "00D!tok"
    assert config.sources["connections.stripe.default.api_base"] == "sandbox"
    # The same object given as text or as a dict.
    assert read_sandbox_json(json.dumps(SANDBOX)) == read_sandbox_json(SANDBOX)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("not json", "cannot be read"),
        ("{not json", "is not JSON"),
        ({"stripe": {}}, "'stripe' and 'salesforce' objects"),
        ({"stripe": {"api_base": "x"}, "salesforce": SANDBOX["salesforce"]}, "stripe lacks api_key"),
    ],
)
def test_bad_sandbox_json(data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        read_sandbox_json(data)  # type: ignore[arg-type]
