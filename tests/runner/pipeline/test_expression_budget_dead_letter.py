"""A record whose mapping expression runs away is dead-lettered with its issue and the
records after it are still mapped (issue 11, finding 1): the budget lives in the mapping
core, the runner's existing classification does the rest."""

from __future__ import annotations

import time
from typing import Any

from mappings.document.model import (
    Action,
    FieldMapping,
    Flow,
    MappingDocument,
    ObjectRef,
    Operation,
    TransformStep,
    Trigger,
)
from mappings.engine import compile_flow
from mappings.limits import EXPRESSION_TIMEOUT_MS
from mappings.schema.model import System
from runner.classify import Failure
from runner.pipeline.outcomes import TaskOutcome
from runner.pipeline.writer import SalesforceWriter, WriteItem

# Loops for ever only on the record whose description is "loop".
EXPR = "description = 'loop' ? ($f := function($x){ $f($x) }; $f(1)) : $uppercase(description)"


def test_a_runaway_record_is_dead_lettered_and_the_next_one_mapped() -> None:
    flow = Flow(
        name="charge-to-payment",
        trigger=Trigger(stripe_events=["charge.succeeded"]),
        source=ObjectRef(System.STRIPE, "charge"),
        target=ObjectRef(System.SALESFORCE, "Payment__c"),
        operation=Operation(Action.UPSERT, external_id="StripeChargeID__c"),
        fields=[
            FieldMapping("StripeChargeID__c", ["id"]),
            FieldMapping("Description__c", [], [TransformStep("jsonata", {"expr": EXPR})]),
        ],
    )
    plan = compile_flow(flow, MappingDocument("budget", [flow]))
    # Mapping touches neither Salesforce nor the ledger for a flow without lookups.
    unused: Any = object()
    writer = SalesforceWriter(unused, unused, resolver=lambda *a: None, transport=unused)
    items = [
        WriteItem({"id": f"ch_{i}", "description": d}, {}) for i, d in enumerate(["loop", "ok"])
    ]
    started = time.monotonic()
    ready = writer.map(flow, plan, items)
    assert time.monotonic() - started < 10 * EXPRESSION_TIMEOUT_MS / 1000
    looping, fine = items
    assert looping.outcome is TaskOutcome.DEAD_LETTERED
    assert looping.failure is Failure.SKIPPABLE
    assert looping.error_code == "EXPRESSION_TIMEOUT"
    assert "Description__c" in (looping.error or "") and "ms" in (looping.error or "")
    assert ready == [fine] and fine.record == {"StripeChargeID__c": "ch_1", "Description__c": "OK"}
