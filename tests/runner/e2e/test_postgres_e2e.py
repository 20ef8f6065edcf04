"""Several runner processes share one PostgreSQL inbox: every event written exactly once."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from runner.sandbox.stripe_events import deliver, make_event
from runner.state.store import StateStore
from tests.runner.e2e.helpers import RunnerProcess, charge_counts, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PG_BASE_URL = os.environ.get(
    "FIELDBRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")


@pytest.fixture
def pg_state_url():
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        engine.dispose()
        pytest.skip(f"no PostgreSQL at {PG_BASE_URL}: {exc}")
    schema = f"fbe2e_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_BASE_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def test_three_runners_share_one_inbox(sandbox, sf, charges_bundle, pg_state_url,
                                       tmp_path: Path) -> None:
    runners = [RunnerProcess(charges_bundle, sandbox.json_path, pg_state_url, tmp_path)
               .start() for _ in range(3)]
    events = [make_event("charge.succeeded", overrides={"customer": None})
              for _ in range(240)]
    try:
        for n, event in enumerate(events):
            target = runners[n % len(runners)]
            assert deliver(target.webhook_url, event, sandbox.stripe.webhook_secret) \
                .status_code == 200
        # Stripe may deliver an event twice, to whichever process the balancer picks.
        for n, event in enumerate(events[:40]):
            assert deliver(runners[(n + 1) % len(runners)].webhook_url, event,
                           sandbox.stripe.webhook_secret).status_code == 200
        charge_ids = [e["data"]["object"]["id"] for e in events]
        wait_for(lambda: len(charge_counts(sf, charge_ids)) == len(charge_ids), 90,
                 "a Payment__c row for every event")
        assert charge_counts(sf, charge_ids) == dict.fromkeys(charge_ids, 1)
    finally:
        codes = [r.stop() for r in runners]
    assert codes == [0, 0, 0]
    with StateStore.open(pg_state_url) as store:
        counts = store.counts()
        runs = store.runs(limit=10)
    assert counts["done"] >= len(events)
    assert counts["processing"] == 0 and counts["dlq_open"] == 0
    assert len(runs) == 3 and all(r.stopped_at is not None for r in runs)
    assert sum(r.counts["events"] for r in runs) >= len(events)
