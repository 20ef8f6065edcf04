"""The runner's settings: declared once here, read from ``runner.toml``, env and the CLI.

:data:`SETTINGS` is the single declaration (name, type, default, description, environment
variable, secret or not); the configuration reference is generated from it, and the loader
checks ``runner.toml`` against it: an unknown key or a value of the wrong type is a
:class:`~runner.errors.ConfigError` naming the key and the file.

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

from runner.connections import PRODUCTION_LOGIN
from runner.connectors.salesforce import SalesforceSettings
from runner.connectors.stripe import StripeSettings
from runner.errors import ConfigError
from runner.secrets import SECRET_FIELDS, SecretStore, env_var, keyring_username

DEFAULT_CONNECTION = "default"
_CONNECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")


@dataclass(frozen=True)
class Setting:
    """One setting. ``type`` is str, int, float, bool or list (of strings)."""

    name: str  # dotted: "runner.listen", "connections.stripe.<name>.api_key"
    type: type
    default: Any
    description: str
    env: str | None = None  # "{NAME}" stands for the connection name
    secret: bool = False
    choices: tuple[str, ...] | None = None

    @property
    def section(self) -> str:
        return self.name.rsplit(".", 1)[0]

    @property
    def key(self) -> str:
        return self.name.rsplit(".", 1)[1]


def _stripe(key: str, type_: type, default: Any, description: str, *, secret: bool = False,
            choices: tuple[str, ...] | None = None) -> Setting:
    return Setting(f"connections.stripe.<name>.{key}", type_, default, description,
                   f"FIELDBRIDGE_STRIPE_{{NAME}}_{key.upper()}", secret, choices)


def _salesforce(key: str, type_: type, default: Any, description: str, *,
                secret: bool = False, choices: tuple[str, ...] | None = None) -> Setting:
    return Setting(f"connections.salesforce.<name>.{key}", type_, default, description,
                   f"FIELDBRIDGE_SALESFORCE_{{NAME}}_{key.upper()}", secret, choices)


SETTINGS: tuple[Setting, ...] = (
    # -- [runner] ---------------------------------------------------------------------------
    Setting("runner.listen", str, "127.0.0.1:8787",
            "HOST:PORT of the HTTP server (POST /webhooks/stripe, GET /healthz, GET /metrics).",
            "FIELDBRIDGE_LISTEN"),
    Setting("runner.state_url", str, None,
            "SQLAlchemy URL of the state database; default: a SQLite file in the user data "
            "directory. May hold a database password, so it is treated as a secret.",
            "FIELDBRIDGE_STATE_URL", secret=True),
    Setting("runner.poll_interval", float, 30.0,
            "Seconds between Salesforce polls (SystemModstamp watermarks).",
            "FIELDBRIDGE_POLL_INTERVAL"),
    Setting("runner.catchup_interval", float, 300.0,
            "Seconds between catch-ups of missed webhooks through GET /v1/events.",
            "FIELDBRIDGE_CATCHUP_INTERVAL"),
    Setting("runner.batch_size", int, 200,
            "Records per Salesforce write (sObject Collections take at most 200).",
            "FIELDBRIDGE_BATCH_SIZE"),
    Setting("runner.linger", float, 0.1,
            "Seconds the worker waits after a Salesforce write that did not fill "
            "runner.batch_size, so the next batch gathers what arrives meanwhile: fewer API "
            "calls per record under load, at most this much added latency (0 to 5; 0: off).",
            "FIELDBRIDGE_LINGER"),
    Setting("runner.worker_id", str, None,
            "This process's name when several share a PostgreSQL inbox; default host:pid.",
            "FIELDBRIDGE_WORKER_ID"),
    Setting("runner.require_signature", bool, False,
            "Refuse bundles that are not signed by runner.public_key.",
            "FIELDBRIDGE_REQUIRE_SIGNATURE"),
    Setting("runner.public_key", str, None,
            "Path of the public key that bundle signatures are checked against.",
            "FIELDBRIDGE_PUBLIC_KEY"),
    Setting("runner.log_format", str, "json", "Log output: JSON lines or readable text.",
            "FIELDBRIDGE_LOG_FORMAT", choices=("json", "text")),
    Setting("runner.log_level", str, "INFO", "Least severe log level written.",
            "FIELDBRIDGE_LOG_LEVEL", choices=("DEBUG", "INFO", "WARNING", "ERROR")),
    # -- [runner.alerts] --------------------------------------------------------------------
    Setting("runner.alerts.webhook_url", str, None,
            "Slack-compatible webhook that alerts are POSTed to (its URL embeds a token).",
            "FIELDBRIDGE_ALERT_WEBHOOK_URL", secret=True),
    Setting("runner.alerts.smtp_host", str, None, "SMTP server for alert mail.",
            "FIELDBRIDGE_SMTP_HOST"),
    Setting("runner.alerts.smtp_port", int, 587, "SMTP port.", "FIELDBRIDGE_SMTP_PORT"),
    Setting("runner.alerts.smtp_starttls", bool, True, "Use STARTTLS on the SMTP connection.",
            "FIELDBRIDGE_SMTP_STARTTLS"),
    Setting("runner.alerts.smtp_username", str, None, "SMTP login.",
            "FIELDBRIDGE_SMTP_USERNAME"),
    Setting("runner.alerts.smtp_password", str, None, "SMTP password.",
            "FIELDBRIDGE_SMTP_PASSWORD", secret=True),
    Setting("runner.alerts.smtp_from", str, None, "Sender address of alert mail.",
            "FIELDBRIDGE_SMTP_FROM"),
    Setting("runner.alerts.smtp_to", list, [], "Recipients of alert mail.",
            "FIELDBRIDGE_SMTP_TO"),
    Setting("runner.alerts.dlq_alert_threshold", int, 10,
            "Alert when this many records wait in the dead-letter queue.",
            "FIELDBRIDGE_DLQ_ALERT_THRESHOLD"),
    Setting("runner.alerts.api_budget_alert_percent", float, 10.0,
            "Alert when Salesforce's remaining daily API budget falls under this percent.",
            "FIELDBRIDGE_API_BUDGET_ALERT_PERCENT"),
    # -- [runner.anomalies] -----------------------------------------------------------------
    Setting("runner.anomalies.enabled", bool, True,
            "Watch payment events (charges, refunds, disputes, early fraud warnings) for "
            "amount outliers, decline and refund spikes and duplicate charges.",
            "FIELDBRIDGE_ANOMALIES_ENABLED"),
    Setting("runner.anomalies.cases", bool, True,
            "Open a Salesforce Case for each anomaly flag (through the anomaly-to-case flow of "
            "the bundle, or of the shipped anomaly-cases template); off: alerts only.",
            "FIELDBRIDGE_ANOMALIES_CASES"),
    # -- [runner.monitors] ------------------------------------------------------------------
    Setting("runner.monitors.interval", float, 60.0,
            "Seconds between monitor checks (drift schedule, volume, null rates, cursor, "
            "writing anomaly Cases).", "FIELDBRIDGE_MONITORS_INTERVAL"),
    Setting("runner.monitors.drift_check_minutes", float, 15.0,
            "Minutes between re-checks of the org's describe against what the flows write and, "
            "for Salesforce-triggered flows, the fields they read and write back; a flow whose "
            "fields drifted is paused (the others keep running). 0: no re-check.",
            "FIELDBRIDGE_DRIFT_CHECK_MINUTES"),
    Setting("runner.monitors.expected_min_per_hour", list, [],
            "Minimum records per hour per flow, as a table {\"charge-to-payment\" = 1} or "
            "\"flow=N\" strings; alert when a flow falls below (silent flows). Unlisted "
            "flows are not watched.", "FIELDBRIDGE_EXPECTED_MIN_PER_HOUR"),
    Setting("runner.monitors.null_rate_window", int, 200,
            "Recent records per flow and field whose null rate is compared with the baseline.",
            "FIELDBRIDGE_NULL_RATE_WINDOW"),
    Setting("runner.monitors.null_rate_baseline", int, 2000,
            "Records before the window that form a field's baseline null rate.",
            "FIELDBRIDGE_NULL_RATE_BASELINE"),
    Setting("runner.monitors.null_rate_increase", float, 0.5,
            "Alert when a field's null rate rises by at least this fraction (0.5: from 2% to "
            "52%).", "FIELDBRIDGE_NULL_RATE_INCREASE"),
    Setting("runner.monitors.cursor_warn_days", float, 20.0,
            "Alert when the last processed Stripe event is this many days old (the events API "
            "keeps 30 days).", "FIELDBRIDGE_CURSOR_WARN_DAYS"),
    # -- [connections.stripe.<name>] ----------------------------------------------------------
    _stripe("api_key", str, None, "Secret or restricted API key (sk_... / rk_...).",
            secret=True),
    _stripe("webhook_secret", list, [],
            "Webhook signing secrets (whsec_...); several during a rotation.", secret=True),
    _stripe("api_base", str, None,
            "API address instead of https://api.stripe.com (the local sandbox)."),
    _stripe("account", str, None, "A label for people, e.g. 'EU live'."),
    _stripe("flavor", str, "stripe",
            "'localstripe' for the local sandbox's older API behaviour.",
            choices=("stripe", "localstripe")),
    _stripe("timeout", float, 30.0, "Seconds before a Stripe request is abandoned."),
    # -- [connections.salesforce.<name>] ------------------------------------------------------
    _salesforce("login_url", str, PRODUCTION_LOGIN,
                "OAuth login address (My Domain, test.salesforce.com, or the emulator)."),
    _salesforce("auth", str, "jwt", "How to log in.", choices=("jwt", "password", "session")),
    _salesforce("username", str, None, "The integration user's username."),
    _salesforce("consumer_key", str, None, "The connected app's consumer key."),
    _salesforce("private_key_file", str, None,
                "PEM file of the key whose certificate the connected app holds (JWT)."),
    _salesforce("ca_file", str, None,
                "CA bundle to verify the org's TLS certificate with (the emulator's); "
                "default: the system store."),
    _salesforce("api_version", str, "62.0", "REST API version, as a string: \"62.0\"."),
    _salesforce("instance_url", str, None,
                "The org's address; only needed with auth = 'session'."),
    _salesforce("audience", str, None, "JWT audience; default: the login URL."),
    _salesforce("timeout", float, 30.0, "Seconds before a Salesforce request is abandoned."),
    _salesforce("password", str, None, "The integration user's password (password auth).",
                secret=True),
    _salesforce("security_token", str, None, "Appended to the password (password auth).",
                secret=True),
    _salesforce("client_secret", str, None, "The connected app's consumer secret.",
                secret=True),
    _salesforce("private_key", str, None, "PEM text of the JWT key, instead of a file.",
                secret=True),
    _salesforce("access_token", str, None, "An existing session id (auth = 'session').",
                secret=True),
    # -- [flows] ------------------------------------------------------------------------------
    Setting("flows.include", list, [], "Flows to run; empty: every flow of the bundle.",
            "FIELDBRIDGE_FLOWS_INCLUDE"),
    Setting("flows.exclude", list, [], "Flows not to run.", "FIELDBRIDGE_FLOWS_EXCLUDE"),
)

_BY_NAME = {s.name: s for s in SETTINGS}
_SECTIONS = {s.section for s in SETTINGS if "<name>" not in s.name}
_CONNECTION_SETTINGS = {
    system: {s.key: s for s in SETTINGS if s.name.startswith(f"connections.{system}.<name>.")}
    for system in ("stripe", "salesforce")
}
assert all(set(SECRET_FIELDS[sys_]) == {k for k, s in fields.items() if s.secret}
           for sys_, fields in _CONNECTION_SETTINGS.items())


def setting(name: str) -> Setting:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ConfigError(f"unknown setting {name!r}") from None


# -- values -----------------------------------------------------------------------------------
def _type_name(t: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            list: "a list of strings"}[t]


def _check_value(s: Setting, value: Any, where: str) -> Any:
    """A value from TOML or JSON, checked against the declaration."""
    ok: bool
    if s.type is bool:
        ok = isinstance(value, bool)
    elif s.type is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif s.type is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif s.type is list:
        if isinstance(value, str):  # one value where several are allowed
            value = [value]
        elif isinstance(value, dict) and all(
                isinstance(v, str | int | float) and not isinstance(v, bool)
                for v in value.values()):
            value = [f"{k}={v}" for k, v in value.items()]  # a table {"a" = 1} as "a=1"
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    else:
        ok = isinstance(value, str)
    if not ok:
        shown = "" if s.secret else f" {value!r}"  # never echo a secret
        raise ConfigError(f"{where}: {s.key} must be {_type_name(s.type)}, "
                          f"not {type(value).__name__}{shown}")
    return _check_choice(s, value, where)


def _check_choice(s: Setting, value: Any, where: str) -> Any:
    if s.choices is not None and value is not None:
        if s.name == "runner.log_level":
            value = str(value).upper()
        if value not in s.choices:
            raise ConfigError(f"{where}: {s.key} must be one of {', '.join(s.choices)}, "
                              f"not {value!r}")
    return value


def _from_text(s: Setting, text: str, where: str) -> Any:
    """A value from an environment variable or the command line."""
    if s.type is str:
        return _check_choice(s, text, where)
    if s.type is list:
        return [part.strip() for part in text.split(",") if part.strip()]
    if s.type is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where}: expected true or false, not {text!r}")
    try:
        return s.type(text.strip())
    except ValueError:
        raise ConfigError(f"{where}: expected {_type_name(s.type)}, not {text!r}") from None


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
        values = {k: s.default for k, s in _CONNECTION_SETTINGS[system].items()
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
        if auth == "password" and not secrets["password"]:
            self._secret("salesforce", name, "password", required=True)
        if auth == "session" and not secrets["access_token"]:
            self._secret("salesforce", name, "access_token", required=True)
        if auth == "jwt" and not (v["private_key_file"] or secrets["private_key"]):
            raise ConfigError(
                f"Salesforce connection {name!r} uses JWT login but has neither "
                f"private_key_file nor a private_key secret "
                f"({env_var('salesforce', name, 'private_key')})")
        return SalesforceSettings(
            login_url=v["login_url"], instance_url=v["instance_url"], auth=auth,
            username=v["username"], consumer_key=v["consumer_key"],
            private_key_file=v["private_key_file"], ca_file=v["ca_file"],
            api_version=v["api_version"], timeout=v["timeout"], audience=v["audience"],
            name=name, **secrets)

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
            elif name in _BY_NAME:
                flat[name] = _check_value(_BY_NAME[name], value, f"{path}: [{prefix}]")
            elif name in _SECTIONS:
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
        if system not in _CONNECTION_SETTINGS:
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
                s = _CONNECTION_SETTINGS[system].get(key)
                where = f"{path}: [connections.{system}.{name}]"
                if s is None:
                    raise ConfigError(f"{path}: unknown key 'connections.{system}.{name}.{key}'")
                checked = _check_value(s, value, where)
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
    for system, fields in _CONNECTION_SETTINGS.items():
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
            # JWT needs no consumer secret (which the sandbox JSON does not carry).
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
            value, source = _from_text(s, env[s.env], f"environment {s.env}"), \
                f"environment {s.env}"
        if overrides and s.name in overrides and overrides[s.name] is not None:
            given = overrides[s.name]
            value = _from_text(s, given, f"command line {s.name}") if isinstance(given, str) \
                else _check_value(s, given, "command line")
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
            for key, s in _CONNECTION_SETTINGS[system].items():
                if s.secret:
                    continue
                var = env_var(system, name, key)
                if env.get(var):
                    conn[key] = _from_text(s, env[var], f"environment {var}")
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


def describe_settings() -> list[dict[str, Any]]:
    """The declaration as plain data, for generated documentation and ``--help`` text."""
    return [{"name": s.name, "type": s.type.__name__, "default": s.default,
             "description": s.description, "env": s.env, "secret": s.secret,
             "choices": list(s.choices) if s.choices else None} for s in SETTINGS]
