"""``fieldbridge-runner status [--json]``: queue depths, last event, dead letters, Salesforce
API usage, run history, and the finance monitors (paused flows, anomaly flags, last drift
check), read from the state database (and the org's ``/limits`` when a Salesforce connection
is configured)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from runner.commands.remote import add_runner_option, client
from runner.commands.run import add_connection_arguments, config_from_args
from runner.settings import Range, option_type

log = logging.getLogger(__name__)

RUNS = Range(1, 1000)  # recent runs shown; more is a report, not a status


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status", help="queue depths, last event, dead letters, API usage, run history")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--runs", type=option_type(int, RUNS, "number of runs"), default=5,
                        metavar="N",
                        help="how many recent runs to show (default 5)")
    add_connection_arguments(parser)
    add_runner_option(parser)
    parser.set_defaults(handler=status_command)


def collect_status(store: Any, config: Any, *, runs: int = 5) -> dict[str, Any]:
    """The status as plain data (the ``--json`` shape)."""
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from runner.finance.runtime import finance_status
    from runner.state import EventStatus

    counts = store.counts()
    last = store.last_event()
    history = store.runs(limit=max(1, runs))
    return {
        "state": store.describe(),
        "queue": {str(k): counts.get(k, 0) for k in EventStatus},
        "dlq": counts.get("dlq_open", 0),
        "review": counts.get("review_open", 0),
        "last_event": None if last is None else {
            "id": last.event_id, "type": last.type, "status": last.status,
            "created": last.created,
            "received_at": last.received_at.isoformat() if last.received_at else None,
        },
        "salesforce_api": _api_usage(config, history),
        "runs": [{
            "id": r.id, "started_at": r.started_at.isoformat() if r.started_at else None,
            "stopped_at": r.stopped_at.isoformat() if r.stopped_at else None,
            "host": r.host, "pid": r.pid, "version": r.version, "counts": r.counts,
        } for r in history],
        "finance": finance_status(store),
    }


def _api_usage(config: Any, history: list[Any]) -> dict[str, Any] | None:
    error = None
    if config.connection_names("salesforce"):
        # Loaded when the command runs, not for --help (see runner.cli: start-up time).
        from runner.bootstrap import connect_salesforce

        try:
            salesforce = connect_salesforce(config)
            limits = salesforce.limits().get("DailyApiRequests") or {}
            maximum, remaining = int(limits["Max"]), int(limits["Remaining"])
            return {"used": maximum - remaining, "max": maximum, "remaining": remaining,
                    "source": "org"}
        except Exception as exc:  # status must still show what the state knows
            error = str(exc)
            log.debug("reading the org's limits failed: %s", exc)
    for run in history:
        usage = (run.counts or {}).get("salesforce_api")
        if isinstance(usage, list | tuple) and len(usage) == 2:
            used, maximum = int(usage[0]), int(usage[1])
            out = {"used": used, "max": maximum, "remaining": maximum - used,
                   "source": f"run {run.id}"}
            if error:
                out["error"] = error
            return out
    return {"error": error} if error else None


def status_command(args: argparse.Namespace) -> int:
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from runner.bootstrap import open_store

    if getattr(args, "runner", None):
        return remote_status(args)
    config = config_from_args(args)
    with open_store(config) as store:
        status = collect_status(store, config, runs=args.runs)
    if args.json:
        json.dump(status, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    q = status["queue"]
    print(f"state        {status['state']}")
    print(_inbox_line(q))
    print(f"dead letters {status['dlq']} open")
    print(f"review       {status['review']} open")
    last = status["last_event"]
    print("last event   " + (f"{last['type']} {last['id']} ({last['status']}, received "
                             f"{last['received_at']})" if last else "none yet"))
    api = status["salesforce_api"]
    if api is None:
        print("API usage    unknown (no Salesforce connection configured, no run recorded)")
    elif "used" in api:
        print(f"API usage    {api['used']} of {api['max']} daily requests ({api['remaining']} "
              f"left; from {api['source']})")
    else:
        print(f"API usage    unknown ({api['error']})")
    _print_finance(status["finance"])
    print("runs")
    if not status["runs"]:
        print("  none yet")
    for run in status["runs"]:
        end = run["stopped_at"] or "running (or stopped without recording)"
        print(f"  {run['id']:>4}  {run['started_at']} -> {end}  {run['host']} pid {run['pid']}")
    return 0


def _inbox_line(q: dict[str, int]) -> str:
    """The inbox's counts as one line, the same read locally or from a running runner."""
    return (f"inbox        {q['pending']} pending, {q['processing']} processing, {q['retry']} "
            f"waiting to retry, {q['dead']} dead; {q['done']} done, {q['skipped']} skipped")


def remote_status(args: argparse.Namespace) -> int:
    """``status --runner URL``: the running runner's live status (admin API)."""
    status = client(args).status()
    if args.json:
        json.dump(status, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    q = status["queue"]
    print(f"runner       {args.runner}")
    print(_inbox_line(q))
    print(f"dead letters {status['dead_letters']} open")
    print(f"review       {status['reviews']} open")
    latency = status["latency"]
    print(f"throughput   {status['events_per_second']:g} records/s; latency p50 "
          f"{latency['p50'] if latency['p50'] is not None else '-'} s, p99 "
          f"{latency['p99'] if latency['p99'] is not None else '-'} s")
    api = status["salesforce_api"]
    print("API usage    " + (f"{api['used']} of {api['max']} daily requests" if api
                             else "unknown"))
    print("flows")
    for flow in status["flows"]:
        paused = f" (by {flow['paused_by']})" if flow["paused_by"] else ""
        print(f"  {flow['name']:<28} {flow['state']}{paused}, {flow['dead_letters']} dead "
              "letters")
    return 0


def _print_finance(finance: dict[str, Any]) -> None:
    paused = finance["paused_flows"]
    print("paused flows " + (", ".join(sorted(paused)) if paused else "none"))
    for flow, reasons in sorted(paused.items()):
        for reason in reasons:
            print(f"  {flow}: {reason}")
    cases = finance["anomaly_cases"]
    detail = ", ".join(f"{n} {state}" for state, n in sorted(cases.items()))
    print(f"anomalies    {finance['anomaly_flags_open']} open flag(s)"
          + (f" (Cases: {detail})" if detail else ""))
    print(f"drift check  {finance['last_drift_check'] or 'not yet (checked at start only)'}")
    for f in finance["findings"]:
        print(f"  {f.get('monitor')} ({f.get('severity')}): {f.get('reason')}")
