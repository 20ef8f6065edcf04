"""Bulk API 2.0 ingest jobs: create, upload CSV, close, process in a worker thread, results.

Rows are processed in chunks, one org transaction per chunk; each row succeeds or fails on
its own, as Bulk 2.0 does. Result paths are matched case-insensitively.
"""

from __future__ import annotations

import csv
import io
import threading
from dataclasses import dataclass, field
from typing import Any

from runner.sandbox.salesforce import ids
from runner.sandbox.salesforce.calls import CSV_TYPE, Call, Reply
from runner.sandbox.salesforce.errors import ApiError, RecordError, SfError, api_error
from runner.sandbox.salesforce.metadata import ObjectMeta
from runner.sandbox.salesforce.org import Org

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
DELIMITERS = {"COMMA": ",", "TAB": "\t", "SEMICOLON": ";", "PIPE": "|", "CARET": "^",
              "BACKQUOTE": "`"}
CHUNK = 200
_OPEN, _UPLOADED, _RUNNING = "Open", "UploadComplete", "InProgress"
_DONE, _FAILED, _ABORTED = "JobComplete", "Failed", "Aborted"


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
    state: str = _OPEN
    modstamp: str = ""
    data: list[bytes] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    successes: list[tuple[str, bool, list[str]]] = field(default_factory=list)
    failures: list[tuple[str, str, list[str]]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    error_message: str | None = None
    processing_ms: int = 0

    def info(self) -> dict:
        out = {
            "id": self.id, "operation": self.operation, "object": self.meta.name,
            "createdById": self.created_by, "createdDate": self.created,
            "systemModstamp": self.modstamp or self.created, "state": self.state,
            "concurrencyMode": "Parallel", "contentType": "CSV",
            "apiVersion": float(self.version), "jobType": "V2Ingest",
            "lineEnding": self.line_ending,
            "columnDelimiter": next(k for k, v in DELIMITERS.items() if v == self.delimiter),
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


class BulkIngest:
    def __init__(self, org: Org) -> None:
        self.org = org
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.counter = 0

    def handle(self, call: Call, rest: list[str]) -> Reply:
        if not rest:
            if call.method == "POST":
                return self._create(call)
            if call.method == "GET":
                with self.lock:
                    jobs = [j.info() for j in self.jobs.values()]
                return Reply(200, {"done": True, "records": jobs, "nextRecordsUrl": None})
            raise api_error(405, "METHOD_NOT_ALLOWED", f"{call.method} not allowed here")
        job = self._job(rest[0])
        tail = [p.lower() for p in rest[1:]]
        if not tail:
            if call.method == "GET":
                return Reply(200, job.info())
            if call.method == "PATCH":
                return self._set_state(call, job)
            if call.method == "DELETE":
                if job.state in (_UPLOADED, _RUNNING):
                    raise api_error(400, "INVALIDJOBSTATE",
                                    f"Job {job.id} cannot be deleted in state {job.state}")
                with self.lock:
                    self.jobs.pop(job.id, None)
                return Reply(204)
        elif tail == ["batches"] and call.method == "PUT":
            return self._upload(call, job)
        elif len(tail) == 1 and call.method == "GET":
            if tail[0] == "successfulresults":
                return _csv_reply(["sf__Id", "sf__Created", *job.header],
                                  [[i, "true" if c else "false", *row]
                                   for i, c, row in job.successes])
            if tail[0] == "failedresults":
                return _csv_reply(["sf__Id", "sf__Error", *job.header],
                                  [[i, e, *row] for i, e, row in job.failures])
            if tail[0] == "unprocessedrecords":
                return _csv_reply(job.header, job.unprocessed)
        raise api_error(404, "NOT_FOUND", "The requested resource does not exist")

    def _job(self, job_id: str) -> Job:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None and ids.is_valid(job_id):
                job = self.jobs.get(ids.to_18(job_id))
        if job is None:
            raise api_error(404, "NOT_FOUND", f"Job with ID {job_id} not found")
        return job

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
        delimiter = DELIMITERS.get(str(body.get("columnDelimiter", "COMMA")))
        line_ending = str(body.get("lineEnding", "LF"))
        if delimiter is None or line_ending not in ("LF", "CRLF"):
            raise api_error(400, "INVALIDJOB", "InvalidJob : invalid columnDelimiter or "
                            "lineEnding")
        with self.lock:
            self.counter += 1
            job_id = ids.make_id("750", self.counter)
        now = self.org.now()
        job = Job(job_id, meta, operation, external if operation == "upsert" else None,
                  delimiter, line_ending, call.user_id, now, call.version)
        with self.lock:
            self.jobs[job_id] = job
        return Reply(200, job.info())

    def _upload(self, call: Call, job: Job) -> Reply:
        if job.state != _OPEN:
            raise api_error(400, "INVALIDJOBSTATE",
                            f"Job {job.id} is not open for uploads (state {job.state})")
        if not call.raw:
            raise api_error(400, "INVALIDBATCH", "InvalidBatch : the CSV upload is empty")
        if job.data:
            raise api_error(400, "INVALIDJOBSTATE",
                            "Found multiple contents for job; only one upload is allowed")
        job.data.append(call.raw)
        return Reply(201)

    def _set_state(self, call: Call, job: Job) -> Reply:
        wanted = call.json_object().get("state")
        if wanted == _UPLOADED:
            if job.state != _OPEN:
                raise api_error(400, "INVALIDJOBSTATE",
                                f"Job {job.id} cannot be closed in state {job.state}")
            job.state = _UPLOADED
            job.modstamp = self.org.now()
            info = job.info()
            threading.Thread(target=self._process, args=(job,), name=f"bulk-{job.id}",
                             daemon=True).start()
            return Reply(200, info)
        if wanted == _ABORTED:
            if job.state not in (_OPEN, _UPLOADED, _RUNNING):
                raise api_error(400, "INVALIDJOBSTATE",
                                f"Job {job.id} cannot be aborted in state {job.state}")
            job.state = _ABORTED
            job.modstamp = self.org.now()
            return Reply(200, job.info())
        raise api_error(400, "INVALIDJOBSTATE", f"Invalid state: {wanted}")

    # -- processing ----------------------------------------------------------------------
    def _process(self, job: Job) -> None:
        import time

        started = time.monotonic()
        try:
            rows = self._parse(job)
            if job.state == _ABORTED:
                return
            job.state = _RUNNING
            for start in range(0, len(rows), CHUNK):
                if job.state == _ABORTED:
                    job.unprocessed.extend(rows[start:])
                    return
                with self.org.transaction():
                    for row in rows[start : start + CHUNK]:
                        self._one(job, row)
            job.state = _DONE
        except _JobFailure as exc:
            job.error_message = str(exc)
            job.state = _FAILED
        except Exception as exc:  # never kill the thread silently with the job InProgress
            job.error_message = f"InternalServerError : {type(exc).__name__}"
            job.state = _FAILED
        finally:
            job.processing_ms = int((time.monotonic() - started) * 1000)
            job.modstamp = self.org.now()

    def _parse(self, job: Job) -> list[list[str]]:
        text = b"".join(job.data).decode("utf-8-sig", errors="replace")
        if not text.strip():
            raise _JobFailure("InvalidBatch : the CSV upload is empty")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=job.delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise _JobFailure("InvalidBatch : the CSV upload has no header") from None
        job.header = header
        for name in header:
            base = name.split(".", 1)
            if len(base) == 2:
                if job.meta.relationships.get(base[0].lower()) is None:
                    raise _JobFailure(f"InvalidBatch : Field name not found : {name}")
            elif job.meta.field(name) is None:
                raise _JobFailure(f"InvalidBatch : Field name not found : {name}")
        if job.operation in ("delete", "hardDelete") and [h.lower() for h in header] != ["id"]:
            raise _JobFailure("InvalidBatch : The 'delete' batch must contain only 'Id'")
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


class _JobFailure(Exception):
    """The whole job failed (bad CSV header, empty upload)."""


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


def _csv_reply(header: list[str], rows: list[list[str]]) -> Reply:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return Reply(200, out.getvalue(), content_type=CSV_TYPE)
