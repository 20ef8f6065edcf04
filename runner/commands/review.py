"""``fieldbridge-runner review list|approve|reject``: ambiguous dedup matches held for people.

When a new Stripe customer matches several Salesforce records (by external id or email), the
runner creates nothing and holds it here. ``approve ID --record SFID`` links it to that record
(updating it); ``approve ID`` without ``--record`` creates a new record; ``reject`` drops it.
Approving writes to Salesforce, so it needs the bundle and the connection.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from runner.commands.common import (
    add_action_group,
    add_list_action,
    finish_action,
    nothing_listed,
    open_state,
    positive_id,
    print_json,
    require_open,
    status_filter,
)
from runner.commands.remote import add_runner_option, client
from runner.commands.run import config_from_args
from runner.errors import ConfigError

item_id = positive_id("review item id")
# ReviewStatus's values, spelled out: the parser is built for --help too, and importing
# runner.state costs about a second (see runner.cli); tests/runner/test_command_statuses.py
# keeps the two equal.
REVIEW_STATUSES = ("open", "approved", "rejected")


def register(subparsers: Any) -> None:
    sub = add_action_group(subparsers, "review", "ambiguous matches held for a decision")

    ls = add_list_action(sub, "review items (open ones unless --status)", REVIEW_STATUSES,
                         review_list)
    add_runner_option(ls)

    approve = sub.add_parser("approve", help="link to a record (--record) or create a new one")
    approve.add_argument("id", type=item_id, metavar="ID")
    approve.add_argument("--record", metavar="SFID",
                         help="the Salesforce Id of the matching record to link and update")
    approve.add_argument("--bundle", type=Path, metavar="BUNDLE",
                         help="the bundle whose flow writes the record (required without "
                              "--runner)")
    finish_action(approve, review_approve, json_output=False)
    add_runner_option(approve)

    reject = sub.add_parser("reject", help="drop the item: nothing is written")
    reject.add_argument("id", type=item_id, metavar="ID")
    finish_action(reject, review_reject, json_output=False)
    add_runner_option(reject)


def _item_dict(item: Any) -> dict[str, Any]:
    return {"id": item.id, "flow": item.flow, "status": item.status,
            "source_id": item.source_id, "record": item.record,
            "candidates": item.candidates, "chosen": item.chosen,
            "created_at": item.created_at.isoformat() if item.created_at else None}


def review_list(args: argparse.Namespace) -> int:
    if getattr(args, "runner", None):
        remote = client(args).reviews(args.status)["items"]
        if args.json:
            print_json({"items": remote}, ensure_ascii=True)
            return 0
        if not remote:
            print(nothing_listed(args.status, "review items"))
        for entry in remote:
            print(f"{entry['id']:>5}  {entry['status']:<8}  {entry['flow']}  "
                  f"{entry['source_id']}")
            for cand in entry["candidates"]:
                label = ", ".join(f"{k}={v}" for k, v in cand.items() if k != "attributes")
                print(f"       candidate: {label}")
        return 0
    with open_state(args) as store:
        items = store.review_list(status_filter(args.status))
    if args.json:
        # ASCII-escaped, as this command has always printed it.
        print_json({"items": [_item_dict(i) for i in items]}, ensure_ascii=True)
        return 0
    if not items:
        print(nothing_listed(args.status, "review items"))
        return 0
    for item in items:
        print(f"{item.id:>5}  {item.status:<8}  {item.flow}  {item.source_id}")
        for cand in item.candidates:
            label = ", ".join(f"{k}={v}" for k, v in cand.items() if k != "attributes")
            print(f"       candidate: {label}")
    return 0


def review_approve(args: argparse.Namespace) -> int:
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from runner.bootstrap import connect_salesforce, connect_stripe, load_verified_bundle
    from runner.pipeline.processor import Processor
    from runner.state import ReviewStatus

    if getattr(args, "runner", None):
        api = client(args)
        answer = api.approve(args.id, args.record) if args.record else api.reject(args.id)
        if answer["errors"]:
            print(f"review item {args.id} approved, but the write failed: "
                  f"{'; '.join(answer['errors'])} (now in the dead-letter queue)")
            return 1
        target = f"linked to {args.record}" if args.record else "created as a new record"
        print(f"review item {args.id} approved: {target}")
        return 0
    if args.bundle is None:
        raise ConfigError("review approve needs --bundle (or --runner URL to decide through "
                          "a running runner)")
    config = config_from_args(args)
    loaded = load_verified_bundle(args.bundle, config)
    with open_state(args) as store:
        item = store.review_get(args.id)
        require_open(f"review item {args.id}", item.status)
        loaded.flow(item.flow)
        if args.record is not None:
            known = {str(c.get("Id")) for c in item.candidates if c.get("Id")}
            if known and args.record not in known:
                raise ConfigError(f"{args.record} is not one of review item {args.id}'s "
                                  f"candidates ({', '.join(sorted(known))})")
        stripe = connect_stripe(config)
        salesforce = connect_salesforce(config)
        store.review_decide(args.id, ReviewStatus.APPROVED, args.record)
        report = Processor(loaded, store, salesforce, stripe).apply_review(args.id)
    if report.errors:
        print(f"review item {args.id} approved, but the write failed: "
              f"{'; '.join(report.errors)} (now in the dead-letter queue)")
        return 1
    target = f"linked to {args.record}" if args.record else "created as a new record"
    print(f"review item {args.id} approved: {target}")
    return 0


def review_reject(args: argparse.Namespace) -> int:
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from runner.state import ReviewStatus

    if getattr(args, "runner", None):
        client(args).reject(args.id, create=False)
        print(f"review item {args.id} rejected; nothing was written")
        return 0
    with open_state(args) as store:
        require_open(f"review item {args.id}", store.review_get(args.id).status)
        store.review_decide(args.id, ReviewStatus.REJECTED)
    print(f"review item {args.id} rejected; nothing was written")
    return 0
