"""Monitors: contract drift pauses only the affected flows; volume, null rate, cursor age."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings.bundle.manifest import flow_contract
from mappings.document.yamlio import load_document
from mappings.schema.org_metadata import load_org_describes, load_salesforce_catalog
from runner.finance.monitors import (
    DriftFinding,
    MonitorFinding,
    NullRateMonitor,
    VolumeMonitor,
    check_cursor,
    check_drift,
    describe_targets,
    expected_types,
    flows_to_pause,
    to_alert,
)
from runner.state.store import StateStore
from runner.state.testing import memory_store

ROOT = Path(__file__).resolve().parents[3]
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
    assert check_drift(flows, org) == []


def test_a_dropped_field_pauses_only_its_flow(org: dict) -> None:
    flows = contracts("charges-payments", "disputes-fraud-cases", "customer-account")
    findings = check_drift(flows, drop_field(org, "Payment__c", "Card_Brand__c"))
    assert findings == [DriftFinding("charge-to-payment", "Card_Brand__c", "missing",
                                     "Payment__c")]
    assert flows_to_pause(findings) == ["charge-to-payment"]
    assert findings[0].reason == "flow charge-to-payment: Payment__c.Card_Brand__c missing"


def test_a_field_of_a_shared_object_pauses_every_flow_writing_it(org: dict) -> None:
    flows = contracts("disputes-fraud-cases")
    findings = check_drift(flows, drop_field(org, "Case", "Priority"))
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
    findings = check_drift(flows, changed, expected)
    assert [(f.field, f.problem) for f in findings] == [("Amount__c", problem)]


def test_missing_object_and_bad_contract(org: dict) -> None:
    flows = contracts("charges-payments")
    without = {k: v for k, v in org.items() if k != "Payment__c"}
    findings = check_drift(flows, without)
    assert [(f.field, f.problem) for f in findings] == [("(object)", "object missing")]
    assert "object Payment__c is gone" in findings[0].reason
    with pytest.raises(ValueError, match="writes"):
        check_drift([{"name": "x"}], org)


def test_stripe_target_flows_are_not_checked_against_salesforce(org: dict) -> None:
    flows = contracts("account-to-stripe-customer")
    assert check_drift(flows, {}) == []


# -- drift on what Salesforce-triggered flows read -----------------------------------------

SF_TRIGGERED = ("account-to-stripe-customer", "opportunity-to-subscription")


def source_contracts(*names: str) -> list[dict]:
    from mappings.schema.stripe_catalog import load_stripe_catalog
    from runner.finance.runtime import drift_contracts
    from runner.pipeline.bundle_runtime import LoadedBundle

    docs = [load_document(TEMPLATES / f"{name}.yaml") for name in names]
    return drift_contracts(LoadedBundle.from_documents(docs, load_salesforce_catalog(),
                                                      load_stripe_catalog()))


def change_field(describes: dict, obj: str, name: str, **change) -> dict:
    changed = copy.deepcopy(describes)
    for f in changed[obj]["fields"]:
        if f["name"] == name:
            f.update(change)
    return changed


def test_salesforce_triggered_contracts_list_the_poller_fields() -> None:
    from mappings.schema.stripe_catalog import load_stripe_catalog
    from runner.pipeline.bundle_runtime import LoadedBundle
    from runner.pipeline.sf_poller import SYSTEM_FIELDS, SalesforcePoller

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
    assert check_drift(source_contracts(*SF_TRIGGERED), org, expected) == []


def test_a_dropped_read_field_pauses_only_the_flow_reading_it(org: dict) -> None:
    flows = source_contracts(*SF_TRIGGERED, "charges-payments")
    findings = check_drift(flows, drop_field(org, "Opportunity", "StripePriceID__c"))
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
    findings = check_drift(source_contracts(*SF_TRIGGERED), describes,
                           expected_types(load_salesforce_catalog()))
    assert [(f.flow, f.field, f.problem, f.role) for f in findings] == [
        (flow, field, problem, "writeback")]
    assert findings[0].reason == f"flow {flow}: the writeback field {obj}.{field} {problem}"


def test_read_field_type_change_and_lost_relationship(org: dict) -> None:
    flows = source_contracts(*SF_TRIGGERED)
    expected = expected_types(load_salesforce_catalog())
    changed = change_field(org, "Opportunity", "TotalOpportunityQuantity", type="string")
    findings = check_drift(flows, changed, expected)
    assert [(f.flow, f.field, f.problem) for f in findings] == [
        ("closed-won-to-subscription", "TotalOpportunityQuantity",
         "type changed from double to string")]
    # closed-won-to-customer reads Account.Name through the AccountId relationship.
    findings = check_drift(flows, drop_field(org, "Opportunity", "AccountId"), expected)
    assert sorted((f.field, f.problem) for f in findings) == [
        ("Account", "relationship missing"), ("AccountId", "missing")]
    assert flows_to_pause(findings) == ["closed-won-to-customer"]


def test_a_source_object_gone_pauses_its_flows_only(org: dict) -> None:
    flows = source_contracts(*SF_TRIGGERED)
    findings = check_drift(flows, {k: v for k, v in org.items() if k != "Opportunity"})
    assert flows_to_pause(findings) == ["closed-won-to-customer", "closed-won-to-subscription"]
    assert {(f.field, f.role) for f in findings} == {("(object)", "reads")}


def test_a_malformed_reads_list_is_refused_by_name(org: dict) -> None:
    (flow, *_) = source_contracts("account-to-stripe-customer")
    with pytest.raises(ValueError, match="account-to-customer: 'reads' must be a list"):
        check_drift([{**flow, "reads": "Name"}], org)
    with pytest.raises(ValueError, match="'reads' must be a list"):
        check_drift([{**flow, "reads": ["Name", ""]}], org)


def test_describe_targets_describes_the_objects_flows_read() -> None:
    asked: list[str] = []

    class Org:
        def describe(self, obj: str) -> dict:
            asked.append(obj)
            return {"fields": []}

    flows = source_contracts(*SF_TRIGGERED, "charges-payments")
    assert sorted(describe_targets(Org(), flows)) == ["Account", "Opportunity", "Payment__c"]
    assert sorted(asked) == ["Account", "Opportunity", "Payment__c"]  # each once


def test_drift_alert_names_the_flow() -> None:
    alert = to_alert(DriftFinding("charge-to-payment", "Card_Brand__c", "missing",
                                  "Payment__c"))
    assert alert.rule == "drift:charge-to-payment:Payment__c.Card_Brand__c"
    assert "paused flow charge-to-payment" in alert.title


def test_volume_monitor_alerts_on_a_silent_flow() -> None:
    mon = VolumeMonitor({"charge-to-payment": 5, "customer-to-account": 1}, period=3600, now=0)
    assert mon.check(now=100) == []  # a full period has not passed yet
    for k in range(6):
        mon.record("charge-to-payment", now=3000 + k)
    mon.record("customer-to-account", now=3500)
    assert mon.check(now=3700) == []
    found = mon.check(now=7300)
    assert {f.flow: f.severity for f in found} == {"charge-to-payment": "critical",
                                                   "customer-to-account": "critical"}
    assert "flow charge-to-payment went silent: 0 records in the last 1 hour " \
        "(expected at least 5)" in [f.reason for f in found]
    mon.record("charge-to-payment", 2, now=7400)
    low = [f for f in mon.check(now=7500) if f.flow == "charge-to-payment"]
    assert low[0].severity == "warning" and "2 records" in low[0].reason


def test_volume_monitor_bad_settings() -> None:
    with pytest.raises(ValueError, match="period"):
        VolumeMonitor(1, period=0)
    with pytest.raises(ValueError, match=">= 0"):
        VolumeMonitor({"a": -1}, period=60)


def test_null_rate_jump_is_reported_once() -> None:
    mon = NullRateMonitor(window=50, baseline=500, min_baseline=100)
    findings: list[MonitorFinding] = []
    for i in range(500):  # 2% null
        findings += mon.observe("charge-to-payment",
                                {"Amount__c": None if i % 50 == 0 else 10, "Name": "x"})
    assert findings == []
    for _ in range(60):  # the source field vanished
        findings += mon.observe("charge-to-payment", {"Amount__c": None, "Name": "x"})
    assert len(findings) == 1
    f = findings[0]
    assert (f.flow, f.field, f.monitor) == ("charge-to-payment", "Amount__c", "null_rate")
    # reported as soon as the rate is 50 points above the baseline: 27 of 50 nulls
    assert "is null in 54% of the last 50 records, against 2% in the 477 before" in f.reason


def test_null_rate_quiet_for_fields_that_are_often_null() -> None:
    mon = NullRateMonitor(window=20, baseline=200, min_baseline=50)
    out = []
    for i in range(400):
        out += mon.observe("f", {"Fax": None if i % 2 else "1"}, ["Fax"])
    assert out == []


class _RecomputedNulls:
    """NullRateMonitor's decisions recomputed from each field's whole history every time."""

    def __init__(self, window: int, baseline: int, min_baseline: int,
                 min_increase: float) -> None:
        self.window, self.baseline = window, baseline
        self.min_baseline, self.min_increase = min(min_baseline, baseline), min_increase
        self.history: dict[tuple[str, str], list[bool]] = {}
        self.alerting: dict[tuple[str, str], bool] = {}

    def observe(self, flow: str, record: dict, fields: list[str] | None) -> list[tuple]:
        out = []
        for name in fields if fields is not None else record.keys():
            key = (flow, name)
            seen = self.history.setdefault(key, [])
            seen.append(record.get(name) is None or record.get(name) == "")
            recent = seen[-self.window:]
            before = seen[:-self.window][-self.baseline:] if len(seen) > self.window else []
            if len(before) < self.min_baseline or len(recent) < self.window:
                continue
            base, now = sum(before) / len(before), sum(recent) / len(recent)
            if now - base < self.min_increase:
                self.alerting[key] = False
            elif not self.alerting.get(key):
                self.alerting[key] = True
                out.append((flow, name, f"flow {flow}: field {name} is null in {now:.0%} of "
                            f"the last {len(recent)} records, against {base:.0%} in the "
                            f"{len(before)} before"))
        return out


_VALUE = st.sampled_from([None, "", 0, "x", 12.5])
_RECORD = st.tuples(
    st.sampled_from(["flow-a", "flow-b"]),
    st.dictionaries(st.sampled_from(["Amount__c", "Email__c", "Name"]), _VALUE),
    st.one_of(st.none(), st.lists(st.sampled_from(["Amount__c", "Email__c", "Name"]),
                                  unique=True)),
)


@settings(max_examples=150, deadline=None)
@given(window=st.integers(1, 8), baseline=st.integers(1, 12), min_baseline=st.integers(1, 12),
       min_increase=st.sampled_from([0.1, 0.25, 0.5, 0.75, 1.0]),
       stream=st.lists(st.one_of(
           _RECORD,
           # runs of one flow with a field going null: the episodes the monitor is for
           st.tuples(st.just("flow-a"), st.fixed_dictionaries({"Amount__c": _VALUE}),
                     st.just(["Amount__c"]))), max_size=300))
def test_null_rate_running_counts_decide_as_a_recomputation(window, baseline, min_baseline,
                                                           min_increase, stream) -> None:
    mon = NullRateMonitor(window, baseline, min_baseline=min_baseline,
                          min_increase=min_increase)
    ref = _RecomputedNulls(window, baseline, min_baseline, min_increase)
    for flow, record, fields in stream:
        found = mon.observe(flow, record, fields)
        expected = ref.observe(flow, record, fields)
        assert [(f.flow, f.field) for f in found] == [(e[0], e[1]) for e in expected]
        for finding, (_flow, _field, reason) in zip(found, expected, strict=True):
            assert finding.reason.startswith(reason)


def test_null_rate_recomputation_sees_the_planted_jump() -> None:
    """The reference the property test compares with does find a jump (it is not vacuous)."""
    ref = _RecomputedNulls(10, 20, 20, 0.5)
    found = []
    for i in range(40):
        found += ref.observe("f", {"A": None if i >= 30 else 1}, None)
    assert [(f, n) for f, n, _ in found] == [("f", "A")]
    assert "null in 50% of the last 10 records, against 0% in the 20 before" in found[0][2]


def _store_with_cursors(values: dict[str, str]) -> StateStore:
    store = memory_store()
    for name, value in values.items():
        store.cursor_set(name, value)
    return store


@pytest.mark.parametrize(("age_days", "severity", "text"), [
    (None, None, None), (3, None, None),
    (22, "warning", "8.0 days before Stripe drops"),
    (28, "critical", "2.0 days before"),
    (31, "critical", "run a backfill"),
])
def test_cursor_health(age_days, severity, text) -> None:
    now = 1_800_000_000.0
    values = {} if age_days is None else {
        "stripe.last_event_id": "evt_1",
        "stripe.last_event_id.created": str(now - age_days * 86_400)}
    found = check_cursor(_store_with_cursors(values), now=now)
    if severity is None:
        assert found is None
    else:
        assert found is not None and found.severity == severity and text in found.reason


def test_cursor_bad_thresholds() -> None:
    with pytest.raises(ValueError, match="warn_days"):
        check_cursor(_store_with_cursors({}), warn_days=29, critical_days=10)


@pytest.mark.slow
def test_drift_against_the_org_emulator_with_a_removed_field(tmp_path: Path) -> None:
    from runner.connectors.salesforce import SalesforceConnector, SalesforceSettings
    from runner.sandbox.salesforce.server import start_emulator

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
        findings = check_drift(flows, describe_targets(sf, flows))
    finally:
        handle.stop()
    assert flows_to_pause(findings) == ["charge-to-payment"]
    assert [f.field for f in findings] == ["Card_Brand__c"]


@pytest.mark.slow
def test_drift_against_the_org_emulator_with_a_removed_read_field(tmp_path: Path) -> None:
    from runner.connectors.salesforce import SalesforceConnector, SalesforceSettings
    from runner.sandbox.salesforce.server import start_emulator

    handle = start_emulator(tmp_path / "sf", reset=True, metadata=[
        {"removeFields": {"Opportunity": ["StripePriceID__c"]}}])
    try:
        sf = SalesforceConnector(SalesforceSettings(
            login_url=handle.login_url, auth="jwt", username=handle.username,
            consumer_key=handle.consumer_key, private_key_file=handle.private_key_file,
            ca_file=handle.ca_file, api_version=handle.api_version, timeout=10))
        sf.connect()
        flows = source_contracts(*SF_TRIGGERED, "charges-payments")
        findings = check_drift(flows, describe_targets(sf, flows),
                               expected_types(load_salesforce_catalog()))
    finally:
        handle.stop()
    assert [(f.flow, f.field, f.problem, f.role) for f in findings] == [
        ("closed-won-to-subscription", "StripePriceID__c", "missing", "reads")]
