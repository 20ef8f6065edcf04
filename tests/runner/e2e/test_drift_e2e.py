"""A bundle whose target field no longer exists in the org is refused at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runner.e2e.helpers import RunnerProcess, sandbox_pair

pytestmark = pytest.mark.slow


@pytest.fixture
def drifted_sandbox(tmp_path: Path):
    with sandbox_pair(tmp_path, [{"removeFields": {"Payment__c": ["Amount__c"]}}]) as session:
        yield session


def test_run_refuses_a_bundle_whose_target_field_is_gone(drifted_sandbox, charges_bundle,
                                                         state_url, tmp_path: Path) -> None:
    runner = RunnerProcess(charges_bundle, drifted_sandbox.json_path, state_url, tmp_path)
    runner.start(wait=False)
    code = runner.wait_exit(60)
    log = runner.log()
    assert code == 1
    assert "error: the bundle does not match the Salesforce org" in log
    assert "flow charge-to-payment: Payment__c.Amount__c missing" in log
    assert "Traceback" not in log
