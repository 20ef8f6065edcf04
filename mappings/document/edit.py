"""Edit operations on a mapping document, for the studio's undo commands.

Every operation checks first and raises a specific error (unknown flow, target already
mapped, unknown field, incompatible type) before it changes anything, so a refused edit
leaves the document exactly as it was. Removals return the position they removed from so
an undo command can put the item back where it was. Listeners are plain callables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mappings.document.model import (
    ChildCollection,
    FieldMapping,
    Flow,
    MappingDocument,
    ObjectRef,
    TransformStep,
)
from mappings.errors import (
    EditError,
    IncompatibleTypeError,
    TargetAlreadyMappedError,
    UnknownFieldError,
    UnknownObjectError,
)
from mappings.schema.compat import kinds_compatible, source_kind, target_field
from mappings.schema.model import Catalog, FieldKind, FieldSchema, ObjectSchema, System

# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class FieldMappingAdded:
    flow: str
    index: int
    mapping: FieldMapping


@dataclass(frozen=True, slots=True)
class FieldMappingRemoved:
    flow: str
    index: int
    mapping: FieldMapping


@dataclass(frozen=True, slots=True)
class FieldMappingMoved:
    flow: str
    old_index: int
    new_index: int
    mapping: FieldMapping


@dataclass(frozen=True, slots=True)
class SourcesChanged:
    flow: str
    target: str
    before: list[str]
    after: list[str]


@dataclass(frozen=True, slots=True)
class TransformsChanged:
    flow: str
    target: str
    before: list[TransformStep]
    after: list[TransformStep]


@dataclass(frozen=True, slots=True)
class FlowAdded:
    index: int
    flow: Flow


@dataclass(frozen=True, slots=True)
class FlowRemoved:
    index: int
    flow: Flow


@dataclass(frozen=True, slots=True)
class FlowRenamed:
    old_name: str
    new_name: str


@dataclass(frozen=True, slots=True)
class ChildCollectionAdded:
    flow: str
    index: int
    child: ChildCollection


@dataclass(frozen=True, slots=True)
class ChildCollectionRemoved:
    flow: str
    index: int
    child: ChildCollection


@dataclass(frozen=True, slots=True)
class ChildFieldMapped:
    flow: str
    relationship: str
    index: int
    mapping: FieldMapping


@dataclass(frozen=True, slots=True)
class ChildFieldUnmapped:
    flow: str
    relationship: str
    index: int
    mapping: FieldMapping


EditEvent = (
    FieldMappingAdded
    | FieldMappingRemoved
    | FieldMappingMoved
    | SourcesChanged
    | TransformsChanged
    | FlowAdded
    | FlowRemoved
    | FlowRenamed
    | ChildCollectionAdded
    | ChildCollectionRemoved
    | ChildFieldMapped
    | ChildFieldUnmapped
)
Listener = Callable[[Any], None]

# --------------------------------------------------------------------------- editor


class DocumentEditor:
    """Checked, announced edits on one :class:`MappingDocument`.

    With ``catalogs`` (by system), field paths are checked against the flow's source and
    target objects, and a direct mapping (no transforms) must be type-compatible. Objects
    missing from a catalog are not checked.
    """

    def __init__(
        self,
        document: MappingDocument,
        catalogs: Mapping[System, Catalog] | None = None,
    ) -> None:
        self.document = document
        self.catalogs = dict(catalogs or {})
        self._listeners: list[Listener] = []

    # -- notifications

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(event)`` after every change; returns a function that unsubscribes."""
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe

    def _emit(self, event: Any) -> None:
        for listener in list(self._listeners):
            listener(event)

    # -- flows

    def flow(self, name: str) -> Flow:
        found = self.document.flow(name)
        if found is None:
            known = ", ".join(repr(f.name) for f in self.document.flows) or "none"
            raise EditError(f"no flow named {name!r} in {self.document.name!r} (flows: {known})")
        return found

    def add_flow(self, flow: Flow, index: int | None = None) -> int:
        if self.document.flow(flow.name) is not None:
            raise EditError(f"a flow named {flow.name!r} already exists")
        index = self._insert_index(index, len(self.document.flows), "flow")
        self.document.flows.insert(index, flow)
        self._emit(FlowAdded(index, flow))
        return index

    def remove_flow(self, name: str) -> tuple[int, Flow]:
        flow = self.flow(name)
        index = self.document.flows.index(flow)
        del self.document.flows[index]
        self._emit(FlowRemoved(index, flow))
        return index, flow

    def rename_flow(self, old_name: str, new_name: str) -> None:
        flow = self.flow(old_name)
        if old_name == new_name:
            return
        if not new_name.strip() or "/" in new_name or new_name != new_name.strip():
            raise EditError(
                f"{new_name!r} is not a valid flow name: it must not be empty, contain '/' "
                "or start or end with a space"
            )
        if self.document.flow(new_name) is not None:
            raise EditError(f"a flow named {new_name!r} already exists")
        flow.name = new_name
        self._emit(FlowRenamed(old_name, new_name))

    # -- field mappings

    def add_field_mapping(self, flow: str, mapping: FieldMapping, index: int | None = None) -> int:
        target = self.flow(flow)
        if target.mapping_for(mapping.target) is not None or any(
            lk.target == mapping.target for lk in target.lookups
        ):
            raise TargetAlreadyMappedError(
                f"{mapping.target} is already mapped in flow {flow!r}; remove that mapping first"
            )
        self._check_mapping(target, mapping.target, mapping.sources, mapping.transforms)
        index = self._insert_index(index, len(target.fields), "field mapping")
        target.fields.insert(index, mapping)
        self._emit(FieldMappingAdded(flow, index, mapping))
        return index

    def remove_field_mapping(self, flow: str, target: str) -> tuple[int, FieldMapping]:
        owner = self.flow(flow)
        index = self._mapping_index(owner, target)
        mapping = owner.fields.pop(index)
        self._emit(FieldMappingRemoved(flow, index, mapping))
        return index, mapping

    def move_field_mapping(self, flow: str, target: str, new_index: int) -> int:
        """Move a mapping to ``new_index``; returns the old index (for undo)."""
        owner = self.flow(flow)
        old_index = self._mapping_index(owner, target)
        if not 0 <= new_index < len(owner.fields):
            raise EditError(f"position {new_index} is outside flow {flow!r}'s field mappings")
        mapping = owner.fields.pop(old_index)
        owner.fields.insert(new_index, mapping)
        self._emit(FieldMappingMoved(flow, old_index, new_index, mapping))
        return old_index

    def set_transforms(
        self, flow: str, target: str, steps: Sequence[TransformStep]
    ) -> list[TransformStep]:
        """Replace the transform chain; returns the previous chain (for undo)."""
        owner = self.flow(flow)
        mapping = owner.fields[self._mapping_index(owner, target)]
        new_steps = list(steps)
        self._check_mapping(owner, target, mapping.sources, new_steps)
        before = mapping.transforms
        mapping.transforms = new_steps
        self._emit(TransformsChanged(flow, target, before, list(new_steps)))
        return before

    def set_sources(self, flow: str, target: str, sources: Sequence[str]) -> list[str]:
        """Replace the source paths; returns the previous paths (for undo)."""
        owner = self.flow(flow)
        mapping = owner.fields[self._mapping_index(owner, target)]
        new_sources = list(sources)
        self._check_mapping(owner, target, new_sources, mapping.transforms)
        before = mapping.sources
        mapping.sources = new_sources
        self._emit(SourcesChanged(flow, target, before, list(new_sources)))
        return before

    # -- child collections (undo: remove what was added; put back what was removed at the
    # index the removal returned)

    def child(self, flow: str, relationship: str) -> ChildCollection:
        owner = self.flow(flow)
        found = owner.child(relationship)
        if found is None:
            known = ", ".join(repr(c.relationship) for c in owner.children) or "none"
            raise EditError(
                f"flow {flow!r} has no child collection {relationship!r} (children: {known})"
            )
        return found

    def add_child_collection(
        self, flow: str, child: ChildCollection, index: int | None = None
    ) -> int:
        """Give ``flow`` a child collection; returns its index. Refused when a part is
        empty, the relationship or the source array is already mapped, a field or lookup
        writes the parent reference, or (with catalogs) the child object is unknown."""
        owner = self.flow(flow)
        for attr in ("relationship", "source", "object", "target", "parent_field", "external_id"):
            if not str(getattr(child, attr) or "").strip():
                raise EditError(
                    f"child collection {child.relationship or '?'!r} of flow {flow!r}: "
                    f"its {attr} is empty"
                )
        if owner.child(child.relationship) is not None:
            raise EditError(f"flow {flow!r} already maps the relationship {child.relationship}")
        if any(c.source == child.source for c in owner.children):
            raise EditError(f"flow {flow!r} already maps {child.source} to child records")
        source_ref, target_ref = self._child_refs(owner, child)
        target_obj = self._object(target_ref.system, target_ref.object)
        if self.catalogs.get(target_ref.system) is not None and target_obj is None:
            raise UnknownObjectError(f"no {target_ref.system.value} object named {child.target!r}")
        if target_obj is not None:
            for name in (child.parent_field, child.external_id):
                if target_field(target_obj, name) is None:
                    raise UnknownFieldError(f"{target_ref} has no field {name!r}")
        written = [m.target for m in child.fields] + [lk.target for lk in child.lookups]
        if child.parent_field in written:
            raise EditError(
                f"{child.parent_field} is the reference to the parent record, which Fieldbridge "
                "fills itself: do not map it"
            )
        for mapping in child.fields:
            self._check_pair(
                source_ref, target_ref, mapping.target, mapping.sources, mapping.transforms
            )
        index = self._insert_index(index, len(owner.children), "child collection")
        owner.children.insert(index, child)
        self._emit(ChildCollectionAdded(flow, index, child))
        return index

    def remove_child_collection(self, flow: str, relationship: str) -> tuple[int, ChildCollection]:
        owner = self.flow(flow)
        child = self.child(flow, relationship)
        index = owner.children.index(child)
        del owner.children[index]
        self._emit(ChildCollectionRemoved(flow, index, child))
        return index, child

    def map_child_field(
        self, flow: str, relationship: str, mapping: FieldMapping, index: int | None = None
    ) -> int:
        """Map a field of the child records (sources read one element of the array);
        returns its index. The same checks as a flow's field mapping, against the element's
        and the child object's schemas; the parent reference cannot be mapped."""
        owner = self.flow(flow)
        child = self.child(flow, relationship)
        if mapping.target == child.parent_field:
            raise EditError(
                f"{mapping.target} is the reference to the parent record, which Fieldbridge "
                "fills itself: do not map it"
            )
        if child.mapping_for(mapping.target) is not None or any(
            lk.target == mapping.target for lk in child.lookups
        ):
            raise TargetAlreadyMappedError(
                f"{mapping.target} is already mapped in {relationship} of flow {flow!r}; "
                "remove that mapping first"
            )
        source_ref, target_ref = self._child_refs(owner, child)
        self._check_pair(
            source_ref, target_ref, mapping.target, mapping.sources, mapping.transforms
        )
        index = self._insert_index(index, len(child.fields), "field mapping")
        child.fields.insert(index, mapping)
        self._emit(ChildFieldMapped(flow, relationship, index, mapping))
        return index

    def unmap_child_field(
        self, flow: str, relationship: str, target: str
    ) -> tuple[int, FieldMapping]:
        child = self.child(flow, relationship)
        for index, mapping in enumerate(child.fields):
            if mapping.target == target:
                del child.fields[index]
                self._emit(ChildFieldUnmapped(flow, relationship, index, mapping))
                return index, mapping
        raise EditError(
            f"{relationship} of flow {flow!r} has no mapping for target field {target!r}"
        )

    @staticmethod
    def _child_refs(flow: Flow, child: ChildCollection) -> tuple[ObjectRef, ObjectRef]:
        """What one element is and what it becomes, in the flow's two systems."""
        return (
            ObjectRef(flow.source.system, child.object),
            ObjectRef(flow.target.system, child.target),
        )

    # -- checks

    @staticmethod
    def _insert_index(index: int | None, length: int, what: str) -> int:
        if index is None:
            return length
        if not 0 <= index <= length:
            raise EditError(f"cannot insert a {what} at position {index}: there are {length}")
        return index

    @staticmethod
    def _mapping_index(flow: Flow, target: str) -> int:
        for i, m in enumerate(flow.fields):
            if m.target == target:
                return i
        raise EditError(f"flow {flow.name!r} has no mapping for target field {target!r}")

    def _object(self, system: System, name: str) -> ObjectSchema | None:
        catalog = self.catalogs.get(system)
        return catalog.get(name) if catalog is not None else None

    def _check_mapping(
        self,
        flow: Flow,
        target: str,
        sources: Sequence[str],
        transforms: Sequence[TransformStep],
    ) -> None:
        self._check_pair(flow.source, flow.target, target, sources, transforms)

    def _check_pair(
        self,
        source: ObjectRef,
        destination: ObjectRef,
        target: str,
        sources: Sequence[str],
        transforms: Sequence[TransformStep],
    ) -> None:
        """A mapping from ``source``'s paths to ``destination``'s field ``target``: a flow's,
        or a child collection's (element -> child object)."""
        target_obj = self._object(destination.system, destination.object)
        source_obj = self._object(source.system, source.object)
        target_fs: FieldSchema | None = None
        if target_obj is not None:
            target_fs = target_field(target_obj, target)
            if target_fs is None:
                raise UnknownFieldError(f"{destination} has no field {target!r}")
        source_kinds: list[tuple[str, FieldKind]] = []
        if source_obj is not None:
            for path in sources:
                kind = source_kind(source_obj, path)
                if kind is None:
                    raise UnknownFieldError(f"{source} has no field {path!r}")
                source_kinds.append((path, kind))
        # Only a direct single-source mapping is checked: a transform may convert anything.
        if target_fs is not None and len(source_kinds) == 1 and not transforms:
            path, kind = source_kinds[0]
            if not kinds_compatible(kind, target_fs.kind):
                raise IncompatibleTypeError(
                    f"{source.object}.{path} is {kind.value} but "
                    f"{destination.object}.{target_fs.path} is {target_fs.kind.value}; "
                    "add a transform that converts it"
                )
