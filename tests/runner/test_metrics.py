"""runner.metrics: names, labels, private registries and the text exposition."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runner.metrics import LATENCY_BUCKETS, Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the rendered text, by (name, sorted labels)."""
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode("utf-8")):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_counters_carry_their_labels() -> None:
    m = Metrics()
    m.event_received("webhook")
    m.event_received("webhook")
    m.event_received("catchup", n=3)
    m.processed("charges", "written", n=5)
    m.processed("charges", "dead_lettered")
    m.ignored("product.created")
    m.rejected("invalid_signature")
    m.api_call("collections", n=2)
    s = samples(m)
    assert s[("fieldbridge_events_received_total", (("source", "webhook"),))] == 2
    assert s[("fieldbridge_events_received_total", (("source", "catchup"),))] == 3
    assert s[("fieldbridge_events_processed_total",
              (("flow", "charges"), ("outcome", "written")))] == 5
    assert s[("fieldbridge_events_processed_total",
              (("flow", "charges"), ("outcome", "dead_lettered")))] == 1
    assert s[("fieldbridge_events_ignored_total", (("type", "product.created"),))] == 1
    assert s[("fieldbridge_webhook_rejected_total", (("reason", "invalid_signature"),))] == 1
    assert s[("fieldbridge_salesforce_api_calls_total", (("kind", "collections"),))] == 2


def test_gauges_from_store_counts_and_api_budget() -> None:
    m = Metrics()
    m.queue({"pending": 7, "retry": 2, "dead": 1, "dlq_open": 4, "review_open": 3})
    m.api_budget(1200, 15000)
    s = samples(m)
    assert s[("fieldbridge_queue_depth", (("status", "pending"),))] == 7
    assert s[("fieldbridge_queue_depth", (("status", "retry"),))] == 2
    assert s[("fieldbridge_queue_depth", (("status", "review_open"),))] == 3
    assert s[("fieldbridge_dlq_size", ())] == 4
    assert s[("fieldbridge_salesforce_api_remaining", ())] == 13800
    assert s[("fieldbridge_salesforce_api_max", ())] == 15000


def test_last_event_time_only_moves_forward() -> None:
    m = Metrics()
    m.event_received("webhook", created=1_700_000_100)
    m.event_received("webhook", created=1_700_000_050)  # a late, older event
    assert samples(m)[("fieldbridge_last_event_timestamp_seconds", ())] == 1_700_000_100


def test_latency_histogram_buckets() -> None:
    m = Metrics()
    m.latency(0.03)
    m.latency(1.5)
    m.latency(-0.01)  # clocks of two hosts: clamped to zero, never a negative sum
    s = samples(m)
    name = "fieldbridge_end_to_end_latency_seconds"
    assert s[(name + "_count", ())] == 3
    assert s[(name + "_bucket", (("le", "0.05"),))] == 2
    assert s[(name + "_bucket", (("le", "2.0"),))] == 3
    assert s[(name + "_sum", ())] == pytest.approx(1.53)
    assert list(LATENCY_BUCKETS) == sorted(LATENCY_BUCKETS)


def test_two_instances_do_not_share_counters() -> None:
    a, b = Metrics(), Metrics()
    a.event_received("webhook")
    assert ("fieldbridge_events_received_total", (("source", "webhook"),)) in samples(a)
    assert ("fieldbridge_events_received_total", (("source", "webhook"),)) not in samples(b)


def test_unknown_outcome_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'wrote'"):
        Metrics().processed("charges", "wrote")


def test_long_label_values_are_cut() -> None:
    m = Metrics()
    m.ignored("x." + "y" * 500)
    (key,) = [k for k in samples(m) if k[0] == "fieldbridge_events_ignored_total"]
    assert len(dict(key[1])["type"]) == 100
