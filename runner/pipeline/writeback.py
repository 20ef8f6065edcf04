"""Writing the Stripe id back to Salesforce, and the marks that stop echo loops.

Every write carries its origin so that the runner does not sync its own changes back:

- Stripe objects the runner creates or updates from Salesforce carry
  ``metadata.fieldbridge_origin = "salesforce"``, and the runner notes the write under the
  request's Idempotency-Key (and ``created`` for a create). A Stripe event for such an object
  that the runner caused itself is skipped (:func:`is_stripe_echo`).
- Salesforce records the runner writes are noted as its own: a record the processor wrote
  (:data:`PROCESSOR_MARK`), and for a Salesforce -> Stripe flow the fingerprint of the values
  the flow read, writeback included (:func:`source_fingerprint`). The poller skips a change
  made by the integration user whose fingerprint is one the runner noted: the only cause of
  that change was the runner.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from mappings.engine.paths import compile_path
from mappings.schema.stripe_events import split_event

if TYPE_CHECKING:
    from runner.connectors.salesforce import SalesforceConnector
    from runner.state.store import StateStore

ORIGIN_KEY = "fieldbridge_origin"
ORIGIN_SALESFORCE = "salesforce"
# A Salesforce record the processor wrote from Stripe data: the integration user's later
# changes to it are the runner's own.
PROCESSOR_MARK = "fieldbridge:processor"
STRIPE_CREATED_MARK = "created"
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


def write_back(salesforce: SalesforceConnector, store: StateStore, obj: str, record_id: str,
               field: str, stripe_id: str) -> None:
    """Put ``stripe_id`` into ``obj.field`` of the record (the caller notes the fingerprint
    of the result as its own write)."""
    salesforce.update(obj, record_id, {field: stripe_id})
