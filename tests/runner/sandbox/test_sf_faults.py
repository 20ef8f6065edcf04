from __future__ import annotations

import pytest

from runner.sandbox.salesforce.faults import FaultInjector, FaultSpec, FaultSpecError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", FaultSpec()),
        ("latency=50ms", FaultSpec(latency_ms=50.0)),
        ("latency=0.2s", FaultSpec(latency_ms=200.0)),
        ("latency=15", FaultSpec(latency_ms=15.0)),
        ("latency=50ms,error503=0.1,lock=0.05,drop=0.02,seed=7",
         FaultSpec(latency_ms=50.0, error503=0.1, lock=0.05, drop=0.02, seed=7)),
        (" error503 = 1 , seed=1 ", FaultSpec(error503=1.0, seed=1)),
    ],
)
def test_parse_table(text: str, expected: FaultSpec) -> None:
    assert FaultSpec.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("latency=fast", "not a duration"),
        ("error503=2", "between 0 and 1"),
        ("error503=x", "not a number"),
        ("lock", "not key=value"),
        ("seed=abc", "not an integer"),
        ("explode=0.1", "unknown fault 'explode'"),
        ("error503=0.6,drop=0.6", "more than 1"),
        ("lock=0.1,lock=0.2", "twice"),
    ],
)
def test_bad_specs_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        FaultSpec.parse(text)


def test_from_json_accepts_an_object_or_a_string() -> None:
    assert FaultSpec.from_json({"latency_ms": 20, "lock": 0.5}) == FaultSpec(20.0, lock=0.5)
    assert FaultSpec.from_json("drop=1") == FaultSpec(drop=1.0)
    with pytest.raises(FaultSpecError):
        FaultSpec.from_json([1])


def test_draws_are_reproducible_with_a_seed_and_follow_the_shares() -> None:
    spec = "error503=0.3,lock=0.2,drop=0.1,seed=42"
    first = [FaultInjector(spec).draw() for _ in range(1)]
    a, b = FaultInjector(spec), FaultInjector(spec)
    seq_a = [a.draw() for _ in range(2000)]
    seq_b = [b.draw() for _ in range(2000)]
    assert seq_a == seq_b and first[0] == seq_a[0]
    share = seq_a.count("error503") / len(seq_a)
    assert 0.25 < share < 0.35
    assert 0.15 < seq_a.count("lock") / len(seq_a) < 0.25
    assert 0.06 < seq_a.count("drop") / len(seq_a) < 0.14


def test_no_faults_draws_nothing() -> None:
    injector = FaultInjector(None)
    assert {injector.draw() for _ in range(100)} == {None}
    assert injector.latency_seconds == 0.0
