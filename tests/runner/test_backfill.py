"""Backfill over fakes: each chunk goes through the one write path (SalesforceWriter) with
Bulk API 2.0 as its transport; failures follow retry.outcome_for; the cursor moves only
after a chunk is written."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from runner.backfill import DONE, backfill_flow, cursor_name
from runner.classify import Failure
from runner.connectors.errors import ConnectorError, RecordOutcome
from runner.errors import FatalSyncError
from runner.pipeline.bulk import BulkUpserts
from runner.pipeline.bundle_runtime import LoadedBundle
from runner.pipeline.writeback import PROCESSOR_MARK
from runner.state.store import StateStore
from runner.state.testing import memory_store
from tests.runner.pipeline.conftest import load_templates

SINCE = 1_700_000_000
ACCOUNT = "001000000000001AAA"


class FakeSalesforce:
    """Bulk jobs answered from a script (each entry: a list of per-record answers, an
    exception, or None for all succeeding); collections calls and queries recorded."""

    def __init__(self, found: dict[tuple[str, str], dict[str, list[str]]] | None = None) -> None:
        self.script: list[Any] = []
        self.jobs: list[tuple[str, str, list[dict]]] = []
        self.updates: list[tuple[str, list[dict]]] = []
        self.found = found or {}
        self.api_calls = 0

    def bulk_upsert(self, obj: str, ext: str, records: Sequence[dict]) -> list[RecordOutcome]:
        self.jobs.append((obj, ext, list(records)))
        answer = self.script.pop(0) if self.script else None
        if isinstance(answer, BaseException):
            raise answer
        if answer is not None:
            return list(answer)
        return [RecordOutcome(i, True, f"a0B00000000{len(self.jobs):03d}{i:03d}AAA", True)
                for i in range(len(records))]

    def update_many(self, obj: str, records: Sequence[dict]) -> list[RecordOutcome]:
        self.updates.append((obj, list(records)))
        return [RecordOutcome(i, True, r["Id"], False) for i, r in enumerate(records)]

    def find_ids(self, obj: str, field: str, values: Any) -> dict[str, list[str]]:
        known = self.found.get((obj, field), {})
        return {v: known.get(v, []) for v in values}


class FakeStripe:
    def __init__(self, objects: list[dict]) -> None:
        self.objects = objects

    def list_objects(self, obj: str, *, created_gte: int,
                     starting_after: str | None = None) -> Iterator[dict]:
        ids = [o["id"] for o in self.objects]
        start = ids.index(starting_after) + 1 if starting_after else 0
        yield from self.objects[start:]


def charge(n: int, **extra: Any) -> dict:
    return {"id": f"ch_backfill{n:04d}", "object": "charge", "amount": 1000 + n,
            "currency": "usd", "status": "succeeded", "created": SINCE + n,
            "description": f"charge {n}", **extra}


def customer(n: int, name: str) -> dict:
    return {"id": f"cus_backfill{n:04d}", "object": "customer", "name": name,
            "email": f"c{n}@example.com", "created": SINCE + n, "metadata": {}}


@pytest.fixture(scope="module")
def loaded() -> LoadedBundle:
    return load_templates()


@pytest.fixture
def store() -> Iterator[StateStore]:
    s = memory_store()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr("runner.pipeline.bulk.time.sleep", slept.append)
    return slept


def run(loaded: LoadedBundle, store: StateStore, sf: FakeSalesforce, objects: list[dict],
        flow: str = "charge-to-payment", chunk_size: int = 10):
    return backfill_flow(loaded, store, sf, FakeStripe(objects), flow=flow,  # type: ignore[arg-type]
                         since=SINCE, chunk_size=chunk_size)


def test_chunks_are_written_by_the_writer_as_bulk_jobs(loaded, store) -> None:
    sf = FakeSalesforce({("Account", "StripeCustomerID__c"): {"cus_known0001": [ACCOUNT]}})
    charges = [charge(1, customer="cus_known0001"), charge(2), charge(3)]
    report = run(loaded, store, sf, charges, chunk_size=2)
    assert (report.listed, report.written, report.chunks, report.dead_lettered) == (3, 3, 2, 0)
    assert [(obj, ext, len(rows)) for obj, ext, rows in sf.jobs] == [
        ("Payment__c", "StripeChargeID__c", 2), ("Payment__c", "StripeChargeID__c", 1)]
    first = sf.jobs[0][2][0]
    assert first["StripeChargeID__c"] == "ch_backfill0001" and "Id" not in first
    assert first["Account__c"] == ACCOUNT  # looked up, as the runner does
    assert store.xref_get("Payment__c", "ch_backfill0002") is not None
    assert store.cursor_get(cursor_name("charge-to-payment", SINCE)) == DONE


def test_a_refused_record_is_dead_lettered_and_the_rest_written(loaded, store) -> None:
    sf = FakeSalesforce()
    refused = RecordOutcome(1, False, errors=[{"statusCode": "INVALID_FIELD",
                                               "message": "bad"}], failure=Failure.SKIPPABLE)
    sf.script = [[RecordOutcome(0, True, "a0B000000000001AAA", True), refused]]
    report = run(loaded, store, sf, [charge(1), charge(2)])
    assert (report.written, report.dead_lettered) == (1, 1)
    (entry,) = store.dlq_list()
    assert entry.source_id == "ch_backfill0002" and entry.error_code == "INVALID_FIELD"
    assert entry.payload["data"]["object"]["id"] == "ch_backfill0002"


def test_retriable_rows_go_into_one_more_job_then_are_dead_lettered(loaded, store,
                                                                   no_sleep) -> None:
    sf = FakeSalesforce()
    busy = RecordOutcome(0, False, errors=[{"statusCode": "UNABLE_TO_LOCK_ROW",
                                            "message": "locked"}], failure=Failure.RETRIABLE)
    sf.script = [[busy, RecordOutcome(1, True, "a0B000000000002AAA", True)], [busy]]
    report = run(loaded, store, sf, [charge(1), charge(2)])
    assert [len(rows) for _, _, rows in sf.jobs] == [2, 1]  # only the busy row again
    assert (report.written, report.dead_lettered) == (1, 1) and no_sleep == [1.0]


def test_a_failing_job_is_retried_then_stops_the_backfill_before_the_cursor(
        loaded, store, no_sleep) -> None:
    sf = FakeSalesforce()
    sf.script = [ConnectorError("busy", failure=Failure.RETRIABLE, status=503)] * 3
    with pytest.raises(ConnectorError, match="busy"):
        run(loaded, store, sf, [charge(1)])
    assert len(sf.jobs) == 3 and no_sleep == [1.0, 2.0]
    assert store.cursor_get(cursor_name("charge-to-payment", SINCE)) is None
    assert store.dlq_list() == []


def test_a_fatal_job_failure_stops_at_once(loaded, store) -> None:
    sf = FakeSalesforce()
    sf.script = [ConnectorError("bad login", failure=Failure.FATAL, status=401)]
    with pytest.raises(FatalSyncError, match="bad login"):
        run(loaded, store, sf, [charge(1)])
    assert len(sf.jobs) == 1


def test_dedup_on_is_decided_by_the_writer_as_in_the_runner(loaded, store) -> None:
    """customer-to-account dedups on Name: one match is linked by Id (a collections
    update), several are held for review, none is upserted by the external id."""
    sf = FakeSalesforce({("Account", "Name"): {"Solo Ltd": [ACCOUNT],
                                               "Twin Ltd": ["001000000000002AAA",
                                                            "001000000000003AAA"]}})
    customers = [customer(1, "Solo Ltd"), customer(2, "Twin Ltd"), customer(3, "New Ltd")]
    report = run(loaded, store, sf, customers, flow="customer-to-account")
    assert (report.written, report.review, report.dead_lettered) == (2, 1, 0)
    ((obj, linked),) = sf.updates
    assert obj == "Account" and linked[0]["Id"] == ACCOUNT
    assert [row["StripeCustomerID__c"] for _, _, rows in sf.jobs for row in rows] == [
        "cus_backfill0003"]
    (item,) = store.review_list()
    assert item.source_id == "cus_backfill0002" and len(item.candidates) == 2
    # Account is polled by account-to-customer: the backfill's writes are the runner's own.
    assert store.is_own_write("salesforce", ACCOUNT, PROCESSOR_MARK)


def test_bulk_upserts_send_other_kinds_as_collections_calls() -> None:
    sf = FakeSalesforce()
    transport = BulkUpserts(sf, sleep=lambda _: None)  # type: ignore[arg-type]
    assert transport.size_for("update") == 200
    answer = transport.send("update", "Account", None, [{"Id": ACCOUNT, "Name": "x"}])
    assert not isinstance(answer, ConnectorError) and answer[0].success
    assert sf.updates == [("Account", [{"Id": ACCOUNT, "Name": "x"}])] and sf.jobs == []
