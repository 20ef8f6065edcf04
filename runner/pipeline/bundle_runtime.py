"""A bundle's flows compiled once for the runner.

:class:`LoadedBundle` holds one :class:`CompiledFlow` per flow (its ``FlowPlan`` compiled
against the bundle's schema snapshot of the target), the index from Stripe event types to
flows, and the Salesforce-change flows the poller runs. What the live org must still accept
of them is checked by :mod:`runner.contract`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mappings.document.model import Flow, MappingDocument
from mappings.document.yamlio import load_document
from mappings.engine.plan import FlowPlan, compile_flow
from mappings.errors import MappingError
from mappings.schema.model import Catalog, ObjectSchema, System
from mappings.schema.org_metadata import load_salesforce_catalog
from mappings.schema.stripe_catalog import load_stripe_catalog
from runner.errors import ConfigError

# Event types the runner raises itself, not Stripe (see runner.finance.anomaly_cases).
RUNNER_EVENT_PREFIX = "fieldbridge."

if TYPE_CHECKING:
    from mappings.bundle import Bundle


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
        return self.flow.trigger.from_salesforce


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

    @classmethod
    def from_template(cls, path: Path) -> LoadedBundle:
        """A shipped template's flows, compiled against the shipped org and Stripe schemas
        (the runner's fallbacks: the anomaly Case flow, reconcile's fix flow)."""
        return cls.from_documents([load_document(path)], load_salesforce_catalog(),
                                  load_stripe_catalog(), source=str(path))

    @property
    def event_types(self) -> set[str]:
        """Every Stripe event type some flow handles (for webhook registration, catch-up).

        The runner's own pseudo-events (``fieldbridge.anomaly``) are not Stripe's: they are
        never registered, caught up or taken from a webhook.
        """
        return {t for t in self.by_event if not t.startswith(RUNNER_EVENT_PREFIX)}

    @property
    def polled_objects(self) -> frozenset[str]:
        """The Salesforce objects the poller reads: a runner write there must be noted as
        its own, or the poller would take it for a person's change (an echo)."""
        return frozenset(c.flow.source.object for c in self.salesforce_flows)

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
        # Children (OrderItem under Order) find their schemas in the same snapshot.
        plan = compile_flow(flow, doc, target_schema, source_schema=source_schema,
                            schemas=lambda system, name: catalog(system).get(name))
    except MappingError as exc:
        raise ConfigError(f"flow {flow.name!r} cannot be compiled: {exc}") from exc
    return CompiledFlow(flow, doc, plan, source_schema)
