"""``fieldbridge-runner demo``: start the sandboxes, run every template, show both sides."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from runner.errors import ConfigError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="see Fieldbridge work: local sandboxes, the template bundle, live "
        "activity on both sides, then a summary (offline, under a minute)",
        description="Starts the local Stripe sandbox and Salesforce org emulator, runs the "
        "template bundle against them, makes Stripe and Salesforce activity, shows the records "
        "appearing on both sides and a summary, then stops everything.")
    parser.add_argument("--state-dir", type=Path, metavar="DIR",
                        help="keep the sandboxes' and the runner's state here (default: a "
                        "temporary folder, removed afterwards)")
    parser.add_argument("--keep-running", action="store_true",
                        help="leave the sandboxes and the runner up after the summary, "
                        "until Ctrl-C")
    parser.set_defaults(handler=demo_command)


def demo_command(args: argparse.Namespace) -> int:
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from runner.demo import run_demo

    if not args.debug:
        # The demo's own output is the story; library warnings would drown it.
        logging.getLogger().setLevel(logging.ERROR)
    if args.state_dir is not None and args.state_dir.exists() and not args.state_dir.is_dir():
        raise ConfigError(f"--state-dir {args.state_dir} exists and is not a folder")
    return run_demo(args.state_dir, keep_running=args.keep_running)
