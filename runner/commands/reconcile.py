"""``fieldbridge-runner reconcile``: Stripe payouts against the payment records in Salesforce.

    fieldbridge-runner reconcile --from 2026-01-01 --to 2026-01-31
        [--sandbox SANDBOX.json | --config runner.toml] [--json] [--report report.html] [--fix]

Dates are UTC days, both inclusive (``--to 2026-01-31`` reaches the end of that day), or
ISO date-times taken as they are. The readable report shows totals per currency and per
Account, the payout checks and each flagged line with its reason; ``--json`` prints the
same as one JSON object; ``--report`` also writes a self-contained HTML file. ``--fix``
re-fetches the missing and mismatched charges from Stripe and runs them through the normal
flows (the ``--bundle``'s, or the shipped charges-payments template), then reconciles again.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.commands.run import add_connection_arguments, config_from_args
from runner.errors import ConfigError

if TYPE_CHECKING:
    from runner.config import RunnerConfig
    from runner.pipeline.bundle_runtime import LoadedBundle

FIX_TEMPLATE = Path(__file__).resolve().parents[2] / "mappings" / "templates" / \
    "charges-payments.yaml"

DAY = timedelta(days=1)


def parse_day(text: str, *, end: bool = False) -> int:
    """A UTC date (``end``: the start of the next day) or an ISO date-time, as unix seconds."""
    text = (text or "").strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return int((start + DAY if end else start).timestamp())
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{text!r} is not a date (use YYYY-MM-DD, e.g. 2026-01-31)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def period_from_args(args: argparse.Namespace) -> tuple[int, int]:
    since = parse_day(args.date_from)
    until = parse_day(args.date_to, end=True)
    if until <= since:
        raise ConfigError(f"--to {args.date_to} is before --from {args.date_from}")
    return since, until


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "reconcile", help="reconcile Stripe payouts with the payment records in Salesforce",
        # The module docstring's usage part, without its reST literal quotes.
        description=__doc__.split("\n\n", 2)[2].replace("``", "") if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="date_from", required=True, metavar="DATE",
                        help="first day of the period (YYYY-MM-DD, UTC)")
    parser.add_argument("--to", dest="date_to", required=True, metavar="DATE",
                        help="last day of the period, inclusive (YYYY-MM-DD, UTC)")
    add_connection_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--report", type=Path, metavar="report.html",
                        help="also write the report as a self-contained HTML file")
    parser.add_argument("--fix", action="store_true",
                        help="resync the missing and mismatched charges through the flows")
    parser.add_argument("--bundle", type=Path, metavar="BUNDLE",
                        help="with --fix: the bundle whose flows write the payments "
                        "(default: the shipped charges-payments template)")
    parser.set_defaults(handler=reconcile_command)


def _fix_bundle(path: Path | None, config: RunnerConfig) -> LoadedBundle:
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from runner.bootstrap import load_verified_bundle
    from runner.pipeline.bundle_runtime import LoadedBundle

    if path is not None:
        return load_verified_bundle(path, config)
    return LoadedBundle.from_template(FIX_TEMPLATE)


def reconcile_command(args: argparse.Namespace) -> int:
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from runner.bootstrap import connect_salesforce, connect_stripe, open_store
    from runner.finance.reconcile import fix, gather
    from runner.finance.reconcile_report import render_html, render_text
    from runner.pipeline.processor import Processor

    since, until = period_from_args(args)
    if args.bundle is not None and not args.fix:
        raise ConfigError("--bundle is only used with --fix")
    if args.report is not None and args.report.is_dir():
        raise ConfigError(f"--report {args.report} is a folder; give a file name")
    config = config_from_args(args)
    stripe = connect_stripe(config)
    salesforce = connect_salesforce(config)
    report = gather(stripe, salesforce, since, until).reconcile()
    output: dict[str, Any] = report.to_dict()
    fixed = None
    after = None
    if args.fix:
        bundle = _fix_bundle(args.bundle, config)
        store = open_store(config)
        try:
            processor = Processor(bundle, store, salesforce, stripe)
            fixed = fix(report, stripe, store, processor=processor)
        finally:
            store.close()
        after = gather(stripe, salesforce, since, until).reconcile()
        output["fix"] = fixed.to_dict()
        output["after_fix"] = after.to_dict()
    if args.report is not None:
        shown = after or report
        try:
            args.report.write_text(render_html(shown), encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write the report to {args.report}: "
                              f"{exc.strerror or exc}") from exc
    if args.json:
        json.dump(output, sys.stdout, sort_keys=True)
        sys.stdout.write("\n")
        return 0
    sys.stdout.write(render_text(report))
    if fixed is not None and after is not None:
        sys.stdout.write(f"\n--fix: {len(fixed.queued)} charge(s) resynced through the flows"
                         + (f", {fixed.duplicates} already queued" if fixed.duplicates else "")
                         + "\n\nAfter the fix:\n")
        sys.stdout.write(render_text(after))
    if args.report is not None:
        sys.stdout.write(f"\nHTML report written to {args.report}\n")
    return 0
