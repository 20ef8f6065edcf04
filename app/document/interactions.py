"""Gestures, each its own object: drop a field to map it, map the selection, delete links.

Following orange-canvas-core's ``document/interactions.py``, a gesture knows how to turn
what the user did (a drop payload, two selected fields, a Delete key) into document edits;
the views only detect the gesture and hand it over. A refused edit is reported through
:attr:`StudioDocument.editRefused` with the core's message and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QPoint

from app.document.child_flow import ChildFlowView, array_fields, array_source, element_object
from app.document.document import StudioDocument
from app.document.prompts import ReplaceQuestion
from app.models.naming import title_in
from mappings.document.model import ChildCollection, FieldMapping, TransformStep
from mappings.errors import IncompatibleTypeError, MappingError
from mappings.schema.compat import target_field, units_conversion
from mappings.schema.model import ChildRelationship, FieldSchema, ObjectSchema
from mappings.suggest import Conversion, conversion_choices, type_fit


class DropFieldInteraction:
    """A source field (drag payload) dropped on a target field of the current flow."""

    def __init__(self, document: StudioDocument) -> None:
        self.document = document

    def refusal(self, payload: dict[str, Any] | None, target: str | None = None) -> str | None:
        """Why this drop cannot map, or None when it can (used to show the drop cursor)."""
        flow_name = self.document.current_flow
        if payload is None:
            return "only fields from a schema tree can be dropped here"
        if flow_name is None:
            return "create or pick a flow first"
        flow = self.document.flow(flow_name)
        if (payload["system"], payload["object"]) != (flow.source.system.value, flow.source.object):
            return (
                f"{payload['system']}:{payload['object']} is not this flow's source "
                f"({flow.source}); drop a field of {flow.source.object}"
            )
        if target is not None:
            schema = self.document.target_schema(flow_name)
            if schema is not None and schema.find(target) is None:
                return f"{flow.target} has no field {target!r}"
        return None

    def drop(
        self, payload: dict[str, Any] | None, target: str, where: QPoint | None = None
    ) -> bool:
        """Map the dropped field(s) onto ``target``: a new mapping, or (once the user agrees)
        new sources for an existing one, its transforms kept. ``where`` is the drop point on
        the screen, for the questions. Returns whether the document changed."""
        reason = self.refusal(payload, target)
        if reason is not None:
            self.document.editRefused.emit(reason)
            return False
        assert payload is not None and self.document.current_flow is not None
        flow = self.document.current_flow
        return map_with_bridge(self.document, flow, payload["paths"], target, where)


class DropArrayInteraction:
    """A Stripe list (``lines``) dropped on a child relationship of the target
    (``OrderItems``): the flow gets a child collection, one undo step, and it opens."""

    def __init__(self, document: StudioDocument) -> None:
        self.document = document

    def _array(self, payload: dict[str, Any] | None) -> tuple[str, ObjectSchema] | str:
        """(the dropped list's path, the source schema), or why it is not a list."""
        flow_name = self.document.current_flow
        if payload is None:
            return "only a list from the source can be dropped here"
        if flow_name is None:
            return "create or pick a flow first"
        flow = self.document.flow(flow_name)
        if isinstance(flow, ChildFlowView):
            return "a child mapping cannot have children of its own: go back to the flow"
        if (payload["system"], payload["object"]) != (flow.source.system.value, flow.source.object):
            return f"drop a list of {flow.source.object}"
        source = self.document.source_schema(flow_name)
        paths = payload.get("paths") or []
        if source is None or len(paths) != 1:
            return "drop one list of the source"
        path = str(paths[0]).removesuffix(".data").removesuffix(".data[]")
        if path not in {fs.path for fs in array_fields(source)}:
            return f"{paths[0]} is not a list of records: drop a list such as lines or items"
        return path, source

    def refusal(self, payload: dict[str, Any] | None, relationship: ChildRelationship) -> str | None:
        found = self._array(payload)
        if isinstance(found, str):
            return found
        flow = self.document.flow(self.document.current_flow or "")
        if flow.child(relationship.name) is not None:
            return f"{relationship.name} is mapped already: double-click it to open it"
        if self._external_id(relationship) is None:
            return (
                f"{relationship.child} has no external id field to hold the Stripe id of each "
                "element: add one in Salesforce first"
            )
        return None

    def _external_id(self, relationship: ChildRelationship) -> str | None:
        catalog = self.document.catalogs.get(self.document.flow(
            self.document.current_flow or "").target.system)
        child = catalog.get(relationship.child) if catalog is not None else None
        if child is None:
            return None
        return next((fs.path for fs in child.external_id_fields() if fs.path != "Id"), None)

    def drop(self, payload: dict[str, Any] | None, relationship: ChildRelationship) -> bool:
        reason = self.refusal(payload, relationship)
        if reason is not None:
            self.document.editRefused.emit(reason)
            return False
        found = self._array(payload)
        assert not isinstance(found, str)
        path, source = found
        flow_name = self.document.current_flow or ""
        external_id = self._external_id(relationship)
        assert external_id is not None
        source_path = array_source(source.fields[path])
        child = ChildCollection(
            relationship=relationship.name,
            source=source_path,
            object=element_object(source, source_path),
            target=relationship.child,
            parent_field=relationship.field,
            external_id=external_id,
            # Each element's Stripe id is what finds its child record again on update.
            fields=[FieldMapping(target=external_id, sources=["id"])],
        )
        try:
            self.document.add_child_collection(flow_name, child)
        except MappingError as exc:
            self.document.editRefused.emit(str(exc))
            return False
        self.document.open_child(flow_name, relationship.name)
        self.document.edited.emit(f"Mapped {path} → {relationship.name}: map the fields of one element")
        return True


def map_with_bridge(
    document: StudioDocument,
    flow: str,
    sources: Sequence[str],
    target: str,
    where: QPoint | None = None,
) -> bool:
    """Map ``sources`` to ``target`` the way a user means it, and say what happened.

    - A target that is already mapped is replaced only when the user agrees (its transforms
      are kept).
    - Money keeps its meaning: a Stripe amount in minor units gets ``minor_to_decimal`` with
      the object's currency, though an integer would fit a currency field as it is.
    - When the types need a conversion the library has, the usual one is added; when there
      are several (or the link would be refused), the user picks one at ``where``.
    """
    sources = list(sources)
    existing = document.mapping(flow, target)
    names = _Names(document, flow)
    if existing is not None:
        if existing.sources == sources:
            document.edited.emit(f"{names.target(target)} already reads {names.sources(sources)}")
            return False
        question = ReplaceQuestion(
            names.target(target), names.sources(existing.sources), names.sources(sources)
        )
        if not document.prompts.confirm_replace(question, where):
            document.edited.emit(f"Kept {names.target(target)} ← {question.old_sources}")
            return False
    keep_steps = existing is not None and bool(existing.transforms)
    steps = [] if keep_steps else _units_bridge(document, flow, sources, target)
    try:
        _map(document, flow, sources, target, steps, existing)
    except IncompatibleTypeError as exc:
        # The usual bridge (Unix seconds -> DateTime) goes in as it is; otherwise the user
        # picks one of the conversions that would work, or none.
        options = _conversions(document, flow, sources, target)
        usual = _usual_bridge(document, flow, sources, target)
        chosen: Conversion | None = None
        if usual:
            chosen = next((o for o in options if list(o.steps) == usual), None)
        elif options:
            chosen = document.prompts.choose_conversion(str(exc), options, where)
        if chosen is None:
            document.editRefused.emit(str(exc))
            return False
        try:
            _map(document, flow, sources, target, list(chosen.steps), existing)
        except MappingError as again:
            document.editRefused.emit(str(again))
            return False
        steps = list(chosen.steps)
    except MappingError as exc:
        document.editRefused.emit(str(exc))
        return False
    done = "Replaced: " if existing is not None else "Mapped "
    via = f" via {' → '.join(step.name for step in steps)}" if steps else ""
    document.edited.emit(f"{done}{names.sources(sources)} → {names.target(target)}{via}")
    return True


def _map(
    document: StudioDocument,
    flow: str,
    sources: list[str],
    target: str,
    steps: list[TransformStep],
    existing: FieldMapping | None,
) -> None:
    if existing is None:
        document.map_field(flow, sources, target, steps, index=_near_index(document, flow, sources))
    elif steps and not existing.transforms:
        try:
            with document.macro(f"Map {', '.join(sources)} → {target}"):
                document.set_transforms(flow, target, steps)
                document.set_sources(flow, target, sources)
        except MappingError:
            document.undo_stack.undo()  # roll back the part of the macro that ran
            raise
    else:
        document.map_field(flow, sources, target, replace=True)


def _near_index(document: StudioDocument, flow: str, sources: list[str]) -> int | None:
    """Right after the first mapping that reads one of ``sources``: the canvas lays targets
    out in the flow's order and puts a source on the row of the first target that reads it,
    so the new link runs beside its source instead of across the canvas to the bottom. None
    (the end) for a source nothing reads yet."""
    fields = document.flow(flow).fields
    near = next((i for i, m in enumerate(fields) if set(m.sources) & set(sources)), None)
    return near + 1 if near is not None else None


def _fields(
    document: StudioDocument, flow: str, sources: Sequence[str], target: str
) -> tuple[FieldSchema, FieldSchema, ObjectSchema, ObjectSchema] | None:
    source_obj, target_obj = document.source_schema(flow), document.target_schema(flow)
    if source_obj is None or target_obj is None or len(sources) != 1:
        return None
    src, tgt = source_obj.find(sources[0]), target_field(target_obj, target)
    if src is None or tgt is None or (src.free_keys and src.path != sources[0]):
        return None
    return src, tgt, source_obj, target_obj


def _usual_bridge(
    document: StudioDocument, flow: str, sources: Sequence[str], target: str
) -> list[TransformStep]:
    """The library transform that usually joins the two fields (the suggestion ranker's)."""
    found = _fields(document, flow, sources, target)
    fit = type_fit(*found) if found is not None else None
    return list(fit[1]) if fit is not None else []


def _units_bridge(
    document: StudioDocument, flow: str, sources: Sequence[str], target: str
) -> list[TransformStep]:
    """The conversion money needs to keep its meaning (minor units <-> decimal), else []."""
    found = _fields(document, flow, sources, target)
    if found is None or units_conversion(found[0], found[1]) is None:
        return []
    return _usual_bridge(document, flow, sources, target)


def _conversions(
    document: StudioDocument, flow: str, sources: Sequence[str], target: str
) -> list[Conversion]:
    found = _fields(document, flow, sources, target)
    return conversion_choices(*found) if found is not None else []


class _Names:
    """Fields as the user knows them: Salesforce labels, Stripe paths."""

    def __init__(self, document: StudioDocument, flow: str) -> None:
        self.source_obj = document.source_schema(flow)
        self.target_obj = document.target_schema(flow)

    def target(self, path: str) -> str:
        return title_in(self.target_obj, path)

    def sources(self, paths: Sequence[str]) -> str:
        return ", ".join(title_in(self.source_obj, p) for p in paths) or "an expression"


class KeyboardMapInteraction:
    """The keyboard path for a drag: a selected source field, a selected target, Map."""

    def __init__(
        self,
        document: StudioDocument,
        selected_source: Callable[[], list[str]],
        selected_target: Callable[[], str | None],
    ) -> None:
        self.document = document
        self.selected_source = selected_source
        self.selected_target = selected_target

    def refusal(self) -> str | None:
        if self.document.current_flow is None:
            return "create or pick a flow first"
        if not self.selected_source():
            return "select a source field first"
        if self.selected_target() is None:
            return "select a target field first"
        return None

    def map(self) -> bool:
        reason = self.refusal()
        if reason is not None:
            self.document.editRefused.emit(reason)
            return False
        flow = self.document.current_flow
        target = self.selected_target()
        assert flow is not None and target is not None
        return map_with_bridge(self.document, flow, self.selected_source(), target)


class DeleteMappingsInteraction:
    """Delete the selected mappings of the current flow as one undo step."""

    def __init__(self, document: StudioDocument) -> None:
        self.document = document

    def delete(self, targets: Sequence[str]) -> int:
        flow = self.document.current_flow
        unique = [t for i, t in enumerate(targets) if t not in targets[:i]]
        if flow is None or not unique:
            return 0
        label = f"Unmap {unique[0]}" if len(unique) == 1 else f"Unmap {len(unique)} fields"
        try:
            with self.document.macro(label):
                for target in unique:
                    self.document.unmap_field(flow, target)
        except MappingError as exc:
            self.document.editRefused.emit(str(exc))
            self.document.undo_stack.undo()  # roll back the part of the macro that ran
            return 0
        return len(unique)
