"""Bulk API 2.0 ingest jobs: create, upload CSV, close, process in a worker thread, results.

Rows are processed in chunks, one org transaction per chunk; each row succeeds or fails on
its own, as Bulk 2.0 does. Result paths are matched case-insensitively. Jobs, their upload
and their results are kept in the org's SQLite file: each chunk's records and the job's
note of them commit in one transaction, so a job stopped by a shutdown resumes on the next
start without doing a row twice.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from runner.sandbox.salesforce import ids
from runner.sandbox.salesforce.bulk_common import (
    ABORTED,
    DELIMITERS,
    DONE,
    FAILED,
    OPEN,
    RUNNING,
    UPLOADED,
    JobBoard,
    JobFailure,
    JobIds,
    csv_format,
    csv_reply,
    delimiter_name,
)
from runner.sandbox.salesforce.calls import Call, Reply
from runner.sandbox.salesforce.errors import ApiError, RecordError, SfError, api_error
from runner.sandbox.salesforce.metadata import ObjectMeta
from runner.sandbox.salesforce.org import Org

__all__ = ["CHUNK", "DELIMITERS", "OPERATIONS", "BulkIngest", "Job"]

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
CHUNK = 200
_SAVED = ("id", "operation", "external_id", "delimiter", "line_ending", "created_by",
          "created", "version", "state", "modstamp", "header", "error_message",
          "processing_ms", "next_row")


@dataclass
class Job:
    id: str
    meta: ObjectMeta
    operation: str
    external_id: str | None
    delimiter: str
    line_ending: str
    created_by: str
    created: str
    version: str
    state: str = OPEN
    modstamp: str = ""
    data: list[bytes] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    successes: list[tuple[str, bool, list[str]]] = field(default_factory=list)
    failures: list[tuple[str, str, list[str]]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    error_message: str | None = None
    processing_ms: int = 0
    next_row: int = 0  # rows done (committed) so far
    # How many successes, failures and unprocessed rows are already in the state file.
    stored: tuple[int, int, int] = (0, 0, 0)

    def info(self) -> dict:
        out = {
            "id": self.id, "operation": self.operation, "object": self.meta.name,
            "createdById": self.created_by, "createdDate": self.created,
            "systemModstamp": self.modstamp or self.created, "state": self.state,
            "concurrencyMode": "Parallel", "contentType": "CSV",
            "apiVersion": float(self.version), "jobType": "V2Ingest",
            "lineEnding": self.line_ending,
            "columnDelimiter": delimiter_name(self.delimiter),
            "contentUrl": f"services/data/v{self.version}/jobs/ingest/{self.id}/batches",
            "numberRecordsProcessed": len(self.successes) + len(self.failures),
            "numberRecordsFailed": len(self.failures), "retries": 0,
            "totalProcessingTime": self.processing_ms, "apiActiveProcessingTime":
                self.processing_ms, "apexProcessingTime": 0,
        }
        if self.external_id:
            out["externalIdFieldName"] = self.external_id
        if self.error_message:
            out["errorMessage"] = self.error_message
        return out

    def saved(self) -> dict:
        return {"object": self.meta.name, **{k: getattr(self, k) for k in _SAVED}}



class BulkIngest(JobBoard[Job]):
    kind = "ingest"

    def __init__(self, org: Org, job_ids: JobIds | None = None) -> None:
        super().__init__(org.store, job_ids or JobIds(org.store))
        self.org = org

    # -- persistence -------------------------------------------------------------------
    def load(self) -> None:
        """Jobs from the state file; closed jobs that had not finished carry on."""
        for kind, saved, upload, results in self.store.load_jobs():
            if kind != self.kind:
                continue
            meta = self.org.meta.find(str(saved.get("object", "")))
            if meta is None:
                continue  # its object left the org's metadata
            job = Job(meta=meta, data=[upload] if upload else [],
                      **{k: saved[k] for k in _SAVED if k in saved})
            for result_kind, row in results:
                if result_kind == "success":
                    job.successes.append((row[0], bool(row[1]), row[2]))
                elif result_kind == "failure":
                    job.failures.append((row[0], row[1], row[2]))
                else:
                    job.unprocessed.append(row)
            job.stored = (len(job.successes), len(job.failures), len(job.unprocessed))
            self.add(job.id, job)
            if job.state in (UPLOADED, RUNNING):
                self.start(f"bulk-{job.id}", partial(self._process, job))

    def _save(self, job: Job, upload: bytes | None = None) -> None:
        self.store.save_job(job.id, self.kind, job.saved(), upload=upload)

    # -- the API -----------------------------------------------------------------------
    def handle(self, call: Call, rest: list[str]) -> Reply:
        if not rest:
            if call.method == "POST":
                return self._create(call)
            if call.method == "GET":
                return self.listing(Job.info)
            raise api_error(405, "METHOD_NOT_ALLOWED", f"{call.method} not allowed here")
        job = self.find(rest[0])
        tail = [p.lower() for p in rest[1:]]
        if not tail:
            if call.method == "GET":
                return Reply(200, job.info())
            if call.method == "PATCH":
                return self._set_state(call, job)
            if call.method == "DELETE":
                if job.state in (UPLOADED, RUNNING):
                    raise api_error(400, "INVALIDJOBSTATE",
                                    f"Job {job.id} cannot be deleted in state {job.state}")
                self.forget(job.id)
                return Reply(204)
        elif tail == ["batches"] and call.method == "PUT":
            return self._upload(call, job)
        elif len(tail) == 1 and call.method == "GET":
            if tail[0] == "successfulresults":
                return csv_reply(["sf__Id", "sf__Created", *job.header],
                                 [[i, "true" if c else "false", *row]
                                  for i, c, row in job.successes])
            if tail[0] == "failedresults":
                return csv_reply(["sf__Id", "sf__Error", *job.header],
                                 [[i, e, *row] for i, e, row in job.failures])
            if tail[0] == "unprocessedrecords":
                return csv_reply(job.header, job.unprocessed)
        raise api_error(404, "NOT_FOUND", "The requested resource does not exist")

    def _create(self, call: Call) -> Reply:
        body = call.json_object()
        operation = body.get("operation")
        if operation not in OPERATIONS:
            raise api_error(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}. "
                            f"Use one of {', '.join(OPERATIONS)}")
        try:
            meta = self.org.meta.get(str(body.get("object", "")))
        except ApiError:
            raise api_error(400, "INVALIDJOB",
                            f"InvalidJob : Invalid object: {body.get('object')}") from None
        if body.get("contentType", "CSV") != "CSV":
            raise api_error(400, "INVALIDJOB", "InvalidJob : contentType must be CSV")
        external = body.get("externalIdFieldName")
        if operation == "upsert":
            if not external:
                raise api_error(400, "INVALIDJOB",
                                "InvalidJob : External ID was blank for upsert job")
            try:
                external = self.org.external_id_field(meta, str(external))["name"]
            except ApiError:
                raise api_error(400, "INVALIDJOB",
                                f"InvalidJob : Field name provided, {external} is not an "
                                f"External ID or indexed field for {meta.name}") from None
        delimiter, line_ending = csv_format(body)
        job = Job(self.job_ids.next(), meta, operation,
                  external if operation == "upsert" else None, delimiter, line_ending,
                  call.user_id, self.org.now(), call.version)
        self._save(job)
        self.add(job.id, job)
        return Reply(200, job.info())

    def _upload(self, call: Call, job: Job) -> Reply:
        if job.state != OPEN:
            raise api_error(400, "INVALIDJOBSTATE",
                            f"Job {job.id} is not open for uploads (state {job.state})")
        if not call.raw:
            raise api_error(400, "INVALIDBATCH", "InvalidBatch : the CSV upload is empty")
        if job.data:
            raise api_error(400, "INVALIDJOBSTATE",
                            "Found multiple contents for job; only one upload is allowed")
        job.data.append(call.raw)
        self._save(job, upload=call.raw)
        return Reply(201)

    def _set_state(self, call: Call, job: Job) -> Reply:
        wanted = call.json_object().get("state")
        if wanted == UPLOADED:
            if job.state != OPEN:
                raise api_error(400, "INVALIDJOBSTATE",
                                f"Job {job.id} cannot be closed in state {job.state}")
            job.state = UPLOADED
            job.modstamp = self.org.now()
            self._save(job)
            info = job.info()
            self.start(f"bulk-{job.id}", lambda: self._process(job))
            return Reply(200, info)
        if wanted == ABORTED:
            if job.state not in (OPEN, UPLOADED, RUNNING):
                raise api_error(400, "INVALIDJOBSTATE",
                                f"Job {job.id} cannot be aborted in state {job.state}")
            job.state = ABORTED
            job.modstamp = self.org.now()
            self._save(job)
            return Reply(200, job.info())
        raise api_error(400, "INVALIDJOBSTATE", f"Invalid state: {wanted}")

    # -- processing ----------------------------------------------------------------------
    def _process(self, job: Job) -> None:
        started = time.monotonic()
        base_ms = job.processing_ms  # time spent before a restart counts too
        try:
            rows = self._parse(job)
            if job.state == ABORTED:
                return
            job.state = RUNNING
            for start in range(job.next_row, len(rows), CHUNK):
                if self.stopping.is_set():
                    return  # shutting down: the next start carries on from here
                chunk = rows[start : start + CHUNK]
                with self.org.transaction() as tx:
                    if job.state == ABORTED:
                        job.unprocessed.extend(rows[start:])
                        job.next_row = len(rows)
                    else:
                        for row in chunk:
                            self._one(job, row)
                        job.next_row = start + len(chunk)
                    job.processing_ms = base_ms + int((time.monotonic() - started) * 1000)
                    tx.extra.append(self._progress(job))
                if job.state == ABORTED:
                    return
            job.state = DONE
        except JobFailure as exc:
            job.error_message = str(exc)
            job.state = FAILED
        except Exception as exc:  # never kill the thread silently with the job InProgress
            job.error_message = f"InternalServerError : {type(exc).__name__}"
            job.state = FAILED
        finally:
            if not self.stopping.is_set() or job.state != RUNNING:
                job.processing_ms = base_ms + int((time.monotonic() - started) * 1000)
                job.modstamp = self.org.now()
                self._save(job)

    def _progress(self, job: Job) -> Callable[[Any], None]:
        """The chunk's new results and the job's position, for the chunk's own commit."""
        done_s, done_f, done_u = job.stored
        rows: list[tuple[str, list]] = [
            *(("success", [i, c, r]) for i, c, r in job.successes[done_s:]),
            *(("failure", [i, e, r]) for i, e, r in job.failures[done_f:]),
            *(("unprocessed", r) for r in job.unprocessed[done_u:]),
        ]
        first = done_s + done_f + done_u  # the rows' sequence numbers continue from here
        saved = job.saved()
        job.stored = (len(job.successes), len(job.failures), len(job.unprocessed))

        def write(conn: Any) -> None:
            self.store.append_results(conn, job.id, first, rows)
            self.store.save_job(job.id, self.kind, saved, conn=conn)

        return write

    def _parse(self, job: Job) -> list[list[str]]:
        text = b"".join(job.data).decode("utf-8-sig", errors="replace")
        if not text.strip():
            raise JobFailure("InvalidBatch : the CSV upload is empty")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=job.delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise JobFailure("InvalidBatch : the CSV upload has no header") from None
        job.header = header
        for name in header:
            base = name.split(".", 1)
            if len(base) == 2:
                if job.meta.relationships.get(base[0].lower()) is None:
                    raise JobFailure(f"InvalidBatch : Field name not found : {name}")
            elif job.meta.field(name) is None:
                raise JobFailure(f"InvalidBatch : Field name not found : {name}")
        if job.operation in ("delete", "hardDelete") and [h.lower() for h in header] != ["id"]:
            raise JobFailure("InvalidBatch : The 'delete' batch must contain only 'Id'")
        rows = []
        for row in reader:
            if not row or row == [""]:
                continue
            rows.append(row + [""] * (len(header) - len(row)))
        return rows

    def _one(self, job: Job, row: list[str]) -> None:
        body: dict[str, Any] = {}
        for name, value in zip(job.header, row, strict=False):
            if value == "":
                continue  # Bulk API: an empty cell leaves the field as it is
            stored: Any = None if value == "#N/A" else value
            rel, dot, ext = name.partition(".")
            if dot:
                body[rel] = {ext: stored}
            else:
                body[name] = stored
        org, user = self.org, job.created_by
        record_id = ""
        try:
            if job.operation == "insert":
                record_id, created = org.create(job.meta, body, user), True
            elif job.operation == "update":
                record_id = _field(body, "Id")
                record_id, created = org.update(job.meta, record_id, body, user), False
            elif job.operation == "upsert":
                value = _field(body, job.external_id or "Id")
                record_id, created = org.upsert(job.meta, job.external_id or "Id", value, body,
                                                user, api_version=job.version)
            else:
                record_id = _field(body, "Id")
                record_id, created = org.delete(job.meta, record_id, user), False
        except RecordError as exc:
            job.failures.append((_safe_id(record_id), _error_text(exc.errors), row))
            return
        except ApiError as exc:
            errors = exc.errors or [SfError("DUPLICATE_EXTERNAL_ID",
                                            "more than one record found for external id", ())]
            job.failures.append((_safe_id(record_id), _error_text(errors), row))
            return
        job.successes.append((record_id, created, row))


def _field(body: dict, name: str) -> str:
    for key, value in body.items():
        if key.lower() == name.lower() and value:
            return str(value)
    raise RecordError(SfError("MISSING_ARGUMENT", f"{name} not specified", (name,)))


def _safe_id(value: str) -> str:
    return ids.to_18(value) if ids.is_valid(value) else ""


def _error_text(errors: list[SfError]) -> str:
    first = errors[0]
    return f"{first.code}:{first.message}:{','.join(first.fields)} --"
