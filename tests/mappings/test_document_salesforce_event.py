"""The ``salesforce_event`` trigger kind: read, written back the same, refused when wrong."""

from __future__ import annotations

import pytest

from mappings.document.yamlio import dump_document, load_document
from mappings.errors import DocumentError

DOC = """\
format: 1
name: won
flows:
  - name: won-to-customer
    trigger:
{trigger}
    source: {{system: salesforce, object: Opportunity}}
    target: {{system: stripe, object: customer}}
    operation: {{action: create, writeback: StripeCustomerID__c}}
    fields:
      - {{target: name, source: Name}}
"""


def _doc(trigger: str) -> str:
    return DOC.format(trigger="\n".join("      " + line for line in trigger.splitlines()))


def test_event_alone_round_trips() -> None:
    doc = load_document(_doc("salesforce_event: {event: Opportunity_Closed_Won__e}"))
    trigger = doc.flows[0].trigger
    assert trigger.kind == "salesforce_event" and trigger.from_salesforce
    assert trigger.salesforce_change is None
    assert trigger.salesforce_event is not None
    assert trigger.salesforce_event.record_id_field("Opportunity") == "OpportunityId__c"
    assert load_document(dump_document(doc)) == doc


def test_event_with_change_as_the_polling_fallback() -> None:
    doc = load_document(_doc(
        "salesforce_event: {event: Opportunity_Closed_Won__e, record_id: OppId__c}\n"
        "salesforce_change: {object: Opportunity, field: StageName, becomes: Closed Won}"))
    trigger = doc.flows[0].trigger
    assert trigger.salesforce_change is not None and trigger.salesforce_event is not None
    assert trigger.salesforce_event.record_id_field("Opportunity") == "OppId__c"
    assert load_document(dump_document(doc)) == doc


@pytest.mark.parametrize(("trigger", "message"), [
    ("salesforce_event: {event: Opportunity_Closed_Won}", "ends in '__e'"),
    ("salesforce_event: {event: Opportunity_Closed_Won__e}\nstripe_events: [charge.succeeded]",
     "not both"),
    ("salesforce_event: {}", "event"),
])
def test_wrong_event_triggers_are_one_sentence(trigger: str, message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        load_document(_doc(trigger))
