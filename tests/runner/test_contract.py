"""The one contract check (runner.contract): what the start-up check and the drift monitor
both report; drift pauses only the affected flows."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mappings.bundle.manifest import flow_contract
from mappings.document.yamlio import load_document
from mappings.schema.org_metadata import load_org_describes, load_salesforce_catalog
from mappings.schema.stripe_catalog import load_stripe_catalog
from runner.app import DriftError, Runner
from runner.classify import Failure
from runner.config import load_config
from runner.connectors.errors import ConnectorError
from runner.connectors.salesforce import SalesforceConnector, SalesforceSettings
from runner.contract import (
    DriftFinding,
    check_contracts,
    check_org,
    contracts_of,
    describe_objects,
    expected_types,
    flows_to_pause,
)
from runner.finance.monitors import to_alert
from runner.finance.runtime import FinanceMonitor, FinanceSettings
from runner.pipeline.bundle_runtime import LoadedBundle
from runner.pipeline.sf_poller import SYSTEM_FIELDS, SalesforcePoller
from runner.sandbox.salesforce.metadata import load_metadata
from runner.sandbox.salesforce.server import start_emulator
from runner.state.store import StateStore
from tests.runner.pipeline.conftest import load_templates

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "mappings" / "templates"


def contracts(*names: str) -> list[dict]:
    result = []
    for name in names:
        doc = load_document(TEMPLATES / f"{name}.yaml")
        result += [flow_contract(f, doc) for f in doc.flows]
    return result


@pytest.fixture(scope="module")
def org() -> dict:
    return load_org_describes()


def drop_field(describes: dict, obj: str, name: str) -> dict:
    changed = copy.deepcopy(describes)
    changed[obj]["fields"] = [f for f in changed[obj]["fields"] if f["name"] != name]
    return changed


def test_the_shipped_org_has_no_drift(org: dict) -> None:
    flows = contracts("charges-payments", "disputes-fraud-cases", "customer-account")
    assert check_contracts(flows, org) == []


def test_a_dropped_field_pauses_only_its_flow(org: dict) -> None:
    flows = contracts("charges-payments", "disputes-fraud-cases", "customer-account")
    findings = check_contracts(flows, drop_field(org, "Payment__c", "Card_Brand__c"))
    assert findings == [DriftFinding("charge-to-payment", "Card_Brand__c", "missing",
                                     "Payment__c")]
    assert flows_to_pause(findings) == ["charge-to-payment"]
    assert findings[0].reason == "flow charge-to-payment: Payment__c.Card_Brand__c missing"


def test_a_field_of_a_shared_object_pauses_every_flow_writing_it(org: dict) -> None:
    flows = contracts("disputes-fraud-cases")
    findings = check_contracts(flows, drop_field(org, "Case", "Priority"))
    assert flows_to_pause(findings) == ["dispute-to-case", "fraud-warning-to-case"]


@pytest.mark.parametrize(("change", "problem"), [
    ({"type": "double"}, "type changed from currency to double"),
    ({"updateable": False, "createable": False}, "not writable"),
])
def test_type_change_and_read_only(org: dict, change: dict, problem: str) -> None:
    flows = contracts("charges-payments")
    changed = copy.deepcopy(org)
    for f in changed["Payment__c"]["fields"]:
        if f["name"] == "Amount__c":
            f.update(change)
    expected = expected_types(load_salesforce_catalog())
    findings = check_contracts(flows, changed, expected)
    assert [(f.field, f.problem) for f in findings] == [("Amount__c", problem)]


def test_missing_object_and_bad_contract(org: dict) -> None:
    flows = contracts("charges-payments")
    without = {k: v for k, v in org.items() if k != "Payment__c"}
    findings = check_contracts(flows, without)
    assert [(f.field, f.problem) for f in findings] == [("(object)", "object missing")]
    assert "object Payment__c is gone" in findings[0].reason
    with pytest.raises(ValueError, match="writes"):
        check_contracts([{"name": "x"}], org)


def test_stripe_target_flows_are_not_checked_against_salesforce(org: dict) -> None:
    flows = contracts("account-to-stripe-customer")
    assert check_contracts(flows, {}) == []


# -- drift on what Salesforce-triggered flows read -----------------------------------------

SF_TRIGGERED = ("account-to-stripe-customer", "opportunity-to-subscription")


def source_contracts(*names: str) -> list[dict]:
    docs = [load_document(TEMPLATES / f"{name}.yaml") for name in names]
    return contracts_of(LoadedBundle.from_documents(docs, load_salesforce_catalog(),
                                                    load_stripe_catalog()))


def change_field(describes: dict, obj: str, name: str, **change) -> dict:
    changed = copy.deepcopy(describes)
    for f in changed[obj]["fields"]:
        if f["name"] == name:
            f.update(change)
    return changed


def test_salesforce_triggered_contracts_list_the_poller_fields() -> None:
    by_name = {c["name"]: c for c in source_contracts(*SF_TRIGGERED, "charges-payments")}
    assert "reads" not in by_name["charge-to-payment"]  # a Stripe-triggered flow
    sub = by_name["closed-won-to-subscription"]
    assert sub["operation"]["writeback"] == "StripeSubscriptionID__c"
    # Exactly the fields the poller's SOQL selects.
    loaded = LoadedBundle.from_documents(
        [load_document(TEMPLATES / "opportunity-to-subscription.yaml")],
        load_salesforce_catalog(), load_stripe_catalog())
    poller = SalesforcePoller(loaded, None, None, None)  # type: ignore[arg-type]
    soql = poller.query_for(loaded.flow("closed-won-to-subscription"),
                            "2026-01-01T00:00:00.000Z", "")
    selected = soql.split("SELECT ", 1)[1].split(" FROM ", 1)[0].split(", ")
    assert sub["reads"] == selected
    assert set(SYSTEM_FIELDS) <= set(sub["reads"]) and "StripePriceID__c" in sub["reads"]


def test_the_shipped_org_has_no_drift_on_what_flows_read(org: dict) -> None:
    expected = expected_types(load_salesforce_catalog())
    assert check_contracts(source_contracts(*SF_TRIGGERED), org, expected) == []


def test_a_dropped_read_field_pauses_only_the_flow_reading_it(org: dict) -> None:
    flows = source_contracts(*SF_TRIGGERED, "charges-payments")
    findings = check_contracts(flows, drop_field(org, "Opportunity", "StripePriceID__c"))
    assert findings == [DriftFinding("closed-won-to-subscription", "StripePriceID__c",
                                     "missing", "Opportunity", "reads")]
    assert flows_to_pause(findings) == ["closed-won-to-subscription"]
    assert findings[0].reason == ("flow closed-won-to-subscription: "
                                  "Opportunity.StripePriceID__c, which the flow reads, missing")
    assert to_alert(findings[0]).rule == \
        "drift:closed-won-to-subscription:Opportunity.StripePriceID__c"


@pytest.mark.parametrize(("obj", "field", "change", "flow", "problem"), [
    ("Opportunity", "StripeSubscriptionID__c", None, "closed-won-to-subscription", "missing"),
    ("Account", "StripeCustomerID__c", {"updateable": False}, "account-to-customer",
     "not writable"),
    ("Opportunity", "StripeSubscriptionID__c", {"type": "double"},
     "closed-won-to-subscription", "type changed from string to double"),
])
def test_the_writeback_field_is_checked_once_as_such(org: dict, obj, field, change, flow,
                                                     problem) -> None:
    describes = drop_field(org, obj, field) if change is None \
        else change_field(org, obj, field, **change)
    findings = check_contracts(source_contracts(*SF_TRIGGERED), describes,
                           expected_types(load_salesforce_catalog()))
    assert [(f.flow, f.field, f.problem, f.role) for f in findings] == [
        (flow, field, problem, "writeback")]
    assert findings[0].reason == f"flow {flow}: the writeback field {obj}.{field} {problem}"


def test_read_field_type_change_and_lost_relationship(org: dict) -> None:
    flows = source_contracts(*SF_TRIGGERED)
    expected = expected_types(load_salesforce_catalog())
    changed = change_field(org, "Opportunity", "TotalOpportunityQuantity", type="string")
    findings = check_contracts(flows, changed, expected)
    assert [(f.flow, f.field, f.problem) for f in findings] == [
        ("closed-won-to-subscription", "TotalOpportunityQuantity",
         "type changed from double to string")]
    # closed-won-to-customer reads Account.Name through the AccountId relationship.
    findings = check_contracts(flows, drop_field(org, "Opportunity", "AccountId"), expected)
    assert sorted((f.field, f.problem) for f in findings) == [
        ("Account", "relationship missing"), ("AccountId", "missing")]
    assert flows_to_pause(findings) == ["closed-won-to-customer"]


def test_a_source_object_gone_pauses_its_flows_only(org: dict) -> None:
    flows = source_contracts(*SF_TRIGGERED)
    findings = check_contracts(flows, {k: v for k, v in org.items() if k != "Opportunity"})
    assert flows_to_pause(findings) == ["closed-won-to-customer", "closed-won-to-subscription"]
    assert {(f.field, f.role) for f in findings} == {("(object)", "reads")}


def test_a_malformed_reads_list_is_refused_by_name(org: dict) -> None:
    (flow, *_) = source_contracts("account-to-stripe-customer")
    with pytest.raises(ValueError, match="account-to-customer: 'reads' must be a list"):
        check_contracts([{**flow, "reads": "Name"}], org)
    with pytest.raises(ValueError, match="'reads' must be a list"):
        check_contracts([{**flow, "reads": ["Name", ""]}], org)


def test_describe_targets_describes_the_objects_flows_read() -> None:
    asked: list[str] = []

    class Org:
        def describe(self, obj: str) -> dict:
            asked.append(obj)
            return {"fields": []}

    flows = source_contracts(*SF_TRIGGERED, "charges-payments")
    assert sorted(describe_objects(Org(), flows)) == ["Account", "Opportunity", "Payment__c"]
    assert sorted(asked) == ["Account", "Opportunity", "Payment__c"]  # each once



@pytest.mark.slow
def test_drift_against_the_org_emulator_with_a_removed_field(tmp_path: Path) -> None:
    overlay = tmp_path / "drop.json"
    overlay.write_text(json.dumps({"formatVersion": 1,
                                   "removeFields": {"Payment__c": ["Card_Brand__c"]}}))
    handle = start_emulator(tmp_path / "sf", reset=True, metadata=[overlay])
    try:
        sf = SalesforceConnector(SalesforceSettings(
            login_url=handle.login_url, auth="jwt", username=handle.username,
            consumer_key=handle.consumer_key, private_key_file=handle.private_key_file,
            ca_file=handle.ca_file, api_version=handle.api_version, timeout=10))
        sf.connect()
        flows = contracts("charges-payments", "disputes-fraud-cases")
        findings = check_contracts(flows, describe_objects(sf, flows))
    finally:
        handle.stop()
    assert flows_to_pause(findings) == ["charge-to-payment"]
    assert [f.field for f in findings] == ["Card_Brand__c"]


@pytest.mark.slow
def test_drift_against_the_org_emulator_with_a_removed_read_field(tmp_path: Path) -> None:
    handle = start_emulator(tmp_path / "sf", reset=True, metadata=[
        {"removeFields": {"Opportunity": ["StripePriceID__c"]}}])
    try:
        sf = SalesforceConnector(SalesforceSettings(
            login_url=handle.login_url, auth="jwt", username=handle.username,
            consumer_key=handle.consumer_key, private_key_file=handle.private_key_file,
            ca_file=handle.ca_file, api_version=handle.api_version, timeout=10))
        sf.connect()
        flows = source_contracts(*SF_TRIGGERED, "charges-payments")
        findings = check_contracts(flows, describe_objects(sf, flows),
                               expected_types(load_salesforce_catalog()))
    finally:
        handle.stop()
    assert [(f.flow, f.field, f.problem, f.role) for f in findings] == [
        ("closed-won-to-subscription", "StripePriceID__c", "missing", "reads")]


# -- the start-up check and the drift monitor agree ----------------------------------------

class DescribeOnly:
    """Describes as the org has them, with drift applied."""

    def __init__(self, describes: dict[str, dict]) -> None:
        self.describes = describes

    def describe(self, obj: str) -> dict:
        if obj not in self.describes:
            raise ConnectorError(f"no {obj}", failure=Failure.SKIPPABLE, status=404,
                                 error_code="NOT_FOUND")
        return self.describes[obj]


def emulator_describes() -> dict[str, dict]:
    """The emulator's describes (shipped describes plus the Fieldbridge overlay)."""
    meta = load_metadata(())
    return {obj.name: copy.deepcopy(obj.describe) for obj in meta.objects.values()}


def drifted_org() -> dict[str, dict]:
    describes = emulator_describes()
    payment = describes["Payment__c"]
    payment["fields"] = [f for f in payment["fields"] if f["name"] != "Card_Brand__c"]
    for f in payment["fields"]:
        if f["name"] == "Amount_Refunded__c":
            f["createable"] = False
        if f["name"] == "Amount__c":
            f["type"] = "double"
    payment["fields"].append({"name": "Region__c", "type": "string", "nillable": False,
                              "createable": True, "defaultedOnCreate": False})
    del describes["Payout__c"]
    for f in describes["Opportunity"]["fields"]:
        if f["name"] == "StripeSubscriptionID__c":
            f["updateable"] = False
    return describes


@pytest.fixture(scope="module")
def templates() -> LoadedBundle:
    return load_templates()


def test_the_templates_hold_on_the_emulated_org(templates) -> None:
    assert check_org(templates, DescribeOnly(emulator_describes())) == []


def test_drift_of_every_kind_is_reported(templates) -> None:
    findings = check_org(templates, DescribeOnly(drifted_org()))
    assert sorted(f.reason for f in findings) == sorted([
        "flow charge-to-payment: Payment__c.Card_Brand__c missing",
        "flow charge-to-payment: Payment__c.Amount_Refunded__c not writable",
        "flow charge-to-payment: Payment__c.Amount__c type changed from currency to double",
        "flow charge-to-payment: Payment__c.Region__c is required by the org but the flow "
        "does not fill it",
        "flow payout-to-record: object Payout__c is gone from the org",
        "flow closed-won-to-subscription: the writeback field "
        "Opportunity.StripeSubscriptionID__c not writable",
        # The refunds and payment-intents templates write the same Payment__c.
        "flow charge-refunds-to-payment: Payment__c.Amount_Refunded__c not writable",
        "flow charge-refunds-to-payment: Payment__c.Amount__c type changed from currency to "
        "double",
        "flow charge-refunds-to-payment: Payment__c.Region__c is required by the org but the "
        "flow does not fill it",
        "flow payment-intent-to-payment: Payment__c.Amount__c type changed from currency to "
        "double",
        "flow payment-intent-to-payment: Payment__c.Region__c is required by the org but the "
        "flow does not fill it",
    ])


def test_names_are_compared_as_salesforce_does_in_any_case(templates) -> None:
    describes = emulator_describes()
    for body in describes.values():
        for f in body["fields"]:
            f["name"] = f["name"].upper()
    assert check_org(templates, DescribeOnly(describes)) == []


def test_start_up_and_the_drift_monitor_find_the_same_drift(templates, tmp_path) -> None:
    """One org, both paths: the runner refuses to start with exactly the findings that make
    the drift monitor pause those flows."""
    org = DescribeOnly(drifted_org())
    findings = check_org(templates, org)
    config = load_config(None, env={}, use_keyring=False,
                         overrides={"runner.listen": "127.0.0.1:0"})
    with StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}") as store:
        runner = Runner(templates, config, store, salesforce=org,  # type: ignore[arg-type]
                        stripe=None, webhook_secrets=["whsec_x"])  # type: ignore[arg-type]
        with pytest.raises(DriftError) as refused:
            runner.check()
        monitor = FinanceMonitor(FinanceSettings(drift_check_minutes=1), store,
                                 org, None, templates, clock=lambda: 0.0)  # type: ignore[arg-type]
        report = monitor.tick(now=61.0)
    assert refused.value.findings == findings
    assert refused.value.report == [f.reason for f in findings]
    assert report.paused == flows_to_pause(findings) == [
        "charge-refunds-to-payment", "charge-to-payment", "closed-won-to-subscription",
        "payment-intent-to-payment", "payout-to-record"]
    assert monitor.paused_reasons() == {
        flow: [f.reason for f in findings if f.flow == flow] for flow in report.paused}


def test_an_upsert_may_set_fields_fixed_at_creation_only_if_the_bundle_knew_them(
        templates) -> None:
    """price-to-pricebook-entry upserts PricebookEntry.Product2Id, which Salesforce fixes at
    creation: the writer leaves it out of updates, so the org holds. A field the bundle took
    for updateable and the org has since made read-only on update is still drift."""
    assert [f for f in check_org(templates, DescribeOnly(emulator_describes()))
            if f.flow == "price-to-pricebook-entry"] == []
    describes = emulator_describes()
    for f in describes["PricebookEntry"]["fields"]:
        if f["name"] == "IsActive":
            f["updateable"] = False
    assert [f.reason for f in check_org(templates, DescribeOnly(describes))] == [
        "flow price-to-pricebook-entry: PricebookEntry.IsActive not writable"]


def set_at_creation(describes: dict) -> dict[str, set[str]]:
    """What a bundle built on ``describes`` knows as fixed at creation (OrderItem.OrderId)."""
    return {obj: {f["name"].lower() for f in d["fields"]
                  if f.get("createable") and not f.get("updateable")}
            for obj, d in describes.items()}


def test_child_collections_are_checked_and_pause_their_parent_flow(org: dict) -> None:
    flows = contracts("invoices-orders", "refunds")
    fixed = set_at_creation(org)
    assert check_contracts(flows, org, None, fixed) == []
    # Without knowing OrderId is set only on creation, the child's upsert could not write it.
    assert ("OrderId", "not writable") in {(f.field, f.problem) for f in
                                           check_contracts(flows, org)}
    findings = check_contracts(flows, drop_field(org, "OrderItem", "StripeLineItemID__c"), None,
                               fixed)
    assert [(f.flow, f.field, f.problem) for f in findings] == [
        ("invoice-to-order-with-items", "StripeLineItemID__c", "missing")]
    assert findings[0].object == "OrderItem"
    gone = {k: v for k, v in org.items() if k != "Refund__c"}
    assert {(f.flow, f.object, f.problem) for f in check_contracts(flows, gone, None, fixed)} == {
        ("charge-refunds-to-payment", "Refund__c", "object missing"),
        ("refund-to-record", "Refund__c", "object missing")}


def test_describe_objects_includes_child_objects() -> None:
    class Describer:
        def __init__(self) -> None:
            self.asked: list[str] = []

        def describe(self, obj: str) -> dict:
            self.asked.append(obj)
            return {"fields": []}

    describer = Describer()
    describe_objects(describer, contracts("invoices-orders"))
    assert "OrderItem" in describer.asked and "Order" in describer.asked


def test_malformed_children_in_a_contract_are_refused_by_name(org: dict) -> None:
    flow = contracts("invoices-orders")[0]
    flow["children"] = [{"target": "salesforce:OrderItem"}]
    with pytest.raises(ValueError, match="invoice-to-order-with-items: 'children'"):
        check_contracts([flow], org)
