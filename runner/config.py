"""The runner's settings: declared once here, read from ``runner.toml``, env and the CLI.

:data:`runner.settings.SETTINGS` is the single declaration (name, type, default, bounds,
description, environment variable, secret or not); the configuration reference is generated
from it, and the loader checks ``runner.toml``, the environment and the command line against
it alike: an unknown key, a value of the wrong type or out of its declared range is a
:class:`~runner.errors.ConfigError` naming the key, the value and the source.

``runner.toml``::

    [runner]
    listen = "127.0.0.1:8787"
    state_url = "postgresql+psycopg://fieldbridge@db/fieldbridge"
    log_format = "json"

    [runner.alerts]
    webhook_url = "https://hooks.slack.com/services/..."
    dlq_alert_threshold = 10

    [connections.stripe.default]
    account = "EU live"                 # api_key: env, secrets file or keyring

    [connections.salesforce.default]
    login_url = "https://acme.my.salesforce.com"
    auth = "jwt"
    username = "integration@acme.com"
    consumer_key = "3MVG9..."
    private_key_file = "/etc/fieldbridge/jwt.key"

    [flows]
    exclude = ["disputes_to_cases"]

Precedence for ordinary settings (and the runner's own secrets: state_url, the alert webhook,
the SMTP password): command line > environment > config file > default. For connection
secrets it is the order of :data:`runner.secrets.PRECEDENCE` (command line > environment >
secrets file > OS keyring > config file). Connection settings use
``<name>`` in their name and ``{NAME}`` in their environment variable
(``FIELDBRIDGE_STRIPE_DEFAULT_API_BASE``). ``--sandbox SANDBOX.json`` (the line
``sandbox up --json`` prints) fills the ``default`` connections with the local sandboxes'
addresses and credentials, above everything else.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.connectors.salesforce import SalesforceSettings
from runner.connectors.stripe import StripeSettings
from runner.errors import ConfigError
from runner.secrets import SECRET_FIELDS, SecretStore, env_var, keyring_username
from runner.settings import (
    CONNECTION_SETTINGS,
    SECTIONS,
    SETTINGS,
    SETTINGS_BY_NAME,
    Range,
    Setting,
    check_value,
    describe_settings,
    from_text,
    setting,
)

# The declaration lives in runner.settings; these names are part of this module's interface.
__all__ = ["DEFAULT_CONNECTION", "SETTINGS", "AlertSettings", "Range", "RunnerConfig",
           "Setting", "describe_settings", "load_config", "read_sandbox_json", "setting"]

DEFAULT_CONNECTION = "default"
_CONNECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")


# -- the loaded configuration -----------------------------------------------------------------
@dataclass
class AlertSettings:
    webhook_url: str | None
    smtp_host: str | None
    smtp_port: int
    smtp_starttls: bool
    smtp_username: str | None
    smtp_password: str | None = field(repr=False)
    smtp_from: str | None
    smtp_to: list[str]
    dlq_alert_threshold: int
    api_budget_alert_percent: float


@dataclass
class RunnerConfig:
    """Settings resolved from every source. Connections are built on demand."""

    values: dict[str, Any]  # "runner.*" and "flows.*" by setting name
    sources: dict[str, str]  # setting name (or connection key) -> where the value came from
    connections: dict[str, dict[str, dict[str, Any]]]  # system -> name -> non-secret values
    secrets: SecretStore = field(repr=False)
    path: Path | None = None
    sandbox: dict | None = field(default=None, repr=False)

    def get(self, name: str) -> Any:
        setting(name)
        return self.values[name]

    listen = property(lambda self: self.values["runner.listen"])
    state_url = property(lambda self: self.values["runner.state_url"])
    poll_interval = property(lambda self: self.values["runner.poll_interval"])
    catchup_interval = property(lambda self: self.values["runner.catchup_interval"])
    batch_size = property(lambda self: self.values["runner.batch_size"])
    require_signature = property(lambda self: self.values["runner.require_signature"])
    public_key = property(lambda self: self.values["runner.public_key"])
    log_format = property(lambda self: self.values["runner.log_format"])
    log_level = property(lambda self: self.values["runner.log_level"])

    @property
    def worker_id(self) -> str:
        return self.values["runner.worker_id"] or f"{socket.gethostname()}:{os.getpid()}"

    @property
    def alerts(self) -> AlertSettings:
        prefix = "runner.alerts."
        return AlertSettings(**{k[len(prefix):]: v for k, v in self.values.items()
                                if k.startswith(prefix)})

    def flow_enabled(self, flow: str) -> bool:
        include, exclude = self.values["flows.include"], self.values["flows.exclude"]
        return (not include or flow in include) and flow not in exclude

    def connection_names(self, system: str) -> list[str]:
        return sorted(self.connections.get(system, {}))

    def _connection(self, system: str, name: str | None) -> tuple[str, dict[str, Any]]:
        found = self.connections.get(system, {})
        label = "Stripe" if system == "stripe" else "Salesforce"
        if name is None:
            if DEFAULT_CONNECTION in found or len(found) != 1:
                name = DEFAULT_CONNECTION
            else:
                name = next(iter(found))
        if name not in found and name != DEFAULT_CONNECTION:
            known = ", ".join(sorted(found)) or "none"
            raise ConfigError(f"no {label} connection named {name!r} (configured: {known})")
        values = {k: s.default for k, s in CONNECTION_SETTINGS[system].items()
                  if not s.secret}
        values.update(found.get(name, {}))
        return name, values

    def _secret(self, system: str, name: str, field_: str, *, required: bool) -> str | None:
        value = self.secrets.get(system, name, field_)
        if value is None and required:
            label = "Stripe" if system == "stripe" else "Salesforce"
            raise ConfigError(
                f"{label} connection {name!r} has no {field_}: set "
                f"{env_var(system, name, field_)}, put it in the secrets file under "
                f"[{system}.{name}], or store it in the OS keyring (service 'fieldbridge', "
                f"username '{keyring_username(system, name, field_)}')")
        return value

    def stripe_connection(self, name: str | None = None) -> StripeSettings:
        name, v = self._connection("stripe", name)
        api_key = self._secret("stripe", name, "api_key", required=True)
        hooks = self._secret("stripe", name, "webhook_secret", required=False)
        return StripeSettings(
            api_key=str(api_key), api_base=v["api_base"],
            webhook_secrets=[h.strip() for h in (hooks or "").split(",") if h.strip()],
            timeout=v["timeout"], name=name, account=v["account"], flavor=v["flavor"])

    def salesforce_connection(self, name: str | None = None) -> SalesforceSettings:
        name, v = self._connection("salesforce", name)
        secrets = {f: self._secret("salesforce", name, f, required=False)
                   for f in SECRET_FIELDS["salesforce"]}
        auth = v["auth"]
        consumer_key = v["consumer_key"] or v["client_id"]
        if v["consumer_key"] and v["client_id"] and v["consumer_key"] != v["client_id"]:
            raise ConfigError(
                f"Salesforce connection {name!r} gives both consumer_key and client_id, and "
                "they differ; they name the same thing (the connected app's client id): "
                "keep one")
        if auth == "password" and not secrets["password"]:
            self._secret("salesforce", name, "password", required=True)
        if auth == "session" and not secrets["access_token"]:
            self._secret("salesforce", name, "access_token", required=True)
        if auth == "refresh_token":
            if not secrets["refresh_token"]:
                self._secret("salesforce", name, "refresh_token", required=True)
            if not consumer_key:
                raise ConfigError(
                    f"Salesforce connection {name!r} uses refresh-token login but has no "
                    "consumer_key or client_id (the connected app's client id the token was "
                    "issued to)")
        if auth == "jwt" and not (v["private_key_file"] or secrets["private_key"]):
            raise ConfigError(
                f"Salesforce connection {name!r} uses JWT login but has neither "
                f"private_key_file nor a private_key secret "
                f"({env_var('salesforce', name, 'private_key')})")
        return SalesforceSettings(
            login_url=v["login_url"], instance_url=v["instance_url"], auth=auth,
            username=v["username"], consumer_key=consumer_key,
            private_key_file=v["private_key_file"], ca_file=v["ca_file"],
            api_version=v["api_version"], timeout=v["timeout"], audience=v["audience"],
            pubsub_endpoint=v["pubsub_endpoint"], name=name, **secrets)

    def secret_values(self) -> list[str]:
        """Every secret value known so far, for :class:`runner.secrets.SecretRedactor`."""
        out = set(self.secrets.known_values())
        out |= {str(self.values[s.name]) for s in SETTINGS
                if s.secret and s.name in self.values and self.values[s.name]}
        return sorted(out)


# -- loading ----------------------------------------------------------------------------------
def _read_toml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc


def _walk_file(data: dict, path: Path) -> tuple[dict[str, Any], dict]:
    """Split the file into plain settings by name and the connections tables; check keys."""
    flat: dict[str, Any] = {}
    connections: dict = {}

    def visit(table: dict, prefix: str) -> None:
        for key, value in table.items():
            name = f"{prefix}.{key}" if prefix else key
            if name == "connections":
                if not isinstance(value, dict):
                    raise ConfigError(f"{path}: 'connections' must be a table")
                connections.update(value)
            elif name in SETTINGS_BY_NAME:
                flat[name] = check_value(SETTINGS_BY_NAME[name], value, f"{path}: [{prefix}]")
            elif name in SECTIONS:
                if not isinstance(value, dict):
                    raise ConfigError(f"{path}: {name!r} must be a table [{name}]")
                visit(value, name)
            else:
                raise ConfigError(f"{path}: unknown key {name!r}")

    visit(data, "")
    return flat, connections


def _file_connections(raw: dict, path: Path) -> tuple[dict, dict]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    secrets: dict[tuple[str, str, str], str] = {}
    for system, tables in raw.items():
        if system not in CONNECTION_SETTINGS:
            raise ConfigError(f"{path}: unknown key 'connections.{system}' (stripe or "
                              "salesforce)")
        if not isinstance(tables, dict):
            raise ConfigError(f"{path}: connections.{system} must hold tables "
                              f"[connections.{system}.<name>]")
        for name, values in tables.items():
            if not _CONNECTION_NAME.match(name):
                raise ConfigError(f"{path}: invalid connection name {name!r} (letters, "
                                  "digits, _ and -)")
            if not isinstance(values, dict):
                raise ConfigError(f"{path}: connections.{system}.{name} must be a table")
            for key, value in values.items():
                s = CONNECTION_SETTINGS[system].get(key)
                where = f"{path}: [connections.{system}.{name}]"
                if s is None:
                    raise ConfigError(f"{path}: unknown key 'connections.{system}.{name}.{key}'")
                checked = check_value(s, value, where)
                if s.secret:
                    secrets[(system, name, key)] = (",".join(checked)
                                                    if isinstance(checked, list) else checked)
                else:
                    out.setdefault(system, {}).setdefault(name, {})[key] = checked
            out.setdefault(system, {}).setdefault(name, {})
    return out, secrets


def _env_connections(env: Mapping[str, str]) -> set[tuple[str, str]]:
    """Connections named only by environment variables (``..._<NAME>_API_KEY``)."""
    found = set()
    for system, fields in CONNECTION_SETTINGS.items():
        prefix = f"FIELDBRIDGE_{system.upper()}_"
        for var in env:
            if not var.startswith(prefix):
                continue
            for key in fields:
                suffix = "_" + key.upper()
                if var.endswith(suffix) and len(var) > len(prefix) + len(suffix):
                    found.add((system, var[len(prefix):-len(suffix)].lower()))
    return found


def read_sandbox_json(sandbox: Path | str | Mapping) -> dict:
    """The object ``sandbox up --json`` prints: from a dict, a JSON string or a file."""
    if isinstance(sandbox, Mapping):
        data: Any = dict(sandbox)
    else:
        text = str(sandbox)
        if not text.lstrip().startswith("{"):
            try:
                text = Path(text).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"sandbox file {sandbox} cannot be read") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"the sandbox JSON is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("stripe"), dict) \
            or not isinstance(data.get("salesforce"), dict):
        raise ConfigError("sandbox JSON must be the object 'sandbox up --json' prints, with "
                          "'stripe' and 'salesforce' objects")
    for system, keys in (("stripe", ("api_base", "api_key")),
                         ("salesforce", ("login_url", "username", "ca_file"))):
        missing = [k for k in keys if not data[system].get(k)]
        if missing:
            raise ConfigError(f"sandbox JSON: {system} lacks {', '.join(missing)}")
    return data


def _sandbox_values(data: dict) -> tuple[dict, dict]:
    st, sf = data["stripe"], data["salesforce"]
    conns = {
        "stripe": {"api_base": st["api_base"], "flavor": "localstripe",
                   "account": "local sandbox"},
        "salesforce": {
            "login_url": sf["login_url"],
            "instance_url": sf.get("instance_url"),
            "ca_file": sf["ca_file"],
            "username": sf["username"],
            "consumer_key": sf.get("consumer_key"),
            "private_key_file": sf.get("private_key_file"),
            "api_version": str(sf.get("api_version") or "62.0"),
            **({"pubsub_endpoint": sf["pubsub_endpoint"]} if sf.get("pubsub_endpoint") else {}),
            # A session from the sandbox's own token; JWT when it names a key.
            "auth": "jwt" if sf.get("private_key_file") else "session",
        },
    }
    secrets = {("stripe", DEFAULT_CONNECTION, "api_key"): st["api_key"]}
    if st.get("webhook_secret"):
        secrets[("stripe", DEFAULT_CONNECTION, "webhook_secret")] = st["webhook_secret"]
    for key in ("password", "security_token", "access_token"):
        if sf.get(key):
            secrets[("salesforce", DEFAULT_CONNECTION, key)] = sf[key]
    return conns, secrets


def load_config(
    path: Path | str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    sandbox_json: Path | str | Mapping | None = None,
    overrides: Mapping[str, Any] | None = None,
    secret_overrides: Mapping[tuple[str, str, str], str] | None = None,
    secrets_file: Path | str | None = None,
    use_keyring: bool = True,
) -> RunnerConfig:
    """Resolve every setting.

    ``overrides`` are command-line values by setting name (``{"runner.listen": "..."}``,
    text or typed); ``secret_overrides`` command-line secrets by (system, connection,
    field). ``path`` None reads no file (defaults, environment and sandbox only).
    """
    env = os.environ if env is None else env
    file_path = Path(path).expanduser() if path is not None else None
    flat: dict[str, Any] = {}
    file_conns: dict = {}
    file_secrets: dict = {}
    if file_path is not None:
        flat, raw_conns = _walk_file(_read_toml(file_path), file_path)
        file_conns, file_secrets = _file_connections(raw_conns, file_path)

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for s in SETTINGS:
        if "<name>" in s.name:
            continue
        value, source = s.default, "default"
        if s.name in flat:
            value, source = flat[s.name], f"config file {file_path}"
        if s.env and env.get(s.env):
            value, source = from_text(s, env[s.env], f"environment {s.env}"), \
                f"environment {s.env}"
        if overrides and s.name in overrides and overrides[s.name] is not None:
            given = overrides[s.name]
            value = from_text(s, given, "command line") if isinstance(given, str) \
                else check_value(s, given, "command line")
            source = "command line"
        values[s.name], sources[s.name] = value, source
    unknown = set(overrides or {}) - set(values)
    if unknown:
        raise ConfigError(f"unknown setting(s) on the command line: {', '.join(sorted(unknown))}")

    # Connections: file < environment < sandbox.
    connections: dict[str, dict[str, dict[str, Any]]] = {
        system: {name: dict(v) for name, v in tables.items()}
        for system, tables in file_conns.items()}
    for system, name in _env_connections(env):
        connections.setdefault(system, {}).setdefault(name, {})
    sandbox = None
    cli_secrets = dict(secret_overrides or {})
    if sandbox_json is not None:
        sandbox = read_sandbox_json(sandbox_json)
        sandbox_conns, sandbox_secrets = _sandbox_values(sandbox)
        for key, value in sandbox_secrets.items():
            cli_secrets.setdefault(key, value)
    for system, tables in connections.items():
        for name, conn in tables.items():
            for key, s in CONNECTION_SETTINGS[system].items():
                if s.secret:
                    continue
                var = env_var(system, name, key)
                if env.get(var):
                    conn[key] = from_text(s, env[var], f"environment {var}",
                                          f"connections.{system}.{name}.{key}")
                    sources[f"connections.{system}.{name}.{key}"] = f"environment {var}"
                elif key in conn:
                    sources[f"connections.{system}.{name}.{key}"] = f"config file {file_path}"
    if sandbox is not None:
        for system, conn in sandbox_conns.items():
            target = connections.setdefault(system, {}).setdefault(DEFAULT_CONNECTION, {})
            for key, value in conn.items():
                if value is not None:
                    target[key] = value
                    sources[f"connections.{system}.{DEFAULT_CONNECTION}.{key}"] = "sandbox"

    store = SecretStore(overrides=cli_secrets, env=env,
                        secrets_file=Path(secrets_file) if secrets_file else None,
                        use_keyring=use_keyring, config_values=file_secrets)
    return RunnerConfig(values=values, sources=sources, connections=connections,
                        secrets=store, path=file_path, sandbox=sandbox)
