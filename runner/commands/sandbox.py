"""``fieldbridge-runner sandbox up``: the local Stripe sandbox and Salesforce org, until stopped.

With ``--json`` the only thing on stdout is one line of JSON with both sandboxes'
configuration (credentials included: it is what a client needs to connect), printed once
both answer. Then the command waits for SIGINT or SIGTERM and shuts both down.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from runner.errors import ConfigError
from runner.settings import Range, option_type


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox", help="run the local Stripe sandbox and Salesforce org emulator"
    )
    sub = parser.add_subparsers(dest="sandbox_command", metavar="ACTION")
    sub.required = True
    up = sub.add_parser(
        "up",
        help="start both sandboxes and keep them up until interrupted",
        description="Start the Stripe sandbox (localstripe) and the Salesforce org emulator "
        "on loopback, print how to reach them, and stay up until Ctrl-C or SIGTERM.",
    )
    up.add_argument("--json", action="store_true",
                    help="print one line of JSON with both sandboxes' configuration")
    up.add_argument("--seed", choices=["demo"], default=None,
                    help="fill both sides with a small demo company")
    up.add_argument("--reset", action="store_true", help="start from empty state")
    up.add_argument("--faults", metavar="SPEC", default=None,
                    help="Salesforce fault injection, e.g. latency=50ms,error503=0.1")
    up.add_argument("--state-dir", metavar="DIR", type=Path, default=None,
                    help="where both sandboxes keep their state (default: user data dir)")
    up.add_argument("--stripe-port", metavar="N", type=_port, default=0,
                    help="Stripe sandbox port (default: any free port)")
    up.add_argument("--salesforce-port", metavar="N", type=_port, default=0,
                    help="Salesforce emulator port (default: any free port)")
    up.add_argument("--parent-pid", metavar="PID", type=_pid, default=0,
                    help="stop when process PID is gone (the studio starts the sandboxes "
                         "this way, so that they never outlive it, even if it is killed)")
    up.set_defaults(handler=run_up)


# 0: any free port.
_port = option_type(int, Range(0, 65_535), "port")
# 0: no parent to watch.
_pid = option_type(int, Range(0, 2**31 - 1), "process id")


def _describe(session: Any) -> str:
    """The readable summary: where things are, not the secrets (those come with --json)."""
    sf = session.salesforce
    lines = [
        "Fieldbridge sandboxes are up (Ctrl-C to stop).",
        f"  Stripe sandbox      {session.stripe.api_base}   (any sk_test_ key works)",
        f"  Salesforce org      {sf.instance_url}",
        f"    login URL         {sf.login_url}",
        f"    username          {sf.username}",
        f"    CA file           {sf.ca_file}",
        f"  State               {session.state_dir}",
        "  Credentials (API key, webhook secret, token, password): run with --json.",
    ]
    if session.seed is not None:
        s = session.seed
        lines.append(
            f"  Demo seed           {len(s.stripe_customers)} Stripe customers, "
            f"{s.charges_succeeded} paid and {s.charges_failed} declined charges, "
            f"{s.subscriptions} subscriptions; {len(s.salesforce_accounts)} Accounts, "
            f"{s.opportunities_open} open and {s.opportunities_won} won Opportunities"
        )
    return "\n".join(lines)


def run_up(args: argparse.Namespace) -> int:
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from runner.sandbox.up import sandbox_up

    if args.faults is not None and not args.faults.strip():
        raise ConfigError("--faults needs a spec such as latency=50ms,error503=0.1")

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Installed before starting anything, so a signal during start-up still stops cleanly.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        session = sandbox_up(
            args.state_dir,
            seed=args.seed,
            reset=args.reset,
            faults=args.faults,
            stripe_port=args.stripe_port,
            salesforce_port=args.salesforce_port,
        )
        try:
            print(session.to_json() if args.json else _describe(session), flush=True)
            while not stop.wait(0.5):
                if not session.stripe.running:
                    print("error: the Stripe sandbox stopped unexpectedly", file=sys.stderr)
                    return 1
                if args.parent_pid and os.getppid() != args.parent_pid:
                    break  # the parent is gone (killed, perhaps): stop with it
        finally:
            session.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not args.json:
        print("Sandboxes stopped.", flush=True)
    return 0
