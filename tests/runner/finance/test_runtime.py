"""FinanceMonitor with fakes: anomaly flags become an alert and a Case written through the
anomaly-cases template flow; drift pauses only the drifted flow (and resumes it); volume,
null-rate and cursor findings alert; the state survives a restart."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from mappings.document.yamlio import load_documents
from mappings.schema.org_metadata import load_org, load_salesforce_catalog
from mappings.schema.stripe_catalog import load_stripe_catalog
from runner.classify import Failure
from runner.config import load_config
from runner.connectors.errors import ConnectorError, RecordOutcome
from runner.errors import ConfigError
from runner.finance.runtime import (
    STATE_CURSOR,
    FinanceMonitor,
    FinanceSettings,
    finance_status,
    parse_expected,
)
from runner.ingest.catchup import DEFAULT_CURSOR, created_cursor
from runner.pipeline.bundle_runtime import LoadedBundle
from runner.pipeline.processor import ProcessedRecord
from runner.state.store import StateStore

TEMPLATES = Path(__file__).resolve().parents[3] / "mappings" / "templates"
T0 = 1_767_225_600.0
CUSTOMER = "cus_RuntimeTest01"
ACCOUNT = "001000000000042AAA"


@pytest.fixture(scope="module")
def describes() -> dict[str, dict]:
    return load_org([]).describes


@pytest.fixture(scope="module")
def bundle() -> LoadedBundle:
    docs = [d for p, d in load_documents(TEMPLATES)
            if p.stem in ("charges-payments", "customer-account")]
    return LoadedBundle.from_documents(docs, load_salesforce_catalog(), load_stripe_catalog())


class FakeSalesforce:
    def __init__(self, describes: dict[str, dict]) -> None:
        self.describes = copy.deepcopy(describes)
        self.upserts: list[tuple[str, str, list[dict]]] = []
        self.answer: Any = None  # None: every record succeeds; a list or an exception
        self.api_calls = 0

    def describe(self, obj: str) -> dict:
        if obj not in self.describes:
            raise ConnectorError(f"no {obj}", failure=Failure.FATAL, status=404,
                                 error_code="NOT_FOUND")
        return self.describes[obj]

    def drop_field(self, obj: str, name: str) -> None:
        body = self.describes[obj]
        body["fields"] = [f for f in body["fields"] if f["name"] != name]

    def find_ids(self, obj: str, field: str, values: Any) -> dict[str, list[str]]:
        return {v: [ACCOUNT] if v == CUSTOMER else [] for v in values}

    def upsert_many(self, obj: str, ext: str, records: list[dict]) -> list[RecordOutcome]:
        self.upserts.append((obj, ext, records))
        if isinstance(self.answer, BaseException):
            raise self.answer
        if self.answer is not None:
            return self.answer
        return [RecordOutcome(i, True, f"500000000000{i:03d}AAA", True)
                for i in range(len(records))]


class FakeAlerter:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def raise_alert(self, alert: Any) -> None:
        self.sent.append(alert)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path):
    s = StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    yield s
    s.close()


@pytest.fixture
def make(store, bundle, describes):
    def build(settings: FinanceSettings | None = None, sf: FakeSalesforce | None = None):
        sf = sf or FakeSalesforce(describes)
        alerter, clock = FakeAlerter(), Clock()
        paused: list[frozenset[str]] = []
        monitor = FinanceMonitor(settings or FinanceSettings(), store, sf, alerter, bundle,
                                 clock=clock, on_pause_change=paused.append)
        return monitor, sf, alerter, clock, paused
    return build


def charge(n: int, amount: int, *, created: int, customer: str = CUSTOMER,
           etype: str = "charge.succeeded", outcome: str = "written",
           flow: str = "charge-to-payment") -> ProcessedRecord:
    obj = {"id": f"ch_rt{n:04d}", "object": "charge", "amount": amount, "currency": "usd",
           "customer": customer, "created": created, "status": "succeeded",
           "refunded": False}
    payload = {"id": f"evt_rt{n:04d}", "object": "event", "type": etype, "created": created,
               "data": {"object": obj}}
    record = {"StripeChargeID__c": obj["id"], "Amount__c": amount / 100,
              "Receipt_Email__c": "a@example.com"}
    return ProcessedRecord(flow, etype, payload["id"], payload, obj, record, outcome,
                           "a00000000000001AAA")


def history(monitor: FinanceMonitor, count: int = 10) -> int:
    for n in range(count):
        monitor.observe(charge(n, 3000 + 10 * (n % 3), created=int(T0) - 86_400 + n * 3600))
    return count


def test_an_amount_outlier_raises_an_alert_and_a_case_through_the_template(make, store):
    monitor, sf, alerter, _clock, _ = make()
    n = history(monitor)
    monitor.observe(charge(n, 150_000, created=int(T0)))  # 50x the usual 30 USD
    report = monitor.tick()

    (alert,) = [a for a in report.alerts if a.rule.startswith("anomaly:")]
    assert alert.rule == f"anomaly:amount_outlier:ch_rt{n:04d}"
    assert "x this account's median" in alert.detail and "1,500.00 USD" in alert.detail
    assert alerter.sent == report.alerts
    ((obj, ext, records),) = sf.upserts
    assert (obj, ext) == ("Case", "StripeObjectID__c")
    (case,) = records
    assert case["StripeObjectID__c"] == f"anomaly:amount_outlier:ch_rt{n:04d}"
    assert case["Subject"] == f"Unusual payment amount: ch_rt{n:04d}"
    assert case["Description"].startswith(alert.detail)  # the reason a person can check
    assert case["AccountId"] == ACCOUNT  # the customer's Account, looked up
    assert (case["Origin"], case["Reason"], case["Status"]) == ("Stripe", "Other", "New")
    assert report.cases_written == 1
    status = finance_status(store)
    assert status["anomaly_flags_open"] == 1 and status["anomaly_cases"] == {"written": 1}
    # The flag is kept: the next tick writes no second Case.
    assert monitor.tick().cases_written == 0 and len(sf.upserts) == 1


def test_duplicate_charges_are_flagged_once_per_event_and_retries_wait(make):
    monitor, sf, _alerter, _clock, _ = make()
    first = charge(1, 2500, created=int(T0))
    second = charge(2, 2500, created=int(T0) + 60)
    monitor.observe(first)
    monitor.observe(charge(2, 2500, created=int(T0) + 60, outcome="retry"))  # comes again
    monitor.observe(second)
    monitor.observe(charge(2, 2500, created=int(T0) + 60, flow="other-flow"))  # same event
    report = monitor.tick()
    assert [a.rule for a in report.alerts] == ["anomaly:duplicate_charge:ch_rt0002"]
    assert "as charge ch_rt0001 60 seconds earlier" in report.alerts[0].detail
    assert sf.upserts[0][2][0]["Subject"] == "Possible duplicate charge: ch_rt0002"


def test_cases_off_alerts_only(make):
    monitor, sf, _alerter, _clock, _ = make(FinanceSettings(cases=False))
    monitor.observe(charge(1, 2500, created=int(T0)))
    monitor.observe(charge(2, 2500, created=int(T0) + 5))
    assert len(monitor.tick().alerts) == 1 and sf.upserts == []


def test_a_retriable_case_failure_is_retried_and_a_refused_one_alerts(make, store):
    monitor, sf, alerter, _clock, _ = make()
    sf.answer = ConnectorError("org busy", failure=Failure.RETRIABLE, status=503)
    monitor.observe(charge(1, 2500, created=int(T0)))
    monitor.observe(charge(2, 2500, created=int(T0) + 5))
    first = monitor.tick()
    assert first.cases_written == 0 and first.cases_failed == 0
    assert finance_status(store)["anomaly_cases"] == {"pending": 1}
    sf.answer = [RecordOutcome(0, False, errors=[{"statusCode": "INVALID_FIELD",
                                                  "message": "no such field"}],
                               failure=Failure.SKIPPABLE)]
    second = monitor.tick()
    assert second.cases_failed == 1
    assert any(a.title == "anomaly Case not written" and "INVALID_FIELD" in a.detail
               for a in alerter.sent)
    assert finance_status(store)["anomaly_cases"] == {"failed": 1}
    assert len(sf.upserts) == 2
    monitor.tick()
    assert len(sf.upserts) == 2  # given up: not sent again


def test_drift_pauses_only_the_drifted_flow_and_resumes_it(make, store):
    settings = FinanceSettings(drift_check_minutes=1)
    monitor, sf, alerter, clock, changes = make(settings)
    assert not monitor.tick().drift_checked  # the runner checked at start
    sf.drop_field("Payment__c", "Amount__c")
    clock.now += 61
    report = monitor.tick()
    assert report.drift_checked and report.paused == ["charge-to-payment"]
    assert monitor.paused == {"charge-to-payment"} and changes == [monitor.paused]
    (alert,) = report.alerts
    assert alert.title == "contract drift paused flow charge-to-payment"
    assert "Payment__c.Amount__c missing" in alert.detail
    status = finance_status(store)
    assert list(status["paused_flows"]) == ["charge-to-payment"]
    assert status["last_drift_check"] is not None

    # A restart keeps the pause and re-checks at once.
    again, *_ = make(settings, sf)
    assert again.paused == {"charge-to-payment"}
    assert again.tick().drift_checked and again.paused == {"charge-to-payment"}

    sf.describes["Payment__c"] = load_org([]).describes["Payment__c"]
    clock.now += 61
    report = monitor.tick()
    assert report.resumed == ["charge-to-payment"] and monitor.paused == frozenset()
    assert changes[-1] == frozenset()
    assert any(a.title == "flow charge-to-payment resumed" for a in report.alerts)
    assert finance_status(store)["paused_flows"] == {}


@pytest.fixture(scope="module")
def sf_triggered_bundle() -> LoadedBundle:
    docs = [d for p, d in load_documents(TEMPLATES)
            if p.stem in ("charges-payments", "opportunity-to-subscription")]
    return LoadedBundle.from_documents(docs, load_salesforce_catalog(), load_stripe_catalog())


def test_drift_on_a_field_a_salesforce_triggered_flow_reads_pauses_only_it(
        store, sf_triggered_bundle, describes):
    sf, alerter, clock, changes = FakeSalesforce(describes), FakeAlerter(), Clock(), []
    monitor = FinanceMonitor(FinanceSettings(drift_check_minutes=1), store, sf, alerter,
                             sf_triggered_bundle, clock=clock, on_pause_change=changes.append)
    sf.drop_field("Opportunity", "StripePriceID__c")
    clock.now += 61
    report = monitor.tick()
    assert report.paused == ["closed-won-to-subscription"]
    assert monitor.paused == {"closed-won-to-subscription"} and changes == [monitor.paused]
    (alert,) = report.alerts
    assert alert.title == "contract drift paused flow closed-won-to-subscription"
    assert "Opportunity.StripePriceID__c, which the flow reads, missing" in alert.detail
    assert finance_status(store)["paused_flows"] == {"closed-won-to-subscription": [
        "flow closed-won-to-subscription: Opportunity.StripePriceID__c, which the flow "
        "reads, missing"]}
    # Its writeback field made read-only instead: still paused, for that reason now; fixed:
    # resumed.
    sf.describes["Opportunity"] = load_org([]).describes["Opportunity"]
    for f in sf.describes["Opportunity"]["fields"]:
        if f["name"] == "StripeSubscriptionID__c":
            f["updateable"] = False
    clock.now += 61
    assert monitor.tick().paused == [] and monitor.paused == {"closed-won-to-subscription"}
    assert "writeback field Opportunity.StripeSubscriptionID__c not writable" in \
        finance_status(store)["paused_flows"]["closed-won-to-subscription"][0]
    sf.describes["Opportunity"] = load_org([]).describes["Opportunity"]
    clock.now += 61
    assert monitor.tick().resumed == ["closed-won-to-subscription"]
    assert monitor.paused == frozenset()


def test_a_type_change_is_drift(make):
    monitor, sf, _alerter, clock, _ = make(FinanceSettings(drift_check_minutes=1))
    for f in sf.describes["Account"]["fields"]:
        if f["name"] == "StripeCustomerID__c":
            f["type"] = "double"
    clock.now += 61
    report = monitor.tick()
    assert report.paused == ["customer-to-account"]
    assert "type changed from string to double" in report.alerts[0].detail


def test_a_silent_flow_alerts(make):
    settings = FinanceSettings(expected_min_per_hour={"customer-to-account": 1})
    monitor, _sf, _alerter, clock, _ = make(settings)
    assert monitor.tick().alerts == []  # not a full hour yet
    clock.now += 3601
    (alert,) = monitor.tick().alerts
    assert alert.rule == "volume:customer-to-account"
    assert "went silent: 0 records in the last 1 hour (expected at least 1)" in alert.detail
    monitor.observe(charge(1, 100, created=int(T0), flow="customer-to-account"))
    assert monitor.tick().alerts == []


def test_a_field_suddenly_null_alerts(make):
    settings = FinanceSettings(null_rate_window=10, null_rate_baseline=20, anomalies=False)
    monitor, _sf, _alerter, _clock, _ = make(settings)
    for n in range(30):
        monitor.observe(charge(n, 100, created=int(T0) + n))
    for n in range(30, 40):
        rec = charge(n, 100, created=int(T0) + n)
        monitor.observe(ProcessedRecord(rec.flow, rec.event_type, rec.event_id, rec.payload,
                                        rec.data_object,
                                        {**(rec.record or {}), "Receipt_Email__c": None},
                                        "written", rec.sf_id))
    alerts = monitor.tick().alerts
    assert [a.rule for a in alerts] == ["null_rate:charge-to-payment:Receipt_Email__c"]
    # Raised as the rate crosses the bar (half the window), once per episode.
    assert "is null in 50% of the last 10 records, against 0% in the 20 before" \
        in alerts[0].detail


def test_an_old_catchup_cursor_alerts(make, store):
    monitor, *_ = make(FinanceSettings(cursor_warn_days=20))
    store.cursor_set(created_cursor(DEFAULT_CURSOR), str(int(T0 - 25 * 86_400)))
    (alert,) = monitor.tick().alerts
    assert alert.rule == "cursor" and "25.0 days old" in alert.detail
    assert finance_status(store)["findings"][0]["monitor"] == "cursor"


def test_settings_from_the_config_file(tmp_path):
    path = tmp_path / "runner.toml"
    path.write_text('[runner.monitors]\nexpected_min_per_hour = {"charge-to-payment" = 2}\n'
                    'drift_check_minutes = 5\n[runner.anomalies]\nenabled = false\n')
    settings = FinanceSettings.from_config(load_config(path, env={}, use_keyring=False))
    assert settings.expected_min_per_hour == {"charge-to-payment": 2}
    assert settings.drift_check_minutes == 5 and settings.anomalies is False
    env = {"FIELDBRIDGE_EXPECTED_MIN_PER_HOUR": "charge-to-payment=3,customer-to-account=0"}
    settings = FinanceSettings.from_config(load_config(None, env=env, use_keyring=False))
    assert settings.expected_min_per_hour == {"charge-to-payment": 3, "customer-to-account": 0}


@pytest.mark.parametrize("entry", ["charge-to-payment", "=3", "x=abc", "x=-1", "x=1.5"])
def test_a_bad_volume_entry_is_named(entry):
    with pytest.raises(ConfigError, match="FLOW=N") as exc:
        parse_expected([entry])
    assert repr(entry) in str(exc.value)


def test_bad_settings_are_refused(make):
    with pytest.raises(ConfigError, match="does not have: nope"):
        make(FinanceSettings(expected_min_per_hour={"nope": 1}))
    with pytest.raises(ConfigError, match="cursor_warn_days"):
        FinanceSettings(cursor_warn_days=31)
    with pytest.raises(ConfigError, match="null_rate_increase"):
        FinanceSettings(null_rate_increase=0)


def test_an_unreadable_state_starts_afresh(make, store):
    store.cursor_set(STATE_CURSOR, "{not json")
    monitor, *_ = make()
    assert monitor.paused == frozenset()
    monitor.tick()
    assert json.loads(store.cursor_get(STATE_CURSOR) or "")["paused"] == {}
