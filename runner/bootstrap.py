"""The start-up steps the commands share: configuration, the verified bundle, the two
connectors, the state store and the alerter.

``run`` takes every step and then builds a :class:`runner.app.Runner`; ``backfill``,
``dlq``, ``review``, ``reconcile`` and ``status`` take the ones they need. Each step fails
with a :class:`~runner.errors.ConfigError` (or the connector's own error) that names what
to fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mappings.bundle import load_bundle, load_public_key
from runner.alerts import Alerter, SmtpSettings
from runner.config import RunnerConfig, load_config
from runner.connectors.salesforce import SalesforceConnector
from runner.connectors.stripe import StripeConnector
from runner.errors import ConfigError
from runner.filelock import FileLock, LockHeld
from runner.pipeline.bundle_runtime import LoadedBundle
from runner.private_files import private_dir
from runner.state.database import default_url, sqlite_file
from runner.state.store import StateStore


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8787`` for IPv6) -> (host, port); ConfigError naming the value."""
    value = (text or "").strip()
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text:
        raise ConfigError(f"--listen must be HOST:PORT (e.g. 127.0.0.1:8787), got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(f"--listen: {port_text!r} is not a port number (in {text!r})") \
            from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"--listen: port {port} is outside 0-65535")
    return host, port


def load_runner_config(*, config: Path | str | None = None, sandbox: Path | str | None = None,
                       state: str | None = None, listen: str | None = None,
                       poll_interval: float | None = None,
                       secrets_file: Path | str | None = None) -> RunnerConfig:
    """The configuration as the commands take it (command-line values override)."""
    if listen is not None:
        parse_listen(listen)  # a clear message now rather than at bind time
    overrides: dict[str, Any] = {"runner.listen": listen, "runner.state_url": state,
                                 "runner.poll_interval": poll_interval}
    return load_config(config, sandbox_json=sandbox,
                       overrides={k: v for k, v in overrides.items() if v is not None},
                       secrets_file=secrets_file)


def load_verified_bundle(path: Path | str, config: RunnerConfig | None = None) -> LoadedBundle:
    """Read and verify a bundle (its signature too when the config demands one), compiled,
    with the config's flow include/exclude applied."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"bundle {path} does not exist")
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; give a bundle file (.fbz) built with "
                          "'fieldbridge-runner bundle build'")
    public_key = None
    require = bool(config is not None and config.require_signature)
    if config is not None and config.public_key:
        public_key = load_public_key(config.public_key)
    elif require:
        raise ConfigError("runner.require_signature is on but runner.public_key is not set")
    bundle = load_bundle(path, public_key=public_key, require_signature=require)
    loaded = LoadedBundle.from_bundle(bundle)
    return apply_flow_filter(loaded, config) if config is not None else loaded


def apply_flow_filter(loaded: LoadedBundle, config: RunnerConfig) -> LoadedBundle:
    """The bundle without the flows ``[flows]`` include/exclude leave out; ConfigError when
    it names a flow the bundle does not have."""
    unknown = [name for name in (*config.get("flows.include"), *config.get("flows.exclude"))
               if name not in loaded.flows]
    if unknown:
        raise ConfigError(f"[flows] names flow(s) the bundle does not have: "
                          f"{', '.join(unknown)} (flows: {', '.join(sorted(loaded.flows))})")
    return loaded.without(n for n in loaded.flows if not config.flow_enabled(n))


def connect_salesforce(config: RunnerConfig) -> SalesforceConnector:
    connector = SalesforceConnector(config.salesforce_connection())
    connector.connect()
    return connector


def connect_stripe(config: RunnerConfig) -> StripeConnector:
    return StripeConnector(config.stripe_connection())


def build_alerter(config: RunnerConfig) -> Alerter:
    a = config.alerts
    smtp = None
    if a.smtp_host:
        smtp = SmtpSettings(host=a.smtp_host, port=a.smtp_port,
                            sender=a.smtp_from or "fieldbridge-runner@localhost",
                            to=list(a.smtp_to), starttls=a.smtp_starttls,
                            username=a.smtp_username, password=a.smtp_password)
    return Alerter(a.webhook_url, smtp, dlq_threshold=a.dlq_alert_threshold,
                   budget_percent=a.api_budget_alert_percent, redact=config.secret_values())


def open_store(config: RunnerConfig) -> StateStore:
    return StateStore.open(config.state_url)


def lock_sqlite_runner(config: RunnerConfig) -> FileLock | None:
    """``run`` on a SQLite state file: hold ``<file>.lock`` for the process's life, so that a
    second runner on the same file is refused (SQLite is for one runner) rather than both
    claiming and writing through one file. None for PostgreSQL, where runners share the
    inbox, and in memory. Read-only commands (status, dlq list) take no lock."""
    path = sqlite_file(config.state_url or default_url())
    if path is None:
        return None
    private_dir(path.parent)
    try:
        return FileLock(path.with_name(path.name + ".lock"))
    except LockHeld as exc:
        holder = "another runner" + (f" (pid {exc.pid})" if exc.pid else "")
        raise ConfigError(
            f"the state database {path} is in use by {holder}; a SQLite state database is "
            "for one runner: stop that one, give this one its own --state, or run several "
            "runners on one PostgreSQL database (--state postgresql://USER@HOST/DATABASE)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot lock the state database {path}: "
                          f"{exc.strerror or exc}") from exc
