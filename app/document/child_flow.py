"""A flow's child collection, seen by the studio as a flow of its own.

The canvas, the transform panel and the lookup, condition and defaults editors edit "the
current flow": its fields, lookups, conditions, defaults and fixtures, read from its source
object onto its target object. A child collection (``invoice.lines.data[]`` ->
``OrderItem`` under ``Order``) has exactly those parts, so the studio opens it in the same
widgets through :class:`ChildFlowView`, which reads and writes the collection's own lists.
Nothing is copied: an edit made through the view is an edit of the child collection.

A child is addressed by ``"<flow>/<relationship>"`` (``invoice-to-order/OrderItems``); a
flow name cannot contain ``/``, so the key never clashes with a flow.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mappings.document.model import (
    ChildCollection,
    Condition,
    DeletionPolicy,
    FieldMapping,
    Fixture,
    Flow,
    Lookup,
    ObjectRef,
    Operation,
    Trigger,
)
from mappings.engine.children import child_flow
from mappings.schema.model import FieldKind, FieldSchema, ObjectSchema

SEPARATOR = "/"


def child_key(flow: str, relationship: str) -> str:
    return f"{flow}{SEPARATOR}{relationship}"


def split_key(name: str) -> tuple[str, str | None]:
    """(flow, relationship) of a child key; (name, None) for a flow's own name."""
    flow, sep, relationship = name.partition(SEPARATOR)
    return (flow, relationship) if sep else (name, None)


def parent_name(name: str | None) -> str | None:
    """The flow a (possibly child) key belongs to."""
    return split_key(name)[0] if name else None


class ChildFlowView:
    """A child collection with the face of a :class:`Flow` (duck-typed on purpose: the
    views and the core editor's checks read ``name``, ``source``, ``target``, ``fields``,
    ``lookups``, ``conditions``, ``defaults``, ``fixtures`` and ``mapping_for``)."""

    def __init__(self, parent: Flow, child: ChildCollection) -> None:
        self.parent = parent
        self.child = child

    # -- what the views read

    @property
    def name(self) -> str:
        return child_key(self.parent.name, self.child.relationship)

    @property
    def description(self) -> str:
        return self.child.description

    # Objects and operation as the engine compiles the child (one rule: child_flow).
    @property
    def source(self) -> ObjectRef:
        return child_flow(self.parent, self.child).source

    @property
    def target(self) -> ObjectRef:
        return child_flow(self.parent, self.child).target

    @property
    def trigger(self) -> Trigger:
        return self.parent.trigger

    @property
    def operation(self) -> Operation:
        return child_flow(self.parent, self.child).operation

    @property
    def children(self) -> list[ChildCollection]:
        return []  # one level: a child has no children of its own

    @property
    def on_delete(self) -> DeletionPolicy:
        return self.child.on_removed

    # The lists are the child's own: undo commands swap them through these setters.
    @property
    def fields(self) -> list[FieldMapping]:
        return self.child.fields

    @fields.setter
    def fields(self, value: list[FieldMapping]) -> None:
        self.child.fields = value

    @property
    def lookups(self) -> list[Lookup]:
        return self.child.lookups

    @lookups.setter
    def lookups(self, value: list[Lookup]) -> None:
        self.child.lookups = value

    @property
    def conditions(self) -> list[Condition]:
        return self.child.conditions

    @conditions.setter
    def conditions(self, value: list[Condition]) -> None:
        self.child.conditions = value

    @property
    def defaults(self) -> dict[str, Any]:
        return self.child.defaults

    @defaults.setter
    def defaults(self, value: dict[str, Any]) -> None:
        self.child.defaults = value

    @property
    def fixtures(self) -> list[Fixture]:
        return self.child.fixtures

    def mapping_for(self, target: str) -> FieldMapping | None:
        return self.child.mapping_for(target)

    def target_fields(self) -> list[str]:
        return self.child.target_fields()


# --------------------------------------------------------------------------- arrays


def is_list_object(fs: FieldSchema) -> bool:
    """A Stripe list envelope (``lines``: ``ListObject[InvoiceLineItem]``)."""
    return fs.kind is FieldKind.OBJECT and fs.native_type.startswith("ListObject[")


def array_fields(obj: ObjectSchema | None) -> list[FieldSchema]:
    """The source object's Stripe lists a child collection can read (``lines``, ``items``,
    ``refunds``): list objects (``ListObject[...]``) whose elements are objects of their
    own, at the top level of the record."""
    if obj is None:
        return []
    return [
        fs
        for fs in obj
        if is_list_object(fs) and "." not in fs.path and f"{fs.path}.data[].id" in obj.fields
    ]


def array_source(fs: FieldSchema) -> str:
    """The child collection's ``source`` for a list field: the array in its envelope."""
    return f"{fs.path}.data"


def element_object(obj: ObjectSchema, source: str) -> str:
    """What one element of ``source`` is (``line_item``): the ``object`` value its schema
    names, else the list's own path."""
    marker = obj.fields.get(f"{source}[].object")
    if marker is not None and len(marker.enum_values) == 1:
        return marker.enum_values[0]
    return source.split(".", 1)[0]


def element_schema(obj: ObjectSchema, source: str) -> ObjectSchema:
    """The schema of one element of ``source``, from the parent's ``<source>[].*`` fields
    (for when the catalog has no object of that name)."""
    prefix = f"{source}[]."
    fields = {
        path[len(prefix) :]: _moved(fs, path[len(prefix) :])
        for path, fs in obj.fields.items()
        if path.startswith(prefix)
    }
    return ObjectSchema(obj.system, element_object(obj, source), fields=fields)


def _moved(fs: FieldSchema, path: str) -> FieldSchema:
    return replace(fs, path=path)


def element_words(fs: FieldSchema) -> str:
    """How a list reads to a user: "list of Invoice line items"."""
    inner = fs.native_type.removeprefix("ListObject[").removesuffix("]")
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in inner).strip()
    words = words[:1].upper() + words[1:]
    return f"list of {words}s" if words else "list"


def relationship_title(child_obj: ObjectSchema | None, relationship: str) -> str:
    """A child relationship as users know it: the child object's plural label (Order
    Products), else the relationship's name (OrderItems)."""
    return (
        child_obj.label_plural if child_obj is not None and child_obj.label_plural else relationship
    )


def child_titles(
    view: ChildFlowView,
    source: ObjectSchema | None,
    target: ObjectSchema | None,
    child_obj: ObjectSchema | None,
) -> tuple[str, str, str, str]:
    """(Invoice, Lines, Order, Order Products): the parent's source and target objects,
    the list and the child relationship, by label; ``source``/``target`` are the parent
    flow's schemas and ``child_obj`` the child object's."""
    parent, child = view.parent, view.child
    array = source.fields.get(child.source.removesuffix(".data")) if source is not None else None
    return (
        source.label if source is not None and source.label else parent.source.object,
        array.label if array is not None and array.label else child.source,
        target.label if target is not None and target.label else parent.target.object,
        relationship_title(child_obj, child.relationship),
    )
