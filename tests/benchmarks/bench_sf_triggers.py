"""Salesforce -> Stripe latency and API cost: change events against polling.

Run: ``.venv/bin/python tests/benchmarks/bench_sf_triggers.py [--changes N] [--rate 20]
[--poll-interval 30]``. On fresh local sandboxes, the account-to-stripe-customer flow runs
twice, in-process, with the runner's own parts: once subscribed to change events
(:func:`runner.pubsub.triggers.start_triggers`, mode ``cdc``), once polled every
``--poll-interval`` seconds (the runner's default). Each time N Accounts are created at
``--rate`` per second by another Salesforce user; the latency of one change is from its
create call returning to the runner's Stripe create call returning (measured in the
runner's Stripe connector, so the bench adds no reads of its own). API calls are those the
runner's Salesforce connector made to the data API (queries, writebacks, echo reads),
divided by N. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from runner.connectors.salesforce import SalesforceConnector, SalesforceSettings  # noqa: E402
from runner.connectors.stripe import StripeConnector, StripeSettings  # noqa: E402
from runner.pipeline.bundle_runtime import LoadedBundle  # noqa: E402
from runner.pipeline.sf_poller import SalesforcePoller  # noqa: E402
from runner.pubsub.triggers import start_triggers  # noqa: E402
from runner.sandbox.salesforce import salesforce_client  # noqa: E402
from runner.sandbox.up import sandbox_up  # noqa: E402
from runner.settings import setting  # noqa: E402
from runner.state.store import StateStore  # noqa: E402

TEMPLATE = ROOT / "mappings" / "templates" / "account-to-stripe-customer.yaml"


class TimedStripe(StripeConnector):
    """The runner's Stripe connector, noting when each customer of an Account was made."""

    def __init__(self, settings: StripeSettings) -> None:
        super().__init__(settings)
        self.done: dict[str, float] = {}

    def create(self, object_type: str, params: dict, idempotency_key: str) -> dict:
        created = super().create(object_type, params, idempotency_key)
        account = (params.get("metadata") or {}).get("salesforceid")
        if account:
            self.done.setdefault(str(account), time.monotonic())
        return created


def _connectors(session: Any) -> tuple[SalesforceConnector, TimedStripe]:
    handle = session.salesforce
    sf = SalesforceConnector(SalesforceSettings(
        login_url=handle.login_url, auth="password", username=handle.username,
        password=handle.password, security_token=handle.security_token,
        consumer_key=handle.consumer_key, client_secret=handle.consumer_secret,
        ca_file=str(handle.ca_file), api_version=handle.api_version,
        pubsub_endpoint=handle.pubsub_endpoint))
    sf.connect()
    st = session.stripe
    stripe = TimedStripe(StripeSettings(api_key=st.api_key, api_base=st.api_base,
                                        webhook_secrets=[st.webhook_secret],
                                        flavor="localstripe"))
    return sf, stripe


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _run(session: Any, state: Path, mode: str, changes: int, rate: float,
         poll_interval: float) -> dict[str, float]:
    sf, stripe = _connectors(session)
    person = salesforce_client(session.salesforce,
                               access_token=session.salesforce.new_token("admin@fieldbridge.test"))
    bundle = LoadedBundle.from_template(TEMPLATE)
    stop = threading.Event()
    threads: list[threading.Thread] = []
    with StateStore.open(f"sqlite:///{state / f'{mode}.sqlite'}") as store:
        poller = SalesforcePoller(bundle, store, sf, stripe, start=datetime.now(UTC))
        triggers = None
        if mode == "cdc":
            triggers = start_triggers("cdc", bundle.salesforce_flows, sf, store,
                                      lambda: poller)
            assert triggers is not None
            for name, target in triggers.loops():
                threads.append(threading.Thread(target=target, name=name, daemon=True))
            for thread in threads:
                thread.start()
            for sub in triggers.subscribers.values():
                sub.ready.wait(10)
            time.sleep(0.5)  # the first FetchRequest reached the server
        else:
            threads.append(threading.Thread(target=_every(poll_interval, poller.poll_once, stop),
                                            daemon=True))
            threads[0].start()
        calls_before = sf.api_calls
        made: dict[str, float] = {}
        for n in range(changes):
            due = time.monotonic()
            account = person.Account.create({"Name": f"Bench {mode} {n}"})["id"]
            made[account] = time.monotonic()
            time.sleep(max(0.0, due + 1 / rate - time.monotonic()))
        deadline = time.monotonic() + poll_interval * 2 + 60
        while len(set(made) & set(stripe.done)) < changes and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # the writebacks' echoes are read (and skipped) too
        calls = sf.api_calls - calls_before
        stop.set()
        if triggers is not None:
            triggers.stop()
        for thread in threads:
            thread.join(10)
    latencies = [(stripe.done[a] - t) * 1000 for a, t in made.items() if a in stripe.done]
    missing = changes - len(latencies)
    if missing:
        print(f"{mode}: {missing} changes did not reach Stripe", file=sys.stderr)
    return {"p50": statistics.median(latencies), "p99": _percentile(latencies, 0.99),
            "calls": calls / changes, "missing": missing}


def _every(interval: float, job: Callable[[], Any], stop: threading.Event) -> Callable[[], None]:
    def loop() -> None:
        while not stop.is_set():
            job()
            stop.wait(interval)
    return loop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200, help="Account changes (200)")
    parser.add_argument("--rate", type=float, default=20.0, help="changes per second (20)")
    parser.add_argument("--poll-interval", type=float,
                        default=float(setting("runner.poll_interval").default),
                        help="seconds between polls (the runner's default)")
    args = parser.parse_args(argv)
    # The machine may be shared: the load beside the figures says what they were measured
    # under (compare runs by the cdc/poll figures of one run, not across loads).
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with tempfile.TemporaryDirectory() as tmp:
        session = sandbox_up(Path(tmp) / "sandbox", reset=True)
        try:
            cdc = _run(session, Path(tmp), "cdc", args.changes, args.rate, args.poll_interval)
            print(f"change events: p50 {cdc['p50']:.0f} ms, p99 {cdc['p99']:.0f} ms, "
                  f"{cdc['calls']:.2f} Salesforce API calls per change")
            poll = _run(session, Path(tmp), "poll", args.changes, args.rate,
                        args.poll_interval)
            print(f"polling every {args.poll_interval:g} s: p50 {poll['p50']:.0f} ms, "
                  f"p99 {poll['p99']:.0f} ms, {poll['calls']:.2f} calls per change")
        finally:
            session.stop()
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(json.dumps({
        "changes": args.changes,
        "cdc_p50_ms": round(cdc["p50"], 1), "cdc_p99_ms": round(cdc["p99"], 1),
        "poll_p50_ms": round(poll["p50"], 1), "poll_p99_ms": round(poll["p99"], 1),
        "cdc_api_calls_per_change": round(cdc["calls"], 3),
        "poll_api_calls_per_change": round(poll["calls"], 3),
    }))
    return 0 if not (cdc["missing"] or poll["missing"]) else 1


if __name__ == "__main__":
    sys.exit(main())
