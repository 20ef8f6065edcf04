"""An update flow keyed on Id (a payment's metadata names its Opportunity): the writer plans
the update from the record's own Id without a query, and a value that is no Salesforce Id is
dead-lettered with one sentence."""

from __future__ import annotations

from typing import Any

from mappings.document.yamlio import load_document
from mappings.engine import compile_flow
from runner.classify import Failure
from runner.pipeline.outcomes import TaskOutcome
from runner.pipeline.writer import SalesforceWriter, WriteItem
from runner.salesforce_ids import to_18
from tests.runner.e2e.helpers import TEMPLATES

OPPORTUNITY_15 = "0065g00000AbCdE"


class _NoQueries:
    def find_ids(self, *args: Any) -> dict:
        raise AssertionError("an update by Id needs no query")

    def xref_get_many(self, *args: Any) -> dict:
        raise AssertionError("an update by Id needs no cross reference")


def _paid(metadata: dict[str, str]) -> dict[str, Any]:
    return {"id": "evt_1", "object": "event", "type": "payment_intent.succeeded",
            "data": {"object": {"id": "pi_1", "object": "payment_intent", "status": "succeeded",
                                "metadata": metadata}}}


def test_an_update_by_id_is_planned_from_the_record_without_a_query() -> None:
    doc = load_document(TEMPLATES / "payment-intents.yaml")
    flow = doc.flow("payment-intent-to-opportunity")
    assert flow is not None
    plan = compile_flow(flow, doc)
    nothing = _NoQueries()
    writer = SalesforceWriter(nothing, nothing, resolver=lambda *a: None,  # type: ignore[arg-type]
                              transport=nothing)  # type: ignore[arg-type]
    good = WriteItem(_paid({"opportunity_id": OPPORTUNITY_15}), {})
    bad = WriteItem(_paid({"opportunity_id": "006not-an-id"}), {})
    groups = writer.decide(flow, writer.map(flow, plan, [good, bad]))
    assert groups == [[good]]
    assert good.write is not None and good.write.kind == "update"
    assert good.write.sf_id == to_18(OPPORTUNITY_15)
    assert good.body() == {"Id": to_18(OPPORTUNITY_15), "StageName": "Closed Won"}
    assert bad.outcome is TaskOutcome.DEAD_LETTERED and bad.failure is Failure.SKIPPABLE
    assert bad.error_code == "MALFORMED_ID"
    assert bad.error == ("'006not-an-id' is not a Salesforce Id, so no Opportunity can be "
                         "updated by it")
