"""Avro schemas of change events and platform events, as ``GetSchema`` serves them.

A change event is the header Salesforce defines (``ChangeEventHeader``) followed by the
object's fields, each optional. Field positions are what the ``changedFields`` /
``nulledFields`` / ``diffFields`` bitmaps count, so the field order here is the contract.

Simplification against a real org: compound fields (addresses, a Contact's Name) travel as
their flat component fields rather than as nested records, so the bitmaps never carry the
``"<parent>-0x.."`` nested entries.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

import fastavro

from runner.pubsub.topics import change_event_name
from runner.sandbox.salesforce.compound import COMPOUND_TYPES
from runner.sandbox.salesforce.metadata import ObjectMeta
from runner.sandbox.salesforce.values import parse_datetime

NAMESPACE = "com.sforce.eventbus"
CHANGE_TYPES = ("CREATE", "UPDATE", "DELETE", "UNDELETE", "GAP_CREATE", "GAP_UPDATE",
                "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW", "SNAPSHOT")
# Fields a change event leaves out: the record id travels in the header's recordIds.
_SKIPPED = frozenset({"Id", "IsDeleted", "SystemModstamp"})

HEADER_SCHEMA: dict[str, Any] = {
    "type": "record", "name": "ChangeEventHeader", "namespace": NAMESPACE,
    "fields": [
        {"name": "entityName", "type": "string"},
        {"name": "recordIds", "type": {"type": "array", "items": "string"}},
        {"name": "changeType", "type": {"type": "enum", "name": "ChangeType",
                                        "namespace": NAMESPACE, "symbols": list(CHANGE_TYPES)}},
        {"name": "changeOrigin", "type": "string"},
        {"name": "transactionKey", "type": "string"},
        {"name": "sequenceNumber", "type": "int"},
        {"name": "commitTimestamp", "type": "long"},
        {"name": "commitNumber", "type": "long"},
        {"name": "commitUser", "type": "string"},
        {"name": "nulledFields", "type": {"type": "array", "items": "string"}},
        {"name": "diffFields", "type": {"type": "array", "items": "string"}},
        {"name": "changedFields", "type": {"type": "array", "items": "string"}},
    ],
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    avro: str  # boolean | int | long | double | string
    kind: str  # the describe type: date and datetime convert


@dataclass(frozen=True)
class EventSchema:
    """One Avro record schema; ``fields`` are the payload fields after any header."""

    name: str
    fields: tuple[FieldSpec, ...]
    header: bool

    @cached_property
    def json(self) -> str:
        record: list[dict[str, Any]] = []
        if self.header:
            record.append({"name": "ChangeEventHeader", "type": HEADER_SCHEMA})
        record += [{"name": f.name, "type": ["null", f.avro], "default": None}
                   for f in self.fields]
        return json.dumps({"type": "record", "name": self.name, "namespace": NAMESPACE,
                           "fields": record}, separators=(",", ":"))

    @cached_property
    def id(self) -> str:
        """Salesforce's schema ids are opaque short strings; ours hash the schema."""
        return hashlib.sha256(self.json.encode()).hexdigest()[:22]

    @cached_property
    def parsed(self) -> Any:
        return fastavro.parse_schema(json.loads(self.json))

    @cached_property
    def positions(self) -> dict[str, int]:
        """Top-level field positions as the bitmaps count them (the header is 0)."""
        offset = 1 if self.header else 0
        return {f.name: n + offset for n, f in enumerate(self.fields)}

    def encode(self, payload: Mapping[str, Any]) -> bytes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, self.parsed, dict(payload))
        return out.getvalue()

    def decode(self, data: bytes) -> dict:
        decoded = fastavro.schemaless_reader(io.BytesIO(data), self.parsed, self.parsed)
        if not isinstance(decoded, dict):
            raise ValueError(f"not a {self.name} record")
        return decoded

    def value(self, spec: FieldSpec, raw: object) -> object:
        """A record's stored value as the Avro field carries it."""
        if raw is None:
            return None
        if spec.kind == "datetime":
            return int(parse_datetime(str(raw)).timestamp() * 1000)
        if spec.kind == "date":
            return (date.fromisoformat(str(raw)[:10]) - date(1970, 1, 1)).days
        if spec.avro == "boolean":
            return bool(raw)
        if spec.avro in ("int", "long"):
            return int(raw)  # type: ignore[call-overload]
        if spec.avro == "double":
            return float(raw)  # type: ignore[arg-type]
        return str(raw)

    def bitmap(self, names: Sequence[str]) -> list[str]:
        """``["0x.."]``: bit n set for the field at position n, as Salesforce sends it."""
        bits = 0
        for name in names:
            position = self.positions.get(name)
            if position is not None:
                bits |= 1 << position
        if not bits:
            return []
        width = max(1, (bits.bit_length() + 7) // 8) * 2
        return [f"0x{bits:0{width}X}"]


_AVRO = {"boolean": "boolean", "int": "int", "long": "long", "double": "double",
         "currency": "double", "percent": "double", "date": "int", "datetime": "long"}


def change_event_schema(meta: ObjectMeta) -> EventSchema:
    fields = tuple(
        FieldSpec(f["name"], _AVRO.get(f["type"], "string"), f["type"])
        for f in meta.fields.values()
        if f["name"] not in _SKIPPED and f["type"] not in COMPOUND_TYPES
        and not f.get("calculated")
    )
    return EventSchema(change_event_name(meta.name), fields, header=True)


def platform_event_schema(name: str, fields: Sequence[Mapping[str, str]]) -> EventSchema:
    base = (FieldSpec("CreatedDate", "long", "datetime"), FieldSpec("CreatedById", "string",
                                                                      "reference"))
    declared = tuple(FieldSpec(str(f["name"]), _AVRO.get(str(f.get("type", "string")), "string"),
                               str(f.get("type", "string"))) for f in fields)
    return EventSchema(name, base + declared, header=False)
