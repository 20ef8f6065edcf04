"""``--runner URL``: the queue and status commands through a running runner's admin API
(:mod:`runner.admin.client`) instead of the state database. The token comes from
``FIELDBRIDGE_ADMIN_TOKEN`` or the OS keyring (system ``runner``, the URL as the name)."""

from __future__ import annotations

import argparse
from typing import Any

from runner.errors import ConfigError


def add_runner_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runner", metavar="URL",
                        help="ask a running runner's admin API (http://HOST:PORT) instead of "
                             "the state database; token from FIELDBRIDGE_ADMIN_TOKEN or the "
                             "keyring")


def client(args: argparse.Namespace) -> Any:
    """The admin client for ``args.runner``; ConfigError when no token is found."""
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from runner.admin.client import TOKEN_ENV, AdminClient, token_for

    url = str(args.runner).rstrip("/")
    token = token_for(url)
    if not token:
        raise ConfigError(f"no admin token for {url}: set {TOKEN_ENV} or store it in the OS "
                          f"keyring (service 'fieldbridge', username "
                          f"'runner:{url}:admin_token')")
    return AdminClient(url, token)
