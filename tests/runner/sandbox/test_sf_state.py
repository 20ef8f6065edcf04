"""Persistence across restarts, reset, API limits, faults and the command-line entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceRefusedRequest

from runner.sandbox.salesforce import salesforce_client, start_emulator
from runner.sandbox.salesforce.faults import FaultSpecError

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


def test_records_survive_a_restart_and_reset_clears_them(tmp_path: Path) -> None:
    state = tmp_path / "org"
    first = start_emulator(state, reset=True)
    try:
        sf = salesforce_client(first)
        kept = sf.Account.create({"Name": "Persisted", "StripeCustomerID__c": "cus_keep"})["id"]
        gone = sf.Account.create({"Name": "Deleted before restart"})["id"]
        sf.Account.delete(gone)
        ca_before = Path(first.ca_file).read_bytes()
        password = first.password
    finally:
        first.stop()

    second = start_emulator(state)
    try:
        sf = salesforce_client(second)
        assert sf.Account.get(kept)["Name"] == "Persisted"
        # The external-id index is rebuilt: upsert finds the record instead of duplicating.
        again = sf.Account.upsert("StripeCustomerID__c/cus_keep", {"Name": "Updated"},
                                  raw_response=True)
        assert again.status_code == 200 and again.json()["id"] == kept
        deleted = sf.query_all(f"SELECT Id FROM Account WHERE Id = '{gone}'",
                               include_deleted=True)
        assert deleted["totalSize"] == 1
        # New ids continue after the old ones; CA and credentials are kept.
        newer = sf.Account.create({"Name": "After restart"})["id"]
        assert newer not in (kept, gone)
        assert Path(second.ca_file).read_bytes() == ca_before
        assert second.password == password
    finally:
        second.stop()

    third = start_emulator(state, reset=True)
    try:
        sf = salesforce_client(third)
        assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    finally:
        third.stop()


def test_daily_limit_exhaustion_gives_403(tmp_path: Path) -> None:
    handle = start_emulator(tmp_path / "limits", daily_api_limit=3)
    try:
        sf = salesforce_client(handle)
        sf.limits()
        sf.limits()
        last = sf.limits()
        assert last["DailyApiRequests"] == {"Max": 3, "Remaining": 0}
        with pytest.raises(SalesforceRefusedRequest) as exc:
            sf.limits()
        assert exc.value.content == [{"message": "TotalRequests Limit exceeded.",
                                      "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
        handle.set_api_limit(100)
        assert sf.limits()["DailyApiRequests"]["Max"] == 100
    finally:
        handle.stop()


@pytest.fixture
def faulty(tmp_path: Path):  # noqa: ANN201
    handle = start_emulator(tmp_path / "faults")
    session = requests.Session()
    session.trust_env = False
    session.verify = handle.ca_file
    session.headers["Authorization"] = f"Bearer {handle.access_token}"
    yield handle, session
    handle.stop()


def test_503_share_is_reproducible_with_a_seed(faulty) -> None:  # noqa: ANN001
    handle, session = faulty
    target = f"{handle.instance_url}/services/data/v62.0/limits"

    def statuses() -> list[int]:
        handle.set_faults("error503=0.3,seed=11")
        return [session.get(target).status_code for _ in range(60)]

    first, second = statuses(), statuses()
    assert first == second
    assert set(first) == {200, 503} and 8 <= first.count(503) <= 30
    handle.set_faults(None)
    body = session.get(target)
    assert body.status_code == 200


def test_lock_fault_answers_unable_to_lock_row(faulty) -> None:  # noqa: ANN001
    handle, _session = faulty
    sf = salesforce_client(handle)
    record_id = sf.Account.create({"Name": "Locked"})["id"]
    handle.set_faults("lock=1")
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.update(record_id, {"Name": "x"})
    assert exc.value.content == [{
        "message": f"unable to obtain exclusive access to this record or 1 records: {record_id}",
        "errorCode": "UNABLE_TO_LOCK_ROW", "fields": []}]
    assert sf.Account.get(record_id)["Name"] == "Locked"  # reads are never locked


def test_drop_fault_closes_the_connection(faulty) -> None:  # noqa: ANN001
    handle, session = faulty
    handle.set_faults("drop=1")
    with pytest.raises(requests.ConnectionError):
        session.get(f"{handle.instance_url}/services/data/v62.0/limits")


def test_admin_faults_endpoint_and_bad_specs(faulty) -> None:  # noqa: ANN001
    handle, session = faulty
    admin = {"Authorization": f"Bearer {handle.admin_token}"}
    ok = session.post(f"{handle.instance_url}/__admin/faults", json="latency=5ms,seed=3",
                      headers=admin)
    assert ok.status_code == 200 and ok.json()["latency_ms"] == 5.0
    bad = session.post(f"{handle.instance_url}/__admin/faults", json={"drop": 3},
                       headers=admin)
    assert bad.status_code == 400 and "between 0 and 1" in bad.json()[0]["message"]
    limit = session.post(f"{handle.instance_url}/__admin/limit", json={"max": 7, "used": 7},
                         headers=admin)
    assert limit.json() == {"Max": 7, "Remaining": 0}
    assert session.get(f"{handle.instance_url}/services/data/v62.0/limits").status_code == 403
    with pytest.raises(FaultSpecError):
        start_emulator(Path(handle.state_dir) / "x", faults="error503=lots")


def test_module_entry_point_prints_the_handle(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "runner.sandbox.salesforce", "--state", str(tmp_path / "cli"),
         "--reset"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        data = json.loads(line)
        assert data["instance_url"].startswith("https://127.0.0.1:")
        assert Path(data["ca_file"]).exists() and Path(data["private_key_file"]).exists()
        session = requests.Session()
        session.trust_env = False
        response = session.get(f"{data['instance_url']}/services/data/v62.0/limits",
                               headers={"Authorization": f"Bearer {data['access_token']}"},
                               verify=data["ca_file"])
        assert response.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0


def test_module_entry_point_rejects_a_bad_fault_spec(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "runner.sandbox.salesforce", "--state", str(tmp_path / "bad"),
         "--faults", "explode=1"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "unknown fault 'explode'" in result.stderr
