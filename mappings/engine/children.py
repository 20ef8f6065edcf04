"""Child collections: one source array mapped to child records of the flow's target.

A child collection (``invoice.lines.data[]`` -> ``OrderItem`` under ``Order``) is compiled
as a flow of its own through the same compile path as any flow (:func:`child_flow` builds
that flow), so its fields, lookups, conditions and validation follow the same rules. This
module holds what only children need: reading the array, mapping each element, and telling
the parent what happened.

What the parent result says about its children (the choice made for the whole runner):
parent and children are written together or not at all, so a child error is also a
parent-level error issue, ``CHILD_INVALID``. Every consumer that checks ``result.ok`` or
lists ``result.errors`` (the runner's dead-letter path, the preview, the fixtures) then
refuses the parent without knowing children exist. A list cut off by Stripe
(``has_more``) is a ``LIST_INCOMPLETE`` warning: the runner fetches the rest before writing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mappings.document.model import Action, ChildCollection, Flow, ObjectRef, Operation, Trigger
from mappings.engine.paths import Getter, compile_path, split_path
from mappings.engine.result import Issue, LookupResolver, MappingResult
from mappings.limits import CHILD_RECORDS_MAX
from mappings.schema import stripe_lists  # the module, not its names: it imports the engine
from mappings.schema.model import System

if TYPE_CHECKING:
    from mappings.engine.plan import FlowPlan


def child_flow(flow: Flow, child: ChildCollection) -> Flow:
    """The flow that maps one element of ``child``'s array to one child record.

    Named ``<flow>/<relationship>`` so that compile errors and fixture reports say where
    they are. It upserts on the child's external id (Salesforce reconciles children by it);
    the parent reference is left to the writer, which knows the parent record.
    """
    action = Action.UPSERT if flow.target.system is System.SALESFORCE else Action.CREATE
    return Flow(
        name=f"{flow.name}/{child.relationship}",
        trigger=Trigger(),
        source=ObjectRef(flow.source.system, child.object),
        target=ObjectRef(flow.target.system, child.target),
        operation=Operation(action, external_id=child.external_id),
        description=child.description,
        fields=child.fields,
        lookups=child.lookups,
        conditions=child.conditions,
        defaults=child.defaults,
        fixtures=child.fixtures,
    )


def items_noun(source: str) -> str:
    """What the elements are called, from the array's path: ``lines`` for ``lines.data``."""
    parts = split_path(source)
    if len(parts) > 1 and parts[-1] == "data":
        return parts[-2]
    return parts[-1]


@dataclass(frozen=True, slots=True)
class CompiledChild:
    """A child collection with its compiled plan and the getter of its array."""

    child: ChildCollection
    plan: FlowPlan
    read: Getter
    noun: str  # "lines", for messages

    @property
    def relationship(self) -> str:
        return self.child.relationship


def compile_child(child: ChildCollection, plan: FlowPlan) -> CompiledChild:
    return CompiledChild(child, plan, compile_path(child.source), items_noun(child.source))


def located(issues: list[Issue], relationship: str) -> list[Issue]:
    """Copies of a child plan's issues that say which collection they belong to, for the
    parent's list: ``OrderItems: UnitPrice is required ...`` on field ``OrderItems.UnitPrice``."""
    return [
        Issue(
            i.code,
            f"{relationship}.{i.field}" if i.field else relationship,
            f"{relationship}: {i.message}",
            i.severity,
        )
        for i in issues
    ]


def map_children(
    children: tuple[CompiledChild, ...],
    record: Mapping[str, Any],
    resolver: LookupResolver | None,
    parent: MappingResult,
    source_object: str,
    target_object: str,
) -> None:
    """Map every element of every child array of ``record`` (the unwrapped source record)
    and add the results and the parent-level issues to ``parent``."""
    for compiled in children:
        relationship = compiled.relationship
        value = compiled.read(record)
        results: list[MappingResult] = []
        parent.children[relationship] = results
        if value is None:
            continue  # no array: no children (an invoice without lines)
        if not isinstance(value, list | tuple):
            parent.issues.append(
                Issue(
                    "CHILD_SOURCE_INVALID",
                    relationship,
                    f"{relationship}: {compiled.child.source} on the {source_object} is a "
                    f"{type(value).__name__}, not a list",
                )
            )
            continue
        if len(value) > CHILD_RECORDS_MAX:
            parent.issues.append(
                Issue(
                    "CHILD_LIMIT",
                    relationship,
                    f"{relationship}: the {source_object} carries {len(value):,} "
                    f"{compiled.noun}, more than the {CHILD_RECORDS_MAX:,} one record may "
                    "have; none was mapped",
                )
            )
            continue
        if stripe_lists.truncated(record, compiled.child.source):
            parent.issues.append(
                Issue(
                    "LIST_INCOMPLETE",
                    relationship,
                    f"{relationship}: the {source_object} carries {len(value)} of more "
                    f"{compiled.noun}; the runner fetches the rest before writing",
                    "warning",
                )
            )
        static = {id(i) for i in compiled.plan.static_issues}
        failed = 0
        first: tuple[int, MappingResult, Issue] | None = None
        for index, element in enumerate(value):
            result = compiled.plan.apply(element, resolver)
            if result.skipped:
                continue  # an element the child's conditions leave out
            results.append(result)
            # Static errors are already on the parent (see located); count only this
            # element's own.
            own = [i for i in result.issues if i.severity == "error" and id(i) not in static]
            if own:
                failed += 1
                if first is None:
                    first = (index, result, own[0])
        if first is not None:
            index, result, issue = first
            who = result.source_id or f"element {index + 1}"
            parent.issues.append(
                Issue(
                    "CHILD_INVALID",
                    relationship,
                    f"{relationship}: {failed} of {len(results)} {compiled.noun} cannot be "
                    f"written, so neither can the {target_object} (first, {who}: "
                    f"{issue.message})",
                )
            )
