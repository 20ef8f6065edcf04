"""Secrets precedence, the secrets file's permissions, the keyring names and log redaction."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import keyring
import pytest
from keyring.backends.fail import Keyring as FailKeyring

from runner.errors import ConfigError
from runner.secrets import (
    KEYRING_SERVICE,
    PRECEDENCE,
    SecretRedactor,
    SecretStore,
    configure_logging,
    delete_keyring_secret,
    env_var,
    keyring_secret,
    keyring_username,
    load_secrets_file,
    set_keyring_secret,
)


def write_secrets(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_names_are_shared_with_the_studio() -> None:
    assert keyring_username("stripe", "eu", "api_key") == "stripe:eu:api_key"
    assert keyring_username("salesforce", "prod", "private_key") == "salesforce:prod:private_key"
    assert env_var("stripe", "eu-live", "webhook_secret") == \
        "FIELDBRIDGE_STRIPE_EU_LIVE_WEBHOOK_SECRET"
    assert PRECEDENCE[0].startswith("command line") and PRECEDENCE[-1] == "config file"
    with pytest.raises(ConfigError, match="not a stripe secret"):
        keyring_username("stripe", "eu", "username")


def test_keyring_round_trip_and_clear_errors(memory_keyring) -> None:
    set_keyring_secret("salesforce", "prod", "password", "hunter2-password")
    assert keyring_secret("salesforce", "prod", "password") == "hunter2-password"
    delete_keyring_secret("salesforce", "prod", "password")
    delete_keyring_secret("salesforce", "prod", "password")  # nothing stored: no error
    assert keyring_secret("salesforce", "prod", "password") is None
    assert memory_keyring.entries == {}


def test_a_failing_keyring_is_a_config_error() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(FailKeyring())
    try:
        with pytest.raises(ConfigError, match="refused to store the api key"):
            set_keyring_secret("stripe", "eu", "api_key", "sk_test_123456")
        with pytest.raises(ConfigError, match="keyring cannot be read"):
            keyring_secret("stripe", "eu", "api_key")
        # In the precedence chain no keyring means "not there", not a failure.
        assert SecretStore(env={}).get("stripe", "eu", "api_key") is None
    finally:
        keyring.set_keyring(previous)


def test_precedence_cli_env_file_keyring_config(tmp_path: Path, memory_keyring) -> None:
    key = ("stripe", "default", "api_key")
    set_keyring_secret(*key, "sk_test_from_keyring")
    file = write_secrets(tmp_path / "s.toml", '[stripe.default]\napi_key = "sk_test_from_file"\n')
    env = {"FIELDBRIDGE_STRIPE_DEFAULT_API_KEY": "sk_test_from_env"}
    config = {key: "sk_test_from_config"}

    def source(**kwargs) -> tuple[str | None, str | None]:
        return SecretStore(config_values=config, **kwargs).lookup(*key)

    assert source(overrides={key: "sk_test_cli"}, env=env, secrets_file=file)[0] == "sk_test_cli"
    value, where = source(env=env, secrets_file=file)
    assert value == "sk_test_from_env" and "FIELDBRIDGE_STRIPE_DEFAULT_API_KEY" in where
    assert source(env={}, secrets_file=file)[0] == "sk_test_from_file"
    value, where = source(env={})
    assert value == "sk_test_from_keyring" and "stripe:default:api_key" in where
    assert source(env={}, use_keyring=False)[0] == "sk_test_from_config"
    assert memory_keyring.entries[(KEYRING_SERVICE, "stripe:default:api_key")]


def test_secrets_file_from_environment_variable(tmp_path: Path, memory_keyring) -> None:
    file = write_secrets(tmp_path / "s.toml",
                         '[salesforce.prod]\npassword = "hunter22"\nsecurity_token = "tok1"\n')
    store = SecretStore(env={"FIELDBRIDGE_SECRETS_FILE": str(file)})
    assert store.get("salesforce", "prod", "password") == "hunter22"
    assert store.get("salesforce", "prod", "client_secret") is None
    assert "hunter22" in store.known_values()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_secrets_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    file = write_secrets(tmp_path / "s.toml", '[stripe.default]\napi_key = "sk_test_x"\n', mode)
    with pytest.raises(ConfigError, match=r"group or others .*chmod 600"):
        load_secrets_file(file)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[paypal.default]\nkey = 'x'\n", "unknown section"),
        ("[stripe.default]\nusername = 'x'\n", "unknown key stripe.default.username"),
        ("[stripe.default]\napi_key = 5\n", "must be a string"),
        ("[stripe\n", "not valid TOML"),
        ("stripe = 3\n", "must hold tables"),
    ],
)
def test_bad_secrets_file(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_secrets_file(write_secrets(tmp_path / "s.toml", text))


def test_missing_secrets_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_secrets_file(tmp_path / "absent.toml")


PEM = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nabcdef==\n"
       "-----END PRIVATE KEY-----")


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("using key sk_live_51HxYzABCdefGHI", "51HxYzABCdefGHI"),
        ("restricted rk_test_abcDEF123456", "abcDEF123456"),
        ("secret whsec_0123456789abcdef", "0123456789abcdef"),
        ("Authorization: Bearer 00D000000000001!AQ4AQFake.Token_123", "AQ4AQFake"),
        ("session 00DFb0000000001!ARcAQGkXYZ-abc.def", "ARcAQGkXYZ"),
        (f"key material {PEM} end", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
        ("POST grant_type=password&username=u&password=Sup3rS3cret&client_id=x", "Sup3rS3cret"),
        ("db postgresql://fieldbridge:dbpass99@db:5432/fb", "dbpass99"),
        ("refresh 5Aep861abcdefghijklmnop", "abcdefghijklmnop"),
    ],
)
def test_redactor_masks_credential_patterns(text: str, leak: str) -> None:
    redacted = SecretRedactor().redact(text)
    assert leak not in redacted
    assert "REDACTED" in redacted


def test_redactor_masks_known_values_but_not_short_words() -> None:
    redactor = SecretRedactor(["my-plain-password", "ab"])
    assert redactor.redact("pw is my-plain-password, ab stays") == "pw is [REDACTED], ab stays"


def test_json_logs_are_redacted_in_message_args_extras_and_exceptions() -> None:
    stream = io.StringIO()
    configure_logging("json", "DEBUG", secrets=["tok-12345-secret"], stream=stream)
    log = logging.getLogger("fieldbridge.test.redaction")
    log.info("calling Stripe with %s and %s", "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
             "tok-12345-secret", extra={"header": "Bearer abc.def.ghi"})
    try:
        raise RuntimeError("login failed for password=hunter2")
    except RuntimeError:
        log.exception("auth error")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    text = stream.getvalue()
    for leak in ("4eC39HqLyjWDarjtT1zdp7dc", "tok-12345-secret", "abc.def.ghi", "hunter2"):
        assert leak not in text
    assert lines[0]["level"] == "INFO" and lines[0]["logger"] == "fieldbridge.test.redaction"
    assert lines[0]["message"] == "calling Stripe with sk_test_[REDACTED] and [REDACTED]"
    assert "RuntimeError" in lines[1]["exc"]


def test_text_logs_are_redacted_and_reconfiguring_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("text", "INFO", stream=first)
    redactor = configure_logging("text", "INFO", stream=second)
    redactor.add("late-known-secret")
    logging.getLogger("fieldbridge.test.text").warning("value late-known-secret here")
    assert first.getvalue() == ""
    assert "value [REDACTED] here" in second.getvalue()


def test_configure_logging_refuses_unknown_format_and_level() -> None:
    with pytest.raises(ConfigError, match="json' or 'text"):
        configure_logging("xml")
    with pytest.raises(ConfigError, match="unknown log level"):
        configure_logging("json", "LOUD")


@pytest.fixture(autouse=True)
def _restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def test_chatty_libraries_are_quiet_at_info_and_heard_at_debug() -> None:
    import io
    import logging

    from runner.secrets import configure_logging

    out = io.StringIO()
    try:
        configure_logging("text", "INFO", stream=out)
        logging.getLogger("stripe").info("message='Request to Stripe api' method=post")
        logging.getLogger("alembic.runtime.migration").info("Will assume non-transactional DDL.")
        logging.getLogger("runner.app").info("runner started")
        assert "runner started" in out.getvalue()
        assert "Stripe api" not in out.getvalue() and "DDL" not in out.getvalue()
        configure_logging("text", "DEBUG", stream=out)
        logging.getLogger("stripe").info("now heard")
        assert "now heard" in out.getvalue()
    finally:
        configure_logging("text", "WARNING", stream=io.StringIO())
