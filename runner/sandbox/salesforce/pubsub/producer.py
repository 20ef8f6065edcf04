"""What goes onto the bus: change events from committed writes, and platform events.

The org calls :meth:`EventProducer.committed` once per committed transaction with each
touched record's state before and after (``Org.on_commit``), so every write path (REST,
collections, composite, Bulk 2.0, upsert) produces its events in one place. Record-triggered
automations declared in ``org_events.json`` run there too, as a Flow would after the save.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.pubsub.topics import ALL_CHANGES, change_event_name
from runner.sandbox.salesforce import ids
from runner.sandbox.salesforce.errors import RecordError, SfError, api_error
from runner.sandbox.salesforce.metadata import OrgMetadata
from runner.sandbox.salesforce.pubsub.bus import BusEvent, EventBus
from runner.sandbox.salesforce.pubsub.schemas import (
    EventSchema,
    change_event_schema,
    platform_event_schema,
)
from runner.sandbox.salesforce.values import parse_datetime

ORG_EVENTS_FILE = Path(__file__).with_name("org_events.json")
# Standard objects with change data capture on; every custom object has it too.
CDC_STANDARD_OBJECTS = ("Account", "Contact", "Opportunity", "Order")
# Salesforce's key prefix of platform event messages.
EVENT_PREFIX = "e00"

Change = tuple[str, dict | None, dict | None]  # (object, before, after)


@dataclass(frozen=True)
class Automation:
    name: str
    object: str
    field: str
    becomes: str | float | bool | None
    event: str
    fields: Mapping[str, str]  # event field -> record field


class EventProducer:
    def __init__(self, bus: EventBus, meta: OrgMetadata,
                 org_events: Mapping[str, Any] | None = None) -> None:
        self.bus = bus
        self.schemas: dict[str, EventSchema] = {}  # schema id -> schema
        self.topics: dict[str, EventSchema | None] = {ALL_CHANGES: None}  # topic -> schema
        self.change_schemas: dict[str, EventSchema] = {}  # object -> schema
        for object_meta in meta.objects.values():
            if object_meta.name in CDC_STANDARD_OBJECTS or object_meta.name.endswith("__c"):
                schema = change_event_schema(object_meta)
                self.change_schemas[object_meta.name] = schema
                self._add(f"/data/{change_event_name(object_meta.name)}", schema)
        spec = org_events if org_events is not None else json.loads(ORG_EVENTS_FILE.read_text())
        self.platform: dict[str, EventSchema] = {}
        for declared in spec.get("platformEvents", []):
            schema = platform_event_schema(declared["name"], declared.get("fields", []))
            self.platform[declared["name"].lower()] = schema
            self._add(f"/event/{declared['name']}", schema)
        self.automations = [
            Automation(a["name"], a["object"], a["when"]["field"], a["when"]["becomes"],
                       a["publish"]["event"], a["publish"].get("fields", {}))
            for a in spec.get("automations", [])
        ]
        self._commit_number = 0
        self._event_counter = 0
        self._lock = threading.Lock()

    def _add(self, topic: str, schema: EventSchema) -> None:
        self.topics[topic] = schema
        self.schemas[schema.id] = schema

    # -- change events -----------------------------------------------------------------
    def committed(self, changes: Sequence[Change]) -> None:
        """One committed transaction: its change events, then what automations publish."""
        with self._lock:
            self._commit_number += 1
            commit_number = self._commit_number
        transaction_key = str(uuid.uuid4())
        sequence = 0
        for object_name, before, after in changes:
            schema = self.change_schemas.get(object_name)
            if schema is None:
                continue
            event = _change(schema, object_name, before, after)
            if event is None:
                continue
            sequence += 1
            payload, record = event
            header = payload["ChangeEventHeader"]
            header.update({"transactionKey": transaction_key, "sequenceNumber": sequence,
                           "commitNumber": commit_number,
                           "commitTimestamp": _millis(record.get("SystemModstamp")),
                           "commitUser": str(record.get("LastModifiedById") or "")})
            self.bus.publish(frozenset({ALL_CHANGES, f"/data/{schema.name}"}), schema.id,
                             schema.encode(payload))
        for object_name, before, after in changes:
            for automation in self.automations:
                if automation.object == object_name and _becomes(automation, before, after):
                    assert after is not None
                    self.publish(automation.event,
                                 {k: after.get(v) for k, v in automation.fields.items()},
                                 str(after.get("LastModifiedById") or ""))

    # -- platform events ---------------------------------------------------------------
    def publish(self, name: str, body: object, user_id: str) -> str:
        """Publish platform event ``name`` from a REST body; its ``e00`` id."""
        schema = self.platform.get(name.lower())
        if schema is None:
            raise api_error(404, "NOT_FOUND", "The requested resource does not exist")
        if not isinstance(body, Mapping):
            raise RecordError(SfError("JSON_PARSER_ERROR", "The request body must be a JSON "
                                      f"object describing a {schema.name}", ()))
        known = {f.name.lower(): f for f in schema.fields}
        payload: dict[str, object] = {f.name: None for f in schema.fields}
        for key, raw in body.items():
            spec = known.get(key.lower())
            if spec is None or spec.name in ("CreatedDate", "CreatedById"):
                raise RecordError(SfError("INVALID_FIELD", f"No such column '{key}' on sobject "
                                          f"of type {schema.name}", (key,)))
            try:
                payload[spec.name] = schema.value(spec, raw)
            except (TypeError, ValueError):
                raise RecordError(SfError("INVALID_TYPE_ON_FIELD_IN_RECORD",
                                          f"{spec.name}: value not of required type: {raw}",
                                          (spec.name,))) from None
        payload["CreatedDate"] = int(time.time() * 1000)
        payload["CreatedById"] = user_id
        self.publish_encoded(f"/event/{schema.name}", schema.id, schema.encode(payload))
        with self._lock:
            self._event_counter += 1
            return ids.make_id(EVENT_PREFIX, self._event_counter)

    def publish_encoded(self, topic: str, schema_id: str, payload: bytes) -> BusEvent:
        return self.bus.publish(frozenset({topic}), schema_id, payload)


def _change(schema: EventSchema, object_name: str, before: dict | None,
            after: dict | None) -> tuple[dict, dict] | None:
    was = before is not None and not before.get("IsDeleted")
    now = after is not None and not after.get("IsDeleted")
    if after is None or (not was and not now):
        return None  # created and undone, or a deleted record touched again
    if not was and now:
        change_type = "CREATE" if before is None else "UNDELETE"
    elif was and not now:
        change_type = "DELETE"
    else:
        change_type = "UPDATE"
    payload: dict[str, Any] = {f.name: None for f in schema.fields}
    changed: list[str] = []
    nulled: list[str] = []
    if change_type in ("CREATE", "UNDELETE"):
        for spec in schema.fields:
            payload[spec.name] = schema.value(spec, after.get(spec.name))
    elif change_type == "UPDATE":
        assert before is not None
        for spec in schema.fields:
            old, new = before.get(spec.name), after.get(spec.name)
            if old == new:
                continue
            changed.append(spec.name)
            if new is None:
                nulled.append(spec.name)
            payload[spec.name] = schema.value(spec, new)
    payload["ChangeEventHeader"] = {
        "entityName": object_name, "recordIds": [after["Id"]], "changeType": change_type,
        "changeOrigin": "", "nulledFields": schema.bitmap(nulled), "diffFields": [],
        "changedFields": schema.bitmap(changed),
    }
    return payload, after


def _becomes(automation: Automation, before: dict | None, after: dict | None) -> bool:
    if after is None or after.get("IsDeleted"):
        return False
    if after.get(automation.field) != automation.becomes:
        return False
    return before is None or before.get(automation.field) != automation.becomes


def _millis(stamp: object) -> int:
    if not stamp:
        return int(time.time() * 1000)
    return int(parse_datetime(str(stamp)).timestamp() * 1000)
