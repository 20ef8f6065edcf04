"""What the queue commands (``dlq``, ``review``) and ``bundle`` share.

``dlq`` and ``review`` are the same kind of command: a queue of held items in the state
database, listed by status, addressed by a positive id, closed only while open. The argparse
wiring, the id parsing, the ``--json`` output and the "is it still open?" check live here once,
so both queues answer alike.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from runner.commands.run import add_connection_arguments, config_from_args
from runner.errors import ConfigError

JSON_HELP = "machine-readable output"


def positive_id(what: str) -> Callable[[str], int]:
    """An argparse ``type`` for the id of ``what`` (``"dead-letter id"``): a whole number > 0."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {what} (a number)") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {what} (a positive number)")
        return value

    return parse


def add_action_group(subparsers: Any, name: str, help: str) -> Any:
    """``fieldbridge-runner NAME ACTION ...``: the subparsers of its actions (one is required)."""
    parser = subparsers.add_parser(name, help=help)
    sub = parser.add_subparsers(dest=f"{name}_command", metavar="ACTION")
    sub.required = True
    return sub


def finish_action(
    parser: argparse.ArgumentParser, handler: Callable[[argparse.Namespace], int], *,
    json_output: bool,
) -> None:
    """The tail every queue action shares: ``--json`` (when it has one), the connection
    options (the state database is found through them) and its handler."""
    if json_output:
        parser.add_argument("--json", action="store_true", help=JSON_HELP)
    add_connection_arguments(parser)
    parser.set_defaults(handler=handler)


def add_list_action(
    sub: Any, help: str, statuses: Sequence[str], handler: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    """``list [--status S|all] [--json]``: the open items unless another status is asked for."""
    ls: argparse.ArgumentParser = sub.add_parser("list", help=help)
    ls.add_argument("--status", choices=[*statuses, "all"], default="open")
    finish_action(ls, handler, json_output=True)
    return ls


def status_filter(status: str) -> str | None:
    """The status a store lists by: None for ``all``."""
    return None if status == "all" else status


def nothing_listed(status: str, noun: str) -> str:
    """``no open dead letters``, ``no review items`` (for ``--status all``)."""
    return f"no {'' if status == 'all' else status + ' '}{noun}"


def require_open(what: str, status: str) -> None:
    """Refuse to close ``what`` (``"dead letter 3"``) a second time."""
    if status != "open":
        raise ConfigError(f"{what} is already {status}")


def open_state(args: argparse.Namespace) -> Any:
    """The state store the command's connection options name (a context manager)."""
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from runner.bootstrap import open_store

    return open_store(config_from_args(args))


def print_json(data: Any, *, ensure_ascii: bool = False) -> None:
    """``--json`` output: indented, anything not JSON (dates) as its text."""
    json.dump(data, sys.stdout, indent=2, ensure_ascii=ensure_ascii, default=str)
    sys.stdout.write("\n")
