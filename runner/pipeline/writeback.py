"""Writing the Stripe id back to Salesforce, and the marks that stop echo loops.

Every write carries its origin so that the runner does not sync its own changes back:

- Stripe objects the runner creates or updates from Salesforce carry
  ``metadata.fieldbridge_origin = "salesforce"``, and the runner notes the write under the
  request's Idempotency-Key (and ``created`` for a create). A Stripe event for such an object
  that the runner caused itself is skipped (:func:`is_stripe_echo`).
- Salesforce records the runner writes are noted as its own: a record the processor wrote
  (:data:`PROCESSOR_MARK`), and for a Salesforce -> Stripe flow the fingerprint of the values
  the flow read, writeback included (:func:`source_fingerprint`), and the writeback itself
  (:func:`writeback_mark`). The echo rule (:func:`is_salesforce_echo`): a change made by the
  integration user whose result is one the runner noted was caused by the runner only.
  The poller asks it of a record it read (the fingerprint); the change-event handler asks it
  of the event, before reading anything (:func:`is_writeback_echo`: the event changed only
  the writeback, to the value the runner wrote).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mappings.engine.paths import compile_path
from mappings.schema.stripe_events import is_deletion_event, split_event

if TYPE_CHECKING:
    from runner.connectors.errors import RecordOutcome
    from runner.connectors.salesforce import SalesforceConnector
    from runner.state.store import StateStore

ORIGIN_KEY = "fieldbridge_origin"
ORIGIN_SALESFORCE = "salesforce"
# A Salesforce record the processor wrote from Stripe data: the integration user's later
# changes to it are the runner's own.
PROCESSOR_MARK = "fieldbridge:processor"
STRIPE_CREATED_MARK = "created"
# A record or object the runner deleted (a flow's on_delete: delete): its deletion coming
# back from the other side is the runner's own, never a trigger.
DELETED_MARK = "deleted"
# Fields that change on every save and say nothing about the data.
_VOLATILE = frozenset({"Id", "SystemModstamp", "LastModifiedById", "LastModifiedDate",
                       "attributes"})


def idempotency_key(flow: str, record_id: str, modstamp: str, replay: str = "") -> str:
    """The Stripe Idempotency-Key of one Salesforce change: the same change (a re-poll after
    a crash) sends the same key, a new save of the record a new one. A dead-letter replay
    sends other parameters (the bundle was fixed), so it needs a key of its own: Stripe
    answers a reused key with different parameters with an error."""
    text = f"{flow}|{record_id}|{modstamp}" + (f"|{replay}" if replay else "")
    return hashlib.sha256(text.encode()).hexdigest()


def source_fingerprint(flow: str, record: dict[str, Any], paths: Iterable[str]) -> str:
    """A digest of the values ``flow`` reads from ``record`` (volatile system fields left
    out), so that the same content gives the same fingerprint after any save."""
    values = {}
    for path in sorted(set(paths) - _VOLATILE):
        values[path] = compile_path(path)(record)
    text = json.dumps(values, sort_keys=True, default=str, separators=(",", ":"))
    return "fp:" + hashlib.sha256(f"{flow}|{text}".encode()).hexdigest()


def with_origin(params: dict[str, Any]) -> dict[str, Any]:
    """Stripe params with ``metadata.fieldbridge_origin = "salesforce"``."""
    metadata = dict(params.get("metadata") or {})
    metadata[ORIGIN_KEY] = ORIGIN_SALESFORCE
    return {**params, "metadata": metadata}


def note_stripe_write(store: StateStore, stripe_id: str, key: str, *, created: bool) -> None:
    store.note_own_write("stripe", stripe_id, key)
    if created:
        store.note_own_write("stripe", stripe_id, STRIPE_CREATED_MARK)


def is_stripe_echo(store: StateStore, payload: Mapping[str, Any]) -> bool:
    """Whether a Stripe event reports a change the runner itself made from Salesforce."""
    obj, envelope = split_event(payload)
    if envelope is None or obj is None:
        return False
    # The runner deleted it (a Salesforce deletion followed): Stripe takes no key on a
    # delete, so the note is by object.
    if is_deletion_event(payload.get("type")) and isinstance(obj.get("id"), str) \
            and is_own_deletion(store, "stripe", obj["id"]):
        return True
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or metadata.get(ORIGIN_KEY) != ORIGIN_SALESFORCE:
        return False
    object_id = obj.get("id")
    if not isinstance(object_id, str):
        return False
    request = payload.get("request")
    key = request.get("idempotency_key") if isinstance(request, dict) else None
    if isinstance(key, str) and key:
        return store.is_own_write("stripe", object_id, key)
    # No request key (the sandbox, or an automatic event): only the creation event of an
    # object the runner created is certainly its own.
    event_type = str(payload.get("type", ""))
    return event_type.endswith(".created") and store.is_own_write(
        "stripe", object_id, STRIPE_CREATED_MARK)


def is_own_deletion(store: StateStore, system: str, object_id: str) -> bool:
    """Whether the runner itself deleted ``object_id`` in ``system`` ("salesforce" or
    "stripe"). A record is deleted once, so the note alone tells (Salesforce does not say
    reliably who deleted a record: LastModifiedById need not change)."""
    return store.is_own_write(system, object_id, DELETED_MARK)


def write_back(salesforce: SalesforceConnector, store: StateStore, obj: str, record_id: str,
               field: str, stripe_id: str) -> None:
    """Put ``stripe_id`` into ``obj.field`` of the record (the caller notes the result as
    its own write: :func:`note_writeback`)."""
    salesforce.update(obj, record_id, {field: stripe_id})


def write_backs(salesforce: SalesforceConnector, obj: str, field: str,
                values: Sequence[tuple[str, str]]) -> list[RecordOutcome]:
    """Put each ``(record id, stripe id)`` into ``obj.field`` in one sObject Collections
    update (200 records a call); one outcome per pair, in order."""
    return salesforce.update_many(obj, [{"Id": rid, field: sid} for rid, sid in values])


def writeback_mark(field: str, value: object) -> str:
    """The own-write mark of the runner putting ``value`` into ``field`` of a record."""
    return f"writeback:{field.lower()}={value}"


def note_writeback(store: StateStore, record_id: str, field: str, stripe_id: str,
                   fingerprint: str) -> None:
    """Note a landed writeback as the runner's own: the record's new fingerprint (for the
    poller) and the writeback itself (for change events)."""
    store.note_own_writes([("salesforce", record_id, fingerprint),
                           ("salesforce", record_id, writeback_mark(field, stripe_id))])


def is_salesforce_echo(store: StateStore, user_id: str | None, modified_by: object,
                       record_id: str, marks: Iterable[str]) -> bool:
    """The echo rule: the integration user made the change and its result is one of
    ``marks`` the runner noted as its own write on the record."""
    return bool(user_id) and modified_by == user_id and any(
        store.is_own_write("salesforce", record_id, mark) for mark in marks)


def is_writeback_echo(store: StateStore, user_id: str | None, *, commit_user: object,
                      record_id: str, changed: Collection[str] | None,
                      values: Mapping[str, Any], writeback: str | None) -> bool:
    """The echo rule asked of a change event, without reading the record: the event changed
    no field but ``writeback`` (volatile system fields aside), to the value the runner
    wrote there. ``changed`` is the event's changed fields (None: unknown, not an echo)."""
    if not writeback or not changed:
        return False
    data = {f.lower() for f in changed} - {f.lower() for f in _VOLATILE}
    if data != {writeback.lower()}:
        return False
    value = next((v for k, v in values.items() if k.lower() == writeback.lower()), None)
    if value is None:
        return False
    return is_salesforce_echo(store, user_id, commit_user, record_id,
                              [writeback_mark(writeback, value)])
