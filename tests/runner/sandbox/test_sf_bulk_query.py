"""Bulk API 2.0 query jobs through simple-salesforce's bulk2 client and raw HTTPS."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator

import pytest
from simple_salesforce.exceptions import SalesforceOperationError

from runner.sandbox.salesforce import start_emulator

pytestmark = pytest.mark.slow
ROWS = 3_000


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    h = start_emulator(tmp_path_factory.mktemp("sf-bulk-query"), reset=True)
    yield h
    h.stop()


@pytest.fixture(scope="module")
def accounts(sf) -> list[str]:  # noqa: ANN001
    """ROWS Accounts named ``Q nnnnn`` (one of them deleted), made 200 at a time."""
    made: list[str] = []
    for start in range(0, ROWS, 200):
        records = [{"attributes": {"type": "Account"}, "Name": f"Q {n:05d}",
                    "NumberOfEmployees": n, "BillingCity": "Tours, \"Centre\""}
                   for n in range(start, min(start + 200, ROWS))]
        results = sf.restful("composite/sobjects", method="POST", json={"records": records})
        made.extend(r["id"] for r in results)
    sf.Account.delete(made[-1])
    return made


def jobs_url(handle, path: str = "", version: str = "62.0") -> str:  # noqa: ANN001
    return f"{handle.instance_url}/services/data/v{version}/jobs/query{path}"


def rows_of(page: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(page)))


def wait(http, handle, job_id: str) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = http.get(jobs_url(handle, f"/{job_id}")).json()
        if info["state"] in ("JobComplete", "Failed", "Aborted"):
            return info
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def test_query_of_thousands_of_rows_in_pages(sf, accounts) -> None:  # noqa: ANN001
    pages = list(sf.bulk2.Account.query(
        "SELECT Id, Name, NumberOfEmployees, BillingCity, Owner.Name FROM Account "
        "WHERE Name LIKE 'Q %'", max_records=1000, wait=0.1))
    assert len(pages) == 3  # 2,999 live rows in pages of 1,000
    rows = [row for page in pages for row in rows_of(page)]
    assert len(rows) == ROWS - 1
    assert {r["Id"] for r in rows} == set(accounts[:-1])
    assert pages[0].splitlines()[0] == '"Id","Name","NumberOfEmployees","BillingCity","Owner.Name"'
    first = next(r for r in rows if r["Name"] == "Q 00007")
    assert first["NumberOfEmployees"] == "7" and first["BillingCity"] == 'Tours, "Centre"'
    assert first["Owner.Name"] == "Fieldbridge Integration"


def test_query_all_includes_deleted_rows(sf, accounts) -> None:  # noqa: ANN001
    pages = list(sf.bulk2.Account.query_all(
        f"SELECT Id, IsDeleted FROM Account WHERE Id = '{accounts[-1]}'", wait=0.1))
    assert rows_of(pages[0]) == [{"Id": accounts[-1], "IsDeleted": "true"}]


def test_results_paging_over_raw_http(http, handle, accounts) -> None:  # noqa: ANN001
    created = http.post(jobs_url(handle), json={
        "operation": "query", "query": "SELECT Id FROM Account WHERE NumberOfEmployees < 1000",
        "columnDelimiter": "PIPE", "lineEnding": "CRLF"})
    assert created.status_code == 200
    job = created.json()
    assert (job["state"], job["object"], job["operation"]) == ("UploadComplete", "Account",
                                                               "query")
    info = wait(http, handle, job["id"])
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 1000
    assert info["jobType"] == "V2Query" and info["columnDelimiter"] == "PIPE"

    seen: list[str] = []
    locator = None
    sizes = []
    while True:
        params = {"maxRecords": 400, **({"locator": locator} if locator else {})}
        page = http.get(jobs_url(handle, f"/{job['id']}/results"), params=params)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/csv")
        lines = page.text.split("\r\n")
        assert lines[0] == '"Id"'
        seen.extend(line.strip('"') for line in lines[1:] if line)
        sizes.append(int(page.headers["Sforce-NumberOfRecords"]))
        locator = page.headers["Sforce-Locator"]
        if locator == "null":
            break
    assert sizes == [400, 400, 200]
    assert seen == sorted(set(seen), key=seen.index) and len(seen) == 1000
    # A locator stays valid: the same page again.
    second = http.get(jobs_url(handle, f"/{job['id']}/results"),
                      params={"maxRecords": 400, "locator": _locator_after(http, handle, job)})
    assert second.text.split("\r\n")[1].strip('"') == seen[400]


def _locator_after(http, handle, job: dict) -> str:  # noqa: ANN001
    first = http.get(jobs_url(handle, f"/{job['id']}/results"), params={"maxRecords": 400})
    return first.headers["Sforce-Locator"]


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("SELECT Nope FROM Account", "INVALID_FIELD: "),
        ("SELECT Id FROM Nothing__c", "INVALID_TYPE: "),
        ("SELECT Id FORM Account", "MALFORMED_QUERY: "),
        ("SELECT COUNT() FROM Account", "FUNCTIONALITY_NOT_ENABLED: "),
        ("SELECT Id FROM Account LIMIT 5 OFFSET 2", "FUNCTIONALITY_NOT_ENABLED: "),
        ("SELECT BillingAddress FROM Account",
         "FUNCTIONALITY_NOT_ENABLED: Selecting compound data not supported in Bulk Query"),
    ],
)
def test_a_bad_query_fails_the_job(sf, http, handle, query: str, fragment: str) -> None:  # noqa: ANN001
    with pytest.raises(SalesforceOperationError) as exc:
        list(sf.bulk2.Account.query(query, wait=0.1))
    assert "InvalidBatch : Failed to process query: " + fragment in str(exc.value)
    job_id = http.post(jobs_url(handle), json={"operation": "query", "query": query}).json()["id"]
    info = wait(http, handle, job_id)
    assert info["state"] == "Failed" and fragment in info["errorMessage"]
    results = http.get(jobs_url(handle, f"/{job_id}/results"))
    assert results.status_code == 400 and results.json()[0]["errorCode"] == "INVALIDJOBSTATE"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"operation": "query"}, "needs a 'query'"),
        ({"operation": "select", "query": "SELECT Id FROM Account"}, "Invalid operation"),
        ({"operation": "query", "query": "SELECT Id FROM Account", "columnDelimiter": "DOT"},
         "invalid columnDelimiter"),
    ],
)
def test_bad_job_requests(http, handle, body: dict, fragment: str) -> None:  # noqa: ANN001
    response = http.post(jobs_url(handle), json=body)
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALIDJOB"
    assert fragment in response.json()[0]["message"]


def test_bad_result_requests(http, handle, accounts) -> None:  # noqa: ANN001
    job_id = http.post(jobs_url(handle), json={"operation": "query",
                                               "query": "SELECT Id FROM Account"}).json()["id"]
    assert wait(http, handle, job_id)["state"] == "JobComplete"
    results = jobs_url(handle, f"/{job_id}/results")
    bad_max = http.get(results, params={"maxRecords": "lots"})
    assert bad_max.status_code == 400 and "maxRecords" in bad_max.json()[0]["message"]
    bad_locator = http.get(results, params={"locator": "not-a-locator!"})
    assert bad_locator.status_code == 400
    assert bad_locator.json()[0]["errorCode"] == "INVALIDLOCATOR"
    # Results come in the API version the job was created in, else 409.
    other = http.get(jobs_url(handle, f"/{job_id}/results", version="61.0"))
    assert other.status_code == 409
    assert http.get(jobs_url(handle, "/750Fb0000000zzzAAA")).status_code == 404


def test_listing_abort_and_delete(http, handle) -> None:  # noqa: ANN001
    emulator = handle._server.emulator  # hold the worker back, so the job can be aborted
    emulator.api.bulk_query.autostart = False
    try:
        job_id = http.post(jobs_url(handle), json={
            "operation": "query", "query": "SELECT Id FROM Account"}).json()["id"]
    finally:
        emulator.api.bulk_query.autostart = True
    assert http.delete(jobs_url(handle, f"/{job_id}")).status_code == 400  # still running
    aborted = http.patch(jobs_url(handle, f"/{job_id}"), json={"state": "Aborted"})
    assert aborted.status_code == 200 and aborted.json()["state"] == "Aborted"
    again = http.patch(jobs_url(handle, f"/{job_id}"), json={"state": "Aborted"})
    assert again.status_code == 400
    assert any(j["id"] == job_id for j in http.get(jobs_url(handle)).json()["records"])
    assert http.delete(jobs_url(handle, f"/{job_id}")).status_code == 204
    assert http.get(jobs_url(handle, f"/{job_id}")).status_code == 404
