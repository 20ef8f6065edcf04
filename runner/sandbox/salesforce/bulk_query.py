"""Bulk API 2.0 query jobs: ``/jobs/query``, run in a worker, results as CSV pages.

A job is created ``UploadComplete`` with its SOQL; a worker runs the query and the job
turns ``JobComplete``, or ``Failed`` with Salesforce's ``InvalidBatch : Failed to process
query: CODE: message`` when the query is bad or asks for what Bulk 2.0 refuses (COUNT(),
OFFSET, compound fields). ``GET .../results?maxRecords=N&locator=L`` pages the CSV: the
``Sforce-Locator`` header names the next page (the string ``null`` after the last) and
``Sforce-NumberOfRecords`` counts the page's rows. Locators stay valid while the job
exists, and results are kept in the org's SQLite file with the job.
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from runner.sandbox.salesforce.bulk_common import (
    ABORTED,
    DONE,
    FAILED,
    FINISHED,
    RUNNING,
    UPLOADED,
    JobBoard,
    JobFailure,
    JobIds,
    csv_format,
    csv_text,
    delimiter_name,
)
from runner.sandbox.salesforce.calls import CSV_TYPE, Call, Reply
from runner.sandbox.salesforce.errors import ApiError, api_error
from runner.sandbox.salesforce.queries import Queries
from runner.sandbox.salesforce.soql_ast import SoqlError
from runner.sandbox.salesforce.soql_schema import ResolvedField, Schema

OPERATIONS = ("query", "queryAll")
DEFAULT_MAX_RECORDS = 50_000  # a page when maxRecords is not given
_SAVED = ("id", "operation", "object", "query", "delimiter", "line_ending", "created_by",
          "created", "version", "state", "modstamp", "error_message", "processing_ms",
          "header")


@dataclass
class QueryJob:
    id: str
    operation: str
    object: str
    query: str
    delimiter: str
    line_ending: str
    created_by: str
    created: str
    version: str
    state: str = UPLOADED
    modstamp: str = ""
    error_message: str | None = None
    processing_ms: int = 0
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)

    def info(self) -> dict:
        out: dict[str, Any] = {
            "id": self.id, "operation": self.operation, "object": self.object,
            "createdById": self.created_by, "createdDate": self.created,
            "systemModstamp": self.modstamp or self.created, "state": self.state,
            "concurrencyMode": "Parallel", "contentType": "CSV",
            "apiVersion": float(self.version), "jobType": "V2Query",
            "lineEnding": self.line_ending, "columnDelimiter": delimiter_name(self.delimiter),
            "numberRecordsProcessed": len(self.rows), "retries": 0,
            "totalProcessingTime": self.processing_ms,
            "isPkChunkingSupported": False,
        }
        if self.error_message:
            out["errorMessage"] = self.error_message
        return out

    def saved(self) -> dict:
        return {k: getattr(self, k) for k in _SAVED}


class BulkQuery(JobBoard[QueryJob]):
    kind = "query"

    def __init__(self, queries: Queries, job_ids: JobIds) -> None:
        super().__init__(queries.org.store, job_ids)
        self.queries = queries
        self.org = queries.org

    def load(self) -> None:
        """Jobs from the state file; a job stopped before its query ran runs it now."""
        for kind, saved, _upload, results in self.store.load_jobs():
            if kind != self.kind:
                continue
            job = QueryJob(**{k: saved[k] for k in _SAVED if k in saved})
            job.rows = [row for _kind, row in results]
            self.add(job.id, job)
            if job.state in (UPLOADED, RUNNING):
                self.start(f"bulk-query-{job.id}", partial(self._process, job))

    def _save(self, job: QueryJob) -> None:
        self.store.save_job(job.id, self.kind, job.saved())

    # -- the API -----------------------------------------------------------------------
    def handle(self, call: Call, rest: list[str]) -> Reply:
        if not rest:
            if call.method == "POST":
                return self._create(call)
            if call.method == "GET":
                return self.listing(QueryJob.info)
            raise api_error(405, "METHOD_NOT_ALLOWED", f"{call.method} not allowed here")
        job = self.find(rest[0])
        tail = [p.lower() for p in rest[1:] if p]
        if not tail:
            if call.method == "GET":
                return Reply(200, job.info())
            if call.method == "PATCH":
                return self._abort(call, job)
            if call.method == "DELETE":
                if job.state not in FINISHED:
                    raise api_error(400, "INVALIDJOBSTATE",
                                    f"Job {job.id} cannot be deleted in state {job.state}")
                self.forget(job.id)
                return Reply(204)
            raise api_error(405, "METHOD_NOT_ALLOWED", f"{call.method} not allowed here")
        if tail == ["results"] and call.method == "GET":
            return self._results(call, job)
        raise api_error(404, "NOT_FOUND", "The requested resource does not exist")

    def _create(self, call: Call) -> Reply:
        body = call.json_object()
        operation = body.get("operation")
        if operation not in OPERATIONS:
            raise api_error(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}. "
                            f"Use one of {', '.join(OPERATIONS)}")
        text = body.get("query")
        if not isinstance(text, str) or not text.strip():
            raise api_error(400, "INVALIDJOB", "InvalidJob : a query job needs a 'query'")
        if body.get("contentType", "CSV") != "CSV":
            raise api_error(400, "INVALIDJOB", "InvalidJob : contentType must be CSV")
        delimiter, line_ending = csv_format(body)
        # The object is read from the query; one the query does not parse to is reported
        # when the job runs, as Salesforce fails the job rather than the request.
        try:
            object_name = self.queries.parse(text).object
        except ApiError:
            object_name = ""
        meta = self.org.meta.find(object_name)
        job = QueryJob(self.job_ids.next(), operation, meta.name if meta else object_name,
                       text, delimiter, line_ending, call.user_id, self.org.now(),
                       call.version)
        self._save(job)
        self.add(job.id, job)
        info = job.info()  # as created: the worker may finish before we answer
        self.start(f"bulk-query-{job.id}", lambda: self._process(job))
        return Reply(200, info)

    def _abort(self, call: Call, job: QueryJob) -> Reply:
        wanted = call.json_object().get("state")
        if wanted != ABORTED:
            raise api_error(400, "INVALIDJOBSTATE", f"Invalid state: {wanted}")
        if job.state in FINISHED:
            raise api_error(400, "INVALIDJOBSTATE",
                            f"Job {job.id} cannot be aborted in state {job.state}")
        job.state = ABORTED
        job.modstamp = self.org.now()
        self._save(job)
        return Reply(200, job.info())

    def _results(self, call: Call, job: QueryJob) -> Reply:
        if call.version != job.version:
            raise api_error(409, "INVALIDJOBSTATE",
                            f"Job {job.id} was created in API version {job.version}; get its "
                            "results in the same version")
        if job.state != DONE:
            raise api_error(400, "INVALIDJOBSTATE",
                            f"Job {job.id} is not complete (state {job.state})")
        size = _max_records(call.param("maxRecords"))
        start = _offset(call.param("locator"), len(job.rows))
        page = job.rows[start : start + size]
        after = start + len(page)
        text = csv_text(job.header, page, delimiter=job.delimiter,
                        line_ending=job.line_ending, quote_all=True)
        return Reply(200, text, content_type=CSV_TYPE, headers={
            "Sforce-NumberOfRecords": str(len(page)),
            "Sforce-Locator": _locator(after) if after < len(job.rows) else "null",
        })

    # -- running -------------------------------------------------------------------------
    def _process(self, job: QueryJob) -> None:
        started = time.monotonic()
        try:
            if job.state == ABORTED:
                return
            job.state = RUNNING
            header, rows = self._run(job)
            if job.state == ABORTED:
                return
            if self.stopping.is_set():
                job.state = UPLOADED  # shutting down: run it again on the next start
                return
            job.header, job.rows = header, rows
            job.state = DONE
        except JobFailure as exc:
            job.error_message = str(exc)
            job.state = FAILED
        except Exception as exc:  # never leave the job InProgress for ever
            job.error_message = f"InternalServerError : {type(exc).__name__}"
            job.state = FAILED
        finally:
            job.processing_ms = int((time.monotonic() - started) * 1000)
            job.modstamp = self.org.now()
            self._finish(job)

    def _finish(self, job: QueryJob) -> None:
        """The job and its result rows in one transaction."""
        saved = job.saved()
        rows = [("row", row) for row in job.rows] if job.state == DONE else []
        with self.store.engine.begin() as conn:
            self.store.append_results(conn, job.id, 0, rows)
            self.store.save_job(job.id, self.kind, saved, conn=conn)

    def _run(self, job: QueryJob) -> tuple[list[str], list[list[str]]]:
        try:
            query = self.queries.parse(job.query)
            if query.count_only:
                raise _refused("Aggregate Functions such as COUNT() are not supported in Bulk "
                               "API 2.0 queries")
            if query.offset is not None:
                raise _refused("OFFSET is not supported in Bulk API 2.0 queries")
            if query.is_aggregate:
                raise _refused("Aggregate Functions and GROUP BY are not supported in Bulk "
                               "API 2.0 queries")
            if query.subqueries:
                raise _refused("Parent-to-child relationship queries are not supported in "
                               "Bulk API 2.0 queries")
            try:
                schema = Schema(query.object, self.queries.describe, query.text, query.object_pos)
                selected = [schema.resolve(ref) for ref in query.fields]
            except SoqlError as exc:
                raise api_error(400, exc.error_code, exc.message) from None
            if any(r.parts or r.type in ("address", "location") for r in selected):
                raise _refused("Selecting compound data not supported in Bulk Query")
            result = self.queries.run(query, include_deleted=job.operation == "queryAll",
                                        version=job.version)
        except ApiError as exc:
            first = exc.errors[0] if exc.errors else None
            detail = f"{first.code}: {first.message}" if first else "UNKNOWN_EXCEPTION"
            raise JobFailure(f"InvalidBatch : Failed to process query: {detail}") from None
        header = [_column(r) for r in selected]
        rows = [[_cell(_pick(record, r)) for r in selected] for record in result.records]
        return header, rows


def _refused(reason: str) -> ApiError:
    return api_error(400, "FUNCTIONALITY_NOT_ENABLED", reason)


def _column(resolved: ResolvedField) -> str:
    if resolved.relationship:
        return f"{resolved.relationship}.{resolved.name}"
    return resolved.name


def _pick(record: dict, resolved: ResolvedField) -> Any:
    if resolved.relationship is None:
        return record.get(resolved.name)
    parent = record.get(resolved.relationship)
    return parent.get(resolved.name) if isinstance(parent, dict) else None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _max_records(text: str | None) -> int:
    if text is None or text == "":
        return DEFAULT_MAX_RECORDS
    if not text.isdigit() or int(text) <= 0:
        raise api_error(400, "INVALIDREQUEST",
                        f"maxRecords must be a positive whole number, not {text!r}")
    return int(text)


def _locator(offset: int) -> str:
    # Salesforce's locators are opaque; base64 of the next row number, without padding.
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _offset(locator: str | None, total: int) -> int:
    if locator is None or locator in ("", "null"):
        return 0
    try:
        text = base64.b64decode(locator + "=" * (-len(locator) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    if not text.isdigit() or int(text) > total:
        raise api_error(400, "INVALIDLOCATOR", f"Invalid locator: {locator}")
    return int(text)
