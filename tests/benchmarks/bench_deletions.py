"""Deletions: Salesforce API calls per deleted record, both ways, beside a naive integration.

Run: ``.venv/bin/python tests/benchmarks/bench_deletions.py [--records N]``. On fresh local
sandboxes, in-process with the runner's own parts:

- Stripe -> Salesforce: N Accounts exist for N customers; N ``customer.deleted`` events go
  through the :class:`~runner.pipeline.processor.Processor` in one batch (the
  customer-to-account flow, ``on_delete: mark``). Baseline, in the same run: what an
  integration that finds and marks one record at a time costs (a query and an update each).
- Salesforce -> Stripe: N linked Accounts are deleted; one poll of the account-to-customer
  flow (``queryAll``) marks their customers. Baseline, in the same run: one read of each
  deleted record by Id. Calls are the runner's Salesforce connector's.

No timings are asserted; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mappings.document.yamlio import load_document  # noqa: E402
from mappings.schema.org_metadata import load_salesforce_catalog  # noqa: E402
from mappings.schema.stripe_catalog import load_stripe_catalog  # noqa: E402
from runner.pipeline.bundle_runtime import LoadedBundle  # noqa: E402
from runner.pipeline.processor import Processor  # noqa: E402
from runner.pipeline.sf_poller import SalesforcePoller  # noqa: E402
from runner.sandbox.salesforce import salesforce_client  # noqa: E402
from runner.sandbox.stripe_events import fresh_id, make_event  # noqa: E402
from runner.sandbox.up import sandbox_up  # noqa: E402
from runner.state.store import StateStore  # noqa: E402
from tests.runner.pipeline.conftest import (  # noqa: E402
    salesforce_connector,
    stripe_connector,
)

TEMPLATES = ROOT / "mappings" / "templates"


def bundle_of(template: str, flow: str) -> LoadedBundle:
    doc = load_document(TEMPLATES / f"{template}.yaml")
    doc.flows = [f for f in doc.flows if f.name == flow]
    return LoadedBundle.from_documents([doc], load_salesforce_catalog(), load_stripe_catalog())


def stripe_to_salesforce(session: Any, state: Path, n: int) -> dict[str, Any]:
    sf, stripe = salesforce_connector(session), stripe_connector(session)
    ids = [fresh_id("cus_") for _ in range(n)]
    sf.upsert_many("Account", "StripeCustomerID__c",
                   [{"StripeCustomerID__c": c, "Name": f"Bench {c}"} for c in ids])
    with StateStore.open(f"sqlite:///{state}") as store:
        for c in ids:
            store.add_event(make_event("customer.deleted",
                                       overrides={"id": c, "name": f"Bench {c}"}), source="bench")
        claimed = store.claim_events("bench", limit=n + 10)
        started = time.perf_counter()
        report = Processor(bundle_of("customer-account", "customer-to-account"), store, sf,
                           stripe).process_events(claimed)
        runner_s = time.perf_counter() - started
    before = sf.api_calls
    started = time.perf_counter()
    for c in ids:  # the naive baseline: one find and one update per record
        [sf_id] = sf.find_ids("Account", "StripeCustomerID__c", [c])[c]
        sf.update_many("Account", [{"Id": sf_id, "StripeDeletedAt__c":
                                    "2026-01-01T00:00:00.000+0000"}])
    naive_s = time.perf_counter() - started
    return {"records": n, "written": report.written, "calls": report.api_calls,
            "calls_per_record": report.api_calls / n, "seconds": round(runner_s, 3),
            "naive_calls": sf.api_calls - before,
            "naive_calls_per_record": (sf.api_calls - before) / n,
            "naive_seconds": round(naive_s, 3)}


def salesforce_to_stripe(session: Any, state: Path, n: int) -> dict[str, Any]:
    sf, stripe = salesforce_connector(session), stripe_connector(session)
    admin = salesforce_client(session.salesforce,
                              access_token=session.salesforce.new_token("admin@fieldbridge.test"))
    customers = [stripe.create("customer", {"name": f"Bench {i}"}, f"bench-{i}-{time.time()}")
                 ["id"] for i in range(n)]
    accounts = [admin.Account.create({"Name": f"Bench {c}", "StripeCustomerID__c": c})["id"]
                for c in customers]
    with StateStore.open(f"sqlite:///{state}") as store:
        poller = SalesforcePoller(bundle_of("account-to-stripe-customer", "account-to-customer"),
                                  store, sf, stripe, start=datetime.now(UTC))
        for account in accounts:
            admin.Account.delete(account)
        before = sf.api_calls
        started = time.perf_counter()
        report = poller.poll_once()
        seconds = time.perf_counter() - started
        calls = sf.api_calls - before
        before = sf.api_calls
        started = time.perf_counter()
        for account in accounts:  # the naive baseline: one read of each deleted record
            sf.query_all(f"SELECT Id, StripeCustomerID__c FROM Account WHERE Id = '{account}'",
                         include_deleted=True)
        naive_s = time.perf_counter() - started
    return {"records": n, "marked": report.updated, "calls": calls, "calls_per_record": calls / n,
            "seconds": round(seconds, 3), "naive_calls": sf.api_calls - before,
            "naive_calls_per_record": (sf.api_calls - before) / n,
            "naive_seconds": round(naive_s, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-deletions-"))
    session = sandbox_up(state_dir=root / "sandbox", reset=True)
    try:
        out = {"stripe_to_salesforce": stripe_to_salesforce(session, root / "a.sqlite",
                                                            args.records),
               "salesforce_to_stripe": salesforce_to_stripe(session, root / "b.sqlite",
                                                            args.records)}
    finally:
        session.stop()
    for side, figures in out.items():
        print(f"{side}: {figures['calls']} Salesforce calls for {figures['records']} deletions "
              f"({figures['calls_per_record']:.3f} per record; naive "
              f"{figures['naive_calls_per_record']:.1f}) in {figures['seconds']} s")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
