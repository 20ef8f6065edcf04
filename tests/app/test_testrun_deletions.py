"""The studio's test run of a deletion sample takes the runner's deletion path: the dry run
says what the flow's on_delete would do, the real run does it (no Qt, an org double)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.services.testrun import dry_run, real_run
from mappings.document.model import DeletionPolicy
from mappings.document.yamlio import load_document
from mappings.schema.org_metadata import load_salesforce_catalog
from runner.connectors.errors import RecordOutcome

TEMPLATE = Path(__file__).resolve().parents[2] / "mappings/templates/customer-account.yaml"
ACCOUNT = "001000000000001AAA"


class Org:
    def __init__(self) -> None:
        self.writes: list[tuple[str, str, list[Any]]] = []
        self.api_calls = 0

    def find_ids(self, obj: str, field: str, values: Any) -> dict[Any, list[str]]:
        return {v: [ACCOUNT] if v == "cus_gone" else [] for v in values}

    def update_many(self, obj: str, records: Any) -> list[RecordOutcome]:
        self.writes.append(("update", obj, list(records)))
        return [RecordOutcome(i, True, r["Id"]) for i, r in enumerate(records)]

    def delete_many(self, obj: str, ids: Any) -> list[RecordOutcome]:
        self.writes.append(("delete", obj, list(ids)))
        return [RecordOutcome(i, True, rid) for i, rid in enumerate(ids)]


def deleted(customer: str) -> dict[str, Any]:
    return {"id": f"evt_{customer}", "object": "event", "type": "customer.deleted",
            "created": 1767225600, "data": {"object": {"id": customer, "object": "customer",
                                                       "name": "Gone Co"}}}


def flow_and_doc(policy: DeletionPolicy) -> tuple[Any, Any]:
    doc = load_document(TEMPLATE)
    flow = doc.flow("customer-to-account")
    assert flow is not None
    flow.on_delete = policy
    return flow, doc


def test_dry_run_says_what_the_mark_would_do_and_writes_nothing() -> None:
    flow, doc = flow_and_doc(DeletionPolicy.MARK)
    sf = Org()
    report = dry_run(flow, doc, load_salesforce_catalog().get("Account"),
                     [deleted("cus_gone"), deleted("cus_never")], sf)  # type: ignore[arg-type]
    assert sf.writes == []
    marked, missing = report.results
    assert (marked.action, marked.salesforce_id) == ("would update", ACCOUNT)
    assert marked.message == ("customer.deleted: would mark the Account with "
                              "StripeCustomerID__c = cus_gone deleted (StripeDeletedAt__c = "
                              "2026-01-01T00:00:00.000+0000)")
    assert marked.record["StripeDeletedAt__c"] == "2026-01-01T00:00:00.000+0000"
    assert missing.action == "skipped"
    assert missing.message == ("customer.deleted: no Account with StripeCustomerID__c = "
                               "cus_never to mark; nothing written")


def test_delete_policy_dry_and_real() -> None:
    flow, doc = flow_and_doc(DeletionPolicy.DELETE)
    schema = load_salesforce_catalog().get("Account")
    sf = Org()
    dry = dry_run(flow, doc, schema, [deleted("cus_gone")], sf)  # type: ignore[arg-type]
    assert [r.action for r in dry.results] == ["would delete"]
    assert dry.summary == "0 would create, 0 would update, 0 would fail, 1 would delete"
    real = real_run(flow, doc, schema, [deleted("cus_gone")], sf)  # type: ignore[arg-type]
    assert sf.writes == [("delete", "Account", [ACCOUNT])]
    assert [(r.action, r.salesforce_id) for r in real.results] == [("deleted", ACCOUNT)]
