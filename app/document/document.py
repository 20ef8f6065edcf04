"""The studio's open workspace: mapping documents, the current flow and the undo stack.

Every edit the studio makes goes through :class:`StudioDocument`: it builds one
:class:`~PySide6.QtGui.QUndoCommand` (``app.document.commands``), runs it once so a refused
edit raises to the caller before anything is pushed, then pushes it. Commands change only
the core model through ``mappings.document.edit``; the core's plain-Python callbacks come
back here and become Qt signals, which the scene and the views follow.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from app.document import commands as cmd
from app.document.child_flow import (
    ChildFlowView,
    child_key,
    element_schema,
    parent_name,
    split_key,
)
from app.document.prompts import DialogPrompts, Prompts
from mappings.document.edit import (
    ChildCollectionAdded,
    ChildCollectionRemoved,
    ChildFieldMapped,
    ChildFieldUnmapped,
    DocumentEditor,
    FieldMappingAdded,
    FieldMappingMoved,
    FieldMappingRemoved,
    FlowAdded,
    FlowRemoved,
    FlowRenamed,
    SourcesChanged,
    TransformsChanged,
)
from mappings.document.model import (
    ChildCollection,
    Condition,
    DeletionPolicy,
    FieldMapping,
    Fixture,
    Flow,
    Lookup,
    MappingDocument,
    TransformStep,
)
from mappings.document.yamlio import load_document, load_documents, save_document
from mappings.errors import DocumentError, EditError
from mappings.schema.model import Catalog, ObjectSchema, System
from mappings.schema.org_metadata import load_salesforce_catalog
from mappings.schema.stripe_catalog import load_stripe_catalog

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "mappings" / "templates"


def available_templates() -> list[str]:
    """The shipped template names (``charges-payments``, ...), for the gallery."""
    return sorted(p.stem for p in TEMPLATES_DIR.glob("*.yaml"))


def default_catalogs() -> dict[System, Catalog]:
    """The Stripe catalog from the installed SDK and the shipped Salesforce snapshot."""
    return {System.STRIPE: load_stripe_catalog(), System.SALESFORCE: load_salesforce_catalog()}


@dataclass
class _Entry:
    document: MappingDocument
    path: Path | None
    editor: DocumentEditor
    unsubscribe: Any


class StudioDocument(QObject):
    """The open workspace (a folder of mapping YAML files) and its undo history."""

    flowsChanged = Signal()
    mappingsChanged = Signal(str)  # flow name: its fields, lookups, conditions or header
    currentFlowChanged = Signal(str)  # "" when there is no flow
    dirtyChanged = Signal(bool)
    documentReplaced = Signal()
    fixturesChanged = Signal(str)  # flow name
    valueMapsChanged = Signal(str)  # document name
    catalogsChanged = Signal()
    editRefused = Signal(str)  # a gesture's edit was refused: the reason, for the status bar
    edited = Signal(str)  # a gesture's edit was made: what it did, for the status bar

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        catalogs: Mapping[System, Catalog] | None = None,
    ) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self.workspace: Path | None = None
        self._entries: list[_Entry] = []
        self._catalogs: dict[System, Catalog] | None = dict(catalogs) if catalogs else None
        self._current: str | None = None  # a flow name or a child key (flow/OrderItems)
        # Core editors of open child collections, by child key (see _editor_of).
        self._child_editors: dict[str, tuple[ChildCollection, DocumentEditor]] = {}
        # How gestures ask the user (replace a mapping? which conversion?); tests swap it.
        self.prompts: Prompts = DialogPrompts()

    def _on_clean_changed(self, clean: bool) -> None:
        self.dirtyChanged.emit(not clean)

    # ------------------------------------------------------------------ catalogs

    @property
    def catalogs(self) -> dict[System, Catalog]:
        if self._catalogs is None:
            self._catalogs = default_catalogs()
            for entry in self._entries:
                entry.editor.catalogs = dict(self._catalogs)
        return self._catalogs

    def set_catalog(self, catalog: Catalog) -> None:
        """Use ``catalog`` for its system (e.g. a connected org's describe cache)."""
        self.catalogs[catalog.system] = catalog
        for entry in self._entries:
            entry.editor.catalogs = dict(self.catalogs)
        self.catalogsChanged.emit()

    def source_schema(self, flow: str) -> ObjectSchema | None:
        f = self.flow(flow)
        catalog = self.catalogs.get(f.source.system)
        found = catalog.get(f.source.object) if catalog else None
        if found is None and isinstance(f, ChildFlowView):
            # No object of the element's name: its fields as the parent's schema has them.
            parent = self.source_schema(f.parent.name)
            return element_schema(parent, f.child.source) if parent is not None else None
        return found

    def schema_of(self, system: System, name: str) -> ObjectSchema | None:
        """One object's schema from the open catalogs (the engine's ``schemas`` source, so
        child collections compile against their element and child objects)."""
        catalog = self.catalogs.get(system)
        return catalog.get(name) if catalog is not None else None

    def target_schema(self, flow: str) -> ObjectSchema | None:
        f = self.flow(flow)
        catalog = self.catalogs.get(f.target.system)
        return catalog.get(f.target.object) if catalog else None

    # ------------------------------------------------------------------ files

    def new_workspace(self, name: str = "mappings") -> None:
        """An empty untitled workspace with one empty document."""
        self._replace([(None, MappingDocument(name=name))], workspace=None)

    def open_workspace(self, folder: Path | str) -> None:
        """Load every mapping YAML of ``folder``; raises DocumentError naming a bad file."""
        folder = Path(folder)
        loaded = load_documents(folder)
        self._replace([(path, doc) for path, doc in loaded], workspace=folder)

    def open_template(self, name: str) -> None:
        """Open a shipped template as an untitled workspace (save_as gives it a folder)."""
        path = TEMPLATES_DIR / f"{name}.yaml"
        if not path.is_file():
            known = ", ".join(available_templates())
            raise DocumentError(f"there is no template named {name!r} (templates: {known})")
        self._replace([(None, load_document(path))], workspace=None)

    def save(self) -> None:
        if self.workspace is None:
            raise DocumentError("this workspace has no folder yet: choose one with Save As")
        self.workspace.mkdir(parents=True, exist_ok=True)
        for entry in self._entries:
            if entry.path is None:
                entry.path = self._free_path(self.workspace, entry.document.name)
            save_document(entry.document, entry.path)
        self.undo_stack.setClean()

    def save_as(self, folder: Path | str) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.workspace = folder
        for entry in self._entries:
            entry.path = None
        for entry in self._entries:
            entry.path = self._free_path(folder, entry.document.name)
        self.save()

    def path_of(self, document: MappingDocument) -> Path | None:
        return self._entry(document).path

    def _free_path(self, folder: Path, name: str) -> Path:
        taken = {e.path for e in self._entries if e.path is not None}
        stem = "".join(c if c.isalnum() or c in "-_." else "-" for c in name) or "mappings"
        path, n = folder / f"{stem}.yaml", 2
        while path in taken:
            path, n = folder / f"{stem}-{n}.yaml", n + 1
        return path

    def _replace(
        self, loaded: Sequence[tuple[Path | None, MappingDocument]], workspace: Path | None
    ) -> None:
        for entry in self._entries:
            entry.unsubscribe()
        self.undo_stack.clear()
        self._entries = []
        self._child_editors = {}
        for path, doc in loaded:
            self._add_entry(doc, path)
        self.workspace = workspace
        self.undo_stack.setClean()
        flows = self.flows()
        self._current = flows[0][1].name if flows else None
        self.documentReplaced.emit()
        self.flowsChanged.emit()
        self.currentFlowChanged.emit(self._current or "")
        self.dirtyChanged.emit(False)

    def _add_entry(self, doc: MappingDocument, path: Path | None) -> _Entry:
        catalogs = dict(self._catalogs) if self._catalogs is not None else dict(self.catalogs)
        editor = DocumentEditor(doc, catalogs)
        entry = _Entry(doc, path, editor, None)
        entry.unsubscribe = editor.subscribe(self._on_core_event)
        self._entries.append(entry)
        return entry

    # ------------------------------------------------------------------ reading

    @property
    def documents(self) -> list[MappingDocument]:
        return [e.document for e in self._entries]

    @property
    def is_dirty(self) -> bool:
        return not self.undo_stack.isClean()

    def flows(self) -> list[tuple[MappingDocument, Flow]]:
        return [(e.document, f) for e in self._entries for f in e.document.flows]

    def find_flow(self, name: str | None) -> Flow | None:
        """The flow called ``name``, or for a child key (``flow/OrderItems``) the child
        collection as a flow (:class:`ChildFlowView`), or None."""
        if not name:
            return None
        flow_name, relationship = split_key(name)
        found = next((f for _, f in self.flows() if f.name == flow_name), None)
        if found is None or relationship is None:
            return found
        child = found.child(relationship)
        return ChildFlowView(found, child) if child is not None else None  # type: ignore[return-value]

    def flow(self, name: str) -> Flow:
        found = self.find_flow(name)
        if found is None:
            known = ", ".join(repr(f.name) for _, f in self.flows()) or "none"
            raise EditError(f"no flow named {name!r} (flows: {known})")
        return found

    def document_of(self, flow_name: str) -> MappingDocument:
        return self._entry_of_flow(flow_name).document

    @property
    def current_parent_flow(self) -> str | None:
        """The flow being edited, also while one of its child collections is open: what the
        preview, the test run and validation run."""
        return parent_name(self._current)

    @property
    def current_child(self) -> ChildFlowView | None:
        """The open child collection, if the canvas shows one."""
        found = self.find_flow(self._current)
        return found if isinstance(found, ChildFlowView) else None

    def mapping(self, flow: str, target: str) -> FieldMapping | None:
        return self.flow(flow).mapping_for(target)

    @property
    def current_flow(self) -> str | None:
        return self._current

    def set_current_flow(self, name: str | None) -> None:
        if name:
            self.flow(name)  # raises for an unknown name
        name = name or None
        if name != self._current:
            self._current = name
            self.currentFlowChanged.emit(name or "")

    def _entry(self, document: MappingDocument | str) -> _Entry:
        for entry in self._entries:
            if entry.document is document or entry.document.name == document:
                return entry
        name = document if isinstance(document, str) else document.name
        raise EditError(f"no open document named {name!r}")

    def _entry_of_flow(self, flow_name: str) -> _Entry:
        flow_name = split_key(flow_name)[0]
        for entry in self._entries:
            if entry.document.flow(flow_name) is not None:
                return entry
        self.flow(flow_name)  # raises with the list of flows
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ edits

    def _push(self, command: cmd.EditCommand) -> None:
        command.apply()  # raises, unchanged, if refused: nothing reaches the stack
        self.undo_stack.push(command)

    @contextmanager
    def macro(self, text: str) -> Iterator[None]:
        """Group the edits made inside the block into one undo step."""
        self.undo_stack.beginMacro(text)
        try:
            yield
        finally:
            self.undo_stack.endMacro()

    def map_field(
        self,
        flow: str,
        source_path: str | list[str],
        target_field: str,
        transforms: list[TransformStep] | None = None,
        *,
        replace: bool = False,
        description: str = "",
        index: int | None = None,
    ) -> None:
        """Map source path(s) to a target field.

        With ``replace`` an existing mapping of ``target_field`` keeps its transforms and
        gets the new sources; without it an existing mapping raises
        TargetAlreadyMappedError. ``index`` places a new mapping in the flow's order (the
        canvas lays targets out in it), at the end by default.
        """
        sources = [source_path] if isinstance(source_path, str) else list(source_path)
        editor = self._editor_of(flow)
        existing = self.flow(flow).mapping_for(target_field)
        if replace and existing is not None:
            self._push(cmd.SetSourcesCommand(editor, flow, existing.target, sources))
            return
        mapping = FieldMapping(
            target=target_field,
            sources=sources,
            transforms=copy.deepcopy(list(transforms or [])),
            description=description,
        )
        parent, relationship = split_key(flow)
        if relationship is not None:
            entry_editor = self._entry_of_flow(parent).editor
            self._push(cmd.MapChildFieldCommand(entry_editor, parent, relationship, mapping, index))
            return
        self._push(cmd.AddFieldMappingCommand(editor, flow, mapping, index))

    def unmap_field(self, flow: str, target_field: str) -> None:
        parent, relationship = split_key(flow)
        if relationship is not None:
            editor = self._entry_of_flow(parent).editor
            self._push(cmd.UnmapChildFieldCommand(editor, parent, relationship, target_field))
            return
        self._push(cmd.RemoveFieldMappingCommand(self._editor_of(flow), flow, target_field))

    def move_mapping(self, flow: str, target_field: str, new_index: int) -> None:
        editor = self._editor_of(flow)
        self._push(cmd.MoveFieldMappingCommand(editor, flow, target_field, new_index))

    def set_transforms(self, flow: str, target_field: str, steps: Sequence[TransformStep]) -> None:
        editor = self._editor_of(flow)
        self._push(cmd.SetTransformsCommand(editor, flow, target_field, list(steps)))

    def set_sources(self, flow: str, target_field: str, sources: Sequence[str]) -> None:
        editor = self._editor_of(flow)
        self._push(cmd.SetSourcesCommand(editor, flow, target_field, list(sources)))

    def add_flow(self, flow: Flow, document: MappingDocument | str | None = None) -> None:
        """Add a flow to ``document`` (default: the current flow's, else the first one)."""
        if self.find_flow(flow.name) is not None:
            raise EditError(f"a flow named {flow.name!r} already exists")
        if not flow.name.strip() or "/" in flow.name:
            raise EditError(f"{flow.name!r} is not a valid flow name")
        if document is not None:
            entry = self._entry(document)
        elif self._current is not None:
            entry = self._entry_of_flow(self._current)
        else:
            if not self._entries:
                self._add_entry(MappingDocument(name="mappings"), None)
            entry = self._entries[0]
        self._push(cmd.AddFlowCommand(entry.editor, flow))

    def remove_flow(self, name: str) -> None:
        self._push(cmd.RemoveFlowCommand(self._entry_of_flow(name).editor, name))

    # ------------------------------------------------------------------ child collections

    def _editor_of(self, flow: str) -> DocumentEditor:
        """The core editor that checks and makes field-mapping edits of ``flow``. A child
        collection gets one over a one-flow document holding its view, so the core checks
        its field paths against the element's and the child object's schemas (the very
        checks a flow gets) and its events name the child key."""
        entry = self._entry_of_flow(flow)
        view = self.find_flow(flow)
        if not isinstance(view, ChildFlowView):
            return entry.editor
        cached = self._child_editors.get(flow)
        if cached is not None and cached[0] is view.child:
            cached[1].catalogs = dict(self.catalogs)
            return cached[1]
        scope = MappingDocument(name=entry.document.name, flows=[view])  # type: ignore[list-item]
        editor = DocumentEditor(scope, self.catalogs)
        editor.subscribe(self._on_core_event)
        self._child_editors[flow] = (view.child, editor)
        return editor

    def add_child_collection(self, flow: str, child: ChildCollection) -> None:
        """Give ``flow`` a child collection (one undo step); raises EditError naming the
        problem (a child flow, a relationship already mapped)."""
        owner = self.flow(flow)
        if isinstance(owner, ChildFlowView):
            raise EditError("a child collection cannot have children of its own")
        self._push(cmd.AddChildCollectionCommand(self._entry_of_flow(flow).editor, flow, child))

    def remove_child_collection(self, flow: str, relationship: str) -> None:
        key = child_key(flow, relationship)
        if self._current == key:
            self.set_current_flow(flow)
        editor = self._entry_of_flow(flow).editor
        self._push(cmd.RemoveChildCollectionCommand(editor, flow, relationship))

    def open_child(self, flow: str, relationship: str) -> None:
        """Edit a child collection's mapping on the canvas and in the editors."""
        self.set_current_flow(child_key(split_key(flow)[0], relationship))

    def close_child(self) -> None:
        """Back from a child collection to its flow."""
        self.set_current_flow(self.current_parent_flow)

    def set_on_removed(self, key: str, policy: DeletionPolicy | str) -> None:
        """What a child collection does to a child whose line is gone from the source."""
        view = self.flow(key)
        if not isinstance(view, ChildFlowView):
            raise EditError(f"{key!r} is not a child collection")
        self._push(
            cmd.SetPolicyCommand(
                view.child, "on_removed", DeletionPolicy(policy), self._notifier(key)
            )
        )

    def set_on_delete(self, flow: str, policy: DeletionPolicy | str) -> None:
        """What a deletion of the flow's source record does to its target record."""
        owner = self.flow(flow)
        if isinstance(owner, ChildFlowView):
            raise EditError("a child collection follows its flow's deletion policy")
        self._push(
            cmd.SetPolicyCommand(owner, "on_delete", DeletionPolicy(policy), self._notifier(flow))
        )

    def edit_flow(self, name: str, edited: Flow) -> None:
        """Replace a flow's name, description, trigger, objects and operation with
        ``edited``'s (its fields, lookups, conditions and fixtures are kept)."""
        if edited.name != name and self.find_flow(edited.name) is not None:
            raise EditError(f"a flow named {edited.name!r} already exists")
        entry = self._entry_of_flow(name)
        self._push(cmd.EditFlowCommand(entry.editor, name, edited, self._flow_notifier))

    def set_value_map(
        self, document: MappingDocument | str, name: str, table: dict[str, Any] | None
    ) -> None:
        """Set a named value map of a document; ``table=None`` deletes it."""
        doc = self._entry(document).document

        def notify() -> None:
            self.valueMapsChanged.emit(doc.name)
            for f in doc.flows:
                self.mappingsChanged.emit(f.name)

        self._push(cmd.SetValueMapCommand(doc, name, table, notify))

    def add_fixture(self, flow: str, fixture: Fixture) -> None:
        target = self.flow(flow)
        self._push(cmd.AddFixtureCommand(target, fixture, self._fixture_notifier(flow)))

    def remove_fixture(self, flow: str, name: str) -> None:
        target = self.flow(flow)
        self._push(cmd.RemoveFixtureCommand(target, name, self._fixture_notifier(flow)))

    def set_lookups(self, flow: str, lookups: Sequence[Lookup]) -> None:
        target = self.flow(flow)
        cmd.check_lookups(target, list(lookups))
        self._push(cmd.SetListCommand(target, "lookups", list(lookups), self._notifier(flow)))

    def set_conditions(self, flow: str, conditions: Sequence[Condition]) -> None:
        target = self.flow(flow)
        cmd.check_conditions(list(conditions))
        self._push(
            cmd.SetListCommand(target, "conditions", list(conditions), self._notifier(flow))
        )

    def set_defaults(self, flow: str, defaults: Mapping[str, Any]) -> None:
        target = self.flow(flow)
        self._push(cmd.SetDictCommand(target, "defaults", dict(defaults), self._notifier(flow)))

    # ------------------------------------------------------------------ notifications

    def _notifier(self, flow: str):
        flow_obj = self.flow(flow)

        def notify() -> None:
            self._mappings_changed(flow_obj.name)

        return notify

    def _mappings_changed(self, name: str) -> None:
        """A child's change is also its flow's (the preview and validation run the flow)."""
        if self._current != self.current_parent_flow and self.find_flow(self._current) is None:
            self.set_current_flow(self.current_parent_flow)  # the open child is gone (undo)
        self.mappingsChanged.emit(name)
        parent = parent_name(name)
        if parent and parent != name:
            self.mappingsChanged.emit(parent)

    def _fixture_notifier(self, flow: str):
        flow_obj = self.flow(flow)
        return lambda: self.fixturesChanged.emit(flow_obj.name)

    def _flow_notifier(self, old_name: str, new_name: str) -> None:
        if self.current_parent_flow == old_name and old_name != new_name:
            _, relationship = split_key(self._current or "")
            self._current = child_key(new_name, relationship) if relationship else new_name
            self.currentFlowChanged.emit(self._current)
        self.flowsChanged.emit()
        self.mappingsChanged.emit(new_name)

    def _on_core_event(self, event: Any) -> None:
        """The core editor's callbacks, turned into this document's Qt signals."""
        if isinstance(
            event,
            FieldMappingAdded
            | FieldMappingRemoved
            | FieldMappingMoved
            | SourcesChanged
            | TransformsChanged
            | ChildCollectionAdded
            | ChildCollectionRemoved,
        ):
            self._mappings_changed(event.flow)
        elif isinstance(event, ChildFieldMapped | ChildFieldUnmapped):
            self._mappings_changed(child_key(event.flow, event.relationship))
        elif isinstance(event, FlowAdded):
            self.flowsChanged.emit()
            if self._current is None:
                self.set_current_flow(event.flow.name)
        elif isinstance(event, FlowRemoved):
            if self.current_parent_flow == event.flow.name:
                flows = self.flows()
                self._current = flows[0][1].name if flows else None
                self.currentFlowChanged.emit(self._current or "")
            self.flowsChanged.emit()
        elif isinstance(event, FlowRenamed):
            if self.current_parent_flow == event.old_name:
                _, relationship = split_key(self._current or "")
                self._current = (
                    child_key(event.new_name, relationship) if relationship else event.new_name
                )
                self.currentFlowChanged.emit(self._current)
            self.flowsChanged.emit()
