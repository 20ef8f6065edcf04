"""``fieldbridge-runner backfill BUNDLE --flow NAME --since DATE``: the initial load."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from runner.commands.run import add_connection_arguments, config_from_args
from runner.settings import Range, option_type

# Records per Bulk API 2.0 job: a job's upload is at most 100 MB of CSV (Salesforce's
# limit), which 100,000 records of a few hundred bytes stay under.
CHUNK_SIZES = Range(1, 100_000)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "backfill", help="load a flow's existing Stripe objects into Salesforce (Bulk API 2.0; "
        "resumable)",
        description="List the flow's Stripe source objects created since DATE, map them and "
        "upsert them through Salesforce Bulk API 2.0. Interrupted? Run the same command again: "
        "it continues where it stopped.")
    parser.add_argument("bundle", type=Path, metavar="BUNDLE")
    parser.add_argument("--flow", required=True, metavar="NAME", help="the flow to backfill")
    parser.add_argument("--since", required=True, metavar="DATE",
                        help="objects created on or after this date (YYYY-MM-DD, UTC) or "
                        "ISO date-time")
    parser.add_argument("--chunk-size", type=option_type(int, CHUNK_SIZES, "chunk size"),
                        default=2000, metavar="N",
                        help="records per Bulk API job (default 2000)")
    parser.add_argument("--restart", action="store_true",
                        help="start over even if a backfill with this flow and date finished")
    parser.add_argument("--json", action="store_true", help="machine-readable result")
    add_connection_arguments(parser)
    parser.set_defaults(handler=backfill_command)


def backfill_command(args: argparse.Namespace) -> int:
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from runner.backfill import ProgressBar, backfill_flow, parse_since
    from runner.bootstrap import (
        connect_salesforce,
        connect_stripe,
        load_verified_bundle,
        open_store,
    )

    since = parse_since(args.since)
    config = config_from_args(args)
    loaded = load_verified_bundle(args.bundle, config)
    loaded.flow(args.flow)  # unknown flow: a clear error before connecting anywhere
    stripe = connect_stripe(config)
    salesforce = connect_salesforce(config)
    store = open_store(config)
    try:
        progress = ProgressBar(since, oldest_first=stripe.settings.flavor == "localstripe")
        report = backfill_flow(loaded, store, salesforce, stripe, flow=args.flow, since=since,
                               chunk_size=args.chunk_size, progress=progress,
                               restart=args.restart)
    finally:
        store.close()
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif report.already_done:
        print(f"backfill of {args.flow} since {args.since} already finished; use --restart to "
              "run it again")
    else:
        resumed = f" (resumed after {report.resumed_after})" if report.resumed_after else ""
        print(f"backfill of {args.flow} since {args.since}{resumed}: {report.listed} listed, "
              f"{report.written} written, {report.skipped} skipped, {report.dead_lettered} "
              f"dead-lettered ({report.chunks} bulk job(s))")
        if report.review:
            print(f"{report.review} held for review (several records matched): "
                  "'fieldbridge-runner review list'")
        if report.dead_lettered:
            print("inspect them with 'fieldbridge-runner dlq list'")
    return 0
