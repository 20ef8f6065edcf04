"""Stripe and Salesforce connections: settings in a JSON file, secrets in the OS keyring.

What people type into the connections dialog is split in two on save:

* the non-secret settings (name, login URL, username, consumer key, key and CA file paths,
  the Stripe key's mode) go to ``connections.json`` under
  ``platformdirs.user_config_dir("fieldbridge")`` — never into a workspace, which is meant to
  be committed to git;
* the secrets (Stripe API key, Salesforce password and security token) go to ``keyring``
  under service ``fieldbridge`` and the username ``<system>:<name>:<field>`` that the runner
  reads too (:func:`runner.secrets.keyring_username`).

A built-in "Local sandbox" pair needs no account: its settings come from the local
sandboxes, started on demand (:mod:`app.services.sandbox`). It is listed, never stored.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import platformdirs

if TYPE_CHECKING:
    from app.services.sandbox import SandboxService
    from runner.connectors.salesforce import SalesforceSettings
    from runner.connectors.stripe import StripeSettings

KEYRING_SERVICE = "fieldbridge"
CONFIG_FORMAT = 1
LOCAL_SANDBOX = "Local sandbox"
PRODUCTION_LOGIN = "https://login.salesforce.com"
SANDBOX_LOGIN = "https://test.salesforce.com"
NETWORK_TIMEOUT = 15.0  # seconds, for every call a connection test or preview makes

STRIPE_KEY_PREFIXES = {
    "sk_test_": "test",
    "rk_test_": "test",
    "sk_live_": "live",
    "rk_live_": "live",
}


class ConnectionsError(Exception):
    """A connection's settings are wrong, or the store cannot be read or written."""


def keyring_username(system: str, name: str, field_name: str) -> str:
    """The keyring username of one secret, the same the runner reads."""
    try:
        from runner.secrets import keyring_username as runner_username
    except ImportError:  # the agreed format, should the runner module be missing
        return f"{system}:{name}:{field_name}"
    return runner_username(system, name, field_name)


def stripe_key_mode(api_key: str) -> Literal["test", "live"]:
    """``test`` or ``live`` from a Stripe secret or restricted key's prefix."""
    for prefix, mode in STRIPE_KEY_PREFIXES.items():
        if api_key.startswith(prefix):
            return mode  # type: ignore[return-value]
    shown = (api_key[:8] + "…") if len(api_key) > 8 else "(too short)"
    raise ConnectionsError(
        f"a Stripe key starts with sk_test_, sk_live_, rk_test_ or rk_live_; this one starts "
        f"with {shown}" if api_key else "the Stripe API key is empty"
    )


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
    """A Salesforce org: JWT bearer (consumer key + private key file) or password login."""

    name: str
    auth: Literal["jwt", "password"] = "jwt"
    login_url: str = PRODUCTION_LOGIN
    username: str = ""
    consumer_key: str = ""
    private_key_file: str | None = None
    ca_file: str | None = None
    password: str = field(default="", repr=False)
    security_token: str = field(default="", repr=False)
    client_secret: str = field(default="", repr=False)  # the connected app's, for password login
    builtin: bool = False

    system = "salesforce"
    SECRET_FIELDS = ("password", "security_token", "client_secret")

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
        return self.builtin or self.login_url.rstrip("/") == SANDBOX_LOGIN or (
            ".sandbox.my.salesforce.com" in self.login_url
        )

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
    if conn.auth not in ("jwt", "password"):
        raise ConnectionsError(f"unknown Salesforce login {conn.auth!r} (jwt or password)")
    if not conn.login_url.startswith("https://"):
        raise ConnectionsError(f"the Salesforce login URL {conn.login_url!r} must start with https://")
    if not conn.username:
        raise ConnectionsError("a Salesforce connection needs a username")
    if not conn.consumer_key:
        raise ConnectionsError("a Salesforce connection needs the connected app's consumer key")
    if conn.auth == "jwt" and not conn.private_key_file:
        raise ConnectionsError("JWT bearer login needs the private key file")
    for label, path in (("private key", conn.private_key_file), ("CA", conn.ca_file)):
        if path and not Path(path).expanduser().is_file():
            raise ConnectionsError(f"the {label} file {path} does not exist")


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
        self._listeners: list[Any] = []
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
        import keyring
        from keyring.errors import KeyringError

        if conn.builtin or not self.is_saved(conn):
            return None
        try:
            return keyring.get_password(
                KEYRING_SERVICE, keyring_username(conn.system, conn.name, field_name)
            )
        except KeyringError as exc:
            raise ConnectionsError(f"the OS keyring cannot be read: {exc}") from exc

    # -- editing -------------------------------------------------------------------------
    def subscribe(self, callback: Any) -> Any:
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
        from runner.connectors.stripe import StripeSettings

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
        from runner.connectors.salesforce import SalesforceSettings

        if isinstance(conn, str):
            conn = self.get("salesforce", conn)  # type: ignore[assignment]
        assert isinstance(conn, SalesforceConnection)
        if conn.builtin:
            sf = self._sandbox().ensure_up().salesforce
            return SalesforceSettings(
                login_url=sf.login_url, auth="password", username=sf.username,
                consumer_key=sf.consumer_key, password=sf.password,
                security_token=sf.security_token, client_secret=sf.consumer_secret or None,
                ca_file=str(sf.ca_file),
                timeout=NETWORK_TIMEOUT, name=LOCAL_SANDBOX,
            )
        password = conn.password or self.secret(conn, "password")
        token = conn.security_token or self.secret(conn, "security_token")
        client_secret = conn.client_secret or self.secret(conn, "client_secret")
        return SalesforceSettings(
            login_url=conn.login_url, auth=conn.auth, username=conn.username or None,
            consumer_key=conn.consumer_key or None,
            private_key_file=conn.private_key_file or None, password=password or None,
            security_token=token or None, client_secret=client_secret or None,
            ca_file=conn.ca_file or None,
            timeout=NETWORK_TIMEOUT, name=conn.name,
        )

    # -- internals -----------------------------------------------------------------------
    def _sandbox(self) -> SandboxService:
        if self.sandbox is None:
            from app.services.sandbox import SandboxService

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
        import keyring
        from keyring.errors import KeyringError

        for field_name in conn.SECRET_FIELDS:
            value = getattr(conn, field_name)
            if value:
                try:
                    keyring.set_password(
                        KEYRING_SERVICE, keyring_username(conn.system, conn.name, field_name),
                        value,
                    )
                except KeyringError as exc:
                    raise ConnectionsError(
                        f"the OS keyring refused to store the {field_name.replace('_', ' ')}: "
                        f"{exc}"
                    ) from exc

    def _delete_secrets(self, conn: Connection) -> None:
        import keyring
        from keyring.errors import KeyringError, PasswordDeleteError

        for field_name in conn.SECRET_FIELDS:
            # A secret never stored (e.g. no security token) has nothing to delete.
            with contextlib.suppress(PasswordDeleteError):
                try:
                    keyring.delete_password(
                        KEYRING_SERVICE, keyring_username(conn.system, conn.name, field_name)
                    )
                except PasswordDeleteError:
                    raise
                except KeyringError as exc:
                    raise ConnectionsError(f"the OS keyring cannot be changed: {exc}") from exc

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


@dataclass
class TestResult:
    """What a connection test found: ``reason`` is ok, bad_key, permission, login,
    wrong_org, network, dns, timeout, certificate, config or error."""

    __test__ = False  # not a pytest test class

    ok: bool
    message: str
    detail: str = ""
    reason: str = "ok"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _detail(exc: BaseException) -> str:
    return " <- ".join(f"{type(e).__name__}: {e}" for e in _chain(exc))[:2000]


def classify_failure(exc: BaseException, where: str) -> TestResult:
    """Why a call to ``where`` failed, from the exception types along the cause chain."""
    import socket
    import ssl

    import requests
    import stripe
    from urllib3.exceptions import NameResolutionError

    chain = _chain(exc)
    detail = _detail(exc)

    def has(*types: type[BaseException]) -> bool:
        return any(isinstance(e, types) for e in chain)

    def fail(reason: str, message: str) -> TestResult:
        return TestResult(False, message, detail, reason)

    if has(stripe.AuthenticationError):
        return fail("bad_key", f"{where}: the API key was refused (wrong, revoked or mistyped)")
    if has(stripe.PermissionError):
        return fail("permission", f"{where}: this restricted key may not read that resource")
    if has(requests.exceptions.SSLError, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in detail:
        return fail("certificate", f"{where}: the server's TLS certificate is not trusted "
                    "(wrong CA file, or something intercepts the connection)")
    if has(NameResolutionError, socket.gaierror) or "Name or service not known" in detail:
        return fail("dns", f"{where}: the host name could not be resolved (check the URL)")
    if has(requests.Timeout, socket.timeout, TimeoutError) or "timed out" in detail:
        return fail("timeout", f"{where}: no answer in time (network or firewall)")
    if has(ConnectionRefusedError) or "Connection refused" in detail:
        return fail("network", f"{where}: the connection was refused (nothing listens there)")
    if has(requests.ConnectionError, stripe.APIConnectionError, OSError) and not has(
        ConnectionsError
    ):
        return fail("network", f"{where}: cannot connect (network)")
    from runner.connectors.errors import ConnectorError
    from runner.errors import ConfigError

    for e in chain:
        if isinstance(e, ConnectorError) and e.error_code:
            code = str(e.error_code)
            if code == "invalid_client_id" or code == "invalid_client":
                return fail("wrong_org", f"{where}: the consumer key is not known to this org "
                            "(wrong org or connected app)")
            if code == "invalid_grant":
                return fail("login", f"{where}: login refused: wrong username, password or "
                            "security token, a user not in this org, or an app not approved "
                            f"for the user ({e})")
            if e.status in (401, 403):
                return fail("login", f"{where}: the session was refused ({code})")
    if has(ConfigError, ConnectionsError):
        cause = next(e for e in chain if isinstance(e, ConfigError | ConnectionsError))
        return fail("config", f"{where}: {cause}")
    return fail("error", f"{where}: {type(exc).__name__}: {exc}")


def test_connection(conn: Connection, store: ConnectionStore | None = None) -> TestResult:
    """Make one cheap authenticated call with ``conn``; blocking (run it off the UI thread).

    Secrets not on ``conn`` itself (an edited form carries them) come from ``store``'s
    keyring entries; the built-in sandbox connections start the sandboxes if needed.
    """
    store = store if store is not None else ConnectionStore()
    if isinstance(conn, StripeConnection):
        return _test_stripe(conn, store)
    return _test_salesforce(conn, store)


def _test_stripe(conn: StripeConnection, store: ConnectionStore) -> TestResult:
    import stripe

    where = f"Stripe {conn.name!r}"
    try:
        settings = store.stripe_settings(conn)
        stripe_key_mode(settings.api_key)
        kwargs: dict[str, Any] = {
            "max_network_retries": 0,
            "http_client": stripe.RequestsClient(timeout=settings.timeout),
        }
        if settings.api_base:
            kwargs["base_addresses"] = {"api": settings.api_base.rstrip("/")}
        client = stripe.StripeClient(settings.api_key, **kwargs)
        client.v1.customers.list(params={"limit": 1})
    except Exception as exc:  # every failure becomes its reason, none escapes to the UI
        return classify_failure(exc, where)
    mode = stripe_key_mode(settings.api_key)
    return TestResult(True, f"{where}: connected ({mode} mode)", settings.api_base or "", "ok")


def _test_salesforce(conn: SalesforceConnection, store: ConnectionStore) -> TestResult:
    from runner.connectors.salesforce import SalesforceConnector

    where = f"Salesforce {conn.name!r}"
    try:
        connector = SalesforceConnector(store.salesforce_settings(conn))
        connector.connect()
        connector.limits()
    except Exception as exc:  # every failure becomes its reason, none escapes to the UI
        return classify_failure(exc, where)
    return TestResult(True, f"{where}: logged in to {connector.instance_url}",
                      f"user id {connector.user_id or '?'}", "ok")


test_connection.__test__ = False  # type: ignore[attr-defined]  # a service, not a pytest test
