"""``fieldbridge-runner dlq list|show|replay|discard``: the dead-letter queue.

A dead letter holds the event (or Salesforce record), the mapped record and Salesforce's
error. Fix the bundle or the data, then ``dlq replay ID --bundle FIXED.fbz`` runs the entry
through the current bundle; ``discard`` closes an entry that should not be synced.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from runner.pipeline.sf_poller import SalesforcePoller

entry_id = positive_id("dead-letter id")
# DeadLetterStatus's values, spelled out: the parser is built for --help too, and importing
# runner.state costs about a second (see runner.cli); tests/runner/test_command_statuses.py
# keeps the two equal.
DLQ_STATUSES = ("open", "replayed", "discarded")


def register(subparsers: Any) -> None:
    sub = add_action_group(subparsers, "dlq", "list, show, replay or discard dead letters")

    ls = add_list_action(sub, "dead letters (open ones unless --status)",
                         DLQ_STATUSES, dlq_list)
    add_runner_option(ls)

    show = sub.add_parser("show", help="one dead letter: error, mapped record, payload")
    show.add_argument("id", type=entry_id, metavar="ID")
    finish_action(show, dlq_show, json_output=True)
    add_runner_option(show)

    replay = sub.add_parser("replay", help="run dead letters through the current bundle again")
    replay.add_argument("id", type=entry_id, metavar="ID", nargs="?")
    replay.add_argument("--all", action="store_true", help="replay every open dead letter")
    replay.add_argument("--bundle", type=Path, metavar="BUNDLE",
                        help="the (fixed) bundle to replay with (required without --runner; "
                             "with it, the runner's running bundle replays)")
    finish_action(replay, dlq_replay, json_output=True)
    add_runner_option(replay)

    discard = sub.add_parser("discard", help="close a dead letter without syncing it")
    discard.add_argument("id", type=entry_id, metavar="ID")
    finish_action(discard, dlq_discard, json_output=False)
    add_runner_option(discard)


def entry_dict(entry: Any, *, full: bool = False) -> dict[str, Any]:
    out = {"id": entry.id, "flow": entry.flow, "status": entry.status,
           "event_id": entry.event_id, "source_id": entry.source_id,
           "error_code": entry.error_code, "error": entry.error, "attempts": entry.attempts,
           "created_at": entry.created_at.isoformat() if entry.created_at else None}
    if full:
        out["record"] = entry.record
        out["payload"] = entry.payload
    return out


def dlq_list(args: argparse.Namespace) -> int:
    if getattr(args, "runner", None):
        return _remote_list(args)
    with open_state(args) as store:
        entries = store.dlq_list(status_filter(args.status))
    if args.json:
        print_json({"entries": [entry_dict(e) for e in entries]})
        return 0
    if not entries:
        print(nothing_listed(args.status, "dead letters"))
        return 0
    for e in entries:
        when = e.created_at.strftime("%Y-%m-%d %H:%M:%S") if e.created_at else "?"
        error = e.error if len(e.error) <= 90 else e.error[:87] + "..."
        print(f"{e.id:>5}  {when}  {e.status:<9}  {e.flow}  {e.source_id or '-'}")
        print(f"       {e.error_code or ''} {error}".rstrip())
    return 0


def _remote_list(args: argparse.Namespace) -> int:
    """``dlq list --runner URL``: grouped by cause, each with its explanation."""
    answer = client(args).dead_letters(status=args.status, per_page=200)
    if args.json:
        print_json(answer)
        return 0
    if not answer["items"]:
        print(nothing_listed(args.status, "dead letters"))
        return 0
    for group in answer["groups"]:
        why = group["explanation"]
        ids = ", ".join(str(i) for i in group["ids"])
        print(f"{why['title']} ({group['count']}: {ids}) in {why['flow']}")
        print(f"  {why['what']}")
        print(f"  fix: {why['fix']}")
    return 0


def dlq_show(args: argparse.Namespace) -> int:
    if getattr(args, "runner", None):
        data = client(args).dead_letter(args.id)
        if args.json:
            print_json(data)
        else:
            for key in ("id", "flow", "status", "event_id", "error_code", "error"):
                print(f"{key:<11} {data[key] if data[key] is not None else '-'}")
            print(f"explained   {data['explanation']['what']}")
            print(f"fix         {data['explanation']['fix']}")
        return 0
    with open_state(args) as store:
        entry = store.dlq_get(args.id)
    data = entry_dict(entry, full=True)
    if args.json:
        print_json(data)
        return 0
    for key in ("id", "flow", "status", "event_id", "source_id", "error_code", "attempts",
                "created_at"):
        print(f"{key:<11} {data[key] if data[key] is not None else '-'}")
    print(f"error       {entry.error}")
    print("record      " + json.dumps(entry.record, indent=2, default=str)
          .replace("\n", "\n            "))
    print("payload     " + json.dumps(entry.payload, indent=2, default=str)
          .replace("\n", "\n            "))
    return 0


def dlq_replay(args: argparse.Namespace) -> int:
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from runner.bootstrap import connect_salesforce, connect_stripe, load_verified_bundle
    from runner.metrics import Metrics
    from runner.pipeline.processor import Processor
    from runner.pipeline.sf_poller import SalesforcePoller
    from runner.state import DeadLetterStatus

    if args.all == (args.id is not None):
        raise ConfigError("dlq replay needs either an ID or --all")
    if getattr(args, "runner", None):
        return _remote_replay(args)
    if args.bundle is None:
        raise ConfigError("dlq replay needs --bundle (or --runner URL to replay through a "
                          "running runner)")
    config = config_from_args(args)
    loaded = load_verified_bundle(args.bundle, config)
    with open_state(args) as store:
        ids = [e.id for e in store.dlq_list(DeadLetterStatus.OPEN)] if args.all else [args.id]
        if not args.all:
            entry = store.dlq_get(args.id)  # unknown id: a clear error before connecting
            if entry.status != DeadLetterStatus.OPEN:
                raise ConfigError(f"dead letter {args.id} is {entry.status}; only open "
                                  "entries can be replayed")
            loaded.flow(entry.flow)
        if not ids:
            print("no open dead letters to replay")
            return 0
        stripe = connect_stripe(config)
        salesforce = connect_salesforce(config)
        metrics = Metrics()
        processor = Processor(loaded, store, salesforce, stripe, metrics=metrics)
        poller: SalesforcePoller | None = None
        results = []
        for id_ in ids:
            entry = store.dlq_get(id_)
            compiled = loaded.flow(entry.flow)
            if compiled.from_salesforce:
                if poller is None:
                    poller = SalesforcePoller(loaded, store, salesforce, stripe,
                                              metrics=metrics)
                poller.replay_dlq(id_)
            else:
                processor.replay_dlq(id_)
            after = store.dlq_get(id_)
            results.append({"id": id_, "flow": after.flow, "status": after.status,
                            "error": None if after.status == DeadLetterStatus.REPLAYED
                            else after.error})
    failed = [r for r in results if r["status"] != DeadLetterStatus.REPLAYED]
    if args.json:
        print_json({"replayed": len(results) - len(failed), "failed": len(failed),
                     "results": results})
    else:
        for r in results:
            if r["status"] == DeadLetterStatus.REPLAYED:
                print(f"dead letter {r['id']} ({r['flow']}): replayed")
            else:
                print(f"dead letter {r['id']} ({r['flow']}): still failing: {r['error']}")
    return 1 if failed else 0


def _remote_replay(args: argparse.Namespace) -> int:
    api = client(args)
    ids = [e["id"] for e in api.dead_letters(per_page=200)["items"]] if args.all \
        else [args.id]
    results = [r for id_ in ids for r in api.replay(id_)["results"]]
    failed = [r for r in results if r["status"] != "replayed"]
    if args.json:
        print_json({"replayed": len(results) - len(failed), "failed": len(failed),
                    "results": results})
    else:
        for r in results:
            print(f"dead letter {r['id']}: " + ("replayed" if r["status"] == "replayed"
                                                 else f"still failing: {r['error']}"))
    return 1 if failed else 0


def dlq_discard(args: argparse.Namespace) -> int:
    if getattr(args, "runner", None):
        client(args).discard(args.id)
        print(f"dead letter {args.id} discarded")
        return 0
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from runner.state import DeadLetterStatus

    with open_state(args) as store:
        require_open(f"dead letter {args.id}", store.dlq_get(args.id).status)
        store.dlq_set_status(args.id, DeadLetterStatus.DISCARDED)
    print(f"dead letter {args.id} discarded")
    return 0
