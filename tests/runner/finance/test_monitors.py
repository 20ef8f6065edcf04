"""Monitors: the drift alert, volume, null rate, cursor age (the drift check itself is
tested in tests/runner/test_contract.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.contract import DriftFinding
from runner.finance.monitors import (
    MonitorFinding,
    NullRateMonitor,
    VolumeMonitor,
    check_cursor,
    to_alert,
)
from runner.state.store import StateStore
from runner.state.testing import memory_store


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
