"""Bulk API 2.0 ingest through simple-salesforce's bulk2 client and raw HTTPS."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.sandbox.salesforce import start_emulator

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    h = start_emulator(tmp_path_factory.mktemp("sf-bulk"), reset=True)
    yield h
    h.stop()


def jobs_url(handle, path: str = "") -> str:  # noqa: ANN001
    return f"{handle.instance_url}/services/data/v62.0/jobs/ingest{path}"


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> str:
    with path.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def test_bulk2_upsert_of_10000_rows(sf, tmp_path: Path) -> None:  # noqa: ANN001
    rows = [[f"cus_bulk{n:05d}", f"Bulk {n}", str(n % 50)] for n in range(10_000)]
    path = write_csv(tmp_path / "accounts.csv",
                     ["StripeCustomerID__c", "Name", "NumberOfEmployees"], rows)
    results = sf.bulk2.Account.upsert(csv_file=path, external_id_field="StripeCustomerID__c",
                                      wait=0.2)
    assert sum(r["numberRecordsProcessed"] for r in results) == 10_000
    assert sum(r["numberRecordsFailed"] for r in results) == 0
    count = sf.query("SELECT COUNT() FROM Account WHERE Name LIKE 'Bulk %'")["totalSize"]
    assert count == 10_000
    # Again: every row now updates.
    rows[0][1] = "Bulk renamed"
    write_csv(tmp_path / "accounts.csv", ["StripeCustomerID__c", "Name", "NumberOfEmployees"],
              rows)
    again = sf.bulk2.Account.upsert(csv_file=path, external_id_field="StripeCustomerID__c",
                                    wait=0.2)
    job_id = again[0]["job_id"]
    successes = list(csv.DictReader(io.StringIO(
        sf.bulk2.Account.get_successful_records(job_id))))
    assert len(successes) == 10_000 and {s["sf__Created"] for s in successes} == {"false"}
    renamed = sf.Account.get_by_custom_id("StripeCustomerID__c", "cus_bulk00000")
    assert renamed["Name"] == "Bulk renamed"


def test_bulk2_insert_reports_failed_rows(sf, tmp_path: Path) -> None:  # noqa: ANN001
    path = write_csv(tmp_path / "mixed.csv", ["LastName", "Email", "Account.StripeCustomerID__c"],
                     [["Good", "good@example.com", ""], ["", "missing@example.com", ""],
                      ["Bad mail", "nope", ""], ["Linked", "", "cus_bulk00001"]])
    results = sf.bulk2.Contact.insert(csv_file=path, wait=0.2)
    assert results[0]["numberRecordsProcessed"] == 4
    assert results[0]["numberRecordsFailed"] == 2
    job_id = results[0]["job_id"]
    failed = list(csv.DictReader(io.StringIO(sf.bulk2.Contact.get_failed_records(job_id))))
    errors = sorted(f["sf__Error"].split(":")[0] for f in failed)
    assert errors == ["INVALID_EMAIL_ADDRESS", "REQUIRED_FIELD_MISSING"]
    ok = list(csv.DictReader(io.StringIO(sf.bulk2.Contact.get_successful_records(job_id))))
    linked = next(r for r in ok if r["LastName"] == "Linked")
    parent = sf.Account.get_by_custom_id("StripeCustomerID__c", "cus_bulk00001")["Id"]
    assert sf.Contact.get(linked["sf__Id"])["AccountId"] == parent


def test_job_lifecycle_over_raw_http(http, handle) -> None:  # noqa: ANN001
    created = http.post(jobs_url(handle), json={"object": "Account", "operation": "insert",
                                                "contentType": "CSV", "lineEnding": "LF"})
    assert created.status_code == 200 and created.json()["state"] == "Open"
    job_id = created.json()["id"]
    upload = http.put(jobs_url(handle, f"/{job_id}/batches"), data=b"Name\nRaw One\nRaw Two\n",
                      headers={"Content-Type": "text/csv"})
    assert upload.status_code == 201
    closed = http.patch(jobs_url(handle, f"/{job_id}"), json={"state": "UploadComplete"})
    assert closed.json()["state"] == "UploadComplete"
    info = _wait(http, handle, job_id)
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 2
    # Result paths are matched case-insensitively.
    text = http.get(jobs_url(handle, f"/{job_id}/SUCCESSFULRESULTS/")).text
    assert text.splitlines()[0] == "sf__Id,sf__Created,Name"
    assert http.get(jobs_url(handle, f"/{job_id}/unprocessedrecords/")).text == "Name\n"
    listed = http.get(jobs_url(handle)).json()
    assert any(j["id"] == job_id for j in listed["records"])
    assert http.delete(jobs_url(handle, f"/{job_id}")).status_code == 204
    assert http.get(jobs_url(handle, f"/{job_id}")).status_code == 404


def test_abort_and_bad_jobs(http, handle) -> None:  # noqa: ANN001
    job_id = http.post(jobs_url(handle), json={"object": "Account",
                                               "operation": "insert"}).json()["id"]
    aborted = http.patch(jobs_url(handle, f"/{job_id}"), json={"state": "Aborted"})
    assert aborted.json()["state"] == "Aborted"
    upload = http.put(jobs_url(handle, f"/{job_id}/batches"), data=b"Name\nx\n",
                      headers={"Content-Type": "text/csv"})
    assert upload.status_code == 400
    for body, fragment in [
        ({"object": "Nope__c", "operation": "insert"}, "Invalid object"),
        ({"object": "Account", "operation": "merge"}, "Invalid operation"),
        ({"object": "Account", "operation": "upsert"}, "External ID was blank"),
        ({"object": "Account", "operation": "upsert", "externalIdFieldName": "Name"},
         "not an External ID"),
    ]:
        response = http.post(jobs_url(handle), json=body)
        assert response.status_code == 400
        assert fragment in response.json()[0]["message"]


def test_unknown_column_fails_the_job(http, handle) -> None:  # noqa: ANN001
    job_id = http.post(jobs_url(handle), json={"object": "Account",
                                               "operation": "insert"}).json()["id"]
    http.put(jobs_url(handle, f"/{job_id}/batches"), data=b"Name,Bogus__c\nx,y\n",
             headers={"Content-Type": "text/csv"})
    http.patch(jobs_url(handle, f"/{job_id}"), json={"state": "UploadComplete"})
    info = _wait(http, handle, job_id)
    assert info["state"] == "Failed"
    assert "Field name not found : Bogus__c" in info["errorMessage"]


def _wait(http, handle, job_id: str) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = http.get(jobs_url(handle, f"/{job_id}")).json()
        if info["state"] in ("JobComplete", "Failed", "Aborted"):
            return info
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")
