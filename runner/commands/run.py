"""``fieldbridge-runner run BUNDLE``: sync a bundle until stopped.

Start-up: verify the bundle (and its signature when the config demands one), connect to both
services, check the bundle's contract against the live org (refuse to start with the drift
report), then serve webhooks, work the inbox, catch up and poll until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.errors import ConfigError
from runner.secrets import configure_logging
from runner.settings import cli_type, setting

if TYPE_CHECKING:
    from runner.config import RunnerConfig
    from runner.pipeline.bundle_runtime import LoadedBundle
    from runner.secrets import SecretRedactor

log = logging.getLogger(__name__)


def add_connection_arguments(parser: argparse.ArgumentParser, *, listen: bool = False) -> None:
    """The options every command that talks to the services or the state shares."""
    parser.add_argument("--config", type=Path, metavar="runner.toml",
                        help="the runner's configuration file")
    parser.add_argument("--sandbox", metavar="SANDBOX.json",
                        help="target the local sandboxes: the JSON 'sandbox up --json' prints "
                        "(a file, or the JSON itself)")
    parser.add_argument("--state", metavar="URL",
                        help="SQLAlchemy URL of the state database (default: a SQLite file "
                        "in the user data directory)")
    parser.add_argument("--secrets-file", type=Path, metavar="F",
                        help="TOML file of connection secrets (chmod 600)")
    if listen:
        parser.add_argument("--listen", metavar="HOST:PORT",
                            help="where to serve webhooks, /healthz and /metrics "
                            "(default 127.0.0.1:8787)")
        # Parsed and bounded by the declaration, exactly as runner.toml and the environment.
        poll = setting("runner.poll_interval")
        parser.add_argument("--poll-interval", type=cli_type(poll.name), metavar="SECONDS",
                            help=f"seconds between Salesforce polls (default {poll.default:g}, "
                            f"{poll.bounds.describe() if poll.bounds else ''})")


def config_from_args(args: argparse.Namespace) -> RunnerConfig:
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from runner.bootstrap import load_runner_config

    return load_runner_config(
        config=getattr(args, "config", None), sandbox=getattr(args, "sandbox", None),
        state=getattr(args, "state", None), listen=getattr(args, "listen", None),
        poll_interval=getattr(args, "poll_interval", None),
        secrets_file=getattr(args, "secrets_file", None))


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run", help="run a bundle: serve Stripe webhooks and sync both ways until stopped",
        description="Verify the bundle, check it against the live org, then sync until "
        "Ctrl-C or SIGTERM.")
    parser.add_argument("bundle", type=Path, metavar="BUNDLE", help="the .fbz bundle to run")
    add_connection_arguments(parser, listen=True)
    parser.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from runner.bootstrap import load_verified_bundle, lock_sqlite_runner

    config = config_from_args(args)
    redactor = configure_logging(config.log_format,
                                 "DEBUG" if getattr(args, "debug", False) else config.log_level,
                                 config.secret_values())
    loaded = load_verified_bundle(args.bundle, config)
    # One runner per SQLite file, refused before the store is even migrated.
    lock = lock_sqlite_runner(config)
    try:
        return _run(args, config, redactor, loaded)
    finally:
        if lock is not None:
            lock.release()


def _run(args: argparse.Namespace, config: RunnerConfig, redactor: SecretRedactor,
         loaded: LoadedBundle) -> int:
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from runner.app import Runner
    from runner.bootstrap import build_alerter, connect_salesforce, connect_stripe, open_store
    from runner.metrics import Metrics
    from runner.startup_retry import StartupRetry

    store = open_store(config)  # cheap checks first: a bad state URL before any login
    try:
        stripe = connect_stripe(config)
        redactor.add(*stripe.settings.secret_values())
        sandbox = config.sandbox is not None
        if not stripe.settings.webhook_secrets:
            raise ConfigError("no Stripe webhook signing secret: set "
                              "FIELDBRIDGE_STRIPE_DEFAULT_WEBHOOK_SECRET or put "
                              "webhook_secret in the secrets file")
        # A 503 or a timeout while starting is retried for runner.startup_wait seconds.
        retry = StartupRetry(config.get("runner.startup_wait"))
        salesforce = retry("Salesforce login", lambda: connect_salesforce(config))
        redactor.add(*salesforce.settings.secret_values())
        runner = Runner(loaded, config, store, salesforce=salesforce, stripe=stripe,
                        metrics=Metrics(), alerter=build_alerter(config),
                        register_webhook=sandbox)
        runner.check(retry.describer(salesforce))
        return runner.run_forever()
    finally:
        store.close()
