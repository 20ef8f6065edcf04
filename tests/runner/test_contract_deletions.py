"""A flow that marks deletions writes StripeDeletedAt__c: its contract says so, so an org
without the field is found at start-up (and by the drift monitor), not at the first
deletion."""

from __future__ import annotations

import copy
from pathlib import Path

from mappings.bundle.manifest import flow_contract
from mappings.document.model import DeletionPolicy
from mappings.document.yamlio import load_document
from mappings.engine.deletion import deletion_writes
from mappings.schema.org_metadata import load_org_describes
from runner.contract import DriftFinding, check_contracts, flows_to_pause

TEMPLATE = Path(__file__).resolve().parents[2] / "mappings/templates/customer-account.yaml"


def test_a_marking_flow_writes_the_mark_and_a_missing_field_pauses_it() -> None:
    doc = load_document(TEMPLATE)
    contracts = {f.name: flow_contract(f, doc) for f in doc.flows}
    assert contracts["customer-to-account"]["writes"][-1] == "StripeDeletedAt__c"
    assert "StripeDeletedAt__c" not in contracts["customer-to-contact"]["writes"]  # no deletion
    org = copy.deepcopy(load_org_describes())
    assert check_contracts(list(contracts.values()), org) == []
    org["Account"]["fields"] = [f for f in org["Account"]["fields"]
                                if f["name"] != "StripeDeletedAt__c"]
    findings = check_contracts(list(contracts.values()), org)
    assert findings == [DriftFinding("customer-to-account", "StripeDeletedAt__c", "missing",
                                     "Account")]
    assert flows_to_pause(findings) == ["customer-to-account"]


def test_only_marking_flows_with_a_deletion_trigger_write_the_mark() -> None:
    flow = load_document(TEMPLATE).flow("customer-to-account")
    assert flow is not None and deletion_writes(flow) == ["StripeDeletedAt__c"]
    for policy in (DeletionPolicy.DELETE, DeletionPolicy.IGNORE):
        flow.on_delete = policy
        assert deletion_writes(flow) == []
    flow.on_delete = DeletionPolicy.MARK
    flow.trigger.stripe_events = ["customer.created"]
    assert deletion_writes(flow) == []
