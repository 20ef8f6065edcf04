"""Bulk API 2.0 jobs survive a restart of the emulator (they live in its SQLite state)."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import pytest
import requests

from runner.sandbox.salesforce import salesforce_client, start_emulator

pytestmark = pytest.mark.slow


def session(handle) -> requests.Session:  # noqa: ANN001
    http = requests.Session()
    http.trust_env = False
    http.verify = handle.ca_file
    http.headers["Authorization"] = f"Bearer {handle.access_token}"
    return http


def url(handle, kind: str, path: str = "") -> str:  # noqa: ANN001
    return f"{handle.instance_url}/services/data/v62.0/jobs/{kind}{path}"


def wait(http, handle, kind: str, job_id: str) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = http.get(url(handle, kind, f"/{job_id}")).json()
        if info["state"] in ("JobComplete", "Failed", "Aborted"):
            return info
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def new_ingest(http, handle, rows: int) -> str:  # noqa: ANN001
    job_id = http.post(url(handle, "ingest"), json={"object": "Account",
                                                    "operation": "insert"}).json()["id"]
    data = "Name\n" + "".join(f"Kept {n:04d}\n" for n in range(rows))
    upload = http.put(url(handle, "ingest", f"/{job_id}/batches"), data=data.encode(),
                      headers={"Content-Type": "text/csv"})
    assert upload.status_code == 201
    return job_id


def test_open_finished_and_query_jobs_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "org"
    first = start_emulator(state, reset=True)
    try:
        http = session(first)
        open_job = new_ingest(http, first, 3)  # uploaded, not closed
        done_job = new_ingest(http, first, 5)
        http.patch(url(first, "ingest", f"/{done_job}"), json={"state": "UploadComplete"})
        assert wait(http, first, "ingest", done_job)["numberRecordsProcessed"] == 5
        query_job = http.post(url(first, "query"), json={
            "operation": "query", "query": "SELECT Name FROM Account ORDER BY Name"}).json()["id"]
        assert wait(http, first, "query", query_job)["state"] == "JobComplete"
    finally:
        first.stop()

    second = start_emulator(state)
    try:
        http = session(second)
        listed = {j["id"]: j["state"] for j in http.get(url(second, "ingest")).json()["records"]}
        assert listed == {open_job: "Open", done_job: "JobComplete"}
        ok = http.get(url(second, "ingest", f"/{done_job}/successfulResults")).text
        assert len(list(csv.DictReader(io.StringIO(ok)))) == 5
        # The open job kept its upload: closing it now processes it.
        http.patch(url(second, "ingest", f"/{open_job}"), json={"state": "UploadComplete"})
        assert wait(http, second, "ingest", open_job)["numberRecordsProcessed"] == 3
        page = http.get(url(second, "query", f"/{query_job}/results"), params={"maxRecords": 3})
        assert page.headers["Sforce-NumberOfRecords"] == "3"
        assert page.text.splitlines()[1:] == ['"Kept 0000"', '"Kept 0001"', '"Kept 0002"']
        rest = http.get(url(second, "query", f"/{query_job}/results"),
                        params={"locator": page.headers["Sforce-Locator"]})
        assert rest.headers["Sforce-NumberOfRecords"] == "2"
        assert rest.headers["Sforce-Locator"] == "null"
        # Job ids keep counting after the restart.
        newer = new_ingest(http, second, 1)
        assert newer not in (open_job, done_job, query_job)
    finally:
        second.stop()

    third = start_emulator(state, reset=True)
    try:
        assert session(third).get(url(third, "ingest")).json()["records"] == []
    finally:
        third.stop()


def test_a_job_stopped_mid_way_resumes_without_repeating_rows(tmp_path: Path) -> None:
    state = tmp_path / "org"
    first = start_emulator(state, reset=True)
    board = first._server.emulator.api.bulk
    original = board._one

    def one_then_stop(job, row) -> None:  # noqa: ANN001
        original(job, row)
        if len(job.successes) == 300:  # mid-way through the second chunk of 200
            board.stopping.set()

    board._one = one_then_stop
    try:
        http = session(first)
        job_id = new_ingest(http, first, 1000)
        http.patch(url(first, "ingest", f"/{job_id}"), json={"state": "UploadComplete"})
        deadline = time.monotonic() + 30
        while board.threads and any(t.is_alive() for t in board.threads):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        info = http.get(url(first, "ingest", f"/{job_id}")).json()
        assert info["state"] == "InProgress" and info["numberRecordsProcessed"] == 400
    finally:
        first.stop()

    second = start_emulator(state)
    try:
        http = session(second)
        info = wait(http, second, "ingest", job_id)
        assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 1000
        sf = salesforce_client(second)
        assert sf.query("SELECT COUNT() FROM Account WHERE Name LIKE 'Kept %'")["totalSize"] \
            == 1000
        ok = http.get(url(second, "ingest", f"/{job_id}/successfulResults")).text
        names = [r["Name"] for r in csv.DictReader(io.StringIO(ok))]
        assert sorted(names) == [f"Kept {n:04d}" for n in range(1000)]
    finally:
        second.stop()


def test_a_closed_job_not_yet_started_runs_after_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "org"
    first = start_emulator(state, reset=True)
    try:
        first._server.emulator.api.bulk.autostart = False  # closed, but no worker
        http = session(first)
        job_id = new_ingest(http, first, 7)
        closed = http.patch(url(first, "ingest", f"/{job_id}"), json={"state": "UploadComplete"})
        assert closed.json()["state"] == "UploadComplete"
    finally:
        first.stop()
    second = start_emulator(state)
    try:
        info = wait(session(second), second, "ingest", job_id)
        assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 7
    finally:
        second.stop()
