"""Secrets by connection name, and the logging filter that keeps them out of logs.

Where a secret comes from, first match wins (:data:`PRECEDENCE`):

1. the command line, or the sandbox JSON given with ``--sandbox`` (``sandbox up --json``);
2. environment variables, ``FIELDBRIDGE_<SYSTEM>_<NAME>_<FIELD>`` (:func:`env_var`), e.g.
   ``FIELDBRIDGE_STRIPE_DEFAULT_API_KEY``, ``FIELDBRIDGE_STRIPE_DEFAULT_WEBHOOK_SECRET``,
   ``FIELDBRIDGE_SALESFORCE_DEFAULT_PASSWORD``, ``..._SECURITY_TOKEN``, ``..._CLIENT_SECRET``,
   ``..._PRIVATE_KEY`` (the PEM text); for servers and containers;
3. a secrets file (``--secrets-file`` or ``FIELDBRIDGE_SECRETS_FILE``): TOML with
   ``[stripe.<name>]`` and ``[salesforce.<name>]`` tables holding the same fields in lower
   case. It must not be readable by group or others (``chmod 600``), or it is refused;
4. the OS keyring: service ``fieldbridge``, username ``<system>:<name>:<field>``
   (:func:`keyring_username`), which is where the studio stores what people type;
5. the config file ``runner.toml`` itself (possible, not recommended).

:class:`SecretRedactor` masks every secret value known to it and anything that looks like a
credential (Stripe keys, webhook secrets, bearer tokens, Salesforce session ids, PEM private
keys, password form fields); :func:`configure_logging` installs it with JSON-lines or text
output.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from runner.errors import ConfigError
from runner.private_files import check_private

log = logging.getLogger(__name__)

PRECEDENCE = ("command line / sandbox JSON", "environment", "secrets file", "OS keyring",
              "config file")
KEYRING_SERVICE = "fieldbridge"
SECRETS_FILE_ENV = "FIELDBRIDGE_SECRETS_FILE"
# The secret fields of each system's connections.
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "stripe": ("api_key", "webhook_secret"),
    "salesforce": ("password", "security_token", "client_secret", "private_key",
                   "access_token", "refresh_token"),
}
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words


def _check_field(system: str, field: str) -> None:
    if system not in SECRET_FIELDS:
        raise ConfigError(f"unknown system {system!r} (stripe or salesforce)")
    if field not in SECRET_FIELDS[system]:
        raise ConfigError(f"{field!r} is not a {system} secret; known: "
                          f"{', '.join(SECRET_FIELDS[system])}")


def keyring_username(system: str, name: str, field: str) -> str:
    """The keyring username of one secret: ``stripe:default:api_key``."""
    _check_field(system, field)
    return f"{system}:{name}:{field}"


def env_var(system: str, name: str, field: str) -> str:
    """The environment variable of one setting: ``FIELDBRIDGE_STRIPE_DEFAULT_API_KEY``."""
    token = re.sub(r"[^A-Za-z0-9]", "_", name).upper()
    return f"FIELDBRIDGE_{system.upper()}_{token}_{field.upper()}"


# keyring is imported where it is used: it costs ~0.2 s at import (measured with
# -X importtime), which every runner command would pay although most never read the keyring.
def keyring_secret(system: str, name: str, field: str) -> str | None:
    """One secret from the OS keyring (None: not stored); ConfigError if it cannot be read."""
    import keyring
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(KEYRING_SERVICE, keyring_username(system, name, field))
    except KeyringError as exc:
        raise ConfigError(f"the OS keyring cannot be read: {exc}") from exc


def set_keyring_secret(system: str, name: str, field: str, value: str) -> None:
    """Store one secret in the OS keyring (the studio's "save credentials")."""
    import keyring
    from keyring.errors import KeyringError

    try:
        keyring.set_password(KEYRING_SERVICE, keyring_username(system, name, field), value)
    except KeyringError as exc:
        raise ConfigError(f"the OS keyring refused to store the {field.replace('_', ' ')}: "
                          f"{exc}") from exc


def delete_keyring_secret(system: str, name: str, field: str) -> None:
    """Forget one secret; one never stored (e.g. no security token) is not an error."""
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    try:
        keyring.delete_password(KEYRING_SERVICE, keyring_username(system, name, field))
    except PasswordDeleteError:
        return
    except KeyringError as exc:
        raise ConfigError(f"the OS keyring cannot be changed: {exc}") from exc


def _keyring_get(system: str, name: str, field: str) -> str | None:
    """A keyring lookup in the precedence chain: no usable keyring means "not there"."""
    try:
        return keyring_secret(system, name, field)
    except (ConfigError, RuntimeError) as exc:  # NoKeyringError is a RuntimeError too
        log.debug("no keyring available for %s:%s:%s (%s)", system, name, field,
                  type(exc.__cause__ or exc).__name__)
        return None


def load_secrets_file(path: Path) -> dict[str, dict[str, dict[str, str]]]:
    """Read a secrets file: ``{system: {connection: {field: value}}}``; refuse loose modes."""
    path = Path(path).expanduser()
    check_private(path, "secrets file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"secrets file {path} cannot be read") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"secrets file {path} is not valid TOML: {exc}") from exc
    out: dict[str, dict[str, dict[str, str]]] = {}
    for system, connections in data.items():
        if system not in SECRET_FIELDS:
            raise ConfigError(f"secrets file {path}: unknown section [{system}] "
                              "(stripe or salesforce)")
        if not isinstance(connections, dict):
            raise ConfigError(f"secrets file {path}: [{system}] must hold tables "
                              f"[{system}.<connection name>]")
        for name, fields in connections.items():
            if not isinstance(fields, dict):
                raise ConfigError(f"secrets file {path}: {system}.{name} must be a table")
            for field, value in fields.items():
                where = f"{system}.{name}.{field}"
                if field not in SECRET_FIELDS[system]:
                    raise ConfigError(f"secrets file {path}: unknown key {where}; known: "
                                      f"{', '.join(SECRET_FIELDS[system])}")
                if isinstance(value, list) and all(isinstance(v, str) for v in value):
                    value = ",".join(value)
                if not isinstance(value, str):
                    raise ConfigError(f"secrets file {path}: {where} must be a string")
                out.setdefault(system, {}).setdefault(name, {})[field] = value
    return out


class SecretStore:
    """Looks secrets up in :data:`PRECEDENCE` order and remembers every value it handed out."""

    def __init__(self, *, overrides: Mapping[tuple[str, str, str], str] | None = None,
                 env: Mapping[str, str] | None = None, secrets_file: Path | None = None,
                 use_keyring: bool = True,
                 config_values: Mapping[tuple[str, str, str], str] | None = None) -> None:
        self.overrides = dict(overrides or {})
        self.env = os.environ if env is None else env
        file = secrets_file or self.env.get(SECRETS_FILE_ENV)
        self.secrets_file = Path(file) if file else None
        self._file = load_secrets_file(self.secrets_file) if self.secrets_file else {}
        self.use_keyring = use_keyring
        self.config_values = dict(config_values or {})
        self._seen: set[str] = set()

    def lookup(self, system: str, name: str, field: str) -> tuple[str | None, str | None]:
        """``(value, source)``; source names where it came from (never the value)."""
        _check_field(system, field)
        key = (system, name, field)
        candidates = [
            ("command line", lambda: self.overrides.get(key)),
            (f"environment {env_var(system, name, field)}",
             lambda: self.env.get(env_var(system, name, field))),
            (f"secrets file {self.secrets_file}",
             lambda: self._file.get(system, {}).get(name, {}).get(field)),
            (f"keyring {KEYRING_SERVICE}/{keyring_username(system, name, field)}",
             lambda: _keyring_get(system, name, field) if self.use_keyring else None),
            ("config file", lambda: self.config_values.get(key)),
        ]
        for source, get in candidates:
            value = get()
            if value:
                self._seen.add(value)
                return value, source
        return None, None

    def get(self, system: str, name: str, field: str) -> str | None:
        return self.lookup(system, name, field)[0]

    def known_values(self) -> list[str]:
        """Every secret value looked up so far (and the overrides), for the redactor."""
        return sorted({*self._seen, *(v for v in self.overrides.values() if v),
                       *(v for v in self.config_values.values() if v)})


# -- redaction ------------------------------------------------------------------------------
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
                re.S), "[REDACTED PRIVATE KEY]"),
    (re.compile(r"\b(sk|rk|pk)_(live|test)_[A-Za-z0-9_]+"), r"\1_\2_[REDACTED]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9_]+"), "whsec_[REDACTED]"),
    (re.compile(r"\b(Bearer|OAuth)\s+[A-Za-z0-9._~+/!=\-]+", re.I), r"\1 [REDACTED]"),
    (re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._\-]+"), "00D[REDACTED]"),
    (re.compile(r"\b5Aep861[A-Za-z0-9._\-]+"), "5Aep861[REDACTED]"),
    (re.compile(r"\b(password|client_secret|assertion|access_token|refresh_token|api_key)"
                r"(\"?\s*[=:]\s*\"?)([^&\s\"',}]+)", re.I), r"\1\2[REDACTED]"),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1[REDACTED]@"),  # passwords in URLs
]


class SecretRedactor(logging.Filter):
    """Masks known secret values and credential-shaped text in log records.

    Install it on handlers (a filter on a logger does not see records its children
    propagate). It rewrites ``msg`` (with ``args`` merged in), the exception text and the
    stack text.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._values: set[str] = set()
        self._known: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *values: str | None) -> None:
        new = {v for v in values if v and len(v) >= _MIN_SECRET_LENGTH} - self._values
        if not new:
            return
        self._values |= new
        ordered = sorted(self._values, key=len, reverse=True)  # longest first
        self._known = re.compile("|".join(re.escape(v) for v in ordered))

    def redact(self, text: str) -> str:
        if self._known is not None:
            text = self._known.sub("[REDACTED]", text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the raw parts, redacted
            message = f"{record.msg} {record.args}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, exc, and any ``extra`` fields."""

    def __init__(self, redactor: SecretRedactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                out[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if self.redactor is not None:
            # Extra fields did not pass through the filter; redact values before encoding so
            # a mask never cuts a JSON escape in half.
            out = {k: self.redactor.redact(v) if isinstance(v, str) else v
                   for k, v in out.items()}
        return json.dumps(out, ensure_ascii=False)


class _RedactingTextFormatter(logging.Formatter):
    def __init__(self, redactor: SecretRedactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor.redact(super().format(record))


def configure_logging(format: str = "json", level: str | int = "INFO",  # noqa: A002
                      secrets: Iterable[str] = (), *,
                      stream: IO[str] | None = None) -> SecretRedactor:
    """Send the root logger's records to ``stream`` (stderr) as JSON lines or text, redacted.

    Replaces a handler this function installed before (calling it twice is safe). Returns
    the redactor so more secrets can be added once they are known.
    """
    if format not in ("json", "text"):
        raise ConfigError(f"log format must be 'json' or 'text', not {format!r}")
    if isinstance(level, str):
        resolved = logging.getLevelName(level.upper())
        if not isinstance(resolved, int):
            raise ConfigError(f"unknown log level {level!r}")
        level = resolved
    redactor = SecretRedactor(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(redactor)
    handler.setFormatter(JsonFormatter(redactor) if format == "json"
                         else _RedactingTextFormatter(redactor))
    handler._fieldbridge = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_fieldbridge", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries that narrate every request or migration at INFO drown the runner's own lines;
    # they speak up at WARNING, or at every level when the runner logs at DEBUG.
    for name in _CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET if level <= logging.DEBUG
                                         else max(level, logging.WARNING))
    return redactor


_CHATTY_LIBRARIES = ("stripe", "alembic", "urllib3", "simple_salesforce")
