"""Planted anomalies raise Cases in the org emulator, once per flag, with the reason."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from runner.finance.anomaly import AnomalyDetector, Flag, PaymentObservation
from runner.finance.anomaly_cases import (
    EVENT_TYPE,
    case_key,
    case_record,
    flag_alert,
    flag_event,
    write_cases,
)

T0 = 1_767_225_600


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


def test_case_record_and_event_shapes() -> None:
    flags = planted_flags()
    assert [f.rule for f in flags] == ["amount_outlier", "early_fraud_warning"]
    rec = case_record(flags[0], "001000000000001AAA")
    assert rec["StripeObjectID__c"] == "anomaly:amount_outlier:ch_big"
    assert rec["Reason"] == "Other" and rec["Origin"] == "Stripe"
    assert rec["Description"].startswith(flags[0].reason)
    assert rec["AccountId"] == "001000000000001AAA"
    assert case_record(flags[1])["Reason"] == "Fraud Warning"
    event = flag_event(flags[1])
    assert event["type"] == EVENT_TYPE
    assert event["data"]["object"]["id"] == case_key(flags[1])
    assert flag_alert(flags[0]).rule == case_key(flags[0])


@pytest.mark.slow
def test_flags_become_cases_once(tmp_path: Path) -> None:
    from runner.connectors.salesforce import SalesforceConnector, SalesforceSettings
    from runner.sandbox.salesforce.server import start_emulator

    handle = start_emulator(tmp_path / "sf", reset=True)
    try:
        sf = SalesforceConnector(SalesforceSettings(
            login_url=handle.login_url, auth="jwt", username=handle.username,
            consumer_key=handle.consumer_key, private_key_file=handle.private_key_file,
            ca_file=handle.ca_file, api_version=handle.api_version, timeout=10))
        sf.connect()
        acct = sf.upsert_many("Account", "StripeCustomerID__c",
                              [{"StripeCustomerID__c": "cus_acme", "Name": "Acme"}])[0].id
        flags = planted_flags()
        first = write_cases(sf, flags)
        again = write_cases(sf, flags)
        cases = sf.query_all("SELECT Id, Subject, Description, Reason, AccountId, "
                             "StripeObjectID__c FROM Case")
    finally:
        handle.stop()
    assert all(o.success for o in first + again), [o.message for o in first + again]
    assert [o.created for o in again] == [False, False]
    assert len(cases) == 2
    by_key = {c["StripeObjectID__c"]: c for c in cases}
    outlier = by_key["anomaly:amount_outlier:ch_big"]
    assert "48.2x this account's median of 30 days" in outlier["Description"]
    assert outlier["AccountId"] == acct
    assert by_key["anomaly:early_fraud_warning:issfr_1"]["Reason"] == "Fraud Warning"
