"""A bundle's flows compiled once for the runner, and the startup contract check.

:class:`LoadedBundle` holds one :class:`CompiledFlow` per flow (its ``FlowPlan`` compiled
against the bundle's schema snapshot of the target), the index from Stripe event types to
flows, and the Salesforce-change flows the poller runs. :func:`check_contract` compares what
the flows write with the live org's describe: the runner refuses to start on any drift.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mappings.document.model import Action, Flow, MappingDocument
from mappings.engine.plan import FlowPlan, compile_flow
from mappings.errors import MappingError
from mappings.schema.model import Catalog, ObjectSchema, System
from runner.errors import ConfigError

# Event types the runner raises itself, not Stripe (see runner.finance.anomaly_cases).
RUNNER_EVENT_PREFIX = "fieldbridge."

if TYPE_CHECKING:
    from mappings.bundle import Bundle
    from runner.connectors.salesforce import SalesforceConnector


@dataclass(slots=True)
class CompiledFlow:
    """One flow ready to run: the document it belongs to and its compiled plan."""

    flow: Flow
    document: MappingDocument
    plan: FlowPlan
    # The bundle's snapshot of the source object (its field types, for the drift monitor's
    # "type changed" check on what a Salesforce-triggered flow reads); None when absent.
    source_schema: ObjectSchema | None = None

    @property
    def name(self) -> str:
        return self.flow.name

    @property
    def to_salesforce(self) -> bool:
        return self.flow.target.system is System.SALESFORCE

    @property
    def from_salesforce(self) -> bool:
        return self.flow.trigger.salesforce_change is not None


@dataclass
class LoadedBundle:
    """Every flow of a bundle, compiled; built with :meth:`from_bundle` or
    :meth:`from_documents`."""

    flows: dict[str, CompiledFlow]
    by_event: dict[str, list[CompiledFlow]] = field(default_factory=dict)
    salesforce_flows: list[CompiledFlow] = field(default_factory=list)
    # Salesforce objects that some flow looks up by reference: flows writing them run first
    # in a batch, so a charge can link to the Account created from the same batch's customer.
    lookup_objects: frozenset[str] = frozenset()
    source: str = ""

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> LoadedBundle:
        return cls.from_documents(bundle.documents, bundle.salesforce_schemas,
                                  bundle.stripe_schemas, source=str(bundle.path))

    @classmethod
    def from_documents(cls, documents: Iterable[MappingDocument], sf_catalog: Catalog,
                       stripe_catalog: Catalog, *, source: str = "") -> LoadedBundle:
        flows: dict[str, CompiledFlow] = {}
        for doc in documents:
            for flow in doc.flows:
                if flow.name in flows:
                    raise ConfigError(f"flow {flow.name!r} is defined twice "
                                      f"({flows[flow.name].document.name!r} and {doc.name!r})")
                flows[flow.name] = _compile(flow, doc, sf_catalog, stripe_catalog)
        by_event: dict[str, list[CompiledFlow]] = {}
        salesforce_flows: list[CompiledFlow] = []
        for compiled in flows.values():
            for event_type in compiled.flow.trigger.stripe_events:
                by_event.setdefault(event_type, []).append(compiled)
            if compiled.from_salesforce:
                salesforce_flows.append(compiled)
        lookup_objects = frozenset(lk.object for c in flows.values() for lk in c.flow.lookups)
        return cls(flows, by_event, salesforce_flows, lookup_objects, source)

    @property
    def event_types(self) -> set[str]:
        """Every Stripe event type some flow handles (for webhook registration, catch-up).

        The runner's own pseudo-events (``fieldbridge.anomaly``) are not Stripe's: they are
        never registered, caught up or taken from a webhook.
        """
        return {t for t in self.by_event if not t.startswith(RUNNER_EVENT_PREFIX)}

    def without(self, names: Iterable[str]) -> LoadedBundle:
        """A view of this bundle without the flows ``names`` (paused or excluded flows);
        the compiled flows are shared, nothing is recompiled."""
        dropped = set(names)
        if not dropped:
            return self
        flows = {n: c for n, c in self.flows.items() if n not in dropped}
        by_event = {t: kept for t, fl in self.by_event.items()
                    if (kept := [c for c in fl if c.name not in dropped])}
        return LoadedBundle(flows, by_event,
                            [c for c in self.salesforce_flows if c.name not in dropped],
                            self.lookup_objects, self.source)

    def flows_for_event(self, event_type: str) -> list[CompiledFlow]:
        return self.by_event.get(event_type, [])

    def flow(self, name: str) -> CompiledFlow:
        try:
            return self.flows[name]
        except KeyError:
            known = ", ".join(sorted(self.flows)) or "none"
            raise ConfigError(f"the bundle has no flow {name!r} (flows: {known})") from None


def _compile(flow: Flow, doc: MappingDocument, sf_catalog: Catalog,
             stripe_catalog: Catalog) -> CompiledFlow:
    def catalog(system: System) -> Catalog:
        return sf_catalog if system is System.SALESFORCE else stripe_catalog

    target_schema = catalog(flow.target.system).get(flow.target.object)
    source_schema = catalog(flow.source.system).get(flow.source.object)
    if target_schema is None and flow.target.system is System.SALESFORCE:
        raise ConfigError(f"flow {flow.name!r}: the bundle has no schema of its target "
                          f"{flow.target.object}")
    try:
        plan = compile_flow(flow, doc, target_schema, source_schema=source_schema)
    except MappingError as exc:
        raise ConfigError(f"flow {flow.name!r} cannot be compiled: {exc}") from exc
    return CompiledFlow(flow, doc, plan, source_schema)


# -- contract check against the live org ------------------------------------------------------

def check_contract(loaded: LoadedBundle, salesforce: SalesforceConnector) -> list[str]:
    """What drifted between the bundle and the live org, one line per problem (empty: none).

    Checked for every Salesforce target field a flow writes: it exists, and it is createable
    (insert/upsert) or updateable (update/upsert) as the operation needs; the upsert key is an
    external id; fields the org requires on create are filled. For Salesforce -> Stripe flows:
    the source object and the fields they read and write back exist.
    """
    from runner.connectors.errors import ConnectorError

    describes: dict[str, dict[str, dict] | None] = {}

    def fields_of(obj: str) -> dict[str, dict] | None:
        if obj not in describes:
            try:
                body = salesforce.describe(obj)
            except ConnectorError as exc:
                if exc.status in (400, 404) or exc.error_code in ("NOT_FOUND", "INVALID_TYPE"):
                    describes[obj] = None
                else:
                    raise
            else:
                describes[obj] = {f["name"].lower(): f for f in body.get("fields", [])}
        return describes[obj]

    report: list[str] = []
    for compiled in loaded.flows.values():
        flow = compiled.flow
        if compiled.to_salesforce:
            report += _check_salesforce_target(flow, fields_of)
        if flow.source.system is System.SALESFORCE:
            report += _check_salesforce_source(flow, fields_of)
    return report


def _check_salesforce_target(flow: Flow, fields_of: Any) -> list[str]:
    obj = flow.target.object
    fields = fields_of(obj)
    where = f"flow {flow.name!r}"
    if fields is None:
        return [f"{where}: the org has no object {obj}"]
    action = flow.operation.action
    creates = action in (Action.INSERT, Action.UPSERT, Action.CREATE)
    updates = action in (Action.UPDATE, Action.UPSERT)
    out: list[str] = []
    written = flow.target_fields()
    for name in written:
        described = fields.get(name.lower())
        if described is None:
            out.append(f"{where}: {obj}.{name} no longer exists in the org")
            continue
        if creates and not described.get("createable", True):
            out.append(f"{where}: {obj}.{name} is not createable in the org")
        if action is Action.UPDATE and not described.get("updateable", True):
            out.append(f"{where}: {obj}.{name} is not updateable in the org")
    ext = flow.operation.external_id
    if ext:
        described = fields.get(ext.lower())
        if described is None:
            if ext not in written:
                out.append(f"{where}: the key {obj}.{ext} no longer exists in the org")
        elif updates and not (described.get("externalId") or described.get("idLookup")):
            out.append(f"{where}: {obj}.{ext} is no longer an external id field")
    for dedup in flow.operation.dedup_on:
        if fields.get(dedup.lower()) is None:
            out.append(f"{where}: the dedup field {obj}.{dedup} no longer exists in the org")
    if creates:
        lowered = {w.lower() for w in written}
        for described in fields.values():
            if (described.get("nillable", True) or not described.get("createable", False)
                    or described.get("defaultedOnCreate") or described.get("type") == "boolean"
                    or described.get("calculated") or described["name"].lower() in lowered):
                continue
            out.append(f"{where}: {obj}.{described['name']} is required by the org but the "
                       "flow does not fill it")
    return out


def _check_salesforce_source(flow: Flow, fields_of: Any) -> list[str]:
    obj = flow.source.object
    fields = fields_of(obj)
    where = f"flow {flow.name!r}"
    if fields is None:
        return [f"{where}: the org has no object {obj}"]
    from runner.pipeline.sf_poller import source_fields

    out: list[str] = []
    for path in source_fields(flow):
        head = path.split(".", 1)[0]
        if "." in path:
            continue  # a relationship (Account.Name): its object is checked by the query
        if fields.get(head.lower()) is None:
            out.append(f"{where}: {obj}.{head}, which the flow reads, no longer exists")
    wb = flow.operation.writeback
    if wb:
        described = fields.get(wb.lower())
        if described is None:
            out.append(f"{where}: the writeback field {obj}.{wb} no longer exists in the org")
        elif not described.get("updateable", True):
            out.append(f"{where}: the writeback field {obj}.{wb} is not updateable")
    return out
