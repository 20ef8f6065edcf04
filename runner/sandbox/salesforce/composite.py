"""sObject Collections (``/composite/sobjects``) and Composite (``/composite``).

Composite graph (``/composite/graph``) runs each graph's subrequests as one all-or-none
composite. (sObject Tree, ``/composite/tree/<Object>``, lives in
:mod:`runner.sandbox.salesforce.tree`.)

Both run inside one org transaction; with ``allOrNone`` a failure rolls everything back and
the records that would have succeeded report ``ALL_OR_NONE_OPERATION_ROLLED_BACK``
(collections) or ``PROCESSING_HALTED`` (composite subrequests).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from runner.sandbox.salesforce import ids
from runner.sandbox.salesforce.calls import NO_BODY, Call, Reply
from runner.sandbox.salesforce.errors import ApiError, RecordError, SfError, api_error, not_found
from runner.sandbox.salesforce.metadata import ObjectMeta
from runner.sandbox.salesforce.org import Org
from runner.sandbox.salesforce.tree import create_tree

Dispatch = Callable[[Call], Reply]

MAX_COLLECTION = 200
MAX_SUBREQUESTS = 25
MAX_GRAPH_NODES = 500
MAX_GRAPHS = 75
# Nodes differ by API version, method or object: at most this many kinds in one request.
MAX_GRAPH_NODE_KINDS = 15
# Past this many failed graphs Salesforce halts the rest of the request (each of their
# nodes answers PROCESSING_HALTED): "Composite Graph Limits" in the REST API guide.
MAX_GRAPH_FAILURES = 14
_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_ROLLED_BACK = SfError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone "
    "header", (),
)
_HALTED = [{"errorCode": "PROCESSING_HALTED",
            "message": "The transaction was rolled back since another operation in the same "
                       "transaction failed."}]


class _Failed(Exception):
    """Internal: a collection record failed (carries its errors)."""

    def __init__(self, errors: list[SfError]) -> None:
        super().__init__(errors)
        self.errors = errors


class Composite:
    """``dispatch`` answers one data API call: a composite subrequest goes through it."""

    def __init__(self, org: Org, dispatch: Dispatch) -> None:
        self.org = org
        self.dispatch = dispatch

    def handle(self, call: Call, rest: list[str]) -> Reply:
        if not rest:
            if call.method != "POST":
                raise api_error(405, "METHOD_NOT_ALLOWED", "use POST for /composite")
            return self._composite(call)
        if rest == ["graph"]:
            if call.method != "POST":
                raise api_error(405, "METHOD_NOT_ALLOWED", "use POST for /composite/graph")
            return self._graph(call)
        if rest[0] == "sobjects":
            return self._collections(call, rest[1:])
        if rest[0] == "tree" and len(rest) == 2:
            if call.method != "POST":
                raise api_error(405, "METHOD_NOT_ALLOWED", "use POST for /composite/tree")
            return create_tree(self.org, call, rest[1])
        raise not_found()

    # -- collections -------------------------------------------------------------------
    def _collections(self, call: Call, rest: list[str]) -> Reply:
        method = call.method
        if method == "GET" and len(rest) == 1:
            return self._retrieve(call, self.org.meta.from_path(rest[0]))
        if method == "DELETE" and not rest:
            targets = [t for t in (call.param("ids") or "").split(",") if t]
            all_or_none = (call.param("allOrNone") or "false").lower() == "true"
            self._limit(len(targets))
            return self._run(targets, all_or_none, self._delete_one(call))
        if method in ("POST", "PATCH") and not rest:
            body = call.json_object()
            records = self._records(body)
            op = self._create_one(call) if method == "POST" else self._update_one(call)
            return self._run(records, bool(body.get("allOrNone")), op)
        if method == "PATCH" and len(rest) == 2:
            meta = self.org.meta.from_path(rest[0])
            body = call.json_object()
            records = self._records(body)
            return self._run(records, bool(body.get("allOrNone")),
                             self._upsert_one(call, meta, rest[1]))
        raise not_found()

    def _records(self, body: dict) -> list:
        records = body.get("records")
        if not isinstance(records, list):
            raise api_error(400, "JSON_PARSER_ERROR",
                            "The request body must have a 'records' list")
        self._limit(len(records))
        return records

    @staticmethod
    def _limit(count: int) -> None:
        if count > MAX_COLLECTION:
            raise api_error(400, "EXCEEDED_ID_LIMIT",
                            f"record limit reached. cannot submit more than {MAX_COLLECTION} "
                            "records into this call")
        if count == 0:
            raise api_error(400, "INVALID_FIELD", "No records were specified")

    def _run(self, items: list, all_or_none: bool, op: Callable[[Any], dict]) -> Reply:
        results: list[dict] = []
        with self.org.transaction():
            for item in items:
                try:
                    results.append({**op(item), "success": True, "errors": []})
                except (_Failed, RecordError) as exc:
                    errors = exc.errors
                    results.append({"id": _item_id(item), "success": False,
                                    "errors": [e.record_result() for e in errors]})
                except ApiError as exc:
                    errors = exc.errors or [SfError("UNKNOWN_EXCEPTION", str(exc.body))]
                    results.append({"id": _item_id(item), "success": False,
                                    "errors": [e.record_result() for e in errors]})
            if all_or_none and not all(r["success"] for r in results):
                self.org.rollback_current()
                for result in results:
                    if result["success"]:
                        result.update(id=None, success=False,
                                      errors=[_ROLLED_BACK.record_result()])
                        result.pop("created", None)
        return Reply(200, results)

    def _meta_of(self, record: Any) -> ObjectMeta:
        if not isinstance(record, dict):
            raise _Failed([SfError("JSON_PARSER_ERROR", "each record must be a JSON object")])
        attrs = record.get("attributes")
        if not isinstance(attrs, dict) or not attrs.get("type"):
            raise _Failed([SfError("INVALID_TYPE", "Must send a concrete entity type.")])
        try:
            return self.org.meta.get(str(attrs["type"]))
        except ApiError as exc:
            raise _Failed(exc.errors) from None

    def _create_one(self, call: Call) -> Callable[[Any], dict]:
        def op(record: Any) -> dict:
            meta = self._meta_of(record)
            if record.get("Id"):
                raise _Failed([SfError("INVALID_FIELD", "cannot specify Id in an insert call",
                                       ("Id",))])
            return {"id": self.org.create(meta, record, call.user_id)}
        return op

    def _update_one(self, call: Call) -> Callable[[Any], dict]:
        def op(record: Any) -> dict:
            meta = self._meta_of(record)
            if not record.get("Id"):
                raise _Failed([SfError("MISSING_ARGUMENT", "Id not specified in an update call",
                                       ())])
            return {"id": self.org.update(meta, str(record["Id"]), record, call.user_id)}
        return op

    def _upsert_one(self, call: Call, meta: ObjectMeta, field: str) -> Callable[[Any], dict]:
        key = self.org.external_id_field(meta, field)["name"]

        def op(record: Any) -> dict:
            if not isinstance(record, dict):
                raise _Failed([SfError("JSON_PARSER_ERROR", "each record must be a JSON object")])
            own = self._meta_of(record) if record.get("attributes") else meta
            if own is not meta:
                raise _Failed([SfError("INVALID_TYPE", f"records must all be {meta.name}")])
            given = next((v for k, v in record.items() if k.lower() == key.lower()), None)
            body = {k: v for k, v in record.items() if k != "attributes"}
            if given in (None, "") and key != "Id":  # on Id, no value means insert
                raise _Failed([SfError("MISSING_ARGUMENT", f"{key} not specified", ())])
            try:
                record_id, created = self.org.upsert(own, key, given, body, call.user_id,
                                                     api_version=call.version)
            except ApiError as exc:
                if exc.status == 300:
                    urls = exc.body if isinstance(exc.body, list) else []
                    found = ", ".join(str(url).rsplit("/", 1)[-1] for url in urls)
                    raise _Failed([SfError(
                        "DUPLICATE_EXTERNAL_ID",
                        f"{key}: more than one record found for external id field: [{found}]",
                        (key,))]) from None
                raise
            return {"id": record_id, "created": created}
        return op

    def _delete_one(self, call: Call) -> Callable[[Any], dict]:
        def op(record_id: Any) -> dict:
            try:
                canonical = ids.to_18(str(record_id))
            except ids.MalformedIdError:
                raise _Failed([SfError("MALFORMED_ID", f"malformed id {record_id}", ())]) \
                    from None
            meta = self.org.meta.by_prefix.get(canonical[:3])
            if meta is None or canonical not in self.org.records:
                raise _Failed([SfError("INVALID_CROSS_REFERENCE_KEY",
                                       "invalid cross reference id", ())])
            return {"id": self.org.delete(meta, canonical, call.user_id)}
        return op

    def _retrieve(self, call: Call, meta: ObjectMeta) -> Reply:
        wanted = [t for t in (call.param("ids") or "").split(",") if t]
        fields = [f for f in (call.param("fields") or "").split(",") if f]
        if not wanted or not fields:
            raise api_error(400, "MISSING_ARGUMENT", "ids and fields are required")
        self._limit(len(wanted))
        out: list[dict | None] = []
        with self.org.lock:
            for record_id in wanted:
                try:
                    record = self.org.live(meta, record_id)
                except RecordError:
                    out.append(None)
                    continue
                out.append(self.org.view(meta, record, call.version, fields))
        return Reply(200, out)

    # -- composite ---------------------------------------------------------------------
    def _composite(self, call: Call) -> Reply:
        body = call.json_object()
        requests = body.get("compositeRequest")
        if not isinstance(requests, list) or not requests:
            raise api_error(400, "JSON_PARSER_ERROR",
                            "The request body must have a 'compositeRequest' list")
        if len(requests) > MAX_SUBREQUESTS:
            raise api_error(400, "LIMIT_EXCEEDED",
                            f"Limit Exceeded: a composite request can have up to "
                            f"{MAX_SUBREQUESTS} subrequests")
        responses = self._run_subrequests(call, requests, bool(body.get("allOrNone")))
        return Reply(200, {"compositeResponse": responses})

    def _graph(self, call: Call) -> Reply:
        """Composite graph: each graph all or none on its own, in one call.

        https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_graph.htm
        """
        body = call.json_object()
        graphs = body.get("graphs")
        if not isinstance(graphs, list) or not graphs:
            raise api_error(400, "JSON_PARSER_ERROR", "The request body must have a 'graphs' list")
        if len(graphs) > MAX_GRAPHS:
            raise api_error(400, "LIMIT_EXCEEDED",
                            f"Limit Exceeded: a graph request can have up to {MAX_GRAPHS} "
                            "graphs")
        nodes = [n for g in graphs if isinstance(g, dict)
                 for n in (g.get("compositeRequest") or []) if isinstance(n, dict)]
        if len(nodes) > MAX_GRAPH_NODES:
            raise api_error(400, "LIMIT_EXCEEDED",
                            f"Limit Exceeded: a graph request can have up to {MAX_GRAPH_NODES} "
                            "nodes")
        kinds = {_node_kind(n) for n in nodes}
        if len(kinds) > MAX_GRAPH_NODE_KINDS:
            raise api_error(400, "LIMIT_EXCEEDED",
                            f"Limit Exceeded: a graph request can have up to "
                            f"{MAX_GRAPH_NODE_KINDS} different nodes (API version, method or "
                            "object)")
        out = []
        failures = 0
        for graph in graphs:
            requests = graph.get("compositeRequest") if isinstance(graph, dict) else None
            graph_id = str(graph.get("graphId", "")) if isinstance(graph, dict) else ""
            if not isinstance(requests, list) or not requests:
                raise api_error(400, "JSON_PARSER_ERROR",
                                f"Graph {graph_id} must have a 'compositeRequest' list")
            if failures > MAX_GRAPH_FAILURES:
                responses = [_sub_reply(str(sub.get("referenceId", ""))
                                        if isinstance(sub, dict) else "", Reply(400, _HALTED))
                             for sub in requests]
            else:
                responses = self._run_subrequests(call, requests, True)
            ok = all(r["httpStatusCode"] < 300 for r in responses)
            failures += not ok
            out.append({"graphId": graph_id,
                        "graphResponse": {"compositeResponse": responses},
                        "isSuccessful": ok})
        return Reply(200, {"graphs": out})

    def _run_subrequests(self, call: Call, requests: list, all_or_none: bool) -> list[dict]:
        results: dict[str, Any] = {}
        responses: list[dict] = []
        with self.org.transaction():
            failed = False
            for sub in requests:
                ref = str(sub.get("referenceId", "")) if isinstance(sub, dict) else ""
                if failed and all_or_none:
                    responses.append(_sub_reply(ref, Reply(400, _HALTED)))
                    continue
                reply = self._subrequest(call, sub, results)
                responses.append(_sub_reply(ref, reply))
                if reply.status < 300:
                    results[ref] = reply.body
                else:
                    failed = True
            if failed and all_or_none:
                self.org.rollback_current()
                for response in responses:
                    if response["httpStatusCode"] < 300:
                        response.update(body=_HALTED, httpStatusCode=400, httpHeaders={})
        return responses

    def _subrequest(self, call: Call, sub: Any, results: dict[str, Any]) -> Reply:
        if not isinstance(sub, dict) or not sub.get("url") or not sub.get("method"):
            return Reply(400, [{"errorCode": "INVALID_INPUT",
                                "message": "each subrequest needs method, url and referenceId"}])
        try:
            url = _substitute(str(sub["url"]), results, quote=True)
            payload = _substitute_json(sub.get("body"), results)
        except LookupError as exc:
            return Reply(400, [{"errorCode": "PROCESSING_HALTED", "message": str(exc)}])
        parts = urlsplit(url)
        path = parts.path
        prefix = "/services/data/v"
        if not path.startswith(prefix):
            return Reply(400, [{"errorCode": "INVALID_INPUT",
                                "message": f"subrequest url must start with {prefix}NN.0"}])
        segments = path[len("/services/data/"):].strip("/").split("/")
        version = segments[0][1:]
        sub_call = Call(str(sub["method"]).upper(), version,
                        [unquote(s) for s in segments[1:]],
                        parse_qs(parts.query, keep_blank_values=True), call.user_id,
                        payload=payload if payload is not None else NO_BODY)
        if sub_call.parts and sub_call.parts[0] == "composite":
            return Reply(400, [{"errorCode": "INVALID_INPUT",
                                "message": "composite subrequests cannot be composite"}])
        try:
            return self.dispatch(sub_call)
        except ApiError as exc:
            return Reply(exc.status, exc.response_body())


def _node_kind(node: dict) -> tuple[str, str, str]:
    """(version, method, object) of a graph node: what makes two nodes different."""
    parts = urlsplit(str(node.get("url", ""))).path.strip("/").split("/")
    version = parts[2] if len(parts) > 2 else ""
    obj = parts[4].lower() if len(parts) > 4 and parts[3] == "sobjects" else "/".join(parts[3:])
    return version, str(node.get("method", "")).upper(), obj


def _sub_reply(ref: str, reply: Reply) -> dict:
    headers = {k: v for k, v in reply.headers.items() if k == "Location"}
    return {"body": reply.body, "httpHeaders": headers, "httpStatusCode": reply.status,
            "referenceId": ref}


def _item_id(item: Any) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and isinstance(item.get("Id"), str):
        return item["Id"]
    return None


def _resolve(match: re.Match, results: dict[str, Any]) -> Any:
    ref, path = match.group(1), match.group(2)
    if ref not in results:
        raise LookupError(f"Invalid reference specified. No value for {ref}{path} found in "
                          f"{ref}. Provided referenceId ({ref}) must be in the format "
                          "of a previous successful subrequest.")
    value = results[ref]
    for step in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
        key, index = step
        try:
            value = value[key] if key else value[int(index)]
        except (KeyError, IndexError, TypeError):
            raise LookupError(f"Invalid reference specified. No value for {ref}{path} found "
                              f"in {ref}.") from None
    return value


def _substitute(text: str, results: dict[str, Any], *, quote: bool = False) -> str:
    return _REFERENCE.sub(lambda m: str(_resolve(m, results)), text)


def _substitute_json(value: Any, results: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value)
        if whole:
            return _resolve(whole, results)
        return _substitute(value, results)
    if isinstance(value, list):
        return [_substitute_json(v, results) for v in value]
    if isinstance(value, dict):
        return {k: _substitute_json(v, results) for k, v in value.items()}
    return value
