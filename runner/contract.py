"""The one contract check: does the live org still accept what the bundle's flows do?

Both callers use :func:`check_org`: the runner at start-up (it refuses to start on any
finding, :class:`runner.app.DriftError`) and the drift monitor while it runs (it pauses the
flows with findings, :mod:`runner.finance.runtime`). So an org that passes one passes the
other.

What is compared, per flow, is its contract (:func:`contracts_of`): the bundle manifest's
:func:`mappings.bundle.manifest.flow_contract` (what it writes, its operation), and for a
Salesforce-triggered flow the fields its poller's SOQL selects (``reads``,
:func:`runner.pipeline.sf_poller.select_fields`). Against the org's describes:

- every written field exists, has the type the bundle was built with, and is createable
  (insert/upsert) or updateable (update/upsert) as the operation needs;
- the upsert key exists and is still an external id; the ``dedup_on`` fields exist;
- on create, every field the org requires (not nillable, no default) is filled;
- what a Salesforce-triggered flow reads exists with its type (a relationship path needs
  its relationship), and its writeback field exists, keeps its type and is updateable.

Salesforce API names are case-insensitive, so every name is compared so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from mappings.bundle.manifest import flow_contract
from mappings.schema.model import Catalog, ObjectSchema
from runner.connectors.errors import ConnectorError
from runner.pipeline.sf_poller import select_fields

if TYPE_CHECKING:
    from runner.pipeline.bundle_runtime import LoadedBundle

OBJECT = "(object)"  # the field name of a finding about a whole object

Describes = Mapping[str, Mapping[str, Any] | None]
ExpectedTypes = Mapping[str, Mapping[str, str]]


class Describer(Protocol):
    """The part of :class:`runner.connectors.salesforce.SalesforceConnector` used here."""

    def describe(self, obj: str) -> dict: ...


@dataclass(frozen=True, slots=True)
class DriftFinding:
    """One thing the org no longer accepts; ``reason`` is the sentence a person reads."""

    flow: str
    field: str
    problem: str  # "missing" | "type changed from X to Y" | "not writable" | "object missing"
    object: str = ""
    # What the flow does with the field: "writes" | "reads" | "writeback" | "key" | "dedup"
    # | "required" (a field the org requires on create that the flow leaves empty).
    role: str = "writes"

    @property
    def reason(self) -> str:
        where = f"{self.object}.{self.field}"
        if self.field == OBJECT:
            return f"flow {self.flow}: object {self.object} is gone from the org"
        if self.role == "reads":
            return f"flow {self.flow}: {where}, which the flow reads, {self.problem}"
        if self.role in ("writeback", "key", "dedup"):
            return f"flow {self.flow}: the {self.role} field {where} {self.problem}"
        if self.role == "required":
            return f"flow {self.flow}: {where} is required by the org but the flow does not " \
                   "fill it"
        return f"flow {self.flow}: {where} {self.problem}"

    def to_dict(self) -> dict[str, str]:
        return {"flow": self.flow, "object": self.object, "field": self.field,
                "problem": self.problem, "role": self.role, "reason": self.reason}


# -- the contracts and what the bundle expected -----------------------------------------------

def contracts_of(bundle: LoadedBundle) -> list[dict[str, Any]]:
    """The contract of every flow that writes to or reads from Salesforce: the manifest's
    flow contract, plus what a Salesforce-triggered flow's poller selects (``reads``)."""
    contracts = []
    for compiled in bundle.flows.values():
        if not (compiled.to_salesforce or compiled.from_salesforce):
            continue
        contract = flow_contract(compiled.flow, compiled.document)
        if compiled.from_salesforce:
            contract["reads"] = select_fields(compiled.flow)
        contracts.append(contract)
    return contracts


def _types_of(schema: ObjectSchema) -> dict[str, str]:
    return {f.path: f.native_type for f in schema.fields.values() if f.native_type}


def expected_types(catalog: Catalog) -> dict[str, dict[str, str]]:
    """Object -> field -> describe type, from the Salesforce catalog a bundle was built with."""
    return {name: _types_of(obj) for name, obj in catalog.objects.items()}


def bundle_fixed_fields(bundle: LoadedBundle) -> dict[str, set[str]]:
    """Object -> the fields (lower case) the bundle's target schemas say Salesforce fixes at
    creation (createable, not updateable)."""
    out: dict[str, set[str]] = {}
    for compiled in bundle.flows.values():
        if not compiled.to_salesforce:
            continue
        for plan in (compiled.plan, *compiled.plan.children.values()):
            schema = plan.target_schema
            if schema is not None:
                out.setdefault(plan.flow.target.object, set()).update(
                    f.path.lower() for f in schema.fields.values()
                    if f.createable and not f.updateable)
    return out


def bundle_expected_types(bundle: LoadedBundle) -> dict[str, dict[str, str]]:
    """Object -> field -> describe type the bundle was built against: the compiled plans'
    target schemas and the source schemas of the Salesforce-triggered flows."""
    out: dict[str, dict[str, str]] = {}
    for compiled in bundle.flows.values():
        ends = []
        if compiled.to_salesforce:
            ends += [(plan.flow.target.object, plan.target_schema)
                     for plan in (compiled.plan, *compiled.plan.children.values())]
        if compiled.from_salesforce:
            ends.append((compiled.flow.source.object, compiled.source_schema))
        for obj, schema in ends:
            if schema is not None:
                out.setdefault(obj, {}).update(_types_of(schema))
    return out


# -- the org's side ---------------------------------------------------------------------------

def _salesforce_object(flow: Mapping[str, Any], end: str) -> str | None:
    """``salesforce:Payment__c`` -> ``Payment__c``; None when that end is Stripe."""
    value = flow.get(end)
    if isinstance(value, Mapping):
        system, obj = value.get("system"), value.get("object")
    elif isinstance(value, str) and ":" in value:
        system, obj = value.split(":", 1)
    else:
        return None
    return obj if system == "salesforce" and isinstance(obj, str) else None


def _target_object(flow: Mapping[str, Any]) -> str | None:
    return _salesforce_object(flow, "target")


def _source_object(flow: Mapping[str, Any]) -> str | None:
    """The Salesforce object a contract says it reads (``reads``), else None."""
    if flow.get("reads") is None:
        return None
    return _salesforce_object(flow, "source")


def describe_objects(salesforce: Describer,
                     contracts: Sequence[Mapping[str, Any]]) -> dict[str, dict | None]:
    """The current describe of each object the contracts write or read (None: gone)."""
    result: dict[str, dict | None] = {}
    for flow in contracts:
        children = [_target_object(c) for c in flow.get("children") or [] if isinstance(c, Mapping)]
        for obj in (_target_object(flow), _source_object(flow), *children):
            if obj is None or obj in result:
                continue
            try:
                result[obj] = salesforce.describe(obj)
            except ConnectorError as exc:
                if exc.error_code not in ("NOT_FOUND", "INVALID_TYPE") and exc.status != 404:
                    raise
                result[obj] = None
    return result


def check_org(bundle: LoadedBundle, salesforce: Describer) -> list[DriftFinding]:
    """Every finding of the bundle's flows against the live org (empty: none)."""
    contracts = contracts_of(bundle)
    return check_contracts(contracts, describe_objects(salesforce, contracts),
                           bundle_expected_types(bundle), bundle_fixed_fields(bundle))


def flows_to_pause(findings: Iterable[DriftFinding]) -> list[str]:
    """The flows with at least one finding (the others keep running)."""
    return sorted({f.flow for f in findings})


# -- the check itself (pure) --------------------------------------------------------------

def check_contracts(contracts: Sequence[Mapping[str, Any]], describes: Describes,
                    expected: ExpectedTypes | None = None,
                    fixed: Mapping[str, set[str]] | None = None) -> list[DriftFinding]:
    """What each contract needs that the org (``describes``: object -> describe, None or
    absent when gone) no longer gives. ``expected`` (object -> field -> type when the bundle
    was built) enables the "type changed" check; ``fixed`` (object -> lower-case fields the
    bundle knew as fixed at creation) the fields an upsert sets only when it creates."""
    lowered = {obj: {k.lower(): v for k, v in fields.items()}
               for obj, fields in (expected or {}).items()}
    findings: list[DriftFinding] = []
    for flow in contracts:
        name = _checked_name(flow)
        findings += _check_source(name, flow, describes, lowered)
        findings += _check_target(name, flow, describes, lowered, fixed or {})
        # A child collection's object is written with its parent, so its drift pauses the
        # parent's flow: the same check on the child's own contract.
        for child in _children(name, flow):
            findings += _check_target(name, child, describes, lowered, fixed or {})
    return findings


def _children(name: str, flow: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    children = flow.get("children") or []
    if not isinstance(children, list) or not all(
            isinstance(c, Mapping) and isinstance(c.get("writes"), list) for c in children):
        raise ValueError(f"flow {name}: 'children' must be a list of contracts with 'writes'")
    return children


def _checked_name(flow: Mapping[str, Any]) -> str:
    name, writes, reads = flow.get("name"), flow.get("writes"), flow.get("reads")
    if not isinstance(name, str) or not isinstance(writes, list):
        raise ValueError(f"a flow contract needs 'name' and a 'writes' list, got {flow!r}")
    if reads is not None and not (isinstance(reads, list)
                                  and all(isinstance(r, str) and r for r in reads)):
        raise ValueError(f"flow {name}: 'reads' must be a list of field names, got {reads!r}")
    return name


def _fields(describe: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(f["name"]).lower(): f for f in describe.get("fields") or [] if "name" in f}


def _operation(flow: Mapping[str, Any]) -> Mapping[str, Any]:
    operation = flow.get("operation")
    return operation if isinstance(operation, Mapping) else {}


def _type_change(was: Mapping[str, str], name: str, current: Mapping[str, Any]) -> str | None:
    old_type = was.get(name.lower())
    if old_type and current.get("type") and current["type"] != old_type:
        return f"type changed from {old_type} to {current['type']}"
    return None


def _check_target(name: str, flow: Mapping[str, Any], describes: Describes,
                  expected: ExpectedTypes, fixed: Mapping[str, set[str]]) -> list[DriftFinding]:
    """The write side of a Salesforce-target flow."""
    obj = _target_object(flow)
    if obj is None:
        return []
    describe = describes.get(obj)
    if not describe:
        return [DriftFinding(name, OBJECT, "object missing", obj)]
    fields = _fields(describe)
    operation = _operation(flow)
    action = str(operation.get("action", "upsert"))
    creates = action in ("upsert", "insert", "create")
    updates = action in ("upsert", "update")
    # Fields the bundle's schema fixes at creation: an upsert sets them when it creates and
    # leaves them out when it updates (SalesforceWriter._decide_upsert_fixed).
    set_once = fixed.get(obj, set()) if action == "upsert" else set()
    key = str(operation.get("external_id") or "")
    was = expected.get(obj, {})
    out: list[DriftFinding] = []
    written: set[str] = set()
    for target in flow["writes"]:
        base = str(target).split(".", 1)[0]
        written.add(base.lower())
        current = fields.get(base.lower())
        if current is None:
            out.append(DriftFinding(name, base, "missing", obj))
        elif problem := _type_change(was, base, current):
            out.append(DriftFinding(name, base, problem, obj))
        # The key is matched on, not set (an upsert on Id writes no Id, an update by Id
        # changes no Id), and an external id field is not updated by an upsert that finds
        # its record through it.
        elif base.lower() != key.lower() and (
                (creates and current.get("createable") is False)
                or (updates and current.get("updateable") is False
                    and not current.get("externalId") and base.lower() not in set_once)):
            out.append(DriftFinding(name, base, "not writable", obj))
    if key:
        current = fields.get(key.lower())
        if current is None:
            if key.lower() not in written:  # else reported above as a written field
                out.append(DriftFinding(name, key, "missing", obj, "key"))
        elif updates and not (current.get("externalId") or current.get("idLookup")):
            out.append(DriftFinding(name, key, "is no longer an external id", obj, "key"))
    for dedup in operation.get("dedup_on") or []:
        if fields.get(str(dedup).lower()) is None:
            out.append(DriftFinding(name, str(dedup), "missing", obj, "dedup"))
    if creates:
        for current in fields.values():
            if (current.get("nillable", True) or not current.get("createable", False)
                    or current.get("defaultedOnCreate") or current.get("type") == "boolean"
                    or current.get("calculated") or str(current["name"]).lower() in written):
                continue
            out.append(DriftFinding(name, str(current["name"]), "required but not filled",
                                    obj, "required"))
    return out


def _check_source(name: str, flow: Mapping[str, Any], describes: Describes,
                  expected: ExpectedTypes) -> list[DriftFinding]:
    """The read side of a Salesforce-triggered flow: the fields its SOQL selects and its
    writeback field."""
    obj = _source_object(flow)
    if obj is None:
        return []
    describe = describes.get(obj)
    if not describe:
        return [DriftFinding(name, OBJECT, "object missing", obj, "reads")]
    fields = _fields(describe)
    relationships = {str(f["relationshipName"]).lower() for f in fields.values()
                     if f.get("relationshipName")}
    writeback = _operation(flow).get("writeback")
    was = expected.get(obj, {})
    out: list[DriftFinding] = []
    for path in flow.get("reads") or []:
        head, dot, _rest = path.partition(".")
        if writeback and head.lower() == str(writeback).lower():
            continue  # checked below, as the writeback field it is
        if dot:
            # A relationship (Account.Name): its relationship must still be there; the
            # related object's own fields are that object's business.
            if head.lower() not in relationships:
                out.append(DriftFinding(name, head, "relationship missing", obj, "reads"))
            continue
        current = fields.get(head.lower())
        if current is None:
            out.append(DriftFinding(name, head, "missing", obj, "reads"))
        elif problem := _type_change(was, head, current):
            out.append(DriftFinding(name, head, problem, obj, "reads"))
    if writeback:
        wb = str(writeback)
        current = fields.get(wb.lower())
        if current is None:
            out.append(DriftFinding(name, wb, "missing", obj, "writeback"))
        elif problem := _type_change(was, wb, current):
            out.append(DriftFinding(name, wb, problem, obj, "writeback"))
        elif current.get("updateable") is False:
            out.append(DriftFinding(name, wb, "not writable", obj, "writeback"))
    return out
