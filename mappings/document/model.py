"""Mapping documents: flows of field mappings from a source object to a target object.

This module holds the plain data model only. Reading and writing YAML lives in
``mappings.document.yamlio``, the JSON Schema in ``mapping.schema.json``, the semantic diff
in ``mappings.document.diff``.

A document on disk (YAML) looks like::

    format: 1
    name: charges
    value_maps:
      charge_status: {succeeded: Completed, failed: Failed, pending: Pending}
    flows:
      - name: charge-to-payment
        trigger: {stripe_events: [charge.succeeded, charge.failed]}
        source: {system: stripe, object: charge}
        target: {system: salesforce, object: Payment__c}
        operation: {action: upsert, external_id: StripeChargeID__c}
        fields:
          - target: Amount__c
            source: [amount]
            transforms:
              - name: minor_to_decimal
                args: {currency_path: currency}
        lookups:
          - {target: Account__c, object: Account, match_field: StripeCustomerID__c, source: customer}
        conditions:
          - {path: livemode, op: eq, value: false}
        defaults: {Source__c: Stripe}
        fixtures:
          - {name: paid, input: {...event...}, expected: {...record...}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mappings.schema.model import System

FORMAT_VERSION = 1


class Action(StrEnum):
    """What a flow does to the target."""

    UPSERT = "upsert"  # Salesforce: upsert by external id
    INSERT = "insert"  # Salesforce: always create
    UPDATE = "update"  # Salesforce: update a record found by id/external id; Stripe: update
    CREATE = "create"  # Stripe: create an object


class DeletionPolicy(StrEnum):
    """What a flow does to its target when the source is deleted (a Stripe ``*.deleted`` or
    ``invoice.voided`` event, a Salesforce record gone to the recycle bin), and what a child
    collection does to a child record whose source line is gone."""

    DELETE = "delete"  # delete the target record
    MARK = "mark"  # stamp it (MARK_FIELD_SALESFORCE / MARK_KEY_STRIPE) and keep it
    IGNORE = "ignore"  # leave it as it is


# Where "mark" writes the moment of deletion: a datetime field on the Salesforce record, and
# a metadata key on the Stripe object.
MARK_FIELD_SALESFORCE = "StripeDeletedAt__c"
MARK_KEY_STRIPE = "salesforce_deleted_at"


class ConditionOp(StrEnum):
    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"
    EXISTS = "exists"  # the path has a non-null value
    MISSING = "missing"  # the path is absent or null
    CHANGED_TO = "changed_to"  # Salesforce change: the field now equals value and did not before
    EXPR = "expr"  # a JSONata expression that must be truthy


@dataclass(slots=True)
class ObjectRef:
    system: System
    object: str

    def __str__(self) -> str:
        return f"{self.system.value}:{self.object}"


@dataclass(slots=True)
class SalesforceChange:
    """A Salesforce record change that triggers a flow (polled on SystemModstamp)."""

    object: str
    # Optional: the field whose change matters and the value it must become.
    field: str | None = None
    becomes: Any = None


@dataclass(slots=True)
class SalesforceEvent:
    """A Salesforce platform event (``Opportunity_Closed_Won__e``) that triggers a flow on
    the source record it names: the record whose Id is in the event's ``record_id`` field
    (default ``<source object>Id__c``, e.g. ``OpportunityId__c``)."""

    event: str
    record_id: str | None = None

    def record_id_field(self, source_object: str) -> str:
        return self.record_id or f"{source_object.removesuffix('__c')}Id__c"


@dataclass(slots=True)
class Trigger:
    """Either ``stripe_events``, or Salesforce triggers: ``salesforce_change``,
    ``salesforce_event``, or both (the platform event in real time, the change as what
    polling looks for when the org offers no event)."""

    stripe_events: list[str] = field(default_factory=list)
    salesforce_change: SalesforceChange | None = None
    salesforce_event: SalesforceEvent | None = None

    @property
    def kind(self) -> str:
        if self.salesforce_event is not None:
            return "salesforce_event"
        return "salesforce_change" if self.salesforce_change is not None else "stripe_events"

    @property
    def from_salesforce(self) -> bool:
        return self.salesforce_change is not None or self.salesforce_event is not None


@dataclass(slots=True)
class Operation:
    action: Action
    # Upsert: the target's external id field whose value comes from a field mapping.
    external_id: str | None = None
    # Dedup on create: target fields tried in order after the external id (e.g. ["Email"]);
    # an ambiguous match is held for review rather than creating a duplicate.
    dedup_on: list[str] = field(default_factory=list)
    # Salesforce -> Stripe: the source record's field that receives the created Stripe id.
    writeback: str | None = None


@dataclass(slots=True)
class TransformStep:
    """One step of a transform chain: a library transform name and its arguments."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class FieldMapping:
    """One or more source paths -> a transform chain -> one target field.

    With several sources the first step receives the list of values (concat, coalesce...);
    with none, the chain starts from ``None`` (e.g. a JSONata step over the whole record).
    """

    target: str
    sources: list[str] = field(default_factory=list)
    transforms: list[TransformStep] = field(default_factory=list)
    description: str = ""


@dataclass(slots=True)
class Lookup:
    """Resolve a Salesforce reference Id through an external id.

    ``Payment__c.Account__c`` from ``Account.StripeCustomerID__c = charge.customer`` is
    ``Lookup(target="Account__c", object="Account", match_field="StripeCustomerID__c",
    source="customer")``.
    """

    target: str
    object: str
    match_field: str
    source: str
    required: bool = True
    # A constant matched instead of ``source`` (then ""): the standard price book is
    # ``Lookup("Pricebook2Id", "Pricebook2", "IsStandard", "", value=True)``, an Id that
    # differs per org and so cannot be a default.
    value: Any = None
    # A JSONata expression over the source record computing the match value instead of
    # ``source`` (then ""): the standard PricebookEntry of a line is found by
    # ``price.product & '|' & $uppercase(currency)`` on StripeProductCurrency__c, a key no
    # single field of the line holds.
    expr: str | None = None

    @property
    def constant(self) -> bool:
        return self.value is not None

    @property
    def computed(self) -> bool:
        return self.expr is not None

    @property
    def reads_source(self) -> bool:
        """Whether the match value is a source path (neither a constant nor computed)."""
        return self.value is None and self.expr is None


@dataclass(slots=True)
class Condition:
    """A precondition on the source record; a flow skips records that fail any condition."""

    op: ConditionOp
    path: str | None = None
    value: Any = None
    expr: str | None = None  # for op == EXPR


@dataclass(slots=True)
class Fixture:
    """An input (Stripe event or object, or a Salesforce record) and the expected output."""

    name: str
    input: dict[str, Any]
    expected: dict[str, Any] | None = None  # the target record; None when skipped
    expect_skip: bool = False
    expected_issues: list[str] = field(default_factory=list)  # issue codes
    # Lookup answers the fixture assumes: {"Account.StripeCustomerID__c=cus_1": "001..."}.
    lookups: dict[str, str] = field(default_factory=dict)


def _written(fields: list[FieldMapping], lookups: list[Lookup], defaults: dict[str, Any],
             first: str | None = None) -> list[str]:
    """The target fields mappings, lookups and defaults write, once each, in that order."""
    seen: dict[str, None] = {first: None} if first else {}
    for m in fields:
        seen[m.target] = None
    for lk in lookups:
        seen[lk.target] = None
    for name in defaults:
        seen[name] = None
    return list(seen)


@dataclass(slots=True)
class ChildCollection:
    """A source array mapped to child records of the flow's target record.

    ``invoice.lines.data[]`` -> ``OrderItem`` under ``Order`` is ``ChildCollection(
    relationship="OrderItems", source="lines.data", object="line_item",
    target="OrderItem", parent_field="OrderId", external_id="StripeLineItemID__c", ...)``.
    Field sources, lookups and conditions read one element of the array; the child's
    ``parent_field`` is set to the parent record being written, never mapped. Parent and
    children are written together or not at all; a child whose line is gone from the source
    is handled by ``on_removed``.
    """

    relationship: str  # the parent's child relationship name (OrderItems)
    source: str  # the array's path on the source record (lines.data)
    object: str  # what one element is (line_item), for its schema
    target: str  # the child object (OrderItem), in the flow's target system
    parent_field: str  # the child's reference to its parent (OrderId)
    external_id: str  # the child's external id (StripeLineItemID__c), for updates
    description: str = ""
    fields: list[FieldMapping] = field(default_factory=list)
    lookups: list[Lookup] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    defaults: dict[str, Any] = field(default_factory=dict)
    fixtures: list[Fixture] = field(default_factory=list)  # input: one element
    on_removed: DeletionPolicy = DeletionPolicy.MARK

    def mapping_for(self, target: str) -> FieldMapping | None:
        return next((m for m in self.fields if m.target == target), None)

    def target_fields(self) -> list[str]:
        """Every child field written, the parent reference included."""
        return _written(self.fields, self.lookups, self.defaults, first=self.parent_field)


@dataclass(slots=True)
class Flow:
    name: str
    trigger: Trigger
    source: ObjectRef
    target: ObjectRef
    operation: Operation
    description: str = ""
    fields: list[FieldMapping] = field(default_factory=list)
    lookups: list[Lookup] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    defaults: dict[str, Any] = field(default_factory=dict)
    fixtures: list[Fixture] = field(default_factory=list)
    children: list[ChildCollection] = field(default_factory=list)
    # What a deletion of the source does to the target (see DeletionPolicy).
    on_delete: DeletionPolicy = DeletionPolicy.MARK

    def mapping_for(self, target: str) -> FieldMapping | None:
        return next((m for m in self.fields if m.target == target), None)

    def child(self, relationship: str) -> ChildCollection | None:
        return next((c for c in self.children if c.relationship == relationship), None)

    def target_fields(self) -> list[str]:
        """Every target field this flow writes: the contract the runner checks for drift."""
        return _written(self.fields, self.lookups, self.defaults)


@dataclass(slots=True)
class RatesTable:
    """Currency conversion rates carried in the document: 1 ``base`` = rate units of X."""

    base: str
    rates: dict[str, float] = field(default_factory=dict)
    as_of: str = ""


@dataclass(slots=True)
class MappingDocument:
    name: str
    flows: list[Flow] = field(default_factory=list)
    description: str = ""
    format: int = FORMAT_VERSION
    value_maps: dict[str, dict[str, Any]] = field(default_factory=dict)
    rates: RatesTable | None = None

    def flow(self, name: str) -> Flow | None:
        return next((f for f in self.flows if f.name == name), None)
