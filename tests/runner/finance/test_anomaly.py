"""Anomaly rules: planted anomalies raise flags with checkable reasons; noise does not."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
from collections import deque
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.finance.anomaly import (
    AnomalyConfig,
    AnomalyDetector,
    PaymentObservation,
    _Sorted,
    _Times,
    observation_from_event,
    to_major,
)

T0 = 1_767_225_600
HOUR = 3600
DAY = 86_400


def charge(i: int, amount: str, t: int, *, account: str = "acct_1", currency: str = "usd",
           status: str = "succeeded") -> PaymentObservation:
    return PaymentObservation(f"ch_{i}", account, Decimal(amount), currency, t,
                              status=status)  # type: ignore[arg-type]


def history(n: int = 20, account: str = "acct_1", start: int = T0) -> list[PaymentObservation]:
    # 27..33 USD, one charge every 6 hours
    return [charge(i, f"{30 + (i % 7) - 3}.00", start + i * 6 * HOUR, account=account)
            for i in range(n)]


def test_account_outlier_reason_names_ratio_median_and_mad() -> None:
    det = AnomalyDetector()
    assert det.observe_all(history()) == []
    flags = det.observe(charge(99, "1446.00", T0 + 200 * HOUR))
    assert [f.rule for f in flags] == ["amount_outlier"]
    flag = flags[0]
    assert flag.object_id == "ch_99" and flag.account == "acct_1"
    assert "48.2x this account's median of 30 days" in flag.reason
    assert "median 30.00 USD" in flag.reason and "MAD 2.00 USD" in flag.reason
    assert flag.severity == "high"


def test_no_flag_before_minimum_history_or_for_ordinary_large_orders() -> None:
    det = AnomalyDetector(AnomalyConfig(global_min_history=1000))
    assert det.observe_all(history(5)) == []
    assert det.observe(charge(50, "3000.00", T0 + 40 * HOUR)) == []  # 5 charges only
    det = AnomalyDetector()
    det.observe_all(history())
    assert det.observe(charge(51, "120.00", T0 + 200 * HOUR)) == []  # 4x: a big order


def test_new_account_is_compared_with_the_currency_when_it_has_no_history() -> None:
    det = AnomalyDetector()
    for k in range(5):
        det.observe_all(history(8, account=f"acct_{k}", start=T0 + k))
    flags = det.observe(charge(77, "30000.00", T0 + 100 * HOUR, account="acct_new"))
    assert [f.rule for f in flags] == ["amount_outlier_global"]
    assert "the median of all USD charges" in flags[0].reason
    assert "account has 0 charges" in flags[0].reason
    # other currencies are not compared with USD
    assert det.observe(charge(78, "30000", T0 + 101 * HOUR, account="acct_x",
                              currency="jpy")) == []


def test_outlier_stays_out_of_the_history() -> None:
    det = AnomalyDetector()
    det.observe_all(history())
    assert det.observe(charge(98, "1500.00", T0 + 200 * HOUR))
    assert det.observe(charge(99, "1500.00", T0 + 300 * HOUR))


def test_duplicate_charge_within_the_window_only() -> None:
    det = AnomalyDetector()
    assert det.observe(charge(1, "49.00", T0)) == []
    flags = det.observe(charge(2, "49.00", T0 + 120))
    assert [f.rule for f in flags] == ["duplicate_charge"]
    assert "as charge ch_1 120 seconds earlier" in flags[0].reason
    assert det.observe(charge(3, "49.00", T0 + 120 + 601)) == []  # outside 10 minutes
    assert det.observe(charge(4, "49.00", T0 + 130, account="acct_2")) == []  # other customer
    assert det.observe(charge(5, "49.01", T0 + 140)) == []  # other amount
    # a retry after a decline is not a duplicate
    det.observe(charge(6, "15.00", T0 + 1000, status="failed"))
    assert det.observe(charge(7, "15.00", T0 + 1060)) == []


def test_early_fraud_warning_is_always_flagged() -> None:
    det = AnomalyDetector()
    efw = PaymentObservation("issfr_1", None, Decimal("10"), "eur", T0, kind="efw",
                             charge="ch_9")
    flags = det.observe(efw)
    assert [(f.rule, f.severity, f.object_id) for f in flags] == [
        ("early_fraud_warning", "high", "issfr_1")]
    assert "on charge ch_9" in flags[0].reason


def baseline_traffic(det: AnomalyDetector, days: int = 15, per_day: int = 24,
                     failed_every: int = 25) -> int:
    i = 0
    for d in range(days):
        for h in range(per_day):
            i += 1
            status = "failed" if i % failed_every == 0 else "succeeded"
            det.observe(charge(i, f"{20 + i % 13}.00", T0 + d * DAY + h * HOUR,
                               account=f"acct_{i % 3}", status=status))
    return T0 + days * DAY


def test_decline_spike_against_the_baseline() -> None:
    det = AnomalyDetector()
    t = baseline_traffic(det)
    flags = []
    for k in range(8):
        flags += det.observe(charge(10_000 + k, "1.00", t + k * 60, account="acct_1",
                                    status="failed"))
    spikes = [f for f in flags if f.rule == "decline_spike"]
    assert spikes and spikes[0].account == "acct_1"
    assert "5 of 5 charges declined in the last 1 hour on account acct_1 (100%)" \
        in spikes[0].reason
    assert "baseline of 4.5% over the previous 14 days (5 of 112, this account)" \
        in spikes[0].reason
    # one flag per spike, not one per declined charge
    assert len([f for f in spikes if f.account == "acct_1"]) == 1


def test_a_few_declines_at_the_base_rate_raise_nothing() -> None:
    det = AnomalyDetector()
    t = baseline_traffic(det)
    flags = []
    for k in range(4):
        flags += det.observe(charge(20_000 + k, "1.00", t + k * 60, status="failed"))
    assert flags == []


def test_refund_spike() -> None:
    det = AnomalyDetector()
    t = baseline_traffic(det)
    flags = []
    for k in range(6):
        flags += det.observe(PaymentObservation(f"re_{k}", "acct_2", Decimal("20"), "usd",
                                                t + k * HOUR, kind="refund",
                                                charge=f"ch_{k}"))
    spikes = [f for f in flags if f.rule == "refund_spike"]
    assert len(spikes) == 1 and spikes[0].object_id == "re_3"
    assert "4 of" in spikes[0].reason and "refunded in the last 1 day" in spikes[0].reason


def test_bad_config_and_input_are_named() -> None:
    with pytest.raises(ValueError, match="min_history"):
        AnomalyConfig(min_history=0)
    with pytest.raises(ValueError, match="spike_factor"):
        AnomalyConfig(spike_factor=1)
    with pytest.raises(TypeError, match="PaymentObservation"):
        AnomalyDetector().observe({"id": "ch_1"})  # type: ignore[arg-type]


@pytest.mark.parametrize(("minor", "currency", "major"), [
    (1999, "usd", Decimal("19.99")), (5000, "jpy", Decimal("5000")),
    (12345, "kwd", Decimal("12.345")), ("250", "EUR", Decimal("2.50")),
])
def test_to_major(minor, currency: str, major: Decimal) -> None:
    assert to_major(minor, currency) == major


def test_to_major_refuses_non_integers() -> None:
    with pytest.raises(ValueError, match="minor units"):
        to_major(1.5, "usd")


def test_observations_from_stripe_events(stripe_fixtures: dict) -> None:
    ch = dict(stripe_fixtures["charge"], customer="cus_1", amount=1999, currency="usd")
    obs = observation_from_event({"object": "event", "type": "charge.succeeded", "created": 5,
                                  "data": {"object": ch}})
    assert obs is not None and (obs.kind, obs.status, obs.amount, obs.account) == (
        "charge", "succeeded", Decimal("19.99"), "cus_1")
    refunded = dict(ch, amount_refunded=500, refunded=True)
    obs = observation_from_event({"object": "event", "type": "charge.refunded", "created": 9,
                                  "data": {"object": refunded}})
    assert obs is not None and (obs.kind, obs.amount, obs.charge) == (
        "refund", Decimal("5.00"), ch["id"])
    efw = stripe_fixtures["radar.early_fraud_warning"]
    obs = observation_from_event({"object": "event", "type": "radar.early_fraud_warning.created",
                                  "created": 1, "data": {"object": efw}})
    assert obs is not None and obs.kind == "efw"
    assert observation_from_event({"object": "event", "type": "customer.created",
                                   "data": {"object": {}}}) is None


def test_eval_script_runs_small_and_prints_json_last() -> None:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "anomaly_eval.py"
    spec = importlib.util.spec_from_file_location("anomaly_eval", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while executing
    spec.loader.exec_module(module)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert module.main(["--seed", "3", "--accounts", "12", "--days", "20"]) == 0
    last = json.loads(out.getvalue().strip().splitlines()[-1])
    assert 0.0 <= last["precision"] <= 1.0 and 0.0 <= last["recall"] <= 1.0
    assert last["labels"] > 0 and set(last["rules"]) >= {"amount_outlier", "decline_spike"}


# -- the incremental structures behind the rules (same answers as recomputing) ------------
def _naive_median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.01, max_value=1e6, allow_nan=False), min_size=1,
                max_size=60),
       st.integers(min_value=0, max_value=59))
def test_sorted_window_median_and_mad_equal_a_full_recomputation(values: list[float],
                                                                removed: int) -> None:
    window = _Sorted()
    for v in values:
        window.add(v)
    if len(values) > 1:  # removing one value keeps the multiset sorted and exact
        gone = values.pop(removed % len(values))
        window.remove(gone)
    med = _naive_median(values)
    assert window.median() == med
    assert window.mad() == _naive_median([abs(v - med) for v in values])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=100), max_size=80),
       st.integers(min_value=0, max_value=100), st.integers(min_value=0, max_value=120),
       st.integers(min_value=0, max_value=120))
def test_time_window_counts_like_a_scan_even_out_of_order(times: list[int], cutoff: int,
                                                          start: int, end: int) -> None:
    window = _Times()
    queue: deque[int] = deque()
    for t in times:
        window.append(t)
        queue.append(t)
    window.trim(cutoff)
    while queue and queue[0] < cutoff:  # what trimming means: pop the expired head
        queue.popleft()
    assert len(window) == len(queue)
    assert window.count(start, end) == sum(1 for t in queue if start <= t < end)


def test_duplicate_index_forgets_charges_outside_the_window() -> None:
    det = AnomalyDetector()
    for i in range(1000):  # one customer, distinct amounts, 10 a second: none is a copy
        assert det.observe(charge(i, f"{10 + i / 100:.2f}", T0 + i // 10)) == []
    # only the last 600 s are kept, so memory and time stay flat however long the burst
    assert len(det._recent) == len([1 for i in range(1000) if T0 + i // 10 >= T0 + 99 - 600])
    assert sum(len(q) for q in det._by_key.values()) == len(det._recent)
    flags = det.observe(charge(5000, "19.99", T0 + 100))  # same as ch_999
    assert [f.rule for f in flags] == ["duplicate_charge"]
    assert "as charge ch_999 1 seconds earlier" in flags[0].reason


def test_the_latest_earlier_copy_is_named_and_an_expired_one_is_dropped() -> None:
    det = AnomalyDetector(AnomalyConfig(duplicate_window=100))
    det.observe(charge(1, "5.00", T0))
    assert "charge ch_1 50 seconds" in det.observe(charge(2, "5.00", T0 + 50))[0].reason
    assert "charge ch_2 40 seconds" in det.observe(charge(3, "5.00", T0 + 90))[0].reason
    assert det.observe(charge(4, "6.00", T0 + 500)) == []  # expires ch_1..ch_3
    assert list(det._by_key) == [("acct_1", Decimal("6.00"), "usd")]


def test_currency_history_is_bounded_while_accounts_have_their_own() -> None:
    det = AnomalyDetector(AnomalyConfig(global_max=50))
    det.observe_all(history(200))
    assert len(det._global["usd"]) == 50


def test_min_log_mad_must_be_positive() -> None:
    with pytest.raises(ValueError, match="min_log_mad must be above 0"):
        AnomalyConfig(min_log_mad=0)


def test_eval_script_times_the_detector_on_request(capsys) -> None:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "anomaly_eval.py"
    spec = importlib.util.spec_from_file_location("anomaly_eval_perf", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    assert module.main(["--seed", "3", "--accounts", "6", "--days", "20", "--perf", "50"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    perf = json.loads(lines[-1])["perf"]
    assert perf["burst_observations"] == 50 and perf["burst_us_per_obs"] > 0
    assert any(line.startswith("cost: ") for line in lines)
    with pytest.raises(SystemExit):
        module.main(["--perf", "-1"])
    assert "--perf takes a number of charges >= 0" in capsys.readouterr().err
