"""What Bulk API 2.0 ingest and query jobs share: ids, states, CSV dialect, job threads.

Both kinds of job live in memory and in the org's SQLite file (``bulk_jobs`` and
``bulk_results``), so they survive a restart; a job the emulator stopped in the middle of
is picked up again where its last committed chunk left it.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from runner.sandbox.salesforce import ids
from runner.sandbox.salesforce.calls import CSV_TYPE, Reply
from runner.sandbox.salesforce.errors import api_error
from runner.sandbox.salesforce.store import OrgStore

DELIMITERS = {"COMMA": ",", "TAB": "\t", "SEMICOLON": ";", "PIPE": "|", "CARET": "^",
              "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
OPEN, UPLOADED, RUNNING = "Open", "UploadComplete", "InProgress"
DONE, FAILED, ABORTED = "JobComplete", "Failed", "Aborted"
FINISHED = frozenset({DONE, FAILED, ABORTED})
JOB_PREFIX = "750"  # AsyncApexJob: ingest and query jobs alike


class JobFailure(Exception):
    """The whole job failed (bad CSV header, empty upload, a query Salesforce refuses)."""


def delimiter_name(delimiter: str) -> str:
    return next(k for k, v in DELIMITERS.items() if v == delimiter)


def csv_format(body: dict) -> tuple[str, str]:
    """``(delimiter, lineEnding)`` of a create-job body, or INVALIDJOB."""
    delimiter = DELIMITERS.get(str(body.get("columnDelimiter", "COMMA")))
    line_ending = str(body.get("lineEnding", "LF"))
    if delimiter is None or line_ending not in LINE_ENDINGS:
        raise api_error(400, "INVALIDJOB", "InvalidJob : invalid columnDelimiter or lineEnding")
    return delimiter, line_ending


def csv_text(header: list[str], rows: list[list[str]], *, delimiter: str = ",",
             line_ending: str = "LF", quote_all: bool = False) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=LINE_ENDINGS[line_ending],
                        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def csv_reply(header: list[str], rows: list[list[str]]) -> Reply:
    return Reply(200, csv_text(header, rows), content_type=CSV_TYPE)


class JobIds:
    """Job ids from one counter kept in the org's settings, so a restart never reuses one."""

    def __init__(self, store: OrgStore) -> None:
        self.store = store
        self.lock = threading.Lock()
        saved = store.get_setting("bulk_job_counter")
        self.counter = saved if isinstance(saved, int) else 0

    def next(self) -> str:
        with self.lock:
            self.counter += 1
            number = self.counter
        self.store.set_setting("bulk_job_counter", number)
        return ids.make_id(JOB_PREFIX, number)


J = TypeVar("J")


class JobBoard(Generic[J]):
    """A kind of job's table in memory, its worker threads and a stop for shutdown."""

    kind = ""

    def __init__(self, store: OrgStore, job_ids: JobIds) -> None:
        self.store = store
        self.job_ids = job_ids
        self.jobs: dict[str, J] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.autostart = True  # tests turn it off to leave a closed job unprocessed

    def find(self, job_id: str) -> J:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None and ids.is_valid(job_id):
                job = self.jobs.get(ids.to_18(job_id))
        if job is None:
            raise api_error(404, "NOT_FOUND", f"Job with ID {job_id} not found")
        return job

    def add(self, job_id: str, job: J) -> None:
        with self.lock:
            self.jobs[job_id] = job

    def forget(self, job_id: str) -> None:
        with self.lock:
            self.jobs.pop(job_id, None)
        self.store.delete_job(job_id)

    def listing(self, info: Callable[[J], dict]) -> Reply:
        with self.lock:
            jobs = [info(j) for j in self.jobs.values()]
        return Reply(200, {"done": True, "records": jobs, "nextRecordsUrl": None})

    def start(self, name: str, work: Callable[[], Any]) -> None:
        if not self.autostart or self.stopping.is_set():
            return
        thread = threading.Thread(target=work, name=name, daemon=True)
        with self.lock:
            self.threads = [t for t in self.threads if t.is_alive()]
            self.threads.append(thread)
        thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop at the next chunk boundary; unfinished jobs resume on the next start."""
        self.stopping.set()
        with self.lock:
            threads = list(self.threads)
        for thread in threads:
            thread.join(timeout)
