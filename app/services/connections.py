"""Stripe and Salesforce connections: settings in a JSON file, secrets in the OS keyring.

What people type into the connections dialog is split in two on save:

* the non-secret settings (name, login URL, username, consumer key, key and CA file paths,
  the Stripe key's mode) go to ``connections.json`` under
  ``platformdirs.user_config_dir("fieldbridge")`` — never into a workspace, which is meant to
  be committed to git;
* the secrets (Stripe API key, Salesforce password and security token) go to ``keyring``
  under service ``fieldbridge`` and the username ``<system>:<name>:<field>`` that the runner
  reads too (:func:`runner.api.connections.keyring_username`, one rule for both).

A built-in "Local sandbox" pair needs no account: its settings come from the local
sandboxes, started on demand (:mod:`app.services.sandbox`). It is listed, never stored.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import platformdirs

from app.errors import StudioError
from app.services.sandbox import SandboxService
from runner.api.connections import (
    KEYRING_SERVICE,
    PRODUCTION_LOGIN,
    SANDBOX_LOGIN,
    ConnectionCheck,
    delete_keyring_secret,
    is_sandbox_login,
    keyring_secret,
    keyring_username,
    set_keyring_secret,
)
from runner.api.connections import stripe_key_mode as runner_stripe_key_mode
from runner.api.errors import ConfigError

if TYPE_CHECKING:
    from mappings.document.model import MappingDocument
    from runner.api.connectors import SalesforceSettings, StripeSettings

__all__ = [
    "KEYRING_SERVICE", "LOCAL_SANDBOX", "PRODUCTION_LOGIN", "SANDBOX_LOGIN", "Connection",
    "ConnectionStore", "ConnectionsError", "SalesforceConnection", "StripeConnection",
    "TestResult", "classify_failure", "keyring_username", "stripe_key_gaps", "stripe_key_mode",
    "test_connection", "validate",
]

CONFIG_FORMAT = 1
LOCAL_SANDBOX = "Local sandbox"
NETWORK_TIMEOUT = 15.0  # seconds, for every call a connection test or preview makes

# What a connection test found: the runner's diagnosis (ok, message, detail, reason).
TestResult = ConnectionCheck


class ConnectionsError(StudioError):
    """A connection's settings are wrong, or the store cannot be read or written."""


def stripe_key_mode(api_key: str) -> Literal["test", "live"]:
    """``test`` or ``live`` from a Stripe secret or restricted key's prefix (the runner's
    rule); ConnectionsError for any other key."""
    try:
        return runner_stripe_key_mode(api_key)
    except ConfigError as exc:
        raise ConnectionsError(str(exc)) from exc


@dataclass
class StripeConnection:
    """A Stripe account. ``api_key`` is only set while editing; the store keeps it in keyring."""

    name: str
    mode: Literal["test", "live"] = "test"
    api_base: str | None = None  # a sandbox or proxy instead of api.stripe.com
    api_key: str = field(default="", repr=False)
    builtin: bool = False

    system = "stripe"
    SECRET_FIELDS = ("api_key",)

    @property
    def badge(self) -> str:
        return "SANDBOX" if self.builtin else self.mode.upper()

    def with_key(self, api_key: str) -> StripeConnection:
        """This connection with a new key, its mode derived from the key's prefix."""
        return StripeConnection(self.name, stripe_key_mode(api_key), self.api_base, api_key)

    def settings_dict(self) -> dict[str, Any]:
        return {"name": self.name, "mode": self.mode, "api_base": self.api_base}


@dataclass
class SalesforceConnection:
    """A Salesforce org: JWT bearer (consumer key + private key file), password login, or a
    refresh token from "Log in with Salesforce" in the browser (``refresh_token``)."""

    name: str
    auth: Literal["jwt", "password", "refresh_token"] = "jwt"
    login_url: str = PRODUCTION_LOGIN
    username: str = ""
    consumer_key: str = ""
    private_key_file: str | None = None
    ca_file: str | None = None
    password: str = field(default="", repr=False)
    security_token: str = field(default="", repr=False)
    client_secret: str = field(default="", repr=False)  # the connected app's, for password login
    builtin: bool = False
    refresh_token: str = field(default="", repr=False)  # what the browser login approved

    system = "salesforce"
    SECRET_FIELDS = ("password", "security_token", "client_secret", "refresh_token")

    @property
    def badge(self) -> str:
        if self.builtin:
            return "SANDBOX"
        url = self.login_url.rstrip("/")
        if url == PRODUCTION_LOGIN:
            return "PRODUCTION"
        if url == SANDBOX_LOGIN:
            return "SANDBOX ORG"
        return url.removeprefix("https://")

    @property
    def is_sandbox_org(self) -> bool:
        """Where a real test run may write: the local emulator or a Salesforce sandbox."""
        return self.builtin or is_sandbox_login(self.login_url)

    def settings_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "auth": self.auth,
            "login_url": self.login_url,
            "username": self.username,
            "consumer_key": self.consumer_key,
            "private_key_file": self.private_key_file,
            "ca_file": self.ca_file,
        }


Connection = StripeConnection | SalesforceConnection


def validate(conn: Connection) -> None:
    """Raise ConnectionsError naming the first wrong setting."""
    if not conn.name.strip():
        raise ConnectionsError("a connection needs a name")
    if conn.name == LOCAL_SANDBOX and not conn.builtin:
        raise ConnectionsError(f"{LOCAL_SANDBOX!r} is the built-in connection's name")
    if isinstance(conn, StripeConnection):
        if conn.api_key:
            stripe_key_mode(conn.api_key)
        if conn.api_base and not conn.api_base.startswith(("http://", "https://")):
            raise ConnectionsError(f"the Stripe API base {conn.api_base!r} is not an http(s) URL")
        return
    if conn.auth not in ("jwt", "password", "refresh_token"):
        raise ConnectionsError(f"unknown Salesforce login {conn.auth!r} (jwt, password or "
                               "refresh_token)")
    if not conn.login_url.startswith("https://"):
        raise ConnectionsError(f"the Salesforce login URL {conn.login_url!r} must start with https://")
    # A browser login names its user itself; the other logins need the username.
    if not conn.username and conn.auth != "refresh_token":
        raise ConnectionsError("a Salesforce connection needs a username")
    if not conn.consumer_key:
        raise ConnectionsError("a Salesforce connection needs the connected app's consumer key")
    if conn.auth == "jwt" and not conn.private_key_file:
        raise ConnectionsError("JWT bearer login needs the private key file")
    for label, path in (("private key", conn.private_key_file), ("CA", conn.ca_file)):
        if path and not Path(path).expanduser().is_file():
            raise ConnectionsError(f"the {label} file {path} does not exist")


def _no_keyring_backend(exc: BaseException) -> bool:
    """True when the keyring failed because this machine has no backend at all."""
    # keyring is already imported by the call that failed: this import costs nothing, and
    # at module level it would add ~0.15 s to the studio's start-up.
    from keyring.errors import NoKeyringError

    return any(isinstance(e, NoKeyringError) for e in (exc, exc.__cause__, exc.__context__))


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir("fieldbridge", appauthor=False)) / "connections.json"


class ConnectionStore:
    """The saved connections plus the built-in "Local sandbox" pair."""

    def __init__(
        self, config_path: Path | str | None = None, *, sandbox: SandboxService | None = None
    ) -> None:
        self.config_path = Path(config_path) if config_path else default_config_path()
        self.sandbox = sandbox
        self._stripe: list[StripeConnection] = []
        self._salesforce: list[SalesforceConnection] = []
        self._listeners: list[Callable[[], None]] = []
        # Secrets this session holds in memory because the machine has no keyring backend
        # (issue 13): usable until the studio closes, shown as "not saved".
        self._session_secrets: dict[tuple[str, str, str], str] = {}
        self._load()

    # -- reading -------------------------------------------------------------------------
    def connections(self) -> list[Connection]:
        builtins: list[Connection] = [
            StripeConnection(LOCAL_SANDBOX, "test", builtin=True),
            SalesforceConnection(LOCAL_SANDBOX, "password", builtin=True),
        ]
        return [builtins[0], *self._stripe, builtins[1], *self._salesforce]

    def stripe_connections(self) -> list[StripeConnection]:
        return [c for c in self.connections() if isinstance(c, StripeConnection)]

    def salesforce_connections(self) -> list[SalesforceConnection]:
        return [c for c in self.connections() if isinstance(c, SalesforceConnection)]

    def get(self, system: str, name: str) -> Connection:
        for conn in self.connections():
            if conn.system == system and conn.name == name:
                return conn
        raise ConnectionsError(f"there is no {system} connection named {name!r}")

    def has_secret(self, conn: Connection, field_name: str) -> bool:
        return bool(self.secret(conn, field_name))

    def is_saved(self, conn: Connection) -> bool:
        return any(c.name == conn.name for c in self._list_of(conn))

    def secret(self, conn: Connection, field_name: str) -> str | None:
        """A stored secret of a saved connection (None when there is none)."""
        if conn.builtin or not self.is_saved(conn):
            return None
        held = self._session_secrets.get((conn.system, conn.name, field_name))
        if held:
            return held
        try:
            return keyring_secret(conn.system, conn.name, field_name)
        except ConfigError as exc:
            if _no_keyring_backend(exc):
                return None  # nothing can have been stored without a backend
            raise ConnectionsError(str(exc)) from exc

    # -- editing -------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """``callback()`` after every change (the dialog and pickers refresh); returns the
        unsubscribe function."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def add(self, conn: Connection) -> None:
        validate(conn)
        if conn.builtin:
            raise ConnectionsError("the built-in connections cannot be added again")
        if any(c.name == conn.name for c in self._same_system(conn)) or conn.name == LOCAL_SANDBOX:
            raise ConnectionsError(f"a {conn.system} connection named {conn.name!r} already exists")
        if isinstance(conn, StripeConnection) and not conn.api_key:
            raise ConnectionsError("a Stripe connection needs its API key")
        if isinstance(conn, StripeConnection):
            conn.mode = stripe_key_mode(conn.api_key)
        self._store_secrets(conn)
        self._list_of(conn).append(self._without_secrets(conn))
        self._save()

    def update(self, old_name: str, conn: Connection) -> None:
        """Replace ``old_name`` (same system) with ``conn``; an empty secret keeps the stored one."""
        validate(conn)
        items = self._list_of(conn)
        index = next((i for i, c in enumerate(items) if c.name == old_name), None)
        if index is None:
            raise ConnectionsError(f"there is no {conn.system} connection named {old_name!r}")
        if conn.name != old_name and any(c.name == conn.name for c in items):
            raise ConnectionsError(f"a {conn.system} connection named {conn.name!r} already exists")
        old = items[index]
        if isinstance(conn, StripeConnection):
            conn.mode = stripe_key_mode(conn.api_key) if conn.api_key else old.mode  # type: ignore[union-attr]
        if conn.name != old_name:
            # Move the kept secrets to the new name before writing the new ones.
            for field_name in conn.SECRET_FIELDS:
                kept = self.secret(old, field_name)
                if kept and not getattr(conn, field_name):
                    setattr(conn, field_name, kept)
            self._delete_secrets(old)
        self._store_secrets(conn)
        items[index] = self._without_secrets(conn)
        self._save()

    def remove(self, system: str, name: str) -> None:
        """Forget a connection and delete its keyring entries."""
        conn = self.get(system, name)
        if conn.builtin:
            raise ConnectionsError(f"{LOCAL_SANDBOX!r} is built in and cannot be removed")
        self._delete_secrets(conn)
        self._list_of(conn).remove(conn)  # type: ignore[arg-type]
        self._save()

    # -- runner settings -----------------------------------------------------------------
    def stripe_settings(self, conn: StripeConnection | str) -> StripeSettings:
        """The runner's settings for a Stripe connection, secrets read from the keyring."""
        # Lazy: runner.api.connectors (Stripe SDK, requests) adds ~0.65 s to start-up
        from runner.api.connectors import StripeSettings

        if isinstance(conn, str):
            conn = self.get("stripe", conn)  # type: ignore[assignment]
        assert isinstance(conn, StripeConnection)
        if conn.builtin:
            session = self._sandbox().ensure_up()
            return StripeSettings(
                api_key=session.stripe.api_key, api_base=session.stripe.api_base,
                timeout=NETWORK_TIMEOUT, name=LOCAL_SANDBOX, flavor="localstripe",
            )
        key = conn.api_key or self.secret(conn, "api_key")
        if not key:
            raise ConnectionsError(f"the Stripe connection {conn.name!r} has no API key in the "
                                   "keyring: edit it and enter the key")
        return StripeSettings(api_key=key, api_base=conn.api_base, timeout=NETWORK_TIMEOUT,
                              name=conn.name)

    def salesforce_settings(self, conn: SalesforceConnection | str) -> SalesforceSettings:
        """The runner's settings for a Salesforce connection, secrets read from the keyring."""
        # Lazy: runner.api.connectors (Stripe SDK, requests) adds ~0.65 s to start-up
        from runner.api.connectors import SalesforceSettings

        if isinstance(conn, str):
            conn = self.get("salesforce", conn)  # type: ignore[assignment]
        assert isinstance(conn, SalesforceConnection)
        if conn.builtin:
            sf = self._sandbox().ensure_up().salesforce
            return SalesforceSettings(
                login_url=sf.login_url, auth="password", username=sf.username,
                consumer_key=sf.consumer_key, password=sf.password,
                security_token=sf.security_token, client_secret=sf.consumer_secret or None,
                ca_file=str(sf.ca_file), pubsub_endpoint=sf.pubsub_endpoint,
                timeout=NETWORK_TIMEOUT, name=LOCAL_SANDBOX,
            )
        password = conn.password or self.secret(conn, "password")
        token = conn.security_token or self.secret(conn, "security_token")
        client_secret = conn.client_secret or self.secret(conn, "client_secret")
        refresh = conn.refresh_token or self.secret(conn, "refresh_token")
        return SalesforceSettings(
            login_url=conn.login_url, auth=conn.auth, username=conn.username or None,
            consumer_key=conn.consumer_key or None,
            private_key_file=conn.private_key_file or None, password=password or None,
            security_token=token or None, client_secret=client_secret or None,
            refresh_token=refresh or None, ca_file=conn.ca_file or None,
            timeout=NETWORK_TIMEOUT, name=conn.name,
        )

    # -- internals -----------------------------------------------------------------------
    def _sandbox(self) -> SandboxService:
        if self.sandbox is None:
            self.sandbox = SandboxService()
        return self.sandbox

    def _same_system(self, conn: Connection) -> list[Connection]:
        return list(self._list_of(conn))

    def _list_of(self, conn: Connection) -> list[Any]:
        return self._stripe if isinstance(conn, StripeConnection) else self._salesforce

    @staticmethod
    def _without_secrets(conn: Connection) -> Connection:
        if isinstance(conn, StripeConnection):
            return StripeConnection(conn.name, conn.mode, conn.api_base)
        return SalesforceConnection(
            conn.name, conn.auth, conn.login_url, conn.username, conn.consumer_key,
            conn.private_key_file, conn.ca_file,
        )

    def _store_secrets(self, conn: Connection) -> None:
        for field_name in conn.SECRET_FIELDS:
            value = getattr(conn, field_name)
            if value:
                try:
                    set_keyring_secret(conn.system, conn.name, field_name, value)
                except ConfigError as exc:
                    if not _no_keyring_backend(exc):
                        raise ConnectionsError(str(exc)) from exc
                    self._session_secrets[(conn.system, conn.name, field_name)] = value

    def unsaved_secrets(self, conn: Connection) -> list[str]:
        """The secrets of ``conn`` held in memory only (no keyring backend): lost at exit."""
        return [f for f in conn.SECRET_FIELDS
                if (conn.system, conn.name, f) in self._session_secrets]

    def _delete_secrets(self, conn: Connection) -> None:
        for field_name in conn.SECRET_FIELDS:
            self._session_secrets.pop((conn.system, conn.name, field_name), None)
            try:
                delete_keyring_secret(conn.system, conn.name, field_name)
            except ConfigError as exc:
                if not _no_keyring_backend(exc):
                    raise ConnectionsError(str(exc)) from exc

    def _load(self) -> None:
        path = self.config_path
        if not path.exists():
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConnectionsError(f"cannot read the connections file {path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != CONFIG_FORMAT:
            raise ConnectionsError(
                f"the connections file {path} is not a format-{CONFIG_FORMAT} connections file"
            )
        try:
            self._stripe = [
                StripeConnection(d["name"], d.get("mode", "test"), d.get("api_base"))
                for d in data.get("stripe", [])
            ]
            self._salesforce = [
                SalesforceConnection(
                    d["name"], d.get("auth", "jwt"), d.get("login_url", PRODUCTION_LOGIN),
                    d.get("username", ""), d.get("consumer_key", ""),
                    d.get("private_key_file"), d.get("ca_file"),
                )
                for d in data.get("salesforce", [])
            ]
        except (KeyError, TypeError, AttributeError) as exc:
            raise ConnectionsError(f"the connections file {path} has a malformed entry") from exc

    def _save(self) -> None:
        data = {
            "format": CONFIG_FORMAT,
            "stripe": [c.settings_dict() for c in self._stripe],
            "salesforce": [c.settings_dict() for c in self._salesforce],
        }
        path = self.config_path
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write-then-rename: a crash mid-write never leaves half a file behind.
        fd, tmp = tempfile.mkstemp(prefix=".connections-", suffix=".json", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
        for callback in list(self._listeners):
            callback()


# --------------------------------------------------------------------------- testing


def classify_failure(exc: BaseException, where: str) -> TestResult:
    """Why a call to ``where`` failed: the runner's diagnosis, which also counts the store's
    own ConnectionsError as a settings (``config``) problem."""
    # Lazy: runner.api.connectors (Stripe SDK, requests) adds ~0.65 s to start-up
    from runner.api.connectors import diagnose

    return diagnose(exc, where, settings_errors=(ConnectionsError,))


def test_connection(conn: Connection, store: ConnectionStore | None = None) -> TestResult:
    """Make one cheap authenticated call with ``conn``; blocking (run it off the UI thread).

    Secrets not on ``conn`` itself (an edited form carries them) come from ``store``'s
    keyring entries; the built-in sandbox connections start the sandboxes if needed. The
    call is the runner's own (:func:`runner.api.connectors.check_stripe`,
    ``check_salesforce``).
    """
    # Lazy: runner.api.connectors (Stripe SDK, requests) adds ~0.65 s to start-up
    from runner.api.connectors import check_salesforce, check_stripe

    store = store if store is not None else ConnectionStore()
    if isinstance(conn, StripeConnection):
        where = f"Stripe {conn.name!r}"
        try:
            stripe_settings = store.stripe_settings(conn)
        except Exception as exc:  # every failure becomes its reason, none escapes to the UI
            return classify_failure(exc, where)
        return check_stripe(stripe_settings, where)
    where = f"Salesforce {conn.name!r}"
    try:
        salesforce_settings = store.salesforce_settings(conn)
    except Exception as exc:  # every failure becomes its reason, none escapes to the UI
        return classify_failure(exc, where)
    return check_salesforce(salesforce_settings, where)


test_connection.__test__ = False  # type: ignore[attr-defined]  # a service, not a pytest test


def stripe_key_gaps(conn: StripeConnection, documents: Sequence[MappingDocument],
                    store: ConnectionStore | None = None) -> list[str]:
    """One sentence per permission ``conn``'s key lacks for these documents' flows ("this key
    cannot read Payouts: the payout-to-record flow will fail"); blocking, one cheap call per
    Stripe object the flows read or write (:func:`runner.api.connectors.check_stripe_access`).

    A probe that fails for another reason (network, a refused key) is the connection test's
    to report, so it adds no sentence here.
    """
    # Lazy: runner.api.connectors (Stripe SDK, requests) adds ~0.65 s to start-up
    from runner.api.connectors import check_stripe_access, missing_sentences

    store = store if store is not None else ConnectionStore()
    try:
        settings = store.stripe_settings(conn)
    except ConnectionsError:
        return []  # no key to check: the connection test says so
    return missing_sentences(check_stripe_access(settings, documents))
