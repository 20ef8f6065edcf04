"""The studio's test run and the runner take the same write path (one ``SalesforceWriter``).

Both are run on the same customers against a recording org double: the writes they send
(kind, object, key, body), the dedup decisions and the records held for review must match.
No sandbox and no Qt: the services module is plain Python.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from app.services.testrun import dry_run, real_run
from mappings.document.yamlio import load_documents
from mappings.schema.org_metadata import load_salesforce_catalog
from mappings.schema.stripe_catalog import load_stripe_catalog
from runner.connectors.errors import RecordOutcome
from runner.pipeline.bundle_runtime import LoadedBundle
from runner.pipeline.processor import Processor
from runner.salesforce_ids import to_18
from runner.sandbox.stripe_events import make_event
from runner.state.store import StateStore

TEMPLATES = Path(__file__).resolve().parents[2] / "mappings" / "templates"
FLOW = "customer-to-contact"  # upsert by StripeCustomerID__c, dedup_on Email
KNOWN, SOLO, TWIN1, TWIN2 = (to_18(f"0030000000000{n:02d}") for n in (1, 2, 3, 4))


class RecordingOrg:
    """Answers ``find_ids`` from a table and records every write it is sent."""

    def __init__(self, rows: dict[tuple[str, str], dict[str, list[str]]]) -> None:
        self.rows = rows
        self.writes: list[tuple[str, str, str | None, list[dict[str, Any]]]] = []
        self.api_calls = 0
        self._next = 0

    def find_ids(self, obj: str, field: str, values: Any) -> dict[Any, list[str]]:
        self.api_calls += 1
        table = {k.casefold(): ids for k, ids in self.rows.get((obj, field), {}).items()}
        return {v: list(table.get(str(v).casefold(), [])) for v in values}

    def _answer(self, kind: str, obj: str, key: str | None,
                records: Any) -> list[RecordOutcome]:
        self.api_calls += 1
        self.writes.append((kind, obj, key, copy.deepcopy(list(records))))
        out = []
        for i, record in enumerate(records):
            found = self.rows.get((obj, key or ""), {}).get(record.get(key or ""), [])
            sf_id = record.get("Id") or (found[0] if found else None)
            if sf_id is None:
                self._next += 1
                sf_id = to_18(f"003000000001{self._next:03d}")
            out.append(RecordOutcome(i, True, sf_id, created=sf_id not in (
                record.get("Id"), *found)))
        return out

    def upsert_many(self, obj: str, key: str, records: Any) -> list[RecordOutcome]:
        return self._answer("upsert", obj, key, records)

    def insert_many(self, obj: str, records: Any) -> list[RecordOutcome]:
        return self._answer("insert", obj, None, records)

    def update_many(self, obj: str, records: Any) -> list[RecordOutcome]:
        return self._answer("update", obj, None, records)


def org() -> RecordingOrg:
    return RecordingOrg({
        ("Contact", "StripeCustomerID__c"): {"cus_known0000001": [KNOWN]},
        ("Contact", "Email"): {"solo@example.com": [SOLO],
                               "twins@example.com": [TWIN1, TWIN2]},
    })


def customers() -> list[dict[str, Any]]:
    people = [("cus_known0000001", "Known Person", "known@example.com"),  # existing
              ("cus_solo00000001", "Solo Person", "SOLO@example.com"),  # link by Email
              ("cus_twins0000001", "Twin Person", "twins@example.com"),  # review
              ("cus_fresh0000001", "Fresh Person", "fresh@example.com"),  # create
              ("cus_noemail00001", "No Email", None)]  # skipped by the flow's condition
    return [make_event("customer.created",
                       overrides={"id": cid, "name": name, "email": email})["data"]["object"]
            for cid, name, email in people]


@pytest.fixture
def documents() -> list[Any]:
    return [doc for _, doc in load_documents(TEMPLATES)]


def _flow_and_document(documents: list[Any]) -> tuple[Any, Any]:
    for doc in documents:
        for flow in doc.flows:
            if flow.name == FLOW:
                return flow, doc
    raise AssertionError(f"no template flow {FLOW}")


def contact_schema() -> Any:
    return load_salesforce_catalog().get("Contact")


def _runner_writes(documents: list[Any], objects: list[dict[str, Any]],
                   tmp_path: Path) -> tuple[RecordingOrg, dict[str, str], list[Any]]:
    flow, doc = _flow_and_document(documents)
    bundle = LoadedBundle.from_documents([doc], load_salesforce_catalog(),
                                         load_stripe_catalog()).without(
        frozenset(n for n in (f.name for f in doc.flows) if n != FLOW))
    sf = org()
    with StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}") as store:
        for obj in objects:
            store.add_event(make_event("customer.created", obj), source="test")
        claimed = store.claim_events("test-worker", limit=100)
        processor = Processor(bundle, store, sf, None)  # type: ignore[arg-type]
        report = processor.process_events(claimed)
        reviews = store.review_list()
    by_source = {ev.payload["data"]["object"]["id"]: report.outcomes[ev.event_id]
                 for ev in claimed}
    return sf, by_source, reviews


def test_test_run_and_runner_send_the_same_writes(documents, tmp_path) -> None:
    flow, doc = _flow_and_document(documents)
    objects = customers()
    runner_org, runner_outcomes, reviews = _runner_writes(documents, objects, tmp_path)

    studio_org = org()
    report = real_run(flow, doc, contact_schema(), objects, studio_org)  # type: ignore[arg-type]

    assert studio_org.writes == runner_org.writes
    kinds = [(kind, key) for kind, _obj, key, _records in runner_org.writes]
    assert kinds == [("update", None), ("upsert", "StripeCustomerID__c")]  # link, then upsert
    [link] = runner_org.writes[0][3]
    assert link["Id"] == SOLO
    assert link["StripeCustomerID__c"] == "cus_solo00000001"  # the link is made by the write

    studio = {r.source_id: r.outcome for r in report.results}
    assert studio == {"cus_known0000001": "update", "cus_solo00000001": "update",
                      "cus_twins0000001": "review", "cus_fresh0000001": "create",
                      "cus_noemail00001": "skip"}
    assert runner_outcomes == {"cus_known0000001": "done", "cus_solo00000001": "done",
                               "cus_twins0000001": "review", "cus_fresh0000001": "done",
                               "cus_noemail00001": "skipped"}
    [held] = reviews
    assert held.source_id == "cus_twins0000001"
    review = next(r for r in report.results if r.outcome == "review")
    assert TWIN1 in review.message and TWIN2 in review.message


def test_dry_run_predicts_the_runners_dedup_decisions_and_writes_nothing(documents) -> None:
    flow, doc = _flow_and_document(documents)
    sf = org()
    report = dry_run(flow, doc, contact_schema(), customers(), sf)  # type: ignore[arg-type]
    assert sf.writes == []
    by_source = {r.source_id: (r.action, r.salesforce_id) for r in report.results}
    assert by_source == {
        "cus_known0000001": ("would update", KNOWN),
        "cus_solo00000001": ("would update", SOLO),
        "cus_twins0000001": ("would need review", None),
        "cus_fresh0000001": ("would create", None),
        "cus_noemail00001": ("skipped", None),
    }
    assert report.summary == "1 would create, 2 would update, 0 would fail, " \
        "1 would need review, 1 skipped"
