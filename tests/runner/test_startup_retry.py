"""Start-up retries transient failures for a bounded wait (issue 11, finding 5: with 50 %
injected 503s, one ``run`` in three stopped at "describe Payment__c failed: HTTP 503")."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.classify import Failure
from runner.connectors.errors import ConnectorError
from runner.connectors.salesforce import SalesforceConnector, SalesforceSettings
from runner.contract import check_contracts, describe_objects
from runner.errors import ConfigError, FatalSyncError
from runner.sandbox.salesforce.server import start_emulator
from runner.startup_retry import StartupError, StartupRetry
from tests.runner.test_contract import contracts


def _503() -> ConnectorError:
    return ConnectorError("Salesforce describe Payment__c failed: HTTP 503 SERVER_UNAVAILABLE",
                          failure=Failure.RETRIABLE, status=503,
                          error_code="SERVER_UNAVAILABLE")


class Script:
    """A step that raises the scripted errors in turn, then answers; a clock that the
    waits advance."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.now = 0.0
        self.slept: list[float] = []

    def step(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def run(self, wait: float) -> str:
        retry = StartupRetry(wait, sleep=self.sleep, clock=lambda: self.now)
        return retry("describe Payment__c", self.step)


def test_transient_failures_are_retried_until_the_step_succeeds() -> None:
    script = Script(_503(), _503(), ConnectorError("timed out", failure=Failure.RETRIABLE))
    assert script.run(wait=60) == "ok"
    assert script.calls == 4
    assert script.slept == sorted(script.slept) and sum(script.slept) < 60  # backoff grows


@pytest.mark.parametrize("error", [
    ConnectorError("login failed: HTTP 401 INVALID_AUTH", failure=Failure.FATAL, status=401),
    ConnectorError("HTTP 404 NOT_FOUND", failure=Failure.SKIPPABLE, status=404),
    ConfigError("no Stripe webhook signing secret"),
    FatalSyncError("the bundle does not match the Salesforce org"),
    ValueError("a bug"),
], ids=["fatal", "skippable", "config", "drift", "unexpected"])
def test_anything_not_transient_is_raised_at_once(error: BaseException) -> None:
    script = Script(error)
    with pytest.raises(type(error)) as info:
        script.run(wait=60)
    assert info.value is error and script.calls == 1 and script.slept == []


def test_the_wait_is_bounded_and_giving_up_is_one_sentence() -> None:
    script = Script(*[_503() for _ in range(1000)])
    with pytest.raises(StartupError) as info:
        script.run(wait=20)
    assert script.now == pytest.approx(20)  # never past the budget
    message = str(info.value)
    assert message.startswith("describe Payment__c still failed after ")
    assert message.endswith("20 s into the start (runner.startup_wait = 20 s); giving up")
    assert isinstance(info.value.__cause__, ConnectorError)  # the CLI prints the cause chain


def test_no_wait_means_one_attempt() -> None:
    script = Script(_503())
    with pytest.raises(StartupError, match="after 1 attempt, 0 s into the start"):
        script.run(wait=0)
    assert script.calls == 1


def test_the_budget_is_shared_by_the_whole_start() -> None:
    script = Script(*[_503() for _ in range(1000)])
    retry = StartupRetry(30, sleep=script.sleep, clock=lambda: script.now)
    script.now = 25.0  # the login took most of the budget
    with pytest.raises(StartupError):
        retry("describe Account", script.step)
    assert script.now == pytest.approx(30)


class Org:
    """Describes that fail transiently a few times each, counted."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.asked: dict[str, int] = {}

    def describe(self, obj: str) -> dict:
        self.asked[obj] = self.asked.get(obj, 0) + 1
        if self.asked[obj] <= self.failures:
            raise _503()
        return {"name": obj, "fields": []}


def test_each_describe_is_retried_on_its_own() -> None:
    org = Org(failures=2)
    script = Script()
    retry = StartupRetry(60, sleep=script.sleep, clock=lambda: script.now)
    describer = retry.describer(org)
    assert [describer.describe(o)["name"] for o in ("Account", "Payment__c")] == \
        ["Account", "Payment__c"]
    assert org.asked == {"Account": 3, "Payment__c": 3}  # no object asked again once known


@pytest.mark.slow
def test_the_contract_check_starts_against_an_org_answering_503_half_the_time(
        tmp_path: Path) -> None:
    handle = start_emulator(tmp_path / "sf", reset=True, faults="error503=0.5,seed=5")
    try:
        sf = SalesforceConnector(SalesforceSettings(
            login_url=handle.login_url, auth="jwt", username=handle.username,
            consumer_key=handle.consumer_key, private_key_file=handle.private_key_file,
            ca_file=handle.ca_file, api_version=handle.api_version, timeout=10))
        StartupRetry(60)("Salesforce login", sf.connect)  # its User lookup is data API
        flows = contracts("charges-payments", "disputes-fraud-cases")
        # One attempt each, as before: some start fails on a 503 describe.
        failures = 0
        for _ in range(6):
            try:
                describe_objects(sf, flows)
            except ConnectorError as exc:
                assert exc.status == 503
                failures += 1
        assert failures > 0
        # With the start-up retry every start gets through.
        for _ in range(3):
            describes = describe_objects(StartupRetry(60).describer(sf), flows)
            assert check_contracts(flows, describes) == []
    finally:
        handle.stop()
