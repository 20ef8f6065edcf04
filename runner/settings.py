"""The runner's settings, declared once: name, type, default, bounds, environment variable.

:data:`SETTINGS` is the single declaration; :mod:`runner.config` loads ``runner.toml``, the
environment and the command line against it, the configuration reference
(``docs/configuration.md``) is generated from it, and the command line's options take their
argparse ``type`` from it (:func:`cli_type`). A value is checked here, the same way from each
source: its type, its choices, and for numbers their declared :class:`Range` (finite: ``nan``
and ``inf`` are refused). The refusal is one sentence naming where the value came from, the
key, the value and what is allowed.

Kept apart from :mod:`runner.config` so that the command line can build its options from
the declaration without importing the connectors (seconds of start-up, see runner.cli).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runner.connections import PRODUCTION_LOGIN
from runner.errors import ConfigError
from runner.secrets import SECRET_FIELDS


@dataclass(frozen=True)
class Range:
    """The values a numeric setting allows: ``low`` to ``high``, each end included unless
    marked open."""

    low: float
    high: float
    unit: str = ""  # "seconds", "minutes", "days", "percent"
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return math.isfinite(value) and above and below

    def describe(self) -> str:
        """``from 1 to 86400 seconds``, ``more than 0 and at most 30 days``."""
        unit = f" {self.unit}" if self.unit else ""
        lo, hi = number_text(self.low), number_text(self.high)
        if not (self.low_open or self.high_open):
            return f"from {lo} to {hi}{unit}"
        low = f"more than {lo}" if self.low_open else f"at least {lo}"
        high = f"less than {hi}" if self.high_open else f"at most {hi}"
        return f"{low} and {high}{unit}"


def number_text(value: float) -> str:
    """A number as a person writes it: 86400, 0.1, -5, nan, inf (not 8.64e+04)."""
    value = float(value)
    # Up to 15 digits as written; beyond, 1e+300 rather than three hundred digits.
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


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
    bounds: Range | None = None  # every int and float setting has one

    @property
    def section(self) -> str:
        return self.name.rsplit(".", 1)[0]

    @property
    def key(self) -> str:
        return self.name.rsplit(".", 1)[1]


def _stripe(key: str, type_: type, default: Any, description: str, *, secret: bool = False,
            choices: tuple[str, ...] | None = None, bounds: Range | None = None) -> Setting:
    return Setting(f"connections.stripe.<name>.{key}", type_, default, description,
                   f"FIELDBRIDGE_STRIPE_{{NAME}}_{key.upper()}", secret, choices, bounds)


def _salesforce(key: str, type_: type, default: Any, description: str, *,
                secret: bool = False, choices: tuple[str, ...] | None = None,
                bounds: Range | None = None) -> Setting:
    return Setting(f"connections.salesforce.<name>.{key}", type_, default, description,
                   f"FIELDBRIDGE_SALESFORCE_{{NAME}}_{key.upper()}", secret, choices, bounds)


# Shared ranges. An interval under a second would poll Stripe or Salesforce many times a
# second for nothing (a negative one did: 332 Stripe requests in 11 s); over a day, the
# Stripe events a catch-up reads (kept 30 days) and the org's changes would wait too long.
INTERVAL = Range(1, 86_400, "seconds")
# A request timeout: under a second fails healthy calls, over ten minutes hides a dead peer.
TIMEOUT = Range(1, 600, "seconds")


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
            "FIELDBRIDGE_POLL_INTERVAL", bounds=INTERVAL),
    Setting("runner.salesforce_triggers", str, "auto",
            "How Salesforce-triggered flows learn of changes: 'cdc' subscribes to change "
            "events and platform events (the Pub/Sub API), 'poll' queries SystemModstamp "
            "every runner.poll_interval, 'auto' subscribes where the org offers the topic "
            "and polls otherwise.", "FIELDBRIDGE_SALESFORCE_TRIGGERS",
            choices=("auto", "cdc", "poll")),
    Setting("runner.catchup_interval", float, 300.0,
            "Seconds between catch-ups of missed webhooks through GET /v1/events.",
            "FIELDBRIDGE_CATCHUP_INTERVAL", bounds=INTERVAL),
    Setting("runner.batch_size", int, 200,
            "Records per Salesforce write (sObject Collections take at most 200).",
            # 200: runner.pipeline.batching.MAX_BATCH (a test holds them equal; importing
            # the pipeline here would cost the command line half a second).
            "FIELDBRIDGE_BATCH_SIZE", bounds=Range(1, 200)),
    Setting("runner.linger", float, 0.1,
            "Seconds the worker waits after a Salesforce write that did not fill "
            "runner.batch_size, so the next batch gathers what arrives meanwhile: fewer API "
            "calls per record under load, at most this much added latency (0: off).",
            # Above 5 s a linger would only add latency.
            "FIELDBRIDGE_LINGER", bounds=Range(0, 5, "seconds")),
    Setting("runner.gather", float, 0.2,
            "Seconds an event may wait in the inbox for others to join its batch: fewer "
            "than runner.batch_size due events are claimed only once the earliest received "
            "has waited this long. Runners sharing an inbox then take a burst in batches "
            "instead of each taking a slice (fewer API calls per record); at most this much "
            "added latency, plus one 50 ms poll (0: off).",
            "FIELDBRIDGE_GATHER", bounds=Range(0, 5, "seconds")),
    Setting("runner.startup_wait", float, 60.0,
            "Seconds `run` keeps retrying transient failures at start-up (a Salesforce login "
            "or describe answering 503, a timeout) before it gives up; 0: one attempt.",
            "FIELDBRIDGE_STARTUP_WAIT", bounds=Range(0, 3600, "seconds")),
    Setting("runner.stall_after", float, 120.0,
            "Seconds after which GET /healthz reports the sync degraded (503) when the oldest "
            "pending event has waited that long and no event has settled meanwhile.",
            "FIELDBRIDGE_STALL_AFTER", bounds=Range(5, 86400, "seconds")),
    Setting("runner.worker_id", str, None,
            "This process's name when several share a PostgreSQL inbox; default host:pid.",
            "FIELDBRIDGE_WORKER_ID"),
    Setting("runner.require_signature", bool, False,
            "Refuse bundles that are not signed by runner.public_key.",
            "FIELDBRIDGE_REQUIRE_SIGNATURE"),
    Setting("runner.public_key", str, None,
            "Path of the public key that bundle signatures are checked against.",
            "FIELDBRIDGE_PUBLIC_KEY"),
    Setting("runner.admin_token", str, None,
            "Bearer token of the admin API (/api/v1/: status, dead letters, reviews, pause, "
            "hot deploy); the API is off unless it is set. Kept only as a hash in the audit "
            "log, never logged.", "FIELDBRIDGE_ADMIN_TOKEN", secret=True),
    Setting("runner.admin_read_token", str, None,
            "A second admin token that may read the admin API but not act (403).",
            "FIELDBRIDGE_ADMIN_READ_TOKEN", secret=True),
    Setting("runner.admin_listen", str, None,
            "HOST:PORT of a separate listener for the admin API, so the webhook port can "
            "face the internet while the admin port does not; default: the webhook server.",
            "FIELDBRIDGE_ADMIN_LISTEN"),
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
    Setting("runner.alerts.smtp_port", int, 587, "SMTP port.", "FIELDBRIDGE_SMTP_PORT",
            bounds=Range(1, 65_535)),
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
            "FIELDBRIDGE_DLQ_ALERT_THRESHOLD", bounds=Range(1, 1_000_000)),
    Setting("runner.alerts.api_budget_alert_percent", float, 10.0,
            "Alert when Salesforce's remaining daily API budget falls under this percent.",
            "FIELDBRIDGE_API_BUDGET_ALERT_PERCENT",
            bounds=Range(0, 100, "percent", low_open=True, high_open=True)),
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
            "writing anomaly Cases).", "FIELDBRIDGE_MONITORS_INTERVAL",
            # Checks read the state database; tests run them ten times a second.
            bounds=Range(0.1, 86_400, "seconds")),
    Setting("runner.monitors.drift_check_minutes", float, 15.0,
            "Minutes between re-checks of the org's describe against what the flows write and, "
            "for Salesforce-triggered flows, the fields they read and write back; a flow whose "
            "fields drifted is paused (the others keep running). 0: no re-check.",
            "FIELDBRIDGE_DRIFT_CHECK_MINUTES", bounds=Range(0, 10_080, "minutes")),
    Setting("runner.monitors.expected_min_per_hour", list, [],
            "Minimum records per hour per flow, as a table {\"charge-to-payment\" = 1} or "
            "\"flow=N\" strings; alert when a flow falls below (silent flows). Unlisted "
            "flows are not watched.", "FIELDBRIDGE_EXPECTED_MIN_PER_HOUR"),
    Setting("runner.monitors.null_rate_window", int, 200,
            "Recent records per flow and field whose null rate is compared with the baseline.",
            "FIELDBRIDGE_NULL_RATE_WINDOW", bounds=Range(1, 1_000_000)),
    Setting("runner.monitors.null_rate_baseline", int, 2000,
            "Records before the window that form a field's baseline null rate.",
            "FIELDBRIDGE_NULL_RATE_BASELINE", bounds=Range(1, 10_000_000)),
    Setting("runner.monitors.null_rate_increase", float, 0.5,
            "Alert when a field's null rate rises by at least this fraction (0.5: from 2% to "
            "52%).", "FIELDBRIDGE_NULL_RATE_INCREASE", bounds=Range(0, 1, low_open=True)),
    Setting("runner.monitors.cursor_warn_days", float, 20.0,
            "Alert when the last processed Stripe event is this many days old (the events API "
            "keeps 30 days).", "FIELDBRIDGE_CURSOR_WARN_DAYS",
            bounds=Range(0, 30, "days", low_open=True)),
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
    _stripe("timeout", float, 30.0, "Seconds before a Stripe request is abandoned.",
            bounds=TIMEOUT),
    # -- [connections.salesforce.<name>] ------------------------------------------------------
    _salesforce("login_url", str, PRODUCTION_LOGIN,
                "OAuth login address (My Domain, test.salesforce.com, or the emulator)."),
    _salesforce("auth", str, "jwt", "How to log in: 'refresh_token' is what the studio's "
                "\"Log in with Salesforce\" approved.",
                choices=("jwt", "password", "refresh_token", "session")),
    _salesforce("username", str, None, "The integration user's username."),
    _salesforce("consumer_key", str, None,
                "The connected app's consumer key (its OAuth client_id)."),
    _salesforce("client_id", str, None,
                "The same as consumer_key, under the OAuth name a browser login "
                "(auth = 'refresh_token') uses; give one or the other."),
    _salesforce("private_key_file", str, None,
                "PEM file of the key whose certificate the connected app holds (JWT)."),
    _salesforce("ca_file", str, None,
                "CA bundle to verify the org's TLS certificate with (the emulator's); "
                "default: the system store."),
    _salesforce("api_version", str, "62.0", "REST API version, as a string: \"62.0\"."),
    _salesforce("pubsub_endpoint", str, "api.pubsub.salesforce.com:7443",
                "HOST:PORT of the Pub/Sub API (change and platform events)."),
    _salesforce("instance_url", str, None,
                "The org's address; only needed with auth = 'session'."),
    _salesforce("audience", str, None, "JWT audience; default: the login URL."),
    _salesforce("timeout", float, 30.0, "Seconds before a Salesforce request is abandoned.",
                bounds=TIMEOUT),
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
    _salesforce("refresh_token", str, None,
                "The refresh token a browser login gave (auth = 'refresh_token').",
                secret=True),
    # -- [flows] ------------------------------------------------------------------------------
    Setting("flows.include", list, [], "Flows to run; empty: every flow of the bundle.",
            "FIELDBRIDGE_FLOWS_INCLUDE"),
    Setting("flows.exclude", list, [], "Flows not to run.", "FIELDBRIDGE_FLOWS_EXCLUDE"),
)

SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}
SECTIONS = {s.section for s in SETTINGS if "<name>" not in s.name}
CONNECTION_SETTINGS = {
    system: {s.key: s for s in SETTINGS if s.name.startswith(f"connections.{system}.<name>.")}
    for system in ("stripe", "salesforce")
}
assert all(set(SECRET_FIELDS[sys_]) == {k for k, s in fields.items() if s.secret}
           for sys_, fields in CONNECTION_SETTINGS.items())
assert all((s.bounds is not None) == (s.type in (int, float)) for s in SETTINGS), \
    "every numeric setting declares its bounds, and only those"


def setting(name: str) -> Setting:
    try:
        return SETTINGS_BY_NAME[name]
    except KeyError:
        raise ConfigError(f"unknown setting {name!r}") from None


# -- values -----------------------------------------------------------------------------------
def _type_name(t: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            list: "a list of strings"}[t]


def check_value(s: Setting, value: Any, where: str, key: str | None = None) -> Any:
    """A value from TOML or JSON (or typed by a caller), checked against the declaration.

    ``where`` says where it came from (``runner.toml: [runner]``, ``command line``); ``key``
    is the name the message uses (default: the setting's key)."""
    key = key or s.key
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
        raise ConfigError(f"{where}: {key} must be {_type_name(s.type)}, "
                          f"not {type(value).__name__}{shown}")
    return _check_bounds(s, _check_choice(s, value, where, key), where, key)


def _check_choice(s: Setting, value: Any, where: str, key: str) -> Any:
    if s.choices is not None and value is not None:
        if s.name == "runner.log_level":
            value = str(value).upper()
        if value not in s.choices:
            raise ConfigError(f"{where}: {key} must be one of {', '.join(s.choices)}, "
                              f"not {value!r}")
    return value


def _check_bounds(s: Setting, value: Any, where: str, key: str) -> Any:
    """The declared range (finite numbers only: TOML and float() both read nan and inf)."""
    if s.bounds is not None and value is not None:
        check_range(s.bounds, value, key, where)
    return value


def check_range(bounds: Range, value: float, key: str, where: str | None = None) -> float:
    """``value`` when ``bounds`` hold it, else the one refusal every range check gives:
    ConfigError ``[where: ]key must be <range>, not <value>``."""
    if value not in bounds:
        prefix = f"{where}: " if where else ""
        raise ConfigError(f"{prefix}{key} must be {bounds.describe()}, not {number_text(value)}")
    return value


def check_setting_range(name: str, value: float, key: str | None = None) -> float:
    """``value`` checked against the declared range of setting ``name``, for code that is
    handed a value directly rather than through the file, environment or command line
    (``key`` defaults to the setting's name)."""
    bounds = setting(name).bounds
    assert bounds is not None, f"{name} is not a numeric setting"
    return check_range(bounds, value, key or name)


def from_text(s: Setting, text: str, where: str, key: str | None = None) -> Any:
    """A value from an environment variable or the command line, checked like
    :func:`check_value` (``key`` defaults to the setting's full name)."""
    key = key or s.name
    if s.type is str:
        return _check_choice(s, text, where, key)
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
        value = s.type(text.strip())
    except ValueError:
        raise ConfigError(f"{where}: expected {_type_name(s.type)} for {key}, "
                          f"not {text!r}") from None
    return _check_bounds(s, value, where, key)


def cli_type(name: str) -> Callable[[str], Any]:
    """An argparse ``type`` for the option that sets ``name``: the same parsing and bounds
    as the file and the environment, refused as argparse refuses (usage, exit 2)."""
    return _argparse_type(setting(name))


def option_type(type_: type, bounds: Range, what: str) -> Callable[[str], Any]:
    """An argparse ``type`` for a numeric option that is not a setting (``--chunk-size``),
    ``what`` naming its value in plain words (``chunk size``): parsed and bounded as
    :func:`cli_type` parses and bounds a setting, refused in the same one sentence."""
    assert type_ in (int, float)
    return _argparse_type(Setting(what, type_, None, "", bounds=bounds))


def _argparse_type(s: Setting) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return from_text(s, text, "command line")
        except ConfigError as exc:
            # argparse prefixes "argument --option: "; the sentence names the setting.
            raise argparse.ArgumentTypeError(str(exc).removeprefix("command line: ")) \
                from None

    parse.__name__ = s.type.__name__  # argparse names the type in some messages
    return parse


def describe_settings() -> list[dict[str, Any]]:
    """The declaration as plain data, for generated documentation and ``--help`` text."""
    return [{"name": s.name, "type": s.type.__name__, "default": s.default,
             "description": s.description, "env": s.env, "secret": s.secret,
             "choices": list(s.choices) if s.choices else None,
             "range": s.bounds.describe() if s.bounds else None} for s in SETTINGS]
