"""Undo commands: each one changes the mapping core's model, and nothing else.

Like orange-canvas-core's ``document/commands.py``: a command calls a checked
``mappings.document.edit`` operation (or, for the parts of a document the core editor does
not cover yet, a small checked edit here), remembers the list position it touched so undo
puts things back in order, and never touches a view. Views follow the document's signals.

The studio document runs a command's first ``redo`` itself before pushing it (see
:meth:`StudioDocument._push`), so a refused edit raises to the caller and never reaches the
stack; :class:`EditCommand` skips the redo that ``QUndoStack.push`` then makes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QUndoCommand

from mappings.document.edit import DocumentEditor
from mappings.document.model import (
    ChildCollection,
    Condition,
    ConditionOp,
    DeletionPolicy,
    FieldMapping,
    Fixture,
    Flow,
    Lookup,
    MappingDocument,
    TransformStep,
)
from mappings.errors import EditError


class EditCommand(QUndoCommand):
    """A command whose first redo was already applied by the document."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._applied = False

    def apply(self) -> None:
        """Do the edit now; raises (and changes nothing) if the core refuses it."""
        self.do()
        self._applied = True

    def redo(self) -> None:  # Qt override
        if self._applied:
            self._applied = False  # the push's own redo: already done
            return
        self.do()

    def undo(self) -> None:  # Qt override
        self.undo_edit()

    # subclasses
    def do(self) -> None:
        raise NotImplementedError

    def undo_edit(self) -> None:
        raise NotImplementedError


# --------------------------------------------------------------------------- field mappings


class AddFieldMappingCommand(EditCommand):
    def __init__(
        self, editor: DocumentEditor, flow: str, mapping: FieldMapping, index: int | None = None
    ) -> None:
        super().__init__(f"Map {', '.join(mapping.sources) or '(expression)'} → {mapping.target}")
        self.editor, self.flow, self.mapping, self.index = editor, flow, mapping, index

    def do(self) -> None:
        self.index = self.editor.add_field_mapping(self.flow, self.mapping, self.index)

    def undo_edit(self) -> None:
        self.editor.remove_field_mapping(self.flow, self.mapping.target)


class RemoveFieldMappingCommand(EditCommand):
    def __init__(self, editor: DocumentEditor, flow: str, target: str) -> None:
        super().__init__(f"Unmap {target}")
        self.editor, self.flow, self.target = editor, flow, target
        self.index: int | None = None
        self.mapping: FieldMapping | None = None

    def do(self) -> None:
        self.index, self.mapping = self.editor.remove_field_mapping(self.flow, self.target)

    def undo_edit(self) -> None:
        assert self.mapping is not None
        self.editor.add_field_mapping(self.flow, self.mapping, self.index)


class MoveFieldMappingCommand(EditCommand):
    def __init__(self, editor: DocumentEditor, flow: str, target: str, new_index: int) -> None:
        super().__init__(f"Move {target}")
        self.editor, self.flow, self.target, self.new_index = editor, flow, target, new_index
        self.old_index = 0

    def do(self) -> None:
        self.old_index = self.editor.move_field_mapping(self.flow, self.target, self.new_index)

    def undo_edit(self) -> None:
        self.editor.move_field_mapping(self.flow, self.target, self.old_index)


class SetTransformsCommand(EditCommand):
    def __init__(
        self, editor: DocumentEditor, flow: str, target: str, steps: list[TransformStep]
    ) -> None:
        super().__init__(f"Edit transforms of {target}")
        self.editor, self.flow, self.target = editor, flow, target
        self.steps = [copy.deepcopy(s) for s in steps]
        self.before: list[TransformStep] = []

    def do(self) -> None:
        self.before = self.editor.set_transforms(self.flow, self.target, self.steps)

    def undo_edit(self) -> None:
        self.editor.set_transforms(self.flow, self.target, self.before)


class SetSourcesCommand(EditCommand):
    def __init__(self, editor: DocumentEditor, flow: str, target: str, sources: list[str]) -> None:
        super().__init__(f"Map {', '.join(sources)} → {target}")
        self.editor, self.flow, self.target, self.sources = editor, flow, target, list(sources)
        self.before: list[str] = []

    def do(self) -> None:
        self.before = self.editor.set_sources(self.flow, self.target, self.sources)

    def undo_edit(self) -> None:
        self.editor.set_sources(self.flow, self.target, self.before)


# --------------------------------------------------------------------------- flows


class AddFlowCommand(EditCommand):
    def __init__(self, editor: DocumentEditor, flow: Flow, index: int | None = None) -> None:
        super().__init__(f"Add flow {flow.name}")
        self.editor, self.flow, self.index = editor, flow, index

    def do(self) -> None:
        self.index = self.editor.add_flow(self.flow, self.index)

    def undo_edit(self) -> None:
        self.editor.remove_flow(self.flow.name)


class RemoveFlowCommand(EditCommand):
    def __init__(self, editor: DocumentEditor, name: str) -> None:
        super().__init__(f"Remove flow {name}")
        self.editor, self.name = editor, name
        self.index: int | None = None
        self.flow: Flow | None = None

    def do(self) -> None:
        self.index, self.flow = self.editor.remove_flow(self.name)

    def undo_edit(self) -> None:
        assert self.flow is not None
        self.editor.add_flow(self.flow, self.index)


class EditFlowCommand(EditCommand):
    """Change a flow's header (name, description, trigger, objects, operation) in place.

    The flow object stays the same, so its field mappings, lookups, conditions and fixtures
    are kept and the views' item dictionaries stay valid.
    """

    HEADER = ("description", "trigger", "source", "target", "operation", "on_delete")

    def __init__(
        self,
        editor: DocumentEditor,
        name: str,
        edited: Flow,
        notify: Callable[[str, str], None],
    ) -> None:
        super().__init__(f"Edit flow {name}")
        self.editor, self.name, self.notify = editor, name, notify
        self.new_name = edited.name
        self.after = {key: copy.deepcopy(getattr(edited, key)) for key in self.HEADER}
        self.before: dict[str, Any] = {}

    def do(self) -> None:
        flow = self.editor.flow(self.name)
        self.editor.rename_flow(self.name, self.new_name)  # checked: raises before changing
        self.before = {key: getattr(flow, key) for key in self.HEADER}
        for key, value in self.after.items():
            setattr(flow, key, copy.deepcopy(value))
        self.notify(self.name, self.new_name)

    def undo_edit(self) -> None:
        flow = self.editor.flow(self.new_name)
        self.editor.rename_flow(self.new_name, self.name)
        for key, value in self.before.items():
            setattr(flow, key, value)
        self.notify(self.new_name, self.name)


# --------------------------------------------------------------------------- the rest of a flow
# The core editor covers field mappings and flows; value maps, fixtures, lookups and
# conditions are swapped whole here, checked first, and announced through ``notify``.


class SetValueMapCommand(EditCommand):
    """Set (or with ``table=None`` delete) a named value map, keeping the maps' order."""

    def __init__(
        self,
        document: MappingDocument,
        name: str,
        table: dict[str, Any] | None,
        notify: Callable[[], None],
    ) -> None:
        super().__init__(f"{'Edit' if table is not None else 'Delete'} value map {name}")
        if not isinstance(name, str) or not name.strip():
            raise EditError("a value map needs a name")
        if table is not None and (
            not isinstance(table, dict) or not all(isinstance(k, str) for k in table)
        ):
            raise EditError(f"value map {name!r} must be a table of text keys to values")
        if table is None and name not in document.value_maps:
            raise EditError(f"document {document.name!r} has no value map named {name!r}")
        self.document, self.name, self.notify = document, name, notify
        self.table = dict(table) if table is not None else None
        self.before_order: list[str] = []
        self.before: dict[str, Any] | None = None

    def do(self) -> None:
        maps = self.document.value_maps
        self.before_order = list(maps)
        self.before = maps.get(self.name)
        if self.table is None:
            del maps[self.name]
        else:
            maps[self.name] = dict(self.table)
        self.notify()

    def undo_edit(self) -> None:
        maps = self.document.value_maps
        restored = {
            key: (self.before if key == self.name else maps[key]) for key in self.before_order
        }
        maps.clear()
        maps.update({k: v for k, v in restored.items() if v is not None})
        self.notify()


class AddFixtureCommand(EditCommand):
    def __init__(
        self, flow: Flow, fixture: Fixture, notify: Callable[[], None], index: int | None = None
    ) -> None:
        super().__init__(f"Add fixture {fixture.name}")
        if not fixture.name.strip():
            raise EditError("a fixture needs a name")
        if any(f.name == fixture.name for f in flow.fixtures):
            raise EditError(f"flow {flow.name!r} already has a fixture named {fixture.name!r}")
        if not isinstance(fixture.input, dict):
            raise EditError(f"fixture {fixture.name!r}: the input must be a record (a mapping)")
        self.flow, self.fixture, self.notify = flow, fixture, notify
        self.index = len(flow.fixtures) if index is None else index

    def do(self) -> None:
        self.flow.fixtures.insert(self.index, self.fixture)
        self.notify()

    def undo_edit(self) -> None:
        self.flow.fixtures.remove(self.fixture)
        self.notify()


class RemoveFixtureCommand(EditCommand):
    def __init__(self, flow: Flow, name: str, notify: Callable[[], None]) -> None:
        super().__init__(f"Remove fixture {name}")
        found = [i for i, f in enumerate(flow.fixtures) if f.name == name]
        if not found:
            raise EditError(f"flow {flow.name!r} has no fixture named {name!r}")
        self.flow, self.index, self.notify = flow, found[0], notify
        self.fixture = flow.fixtures[self.index]

    def do(self) -> None:
        self.flow.fixtures.pop(self.index)
        self.notify()

    def undo_edit(self) -> None:
        self.flow.fixtures.insert(self.index, self.fixture)
        self.notify()


class SetListCommand(EditCommand):
    """Replace one list attribute of a flow (``lookups``, ``conditions``) as a whole."""

    def __init__(
        self, flow: Flow, attribute: str, items: Any, notify: Callable[[], None]
    ) -> None:
        super().__init__(f"Edit {attribute} of {flow.name}")
        self.flow, self.attribute, self.notify = flow, attribute, notify
        self.items: Any = copy.copy(items)
        self.before: Any = None

    def do(self) -> None:
        self.before = getattr(self.flow, self.attribute)
        setattr(self.flow, self.attribute, list(self.items))
        self.notify()

    def undo_edit(self) -> None:
        setattr(self.flow, self.attribute, self.before)
        self.notify()


class SetDictCommand(SetListCommand):
    """Replace one mapping attribute of a flow (``defaults``) as a whole."""

    def do(self) -> None:
        self.before = getattr(self.flow, self.attribute)
        setattr(self.flow, self.attribute, dict(self.items))
        self.notify()


def check_lookups(flow: Flow, lookups: list[Lookup]) -> None:
    """Refuse lookups that collide with each other or with a field mapping's target."""
    seen: set[str] = set()
    for lk in lookups:
        if not isinstance(lk, Lookup):
            raise EditError(f"a lookup must be a Lookup, not {type(lk).__name__}")
        # A constant lookup (IsStandard = true) has a value instead of a source, a computed
        # one an expression.
        parts = ("target", "object", "match_field") + (
            ("source",) if lk.reads_source else ("expr",) if lk.computed else ())
        for attr in parts:
            if not str(getattr(lk, attr) or "").strip():
                raise EditError(f"lookup for {lk.target or '?'!r}: {attr} is empty")
        if lk.target in seen:
            raise EditError(f"two lookups write {lk.target}")
        if flow.mapping_for(lk.target) is not None:
            raise EditError(f"{lk.target} is already mapped in flow {flow.name!r}")
        seen.add(lk.target)


def check_conditions(conditions: list[Condition]) -> None:
    for cond in conditions:
        if not isinstance(cond, Condition):
            raise EditError(f"a condition must be a Condition, not {type(cond).__name__}")
        if cond.op is ConditionOp.EXPR and not (cond.expr or "").strip():
            raise EditError("an expression condition needs an expression")
        if cond.op is not ConditionOp.EXPR and not (cond.path or "").strip():
            raise EditError(f"a {cond.op.value!r} condition needs a field path")



# --------------------------------------------------------------------------- child collections


class AddChildCollectionCommand(EditCommand):
    """Give a flow a child collection (a source array -> child records of its target)."""

    def __init__(
        self, editor: DocumentEditor, flow: str, child: ChildCollection, index: int | None = None
    ) -> None:
        super().__init__(f"Map {child.source} → {child.relationship}")
        # Not "child": QUndoCommand.child() is Qt's.
        self.editor, self.flow, self.collection, self.index = editor, flow, child, index

    def do(self) -> None:
        self.index = self.editor.add_child_collection(self.flow, self.collection, self.index)

    def undo_edit(self) -> None:
        self.editor.remove_child_collection(self.flow, self.collection.relationship)


class RemoveChildCollectionCommand(EditCommand):
    def __init__(self, editor: DocumentEditor, flow: str, relationship: str) -> None:
        super().__init__(f"Remove child collection {relationship}")
        self.editor, self.flow, self.relationship = editor, flow, relationship
        self.index: int | None = None
        self.collection: ChildCollection | None = None

    def do(self) -> None:
        self.index, self.collection = self.editor.remove_child_collection(
            self.flow, self.relationship
        )

    def undo_edit(self) -> None:
        assert self.collection is not None
        self.editor.add_child_collection(self.flow, self.collection, self.index)


class MapChildFieldCommand(EditCommand):
    """A new field mapping of a child collection (the core refuses the parent reference)."""

    def __init__(
        self,
        editor: DocumentEditor,
        flow: str,
        relationship: str,
        mapping: FieldMapping,
        index: int | None = None,
    ) -> None:
        super().__init__(f"Map {', '.join(mapping.sources) or '(expression)'} → {mapping.target}")
        self.editor, self.flow, self.relationship = editor, flow, relationship
        self.mapping, self.index = mapping, index

    def do(self) -> None:
        self.index = self.editor.map_child_field(
            self.flow, self.relationship, self.mapping, self.index
        )

    def undo_edit(self) -> None:
        self.editor.unmap_child_field(self.flow, self.relationship, self.mapping.target)


class UnmapChildFieldCommand(EditCommand):
    def __init__(self, editor: DocumentEditor, flow: str, relationship: str, target: str) -> None:
        super().__init__(f"Unmap {target}")
        self.editor, self.flow, self.relationship, self.target = editor, flow, relationship, target
        self.index: int | None = None
        self.mapping: FieldMapping | None = None

    def do(self) -> None:
        self.index, self.mapping = self.editor.unmap_child_field(
            self.flow, self.relationship, self.target
        )

    def undo_edit(self) -> None:
        assert self.mapping is not None
        self.editor.map_child_field(self.flow, self.relationship, self.mapping, self.index)


class SetPolicyCommand(EditCommand):
    """Set a deletion policy: a flow's ``on_delete`` or a child collection's ``on_removed``."""

    WORDS = {"on_delete": "deletion policy", "on_removed": "removed-line policy"}

    def __init__(
        self, owner: Any, attribute: str, policy: DeletionPolicy, notify: Callable[[], None]
    ) -> None:
        super().__init__(f"Set {self.WORDS.get(attribute, attribute)} to {policy.value}")
        self.owner, self.attribute, self.policy, self.notify = owner, attribute, policy, notify
        self.before: DeletionPolicy = getattr(owner, attribute)

    def do(self) -> None:
        self.before = getattr(self.owner, self.attribute)
        setattr(self.owner, self.attribute, self.policy)
        self.notify()

    def undo_edit(self) -> None:
        setattr(self.owner, self.attribute, self.before)
        self.notify()
