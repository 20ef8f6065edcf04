"""Planted anomalies become ``fieldbridge.anomaly`` events that the anomaly-cases template
maps to Cases (the live path, :class:`FinanceMonitor`), once per flag, with the reason."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mappings.document.yamlio import load_document
from mappings.schema.org_metadata import load_salesforce_catalog
from mappings.schema.stripe_catalog import load_stripe_catalog
from runner.connectors.salesforce import SalesforceConnector, SalesforceSettings
from runner.finance.anomaly import AnomalyDetector, Flag, PaymentObservation
from runner.finance.anomaly_cases import (
    EVENT_TYPE,
    RULE_TITLES,
    case_key,
    flag_alert,
    flag_event,
)
from runner.finance.runtime import CASE_FLOW, CASE_TEMPLATE, FinanceMonitor, FinanceSettings
from runner.pipeline.bundle_runtime import LoadedBundle
from runner.pipeline.processor import ProcessedRecord
from runner.sandbox.salesforce.server import start_emulator
from runner.state.store import StateStore

T0 = 1_767_225_600
ACCOUNT = "001000000000001AAA"


def planted_flags() -> list[Flag]:
    det = AnomalyDetector()
    flags = []
    for i in range(12):
        flags += det.observe(PaymentObservation(f"ch_{i}", "cus_acme", Decimal("30.00"), "usd",
                                                T0 + i * 3600))
    flags += det.observe(PaymentObservation("ch_big", "cus_acme", Decimal("1446.00"), "usd",
                                            T0 + 20 * 3600))
    flags += det.observe(PaymentObservation("issfr_1", None, Decimal("30.00"), "usd",
                                            T0 + 21 * 3600, kind="efw", charge="ch_3"))
    return flags


def planted_events() -> list[dict[str, Any]]:
    """The Stripe events of :func:`planted_flags`' stream, as the processor hands them on."""
    events = [{"id": f"evt_{i}", "object": "event", "type": "charge.succeeded", "created": T0 + i * 3600,
               "data": {"object": {"id": f"ch_{i}", "object": "charge", "amount": 3000,
                                   "currency": "usd", "customer": "cus_acme",
                                   "created": T0 + i * 3600, "refunded": False}}}
              for i in range(12)]
    events.append({"id": "evt_big", "object": "event", "type": "charge.succeeded", "created": T0 + 20 * 3600,
                   "data": {"object": {"id": "ch_big", "object": "charge", "amount": 144_600,
                                       "currency": "usd", "customer": "cus_acme",
                                       "created": T0 + 20 * 3600, "refunded": False}}})
    events.append({"id": "evt_efw", "object": "event",
                   "type": "radar.early_fraud_warning.created",
                   "created": T0 + 21 * 3600,
                   "data": {"object": {"id": "issfr_1", "object": "radar.early_fraud_warning",
                                       "charge": "ch_3", "created": T0 + 21 * 3600}}})
    return events


def case_plan():
    loaded = LoadedBundle.from_documents([load_document(CASE_TEMPLATE)],
                                         load_salesforce_catalog(), load_stripe_catalog())
    return loaded.flow(CASE_FLOW).plan


def test_flag_event_and_alert_shapes() -> None:
    flags = planted_flags()
    assert [f.rule for f in flags] == ["amount_outlier", "early_fraud_warning"]
    event = flag_event(flags[1])
    assert event["type"] == EVENT_TYPE
    assert event["id"] == f"evt_{case_key(flags[1])}"
    assert event["data"]["object"]["id"] == case_key(flags[1]) == \
        "anomaly:early_fraud_warning:issfr_1"
    assert event["data"]["object"]["reason"] == flags[1].reason
    alert = flag_alert(flags[0])
    assert alert.rule == case_key(flags[0])
    assert alert.title == "Unusual payment amount" and alert.detail == flags[0].reason


@pytest.mark.parametrize("rule", sorted(RULE_TITLES))
def test_the_template_titles_every_rule_as_the_alert_does(rule: str) -> None:
    flag = Flag(rule, "medium", "ch_x", "cus_acme", f"reason of {rule}", 2.5, T0)
    result = case_plan().apply(flag_event(flag),
                               lambda obj, field, value: ACCOUNT if value == "cus_acme" else None)
    assert result.ok, result.issues
    case = result.record
    assert case["StripeObjectID__c"] == case_key(flag)
    assert case["Subject"] == f"{RULE_TITLES[rule]}: ch_x" == \
        f"{flag_alert(flag).title}: ch_x"
    assert case["Description"].startswith(f"reason of {rule}.")
    assert case["Reason"] == ("Fraud Warning" if rule == "early_fraud_warning" else "Other")
    assert (case["Priority"], case["AccountId"]) == ("Medium", ACCOUNT)


@pytest.mark.slow
def test_flags_become_cases_once_through_the_template(tmp_path: Path) -> None:
    """Two runners that both raise the same flags (the second lost the first's state: a
    replay, a second detector run) upsert the same two Cases."""

    templates = CASE_TEMPLATE.parent
    bundle = LoadedBundle.from_documents([load_document(templates / "charges-payments.yaml")],
                                         load_salesforce_catalog(), load_stripe_catalog())
    handle = start_emulator(tmp_path / "sf", reset=True)
    reports = []
    try:
        sf = SalesforceConnector(SalesforceSettings(
            login_url=handle.login_url, auth="jwt", username=handle.username,
            consumer_key=handle.consumer_key, private_key_file=handle.private_key_file,
            ca_file=handle.ca_file, api_version=handle.api_version, timeout=10))
        sf.connect()
        acct = sf.upsert_many("Account", "StripeCustomerID__c",
                              [{"StripeCustomerID__c": "cus_acme", "Name": "Acme"}])[0].id
        for run in range(2):
            with StateStore.open(f"sqlite:///{tmp_path / f'state{run}.sqlite'}") as store:
                monitor = FinanceMonitor(FinanceSettings(drift_check_minutes=0), store, sf,
                                         None, bundle, clock=lambda: float(T0))
                for ev in planted_events():
                    monitor.observe(ProcessedRecord(
                        "charge-to-payment", ev["type"], ev["id"], ev, ev["data"]["object"],
                        None, "written", None))
                reports.append(monitor.tick())
        cases = sf.query_all("SELECT Id, Subject, Description, Reason, AccountId, "
                             "StripeObjectID__c FROM Case")
    finally:
        handle.stop()
    assert [(r.cases_written, r.cases_failed) for r in reports] == [(2, 0), (2, 0)]
    assert len(cases) == 2
    by_key = {c["StripeObjectID__c"]: c for c in cases}
    outlier = by_key["anomaly:amount_outlier:ch_big"]
    assert "48.2x this account's median of 30 days" in outlier["Description"]
    assert outlier["Subject"] == "Unusual payment amount: ch_big"
    assert outlier["AccountId"] == acct
    efw = by_key["anomaly:early_fraud_warning:issfr_1"]
    assert efw["Reason"] == "Fraud Warning" and efw["AccountId"] is None
