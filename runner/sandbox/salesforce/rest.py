"""The data API under ``/services/data/vNN.0/``: sObjects, upsert, query, change feed.

Composite, collections and Bulk 2.0 live in their own modules and are routed from here;
they depend on the org, :class:`Queries` and a dispatch callable, never on this module.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta

from runner.sandbox.salesforce import ids
from runner.sandbox.salesforce.bulk import BulkIngest
from runner.sandbox.salesforce.bulk_query import BulkQuery
from runner.sandbox.salesforce.calls import Call, Reply
from runner.sandbox.salesforce.composite import Composite
from runner.sandbox.salesforce.errors import ApiError, RecordError, api_error, not_found
from runner.sandbox.salesforce.metadata import ObjectMeta, object_urls
from runner.sandbox.salesforce.org import Org
from runner.sandbox.salesforce.queries import Queries
from runner.sandbox.salesforce.values import ValueFormatError, format_datetime, parse_datetime

QUERY_BATCH = 2000
MIN_VERSION = 40
MAX_VERSION = 62
_KEEP_LOCATORS = 64


def record_error_reply(error: RecordError) -> Reply:
    codes = {"NOT_FOUND", "ENTITY_IS_DELETED"}
    status = 404 if error.errors and error.errors[0].code in codes else 400
    return Reply(status, [e.rest() for e in error.errors])


class DataApi:
    def __init__(self, org: Org) -> None:
        self.org = org
        self.meta = org.meta
        self.queries = Queries(org)
        self._locators: OrderedDict[str, tuple[list[dict], int]] = OrderedDict()
        self._locator_lock = threading.Lock()
        self._locator_counter = 0
        # Set by the server: the composite and Bulk API handlers and the /limits body.
        self.composite: Composite | None = None
        self.bulk: BulkIngest | None = None
        self.bulk_query: BulkQuery | None = None
        self.limits: Callable[[], dict] | None = None
        # Set by the server: publishes platform event (name, body, user id) -> its id.
        self.publish_event: Callable[[str, object, str], str] | None = None

    # -- routing -------------------------------------------------------------------------
    def handle(self, call: Call) -> Reply:
        try:
            return self._route(call)
        except RecordError as exc:
            return record_error_reply(exc)

    def _route(self, call: Call) -> Reply:
        parts, method = call.parts, call.method
        if not parts:
            return self._only(call, "GET", lambda: Reply(200, resources(call.version)))
        head = parts[0]
        if head == "sobjects":
            return self._sobjects(call, parts[1:])
        if head in ("query", "queryAll"):
            return self._query(call, parts[1:], include_deleted=head == "queryAll")
        if head == "limits" and len(parts) == 1 and self.limits is not None:
            limits = self.limits
            return self._only(call, "GET", lambda: Reply(200, limits()))
        if head == "limits" and parts[1:] == ["recordCount"]:
            return self._only(call, "GET", lambda: Reply(200, self._record_count(call)))
        if head == "composite" and self.composite is not None:
            return self.composite.handle(call, parts[1:])
        if head == "jobs" and len(parts) >= 2 and parts[1] == "ingest" and self.bulk:
            return self.bulk.handle(call, parts[2:])
        if head == "jobs" and len(parts) >= 2 and parts[1] == "query" and self.bulk_query:
            return self.bulk_query.handle(call, parts[2:])
        del method
        raise not_found()

    @staticmethod
    def _only(call: Call, method: str, then) -> Reply:  # noqa: ANN001 - a thunk
        if call.method != method:
            raise method_not_allowed(call.method)
        return then()

    # -- sobjects ----------------------------------------------------------------------
    def _sobjects(self, call: Call, rest: list[str]) -> Reply:
        version = call.version
        if not rest:
            return self._only(call, "GET", lambda: Reply(200, self.meta.global_describe(version)))
        if rest[0].lower().endswith("__e") and len(rest) == 1 and self.publish_event:
            publish = self.publish_event
            return self._only(call, "POST", lambda: Reply(201, {
                "id": publish(rest[0], call.json_object(), call.user_id), "success": True,
                "errors": []}))
        meta = self.meta.from_path(rest[0])
        tail = rest[1:]
        if not tail:
            if call.method == "GET":
                return Reply(200, {"objectDescribe": _basic(meta, version), "recentItems": []})
            if call.method == "POST":
                record_id = self.org.create(meta, call.json_object(), call.user_id)
                return Reply(201, {"id": record_id, "success": True, "errors": []},
                             headers={"Location": _url(version, meta, record_id)})
            raise method_not_allowed(call.method)
        if tail == ["describe"]:
            return self._only(call, "GET", lambda: Reply(200, _describe(meta, version)))
        if tail[0] in ("updated", "deleted") and len(tail) <= 2 and (
            len(tail) == 1 or tail[1] == ""
        ):
            return self._only(call, "GET", lambda: self._feed(call, meta, tail[0]))
        if tail == ["Id"] and call.method == "POST":
            # Upsert on Id without a value: always an insert.
            return self._by_external_id(call, meta, "Id", "")
        if len(tail) == 1:
            return self._record(call, meta, tail[0])
        if len(tail) == 2:
            return self._by_external_id(call, meta, tail[0], tail[1])
        raise not_found()

    def _record_count(self, call: Call) -> dict:
        """``/limits/recordCount``: live records per object; unknown names are skipped, as
        Salesforce ignores them, and no ``sObjects`` parameter means every object."""
        names = [n.strip() for n in (call.param("sObjects") or "").split(",") if n.strip()]
        wanted = [self.meta.find(n) for n in names] if names else list(
            self.meta.objects.values())
        with self.org.lock:
            counts = [{"count": len(self.org.rows(m, include_deleted=False)), "name": m.name}
                      for m in wanted if m is not None]
        return {"sObjects": counts}

    def _record(self, call: Call, meta: ObjectMeta, record_id: str) -> Reply:
        org, version = self.org, call.version
        if call.method == "GET":
            with org.lock:
                record = org.live(meta, record_id)
                fields = _field_list(call.param("fields"))
                return Reply(200, org.view(meta, record, version, fields))
        if call.method == "PATCH":
            org.update(meta, record_id, call.json_object(), call.user_id)
            return Reply(204)
        if call.method == "DELETE":
            org.delete(meta, record_id, call.user_id)
            return Reply(204)
        raise method_not_allowed(call.method)

    def _by_external_id(self, call: Call, meta: ObjectMeta, field: str, value: str) -> Reply:
        org, version = self.org, call.version
        if call.method == "PATCH" or (call.method == "POST" and field == "Id"):
            body = call.json_object()
            record_id, created = org.upsert(meta, field, value, body, call.user_id,
                                            api_version=version)
            if created:
                return Reply(201, {"id": record_id, "success": True, "errors": [],
                                   "created": True},
                             headers={"Location": _url(version, meta, record_id)})
            if int(version.split(".")[0]) < 46:
                return Reply(204)
            return Reply(200, {"id": record_id, "success": True, "errors": [],
                               "created": False})
        if call.method in ("GET", "DELETE"):
            with org.transaction():
                matches = org.match_external(meta, field, value)
                if len(matches) > 1:
                    raise ApiError(300, body=[_url(version, meta, m) for m in matches])
                if not matches:
                    raise not_found()
                if call.method == "DELETE":
                    org.delete(meta, matches[0], call.user_id)
                    return Reply(204)
                fields = _field_list(call.param("fields"))
                return Reply(200, org.view(meta, org.records[matches[0]], version, fields))
        raise method_not_allowed(call.method)

    # -- change feed -------------------------------------------------------------------
    def _feed(self, call: Call, meta: ObjectMeta, kind: str) -> Reply:
        start, end = _replication_date(call, "start"), _replication_date(call, "end")
        if end < start:
            raise api_error(400, "INVALID_REPLICATION_DATE",
                            "end date must be after the start date")
        lo, hi = format_datetime(start), format_datetime(end)
        with self.org.lock:
            rows = self.org.rows(meta, include_deleted=True)
        if kind == "updated":
            found = [r["Id"] for r in rows
                     if not r.get("IsDeleted") and lo <= r["SystemModstamp"] < hi]
            return Reply(200, {"ids": found, "latestDateCovered": hi})
        deleted = [{"id": r["Id"], "deletedDate": r["SystemModstamp"]} for r in rows
                   if r.get("IsDeleted") and lo <= r["SystemModstamp"] < hi]
        earliest = format_datetime(start - timedelta(days=0))
        return Reply(200, {"deletedRecords": deleted, "earliestDateAvailable": earliest,
                           "latestDateCovered": hi})

    # -- query -------------------------------------------------------------------------
    def _query(self, call: Call, rest: list[str], *, include_deleted: bool) -> Reply:
        if call.method != "GET":
            raise method_not_allowed(call.method)
        if rest:
            return self._query_more(call, rest[0])
        text = call.param("q")
        if not text:
            raise api_error(400, "MALFORMED_QUERY", "A query string has to be specified")
        result = self.queries.run(self.queries.parse(text), include_deleted=include_deleted,
                                  version=call.version)
        if result.count_only:
            return Reply(200, {"totalSize": result.total_size, "done": True, "records": []})
        return Reply(200, self._page(call, result.records, 0,
                                     "queryAll" if include_deleted else "query"))

    def _query_more(self, call: Call, locator: str) -> Reply:
        key, _, offset_text = locator.partition("-")
        with self._locator_lock:
            saved = self._locators.get(key)
        if saved is None or not offset_text.isdigit():
            raise api_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        records, _ = saved
        return Reply(200, self._page(call, records, int(offset_text),
                                     call.parts[0], locator=key))

    def _page(self, call: Call, records: list[dict], offset: int, endpoint: str,
              locator: str | None = None) -> dict:
        batch = records[offset : offset + QUERY_BATCH]
        body: dict = {"totalSize": len(records), "done": True, "records": batch}
        if offset + QUERY_BATCH < len(records):
            if locator is None:
                with self._locator_lock:
                    self._locator_counter += 1
                    locator = ids.make_id("01g", self._locator_counter)
                    self._locators[locator] = (records, 0)
                    while len(self._locators) > _KEEP_LOCATORS:
                        self._locators.popitem(last=False)
            body["done"] = False
            body["nextRecordsUrl"] = (
                f"/services/data/v{call.version}/{endpoint}/{locator}-{offset + QUERY_BATCH}"
            )
        return body


def method_not_allowed(method: str) -> ApiError:
    return api_error(405, "METHOD_NOT_ALLOWED",
                     f"HTTP Method '{method}' not allowed. Allowed are GET,PATCH,POST,DELETE")


def _field_list(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [f.strip() for f in text.split(",") if f.strip()]


def _replication_date(call: Call, name: str) -> datetime:
    text = call.param(name)
    if not text:
        raise api_error(400, "INVALID_REPLICATION_DATE", f"the '{name}' parameter is required")
    try:
        return parse_datetime(text)
    except ValueFormatError:
        raise api_error(400, "INVALID_REPLICATION_DATE",
                        f"'{name}' is not a valid dateTime: {text}") from None


def _url(version: str, meta: ObjectMeta, record_id: str) -> str:
    return f"/services/data/v{version}/sobjects/{meta.name}/{record_id}"


def _basic(meta: ObjectMeta, version: str) -> dict:
    keys = ("activateable", "createable", "custom", "customSetting", "deletable",
            "deprecatedAndHidden", "feedEnabled", "keyPrefix", "label", "labelPlural",
            "layoutable", "mergeable", "mruEnabled", "name", "queryable", "replicateable",
            "retrieveable", "searchable", "triggerable", "undeletable", "updateable")
    entry = {k: meta.describe.get(k) for k in keys}
    entry["urls"] = object_urls(meta.name, version)
    return entry


def _describe(meta: ObjectMeta, version: str) -> dict:
    out = dict(meta.describe)
    urls = dict(out.get("urls") or {})
    urls.update(object_urls(meta.name, version))
    out["urls"] = urls
    return out


def versions() -> list[dict]:
    out = []
    for number in range(MIN_VERSION, MAX_VERSION + 1):
        season = ("Winter", "Spring", "Summer")[(number - MIN_VERSION + 2) % 3]
        year = 17 + (number - MIN_VERSION + 2) // 3
        out.append({"label": f"{season} '{year}", "url": f"/services/data/v{number}.0",
                    "version": f"{number}.0"})
    return out


def resources(version: str) -> dict:
    base = f"/services/data/v{version}"
    names = ("sobjects", "query", "queryAll", "limits", "composite", "jobs/ingest")
    return {name.split("/")[0] if "/" not in name else "jobs": f"{base}/{name}"
            for name in names}
