"""Dead letters replayed after a fix, and backfills (complete, resumed) against the sandboxes,
through the command line."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mappings.bundle import build_bundle
from mappings.document.yamlio import loads_document
from runner.backfill import backfill_flow, cursor_name, parse_since
from runner.bootstrap import connect_salesforce, connect_stripe, load_verified_bundle
from runner.cli import main
from runner.config import load_config
from runner.sandbox.stripe_events import deliver, make_event
from runner.state.store import StateStore
from tests.runner.e2e.helpers import (
    TEMPLATES,
    RunnerProcess,
    charge_counts,
    customer_with_card,
    wait_for,
)

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_fieldbridge", False)]:
        root.removeHandler(handler)


@pytest.fixture(scope="module")
def broken_bundle(tmp_path_factory) -> Path:
    """The charges template with a Status__c value the org's restricted picklist refuses."""

    text = (TEMPLATES / "charges-payments.yaml").read_text()
    lines = [line if "expr: 'refunded = true" not in line
             else line.split("expr:")[0] + "expr: '''Settled'''" for line in text.splitlines()]
    assert lines != text.splitlines()
    doc = loads_document("\n".join(lines) + "\n", source_name="broken.yaml")
    return build_bundle([doc], tmp_path_factory.mktemp("broken") / "broken.fbz")


def test_dead_letters_replay_after_the_fix(sandbox, sf, broken_bundle, charges_bundle,
                                           state_url, tmp_path: Path, capsys) -> None:
    runner = RunnerProcess(broken_bundle, sandbox.json_path, state_url, tmp_path).start()
    events = [make_event("charge.succeeded", overrides={"customer": None}) for _ in range(3)]
    try:
        for event in events:
            assert deliver(runner.webhook_url, event, sandbox.stripe.webhook_secret) \
                .status_code == 200
        wait_for(lambda: _open_dlq(state_url) == 3, 30, "three dead letters")
    finally:
        assert runner.stop() == 0
    charge_ids = [e["data"]["object"]["id"] for e in events]
    assert charge_counts(sf, charge_ids) == {}

    common = ["--sandbox", str(sandbox.json_path), "--state", state_url]
    assert main(["dlq", "list", "--json", "--state", state_url]) == 0
    entries = json.loads(capsys.readouterr().out)["entries"]
    assert len(entries) == 3 and all("Settled" in e["error"] or e["error_code"]
                                     for e in entries)
    first = entries[0]["id"]

    # Replaying with the same broken bundle fails again and keeps the entry open.
    assert main(["dlq", "replay", str(first), "--bundle", str(broken_bundle), *common]) == 1
    assert "still failing" in capsys.readouterr().out
    # With the fixed bundle it is written.
    assert main(["dlq", "replay", str(first), "--bundle", str(charges_bundle), *common]) == 0
    assert "replayed" in capsys.readouterr().out
    assert main(["dlq", "replay", "--all", "--bundle", str(charges_bundle), "--json",
                 *common]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["replayed"] == 2 and result["failed"] == 0
    assert charge_counts(sf, charge_ids) == dict.fromkeys(charge_ids, 1)
    rows = sf.query_all("SELECT Status__c FROM Payment__c WHERE StripeChargeID__c = "
                        f"'{charge_ids[0]}'")["records"]
    assert rows[0]["Status__c"] == "Completed"
    assert _open_dlq(state_url) == 0


def _open_dlq(state_url: str) -> int:
    with StateStore.open(state_url) as store:
        return store.counts()["dlq_open"]


def _make_charges(sandbox, n: int) -> list[str]:
    client = sandbox.stripe.client()
    customer = customer_with_card(client, "Backfill Person", "backfill@example.com")
    return [client.v1.charges.create(params={
        "amount": 500 + i, "currency": "usd", "customer": customer,
        "description": f"backfill {i}"}).id for i in range(n)]


def test_backfill_loads_and_resumes(sandbox, sf, charges_bundle, state_url, capsys) -> None:
    since_text = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    time.sleep(1.0)
    charges = _make_charges(sandbox, 25)
    since = parse_since(since_text)

    # An interrupted backfill: stops after its first chunk of 10.
    config = load_config(None, env={}, use_keyring=False, sandbox_json=sandbox.json_path,
                         overrides={"runner.state_url": state_url})
    loaded = load_verified_bundle(charges_bundle, config)
    with StateStore.open(state_url) as store:
        partial = backfill_flow(loaded, store, connect_salesforce(config),
                                connect_stripe(config), flow="charge-to-payment", since=since,
                                chunk_size=10, should_stop=lambda: True)
        cursor = store.cursor_get(cursor_name("charge-to-payment", since))
    assert partial.written == 10 and cursor not in (None, "done")
    assert len(charge_counts(sf, charges)) == 10

    common = ["--sandbox", str(sandbox.json_path), "--state", state_url]
    argv = ["backfill", str(charges_bundle), "--flow", "charge-to-payment", "--since",
            since_text, "--chunk-size", "10", *common]
    assert main([*argv, "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["resumed_after"] == cursor
    assert report["written"] == 15 and report["dead_lettered"] == 0
    assert "100%" in captured.err  # the progress bar
    assert charge_counts(sf, charges) == dict.fromkeys(charges, 1)

    assert main(argv) == 0
    assert "already finished" in capsys.readouterr().out
    assert main([*argv, "--restart"]) == 0
    assert "25 written" in capsys.readouterr().out
    assert charge_counts(sf, charges) == dict.fromkeys(charges, 1)
