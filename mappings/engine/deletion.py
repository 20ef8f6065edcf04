"""What a flow does when its source is deleted: the one reading of a deletion input.

A Stripe event of :data:`~mappings.schema.stripe_events.DELETION_EVENT_TYPES` (or any other
``*.deleted``) that a flow lists in its trigger, or a Salesforce record gone to the recycle
bin, is not mapped: the flow's ``on_delete`` policy says what becomes of its target.

- ``mark``: the target found by the flow's external id is stamped with the moment of
  deletion: ``StripeDeletedAt__c`` on a Salesforce record, ``metadata.salesforce_deleted_at``
  on a Stripe object.
- ``delete``: the target found the same way is deleted.
- ``ignore``: nothing is written.

:func:`stripe_deletion` and :func:`salesforce_deletion` read the input into a
:class:`Deletion`; the runner finds and writes the target, ``map preview`` and the dry run
print :meth:`Deletion.summary`. Nothing here reads or writes a system.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mappings.document.model import MARK_FIELD_SALESFORCE, MARK_KEY_STRIPE, DeletionPolicy
from mappings.engine.paths import compile_path
from mappings.engine.result import Issue, LookupResolver, MappingResult
from mappings.errors import MappingError
from mappings.schema.model import System
from mappings.schema.stripe_events import is_deletion_event, split_event
from mappings.transforms.time import format_datetime, parse_datetime

if TYPE_CHECKING:
    from mappings.document.model import Flow
    from mappings.engine.plan import FlowPlan


class DeletionInputError(MappingError):
    """A deletion input that names no object to delete (no id)."""


@dataclass(frozen=True, slots=True)
class Deletion:
    """One deletion a flow applies: the source that went, and how its target is found."""

    flow: str
    policy: DeletionPolicy
    what: str  # the event type, or "<Object> deleted in Salesforce"
    target_system: System
    target_object: str
    source_id: str  # the deleted Stripe object's id, or the Salesforce record's Id
    match_field: str | None  # where the target carries the source's id (external id)
    match_value: str | None
    deleted_at: datetime  # UTC

    @property
    def target_label(self) -> str:
        """``Account with StripeCustomerID__c = cus_1`` (or ``customer cus_1``)."""
        if self.target_system is System.STRIPE:
            return f"{self.target_object} {self.match_value or '(unknown)'}"
        if self.match_field and self.match_value:
            return f"{self.target_object} with {self.match_field} = {self.match_value}"
        return f"{self.target_object} of {self.source_id}"

    def mark_values(self) -> dict[str, Any]:
        """What ``mark`` writes on the target."""
        if self.target_system is System.STRIPE:
            return {"metadata": {MARK_KEY_STRIPE: stripe_timestamp(self.deleted_at)}}
        return {MARK_FIELD_SALESFORCE: format_datetime(self.deleted_at)}

    def record(self, mapped: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """The target as the policy leaves it: for ``mark`` the match and the stamp, for
        ``delete`` the match alone (that record goes), for ``ignore`` None.

        ``mapped`` is the source's last state as the flow maps it: a Salesforce record
        marked also takes its values (a canceled subscription's status, a voided invoice's),
        so a mark never leaves the record older than the object it mirrors."""
        if self.policy is DeletionPolicy.IGNORE:
            return None
        match: dict[str, Any]
        if self.target_system is System.STRIPE:
            match = {"id": self.match_value} if self.match_value else {}
            mapped = None  # the Salesforce record is gone: only the stamp is news
        else:
            match = {self.match_field: self.match_value} if self.match_field else {}
        if self.policy is DeletionPolicy.DELETE:
            return match
        # Never a clearing: a value the last state lacks stays as the record has it.
        last = {k: v for k, v in (mapped or {}).items() if k != "Id" and v is not None}
        return {**last, **match, **self.mark_values()}

    def summary(self, *, done: bool = False) -> str:
        """One sentence: what the policy would do (``done``: did) to the target."""
        if self.policy is DeletionPolicy.IGNORE:
            return (f"{self.what}: flow {self.flow!r} ignores deletions (on_delete: ignore); "
                    f"the {self.target_label} is left as it is")
        verb = {DeletionPolicy.MARK: ("would mark", "marked"),
                DeletionPolicy.DELETE: ("would delete", "deleted")}[self.policy][done]
        if self.policy is DeletionPolicy.MARK:
            stamp = ", ".join(f"{k} = {v}" for k, v in _flat(self.mark_values()).items())
            return f"{self.what}: {verb} the {self.target_label} deleted ({stamp})"
        return f"{self.what}: {verb} the {self.target_label}"

    def skip_reason(self) -> str | None:
        """Why nothing is written (``ignore``), else None."""
        return self.summary() if self.policy is DeletionPolicy.IGNORE else None

    def not_found(self) -> str:
        """The reason when no target exists: nothing to mark or delete."""
        return (f"{self.what}: no {self.target_label} to {self.policy.value}; "
                "nothing written")

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy.value, "event": self.what,
                "target": f"{self.target_system.value}:{self.target_object}",
                "source_id": self.source_id, "match_field": self.match_field,
                "match_value": self.match_value,
                "deleted_at": stripe_timestamp(self.deleted_at), "summary": self.summary()}


def stripe_timestamp(moment: datetime) -> str:
    """An ISO 8601 UTC text to the second (``2026-12-02T06:30:00Z``), for Stripe metadata."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def is_stripe_deletion(flow: Flow, data: Any) -> bool:
    """Whether ``data`` is a Stripe deletion event that ``flow`` lists in its trigger."""
    _record, envelope = split_event(data)
    if envelope is None:
        return False
    event_type = envelope.get("type")
    return is_deletion_event(event_type) and event_type in flow.trigger.stripe_events


def stripe_deletion(flow: Flow, data: Any, plan: FlowPlan | None = None, *,
                    now: datetime | None = None) -> Deletion | None:
    """The deletion a Stripe event asks of ``flow``; None when ``data`` is not a deletion
    event ``flow`` is triggered by. :class:`DeletionInputError` when the event names no
    object id. The moment is the event's ``created`` (else ``now``)."""
    if not is_stripe_deletion(flow, data):
        return None
    record, envelope = split_event(data)
    assert record is not None and envelope is not None  # is_stripe_deletion checked
    event_type = str(envelope.get("type"))
    source_id = record.get("id")
    if not isinstance(source_id, str) or not source_id:
        which = envelope.get("id")
        named = f" {which}" if isinstance(which, str) and which else ""
        raise DeletionInputError(f"the {event_type} event{named} names no {flow.source.object} "
                                 "id in data.object.id, so there is nothing to delete")
    ext = flow.operation.external_id
    value = _external_value(flow, data, record, plan) if ext else None
    created = envelope.get("created")
    if isinstance(created, int | float) and not isinstance(created, bool):
        when = datetime.fromtimestamp(created, UTC)
    else:
        when = now or datetime.now(UTC)
    return Deletion(flow.name, flow.on_delete, event_type, flow.target.system,
                    flow.target.object, source_id, ext, value or (source_id if ext else None),
                    when.astimezone(UTC))


def _external_value(flow: Flow, data: Any, record: Mapping[str, Any],
                    plan: FlowPlan | None) -> str | None:
    """The value the flow writes into its external id for this source: a plain read of the
    mapped path, else what the plan maps (a transform between)."""
    ext = str(flow.operation.external_id)
    mapping = flow.mapping_for(ext)
    if mapping is None:
        return None
    if len(mapping.sources) == 1 and not mapping.transforms:
        value = compile_path(mapping.sources[0])(record)
    elif plan is not None:
        value = plan.field_value(data, ext)
    else:
        value = None
    return value if isinstance(value, str) and value else None


def salesforce_deletion(flow: Flow, record: Mapping[str, Any], *,
                        now: datetime | None = None) -> Deletion:
    """The deletion a Salesforce record gone to the recycle bin asks of ``flow`` (a
    Salesforce -> Stripe flow). The Stripe object is the one the record names in the flow's
    writeback (else external id) field; None there when the record names none (the caller
    may know it otherwise). The moment is the record's ``SystemModstamp`` (else ``now``)."""
    rid = record.get("Id")
    if not isinstance(rid, str) or not rid:
        raise DeletionInputError(f"a deleted {flow.source.object} record without an Id "
                                 "cannot be matched to a Stripe object")
    field = flow.operation.writeback or flow.operation.external_id
    value = record.get(field) if field else None
    stamp = record.get("SystemModstamp")
    try:
        when = parse_datetime(stamp) if isinstance(stamp, str) and stamp else None
    except MappingError:
        when = None
    when = when or now or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return Deletion(flow.name, flow.on_delete, f"{flow.source.object} {rid} deleted in "
                    "Salesforce", flow.target.system, flow.target.object, rid, field,
                    value if isinstance(value, str) and value else None, when.astimezone(UTC))


def has_last_state(deletion: Deletion, data: Any) -> bool:
    """Whether a mark also writes the object's last state: a Salesforce target, and an
    event carrying the whole object (Stripe's deletion events do; a ``{"id": ...,
    "deleted": true}`` stub, as a later read of a deleted object answers, does not)."""
    if deletion.policy is not DeletionPolicy.MARK or deletion.target_system is not System.SALESFORCE:
        return False
    record, _envelope = split_event(data)
    return record is not None and record.get("deleted") is not True


def marks_salesforce(flow: Flow) -> bool:
    """Whether ``flow``'s deletions write :data:`MARK_FIELD_SALESFORCE`: a Salesforce target,
    ``on_delete: mark`` and a deletion event in its trigger."""
    return (flow.target.system is System.SALESFORCE and flow.on_delete is DeletionPolicy.MARK
            and any(is_deletion_event(t) for t in flow.trigger.stripe_events))


def deletion_writes(flow: Flow) -> list[str]:
    """The Salesforce fields ``flow`` writes on a deletion beyond its mapped ones (for its
    contract: a field the org lacks is found at start-up, not at the first deletion)."""
    return [MARK_FIELD_SALESFORCE] if marks_salesforce(flow) else []


def deletion_of(flow: Flow, data: Any, plan: FlowPlan | None = None) -> Deletion | None:
    """The deletion ``data`` asks of ``flow``, whichever side it comes from: a Stripe
    deletion event the flow is triggered by, or (a Salesforce-sourced flow) a record with
    ``IsDeleted = true``. None for any other input; :class:`DeletionInputError` for a
    deletion that names nothing to delete."""
    if flow.source.system is System.SALESFORCE:
        if isinstance(data, Mapping) and data.get("IsDeleted") is True:
            return salesforce_deletion(flow, data)
        return None
    return stripe_deletion(flow, data, plan)


def deletion_result(flow: Flow, data: Any, plan: FlowPlan | None = None,
                    resolver: LookupResolver | None = None
                    ) -> tuple[Deletion | None, MappingResult] | None:
    """For a deletion input, the deletion and the result a fixture or a preview shows in
    place of a mapped record: the target as the policy leaves it (skipped for ``ignore``;
    for ``mark`` with the source's last state when ``plan`` maps it without error). None
    for an input that is not a deletion. A deletion naming no id gives no deletion and an
    ``INVALID_INPUT`` issue."""
    try:
        deletion = deletion_of(flow, data, plan)
    except DeletionInputError as exc:
        return None, MappingResult({}, [Issue("INVALID_INPUT", None, str(exc))])
    if deletion is None:
        return None
    issues: list[Issue] = []
    mapped: dict[str, Any] | None = None
    if plan is not None and has_last_state(deletion, data):
        last = plan.apply(data, resolver)
        if last.ok and not last.skipped:
            mapped, issues = last.record, list(last.issues)
    record = deletion.record(mapped)
    return deletion, MappingResult(record or {}, issues, record is None,
                                   deletion.skip_reason(), deletion.source_id)
