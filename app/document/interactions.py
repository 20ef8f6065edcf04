"""Gestures, each its own object: drop a field to map it, map the selection, delete links.

Following orange-canvas-core's ``document/interactions.py``, a gesture knows how to turn
what the user did (a drop payload, two selected fields, a Delete key) into document edits;
the views only detect the gesture and hand it over. A refused edit is reported through
:attr:`StudioDocument.editRefused` with the core's message and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from app.document.document import StudioDocument
from mappings.document.model import TransformStep
from mappings.errors import IncompatibleTypeError, MappingError
from mappings.suggest import type_fit


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

    def drop(self, payload: dict[str, Any] | None, target: str) -> bool:
        """Map the dropped field(s) onto ``target``: a new mapping, or new sources for an
        existing one (its transforms are kept). Returns whether the document changed."""
        reason = self.refusal(payload, target)
        if reason is not None:
            self.document.editRefused.emit(reason)
            return False
        assert payload is not None and self.document.current_flow is not None
        return map_with_bridge(self.document, self.document.current_flow, payload["paths"], target)


def map_with_bridge(
    document: StudioDocument, flow: str, sources: Sequence[str], target: str
) -> bool:
    """Map ``sources`` to ``target``; when the types need a conversion the library has
    (Unix seconds -> DateTime, minor units -> currency...), add that transform."""
    replace = document.mapping(flow, target) is not None
    try:
        document.map_field(flow, list(sources), target, replace=replace)
        return True
    except IncompatibleTypeError as exc:
        bridge = _bridge(document, flow, sources, target)
        if bridge is None:
            document.editRefused.emit(str(exc))
            return False
    except MappingError as exc:
        document.editRefused.emit(str(exc))
        return False
    try:
        document.map_field(flow, list(sources), target, bridge)
    except MappingError as exc:
        document.editRefused.emit(str(exc))
        return False
    return True


def _bridge(
    document: StudioDocument, flow: str, sources: Sequence[str], target: str
) -> list[TransformStep] | None:
    source_obj, target_obj = document.source_schema(flow), document.target_schema(flow)
    if source_obj is None or target_obj is None or len(sources) != 1:
        return None
    src, tgt = source_obj.find(sources[0]), target_obj.find(target)
    if src is None or tgt is None:
        return None
    # The suggestion ranker already knows which library transform bridges two kinds.
    fit = type_fit(src, tgt, source_obj, target_obj)
    if fit is None or not fit[1]:
        return None
    return list(fit[1])


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
