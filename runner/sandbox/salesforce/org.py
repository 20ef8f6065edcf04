"""The org: records in memory (written through to SQLite), and every data operation.

All writes go through one lock and a :class:`Transaction` that remembers each touched
record's previous state, so ``allOrNone`` requests can roll back and a committed
transaction is written to SQLite in one go. Reads see committed and in-flight state of the
current transaction alike, as Salesforce's own transactions do.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from runner.sandbox.salesforce import ids, pricing
from runner.sandbox.salesforce.compound import compound_value
from runner.sandbox.salesforce.derived import derive
from runner.sandbox.salesforce.errors import ApiError, RecordError, SfError, api_error
from runner.sandbox.salesforce.metadata import ObjectMeta, OrgMetadata
from runner.sandbox.salesforce.store import OrgStore
from runner.sandbox.salesforce.validation import (
    check_rules,
    coerce,
    defaults_for_create,
    missing_required,
    not_writable,
    required_missing,
    unknown_field,
)
from runner.sandbox.salesforce.values import format_datetime

SYSTEM_FIELDS = ("Id", "IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate",
                 "LastModifiedById", "SystemModstamp")


def _norm(field: Mapping, value: object) -> str:
    text = str(value)
    return text if field.get("caseSensitive") else text.lower()


class Transaction:
    def __init__(self) -> None:
        self.undo: dict[str, tuple[str, dict | None]] = {}  # id -> (object, previous)
        # Further writes committed in the same SQLite transaction (a bulk job's progress).
        self.extra: list[Callable[[Any], None]] = []
        self.stamp: str | None = None  # the transaction's moment (Org.now)


class Org:
    def __init__(self, store: OrgStore, metadata: OrgMetadata) -> None:
        self.store = store
        self.meta = metadata
        self.lock = threading.RLock()
        self.records: dict[str, dict] = {}
        self.by_object: dict[str, dict[str, dict]] = {}
        self.index: dict[tuple[str, str], dict[str, set[str]]] = {}
        self._tx: Transaction | None = None
        self._last_stamp = 0  # milliseconds
        # Called after each commit, still under the lock (so in commit order), with every
        # touched record as (object, before, after): the Pub/Sub API's change events.
        self.on_commit: list[Callable[[list[tuple[str, dict | None, dict | None]]], None]] = []
        # Numbers below 100 are reserved for fixed records (the org's users).
        saved = store.get_setting("id_counter")
        self.counter = max(saved if isinstance(saved, int) else 0, 100)
        for object_name, record in store.load_records():
            meta = metadata.find(object_name)
            if meta is not None:
                self._put(meta, record, track=False)

    # -- ids and clock -----------------------------------------------------------------
    def new_id(self, meta: ObjectMeta) -> str:
        self.counter += 1
        return ids.make_id(meta.key_prefix, self.counter)

    def now(self) -> str:
        """A UTC timestamp: one per transaction, as Salesforce gives every record a DML
        statement saves the same CreatedDate and SystemModstamp; strictly increasing from
        one transaction to the next, so that only records of one save tie (a poller orders
        them by Id).

        One per record, a burst of 200-record calls at 2,000 records/s pushed the stamps
        ahead of the real clock by a millisecond per record, a second and more: records
        written right after looked a second late (issue 12's latency benchmark)."""
        with self.lock:
            tx = self._tx  # the caller's: a transaction holds the lock from begin to end
            if tx is not None and tx.stamp is not None:
                return tx.stamp
            millis = max(int(time.time() * 1000), self._last_stamp + 1)
            self._last_stamp = millis
            stamp = format_datetime(datetime.fromtimestamp(millis / 1000, UTC))
            if tx is not None:
                tx.stamp = stamp
        return stamp

    # -- transactions ------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One unit of work: committed to SQLite on success, undone on an exception."""
        with self.lock:
            if self._tx is not None:  # nested: the outer transaction decides
                yield self._tx
                return
            tx = self._tx = Transaction()
            try:
                yield tx
            except BaseException:
                self._rollback(tx)
                raise
            else:
                self._commit(tx)
            finally:
                self._tx = None

    def rollback_current(self) -> None:
        """Undo everything the current transaction did so far (allOrNone failures)."""
        tx = self._tx
        if tx is not None:
            self._rollback(tx)
            tx.undo.clear()

    def _rollback(self, tx: Transaction) -> None:
        for record_id, (object_name, previous) in tx.undo.items():
            meta = self.meta.get(object_name)
            if previous is None:
                self._remove(meta, record_id)
            else:
                self._put(meta, previous, track=False)

    def _commit(self, tx: Transaction) -> None:
        if not tx.undo:
            if tx.extra:
                self.store.write((), (), extra=tx.extra)
            return
        changed, index_rows, removed = [], [], []
        for record_id, (object_name, _previous) in tx.undo.items():
            record = self.records.get(record_id)
            if record is None:
                removed.append(record_id)
                continue
            changed.append((object_name, record))
            if not record.get("IsDeleted"):
                meta = self.meta.get(object_name)
                for field in meta.indexed_fields:
                    value = record.get(field["name"])
                    if value not in (None, ""):
                        index_rows.append({"object": meta.name, "field": field["name"],
                                           "value": _norm(field, value), "record_id": record_id})
        self.store.write(changed, index_rows, removed, settings={"id_counter": self.counter},
                         extra=tx.extra)
        if self.on_commit:
            touched = [(object_name, previous, self.records.get(record_id))
                       for record_id, (object_name, previous) in tx.undo.items()]
            for listener in self.on_commit:
                listener(touched)

    # -- the in-memory copy ------------------------------------------------------------
    def _put(self, meta: ObjectMeta, record: dict, *, track: bool = True) -> None:
        record_id = record["Id"]
        old = self.records.get(record_id)
        if track and self._tx is not None and record_id not in self._tx.undo:
            self._tx.undo[record_id] = (meta.name, old)
        if old is not None:
            self._unindex(meta, old)
        self.records[record_id] = record
        self.by_object.setdefault(meta.name, {})[record_id] = record
        if not record.get("IsDeleted"):
            for field in meta.indexed_fields:
                value = record.get(field["name"])
                if value not in (None, ""):
                    key = (meta.name, field["name"])
                    self.index.setdefault(key, {}).setdefault(_norm(field, value), set()).add(
                        record_id
                    )

    def _remove(self, meta: ObjectMeta, record_id: str) -> None:
        old = self.records.pop(record_id, None)
        if old is not None:
            self._unindex(meta, old)
            self.by_object.get(meta.name, {}).pop(record_id, None)

    def _unindex(self, meta: ObjectMeta, record: dict) -> None:
        for field in meta.indexed_fields:
            value = record.get(field["name"])
            if value in (None, ""):
                continue
            bucket = self.index.get((meta.name, field["name"]), {}).get(_norm(field, value))
            if bucket:
                bucket.discard(record["Id"])

    # -- lookups -----------------------------------------------------------------------
    def live(self, meta: ObjectMeta, record_id: str) -> dict:
        """The live record ``record_id`` of ``meta``, or NOT_FOUND / MALFORMED_ID."""
        try:
            record_id = ids.to_18(record_id)
        except ids.MalformedIdError:
            raise RecordError(
                SfError("MALFORMED_ID", f"{meta.name} ID: id value of incorrect type: "
                        f"{record_id}", ("Id",))
            ) from None
        record = self.records.get(record_id)
        if record is None or self.meta.by_prefix.get(record_id[:3]) is not meta:
            raise RecordError(SfError("NOT_FOUND", "The requested resource does not exist"))
        if record.get("IsDeleted"):
            raise RecordError(SfError("ENTITY_IS_DELETED", "entity is deleted"))
        return record

    def match_external(self, meta: ObjectMeta, field_name: str, value: object) -> list[str]:
        """Ids of live records whose external id (or Id) ``field_name`` equals ``value``."""
        field = self.external_id_field(meta, field_name)
        if field["name"] == "Id":
            try:
                record = self.live(meta, str(value))
            except RecordError:
                return []
            return [record["Id"]]
        bucket = self.index.get((meta.name, field["name"]), {}).get(_norm(field, value), set())
        return sorted(bucket)

    def external_id_field(self, meta: ObjectMeta, field_name: str) -> dict:
        """The field records are matched on for upsert, or NOT_FOUND as Salesforce says it."""
        field = meta.upsert_key(field_name)
        if field is None:
            raise api_error(
                404, "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
            )
        return field

    def parent_of(self, row: Mapping, relationship: str) -> dict | None:
        object_name = row.get("attributes", {}).get("type") if "attributes" in row else None
        meta = self.meta.by_prefix.get(str(row.get("Id", ""))[:3]) if object_name is None \
            else self.meta.find(object_name)
        if meta is None:
            return None
        field = meta.relationships.get(relationship.lower())
        if field is None:
            return None
        parent_id = row.get(field["name"])
        return self.records.get(parent_id) if parent_id else None

    # -- writes ------------------------------------------------------------------------
    def _prepare(
        self, meta: ObjectMeta, body: object, *, existing: dict | None, record_id: str | None
    ) -> dict[str, object]:
        """Check and coerce a write body into field values (canonical names)."""
        if not isinstance(body, Mapping):
            raise RecordError(SfError("JSON_PARSER_ERROR", "The request body must be a JSON "
                                      f"object describing a {meta.name}", ()))
        creating = existing is None
        values: dict[str, object] = {}
        read_only: list[str] = []
        for key, raw in body.items():
            if key == "attributes":
                continue
            field = meta.field(key)
            if field is None:
                rel = meta.relationships.get(key.lower())
                if rel is not None and isinstance(raw, Mapping):
                    values[rel["name"]] = self._resolve_relationship(rel, raw)
                    continue
                raise unknown_field(meta, key)
            name = field["name"]
            if name == "Id":
                if not creating and raw is not None and _same_id(raw, record_id):
                    continue
                if creating:
                    raise RecordError(SfError("INVALID_FIELD_FOR_INSERT_UPDATE",
                                              "cannot specify Id in an insert call", ("Id",)))
                read_only.append(name)
                continue
            if not field.get("createable" if creating else "updateable"):
                read_only.append(name)
                continue
            values[name] = coerce(field, raw)
        if read_only:
            raise not_writable(read_only)
        for name, value in values.items():
            field = meta.fields[name.lower()]
            if field["type"] == "reference" and value is not None:
                self._check_reference(field, str(value))
        return values

    def _resolve_relationship(self, rel_field: dict, body: Mapping) -> str:
        keys = [k for k in body if k != "attributes"]
        targets = [self.meta.find(t) for t in rel_field.get("referenceTo", [])]
        target = next((t for t in targets if t is not None), None)
        attrs = body.get("attributes")
        if isinstance(attrs, Mapping) and attrs.get("type"):
            target = self.meta.get(str(attrs["type"]))
        if target is None or len(keys) != 1:
            raise RecordError(SfError(
                "INVALID_FIELD",
                f"A relationship to {rel_field['relationshipName']} must name exactly one "
                "external ID field", (rel_field["name"],)))
        ext_name, value = keys[0], body[keys[0]]
        field = target.upsert_key(ext_name)
        if field is None:
            raise RecordError(SfError(
                "INVALID_FIELD",
                f"Field name provided, {ext_name} is not an External ID or indexed field for "
                f"{target.name}", (rel_field["name"],)))
        if field["name"] == "Id":
            matches = self.match_external(target, "Id", value)
        else:
            bucket = self.index.get((target.name, field["name"]), {})
            matches = sorted(bucket.get(_norm(field, value), set()))
        if not matches:
            raise RecordError(SfError(
                "INVALID_FIELD",
                f"Foreign key external ID: {value} not found for field {field['name']} in "
                f"entity {target.name}", (rel_field["name"],)))
        if len(matches) > 1:
            raise RecordError(SfError(
                "INVALID_FIELD",
                f"More than 1 record found for External ID field: {field['name']} in entity "
                f"{target.name}", (rel_field["name"],)))
        return matches[0]

    def _check_reference(self, field: dict, value: str) -> None:
        targets = field.get("referenceTo", [])
        modeled = [t for t in targets if self.meta.find(t) is not None]
        if not modeled:
            return  # a reference to an object this org does not model (RecordType, Group)
        record = self.records.get(value)
        owner = self.meta.by_prefix.get(value[:3])
        if record is None or record.get("IsDeleted") or owner is None or owner.name not in targets:
            raise RecordError(SfError(
                "INVALID_CROSS_REFERENCE_KEY",
                "invalid cross reference id", (field["name"],)))

    def _finish(self, meta: ObjectMeta, record: dict, touched: set[str], creating: bool) -> None:
        missing = missing_required(meta, record, creating=creating, touched=touched)
        if missing:
            raise required_missing(missing)
        # Custom validation rules run before the save meets the unique index (Salesforce's
        # order of execution), so a record failing both reports the rules.
        if meta.rules:
            check_rules(meta, lambda name: self._formula_value(meta, record, name))
        for field in meta.indexed_fields:
            name = field["name"]
            if not field.get("unique") or name not in touched or record.get(name) in (None, ""):
                continue
            bucket = self.index.get((meta.name, name), {}).get(_norm(field, record[name]), set())
            others = sorted(bucket - {record["Id"]})
            if others:
                raise RecordError(SfError(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {name} duplicates value on record with id: "
                    f"{others[0]}", ()))

    def _formula_value(self, meta: ObjectMeta, record: Mapping, name: str) -> Any:
        if "." not in name:
            field = meta.field(name)
            return record.get(field["name"]) if field else None
        rel, _, rest = name.partition(".")
        parent = self.parent_of({**record, "attributes": {"type": meta.name}}, rel)
        if parent is None:
            return None
        parent_meta = self.meta.by_prefix.get(parent["Id"][:3])
        return self._formula_value(parent_meta, parent, rest) if parent_meta else None

    def create(self, meta: ObjectMeta, body: object, user_id: str) -> str:
        _check_operation(meta, "createable", "inserted")
        with self.transaction():
            values = self._prepare(meta, body, existing=None, record_id=None)
            record: dict[str, object] = defaults_for_create(meta)
            if meta.field("OwnerId") is not None:
                record["OwnerId"] = user_id
            record.update(values)
            now = self.now()
            record_id = self.new_id(meta)
            record.update({"Id": record_id, "IsDeleted": False, "CreatedDate": now,
                           "CreatedById": user_id, "LastModifiedDate": now,
                           "LastModifiedById": user_id, "SystemModstamp": now})
            self._autofill(meta, record)
            derive(meta.name, record, values)
            self._finish(meta, record, set(values) | set(record), creating=True)
            self._price(meta, record, None)
            self._put(meta, _ordered(meta, record))
            self._roll_up(meta, record)
            return record_id

    def update(self, meta: ObjectMeta, record_id: str, body: object, user_id: str) -> str:
        _check_operation(meta, "updateable", "updated")
        with self.transaction():
            existing = self.live(meta, record_id)
            values = self._prepare(meta, body, existing=existing, record_id=existing["Id"])
            record = dict(existing)
            record.update(values)
            now = self.now()
            record.update({"LastModifiedDate": now, "LastModifiedById": user_id,
                           "SystemModstamp": now})
            self._autofill(meta, record)
            derive(meta.name, record, values)
            self._finish(meta, record, set(values), creating=False)
            self._price(meta, record, existing)
            self._put(meta, record)
            self._roll_up(meta, record)
            return existing["Id"]

    def upsert(self, meta: ObjectMeta, field_name: str, value: object, body: object,
               user_id: str, *, api_version: str = "62.0") -> tuple[str, bool]:
        """Create or update by external id; ``(id, created)``; 300 for several matches.

        On ``Id`` an empty value means a new record: upsert inserts what has no Id.
        """
        with self.transaction():
            field = self.external_id_field(meta, field_name)
            if field["name"] == "Id" and value in (None, ""):
                if isinstance(body, Mapping):
                    body = {k: v for k, v in body.items() if k.lower() != "id"}
                return self.create(meta, body, user_id), True
            matches = self.match_external(meta, field["name"], value)
            if len(matches) > 1:
                raise ApiError(300, body=[
                    f"/services/data/v{api_version}/sobjects/{meta.name}/{m}" for m in matches
                ])
            if isinstance(body, Mapping):
                given = body.get(field["name"], body.get(field_name))
                if given is not None and field["name"] != "Id" and str(given) != str(value):
                    raise RecordError(SfError(
                        "INVALID_FIELD",
                        f"The value for {field['name']} in the body ({given}) does not match "
                        f"the value in the URL ({value})", (field["name"],)))
                body = {k: v for k, v in body.items() if k.lower() != field["name"].lower()}
            if matches:
                return self.update(meta, matches[0], body, user_id), False
            if field["name"] == "Id":
                raise RecordError(SfError("NOT_FOUND", "The requested resource does not exist"))
            new_body = dict(body) if isinstance(body, Mapping) else body
            if isinstance(new_body, dict):
                new_body[field["name"]] = value
            return self.create(meta, new_body, user_id), True

    def delete(self, meta: ObjectMeta, record_id: str, user_id: str) -> str:
        _check_operation(meta, "deletable", "deleted")
        with self.transaction():
            existing = self.live(meta, record_id)
            pricing.check_delete(meta.name, existing, self._live_record)
            record = dict(existing)
            now = self.now()
            record.update({"IsDeleted": True, "LastModifiedDate": now,
                           "LastModifiedById": user_id, "SystemModstamp": now})
            self._put(meta, record)
            self._roll_up(meta, record)
            return record["Id"]

    # -- price books and line items (runner.sandbox.salesforce.pricing) ------------------
    def _live_record(self, record_id: object) -> dict | None:
        record = self.records.get(str(record_id)) if record_id else None
        return None if record is None or record.get("IsDeleted") else record

    def _live_rows(self, object_name: str) -> list[dict]:
        meta = self.meta.find(object_name)
        return self.rows(meta, include_deleted=False) if meta is not None else []

    def _price(self, meta: ObjectMeta, record: dict, previous: dict | None) -> None:
        changes = pricing.check_save(meta.name, record, previous, self._live_record,
                                     self._live_rows)
        for other_id, values in changes.items():
            self._touch(other_id, values)

    def _roll_up(self, meta: ObjectMeta, record: Mapping) -> None:
        """An Order's TotalAmount follows its items, as the roll-up does in Salesforce."""
        if meta.name != "OrderItem" or not record.get("OrderId"):
            return
        order_id = str(record["OrderId"])
        self._touch(order_id, {"TotalAmount": pricing.order_total(order_id, self._live_rows)})

    def _touch(self, record_id: str, values: Mapping[str, object]) -> None:
        current = self._live_record(record_id)
        owner = self.meta.by_prefix.get(record_id[:3])
        if current is None or owner is None:
            return
        if all(current.get(k) == v for k, v in values.items()):
            return
        self._put(owner, {**current, **values, "SystemModstamp": self.now()})

    def _autofill(self, meta: ObjectMeta, record: dict) -> None:
        for field in meta.fields.values():
            if field.get("autoNumber") and not record.get(field["name"]):
                record[field["name"]] = self._auto_number(meta, field)
        name_field = meta.field("Name")
        if name_field is None or name_field.get("createable"):
            return
        if meta.field("LastName") is not None:
            parts = [record.get("FirstName"), record.get("LastName")]
            record["Name"] = " ".join(str(p) for p in parts if p) or None

    def _auto_number(self, meta: ObjectMeta, field: dict) -> str:
        if field.get("custom") or meta.name.endswith("__c"):
            return f"{meta.key_prefix.upper()}-{self.counter:07d}"
        # Standard numbers (CaseNumber, OrderNumber) are zero-padded digits.
        return f"{self.counter:0{8 if field['name'] != 'OrderItemNumber' else 10}d}"

    # -- reads -------------------------------------------------------------------------
    def rows(self, meta: ObjectMeta, *, include_deleted: bool) -> list[dict]:
        rows = self.by_object.get(meta.name, {}).values()
        return list(rows) if include_deleted else [r for r in rows if not r.get("IsDeleted")]

    def view(self, meta: ObjectMeta, record: Mapping, api_version: str,
             fields: list[str] | None = None) -> dict:
        """A record as ``GET /sobjects/X/Id`` returns it: every field, nulls included."""
        out: dict[str, object] = {"attributes": {
            "type": meta.name,
            "url": f"/services/data/v{api_version}/sobjects/{meta.name}/{record['Id']}"}}
        if fields:
            for name in fields:
                field = meta.field(name)
                if field is None:
                    raise api_error(400, "INVALID_FIELD",
                                    f"No such column '{name}' on entity '{meta.name}'. If you "
                                    "are attempting to use a custom field, be sure to append "
                                    "the '__c' after the custom field name.")
                out[field["name"]] = _value(meta, record, field["name"])
            return out
        for field in meta.fields.values():
            out[field["name"]] = _value(meta, record, field["name"])
        return out


def _check_operation(meta: ObjectMeta, flag: str, verb: str) -> None:
    """Objects such as Organization and RecordType cannot be written through the API."""
    if not meta.describe.get(flag, True):
        raise RecordError(SfError("INVALID_TYPE_FOR_OPERATION",
                                  f"entity type cannot be {verb}: {meta.name}", ()))


def _value(meta: ObjectMeta, record: Mapping, name: str) -> object:
    parts = meta.compounds.get(name)
    return compound_value(record, parts) if parts else record.get(name)


def _same_id(raw: object, record_id: str | None) -> bool:
    try:
        return record_id is not None and ids.to_18(str(raw)) == record_id
    except ids.MalformedIdError:
        return False


def _ordered(meta: ObjectMeta, record: dict) -> dict:
    """System fields first, then the rest as given (cosmetic, for readable state files)."""
    out = {k: record[k] for k in SYSTEM_FIELDS if k in record}
    out.update((k, v) for k, v in record.items() if k not in out and v is not None)
    return out
