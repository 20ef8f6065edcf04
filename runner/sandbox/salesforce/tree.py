"""sObject Tree (``POST /composite/tree/<Object>``): parents and children in one request.

Each record carries ``attributes: {type, referenceId}``; a child relationship of the
parent's describe (``"OrderItems": {"records": [...]}``) nests its children, whose lookup to
the parent is filled with the parent's new id. The request is all or nothing: one failing
record rolls every record back, and the answer names only the failing one.

Shapes from the sObject Tree resource and response pages:
https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobject-tree.html
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api/responses_composite_sobject_tree.htm
(up to 200 records, five levels, roots created first, then each level in turn).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.sandbox.salesforce.calls import Call, Reply
from runner.sandbox.salesforce.errors import ApiError, RecordError, SfError, api_error
from runner.sandbox.salesforce.metadata import ObjectMeta
from runner.sandbox.salesforce.org import Org

MAX_RECORDS = 200
MAX_DEPTH = 5


@dataclass
class _Node:
    meta: ObjectMeta
    reference_id: str
    body: dict[str, Any]
    depth: int
    parent: _Node | None = None
    parent_field: str | None = None
    record_id: str | None = None
    children: list[_Node] = field(default_factory=list)


class _TreeError(Exception):
    def __init__(self, reference_id: str | None, errors: list[SfError]) -> None:
        super().__init__(reference_id)
        self.reference_id = reference_id
        self.errors = errors


def create_tree(org: Org, call: Call, object_name: str) -> Reply:
    """Create every tree in the body, or none; Salesforce's 201 / 400 answers."""
    root_meta = org.meta.from_path(object_name)
    body = call.json_object()
    records = body.get("records")
    if not isinstance(records, list) or not records:
        raise api_error(400, "JSON_PARSER_ERROR", "The request body must have a 'records' list")
    try:
        nodes = [_parse(org, raw, root_meta, 1, None, None) for raw in records]
        levels = _levels(nodes)
        count = sum(len(level) for level in levels)
        if count > MAX_RECORDS:
            raise api_error(400, "LIMIT_EXCEEDED",
                            f"Limit Exceeded: an sObject tree request can have up to "
                            f"{MAX_RECORDS} records")
        _unique_references(levels)
        with org.transaction():
            for level in levels:
                for node in level:
                    _create(org, call, node)
    except _TreeError as exc:
        return Reply(400, {"hasErrors": True, "results": [
            {"referenceId": exc.reference_id,
             "errors": [e.record_result() for e in exc.errors]}]})
    return Reply(201, {"hasErrors": False, "results": [
        {"referenceId": node.reference_id, "id": node.record_id}
        for level in levels for node in level]})


def _parse(org: Org, raw: Any, expected: ObjectMeta, depth: int, parent: _Node | None,
           parent_field: str | None) -> _Node:
    if not isinstance(raw, Mapping):
        raise _TreeError(None, [SfError("JSON_PARSER_ERROR", "each record must be a JSON object")])
    attrs = raw.get("attributes")
    reference_id = attrs.get("referenceId") if isinstance(attrs, Mapping) else None
    if not reference_id:
        raise _TreeError(None, [SfError("INVALID_INPUT",
                                        "Include a reference ID for each record in the request.")])
    kind = attrs.get("type") if isinstance(attrs, Mapping) else None
    if kind and str(kind).lower() != expected.name.lower():
        raise _TreeError(str(reference_id), [SfError(
            "INVALID_INPUT", f"The record type {kind} doesn't match the expected type "
            f"{expected.name}")])
    if depth > MAX_DEPTH:
        raise _TreeError(str(reference_id), [SfError(
            "INVALID_INPUT", f"sObject trees can be up to {MAX_DEPTH} levels deep")])
    node = _Node(expected, str(reference_id), {}, depth, parent, parent_field)
    children = {r["relationshipName"].lower(): r
                for r in expected.describe.get("childRelationships", [])
                if r.get("relationshipName")}
    for key, value in raw.items():
        if key == "attributes":
            continue
        relation = children.get(key.lower()) if isinstance(value, Mapping) else None
        if relation is None:
            node.body[key] = value
            continue
        child_meta = org.meta.find(str(relation["childSObject"]))
        rows = value.get("records")
        if child_meta is None or not isinstance(rows, list):
            raise _TreeError(node.reference_id, [SfError(
                "INVALID_FIELD", f"No such relationship '{key}' on entity '{expected.name}'")])
        node.children.extend(_parse(org, row, child_meta, depth + 1, node, relation["field"])
                             for row in rows)
    return node


def _levels(roots: list[_Node]) -> list[list[_Node]]:
    levels: list[list[_Node]] = []
    current = roots
    while current:
        levels.append(current)
        current = [child for node in current for child in node.children]
    return levels


def _unique_references(levels: list[list[_Node]]) -> None:
    seen: set[str] = set()
    for level in levels:
        for node in level:
            if node.reference_id in seen:
                raise _TreeError(node.reference_id, [SfError(
                    "INVALID_INPUT", f"Duplicate ReferenceId provided in the request: "
                    f"{node.reference_id}")])
            seen.add(node.reference_id)


def _create(org: Org, call: Call, node: _Node) -> None:
    body = dict(node.body)
    if node.parent is not None and node.parent_field:
        body[node.parent_field] = node.parent.record_id
    try:
        node.record_id = org.create(node.meta, body, call.user_id)
    except RecordError as exc:
        raise _TreeError(node.reference_id, exc.errors) from None
    except ApiError as exc:
        errors = exc.errors or [SfError("UNKNOWN_EXCEPTION", str(exc.body))]
        raise _TreeError(node.reference_id, errors) from None
