"""Change events under a kill: the runner killed (-9) while it turns a burst of new Accounts
into Stripe customers, then restarted. A batch's state is committed per stage (one
transaction each), so the kill can fall between a Stripe create and its notes, or between a
writeback and its notes: every Account must still end with exactly one customer."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.runner.e2e.helpers import RunnerProcess, build_template_bundle, wait_for

pytestmark = pytest.mark.slow

BURST = 40
RATE = 20.0  # Accounts a second, as the benchmark makes them
BOUND = 90.0  # generous: a shared CI machine


@pytest.fixture(scope="module")
def account_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "accounts.fbz"
    return build_template_bundle(out, ("account-to-stripe-customer",))


def _synced(sf: Any, ids: list[str]) -> int:
    quoted = ", ".join(f"'{i}'" for i in ids)
    rows = sf.query_all(f"SELECT Id, StripeCustomerID__c FROM Account WHERE Id IN ({quoted})")
    return sum(1 for r in rows["records"] if r.get("StripeCustomerID__c"))


def test_kill_9_during_a_burst_of_accounts_loses_and_duplicates_nothing(
        sandbox, sf, account_bundle, state_url, tmp_path: Path) -> None:
    client = sandbox.stripe.client()
    first = RunnerProcess(account_bundle, sandbox.json_path, state_url, tmp_path,
                          extra=("--poll-interval", "600")).start()
    made: list[str] = []

    def burst() -> None:
        for n in range(BURST):
            made.append(sf.Account.create({"Name": f"Burst {n}"})["id"])
            time.sleep(1 / RATE)

    maker = threading.Thread(target=burst)
    maker.start()
    try:
        wait_for(lambda: len(made) >= 5 and _synced(sf, list(made)) >= 3, BOUND,
                 "the first Accounts of the burst synced")
    finally:
        first.kill9()  # mid-burst: later Accounts are made while it is down
    maker.join(60)
    assert len(made) == BURST

    second = RunnerProcess(account_bundle, sandbox.json_path, state_url, tmp_path,
                           extra=("--poll-interval", "600")).start()
    try:
        wait_for(lambda: _synced(sf, made) == BURST, BOUND, "every Account of the burst synced")
        time.sleep(1.0)  # the writebacks' change events must not sync again
        per_account = Counter(
            (c.metadata or {}).to_dict().get("salesforceid")
            for c in client.v1.customers.list(params={"limit": 100}).auto_paging_iter())
        assert {a: per_account[a] for a in made} == dict.fromkeys(made, 1)
    finally:
        assert second.stop() == 0
