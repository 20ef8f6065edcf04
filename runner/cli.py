"""``fieldbridge-runner``: the headless command line.

Subcommand groups live in ``runner.commands.*``; each registers its parsers and sets a
``handler(args) -> int`` default. One top-level handler turns expected errors into a clear
message and exit code 1; a traceback is shown only with ``--debug``.

Every command module is imported to build the parser, even for ``--help``, so the command
modules import only what registering needs; each handler imports the runner's services
(SQLAlchemy, the Stripe SDK, simple-salesforce, Prometheus, the sandboxes) when it runs.
Measured with ``python -X importtime -m runner.cli --help`` on a busy 2-core machine:
``--help`` took 1-2 s this way and 5-10 s with those imports at the top of the command
modules (the state store and the connectors alone cost seconds to import).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from mappings import __version__
from mappings.errors import MappingError
from runner.errors import RunnerError
from runner.secrets import configure_logging

# Order is the order shown in --help.
COMMAND_MODULES = (
    "runner.commands.bundle",
    "runner.commands.map",
    "runner.commands.sandbox",
    "runner.commands.run",
    "runner.commands.test",
    "runner.commands.backfill",
    "runner.commands.dlq",
    "runner.commands.review",
    "runner.commands.status",
    "runner.commands.demo",
    "runner.commands.reconcile",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fieldbridge-runner",
        description="Run Fieldbridge mapping bundles between Stripe and Salesforce.",
    )
    parser.add_argument("--version", action="version", version=f"fieldbridge {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:
        # Redacted from the first record, and marked as ours so that `run` replaces it with
        # its configured format: basicConfig's plain handler printed records unmasked, and
        # then every record twice once `run` added its own handler beside it.
        configure_logging("text", logging.DEBUG if args.debug else logging.WARNING)
    try:
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # here, so that a closed pipe is caught below and not at exit
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`status | head`): stop quietly, like other command-line
        # tools, and keep the interpreter's final flush from failing on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (MappingError, RunnerError, OSError) as exc:
        if args.debug:
            raise
        print(f"error: {_describe(exc)}", file=sys.stderr)
        return 1


def _describe(exc: BaseException) -> str:
    """The message and its cause chain, one clause each: 'a: b: c'."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current) or type(current).__name__
        if not parts or text not in parts[-1]:
            parts.append(text)
        current = current.__cause__
    return ": ".join(parts)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
