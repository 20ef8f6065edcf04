"""A searchable field tree for one side of the current flow (Stripe or Salesforce).

The source panel is where drags start; the target panel also accepts drops (a source
field dropped on a target field maps it). Both follow the document: the flow's object,
and the fields the flow uses shown bold.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.document.document import StudioDocument
from app.document.interactions import DropFieldInteraction, KeyboardMapInteraction
from app.models.schema_model import FieldPathRole, SchemaFilterProxy, SchemaTreeModel
from mappings.schema.model import ObjectSchema, System


class SchemaPanel(QWidget):
    """``side`` is ``"source"`` or ``"target"``: which object of the current flow it shows."""

    fieldActivated = Signal(str)  # a field was double-clicked / Enter: its path
    selectionChanged = Signal()

    def __init__(self, document: StudioDocument, side: str, parent: QWidget | None = None):
        super().__init__(parent)
        if side not in ("source", "target"):
            raise ValueError(f"side must be 'source' or 'target', not {side!r}")
        self.document = document
        self.side = side
        self.drop_interaction = DropFieldInteraction(document)
        handler = self.drop_interaction.drop if side == "target" else None
        self.model = SchemaTreeModel(parent=self, drop_handler=handler)
        self.proxy = SchemaFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self.title = QLabel(self)
        self.title.setObjectName("schemaPanelTitle")
        self.object_combo = QComboBox(self)
        self.object_combo.setToolTip("The object shown; the flow's object is picked for you")
        # The picked object's name is never cut ("Subscrip"): the combo is as wide as the
        # current name (not the catalog's longest) and keeps it; the title gives way.
        self.object_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.object_combo.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search fields…")
        self.search.setClearButtonEnabled(True)
        self.tree = QTreeView(self)
        self.tree.setModel(self.proxy)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(
            QAbstractItemView.DragDropMode.DragDrop
            if side == "target"
            else QAbstractItemView.DragDropMode.DragOnly
        )
        self.tree.setAcceptDrops(side == "target")
        self.tree.setDropIndicatorShown(side == "target")
        self.tree.setDefaultDropAction(Qt.DropAction.LinkAction)
        header = self.tree.header()
        # Names and types are as wide as their text, never cut ("string · requi…"): in a
        # narrow panel the tree scrolls sideways instead.
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(60)
        # Fitting to every row measured all 1,000 of a big object on each open (Qt's default
        # precision), about 0.15 s; the rows in sight are enough when the columns refit as
        # the tree scrolls (issue 12).
        header.setResizeContentsPrecision(0)
        self.tree.verticalScrollBar().valueChanged.connect(self._fit_columns)
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.tree.setAccessibleName(f"{side} fields")

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.object_combo)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)

        # Search as you type, but not on every keystroke of a fast typist on a big schema.
        self._search_timer = QTimer(self, singleShot=True, interval=120)
        self._search_timer.timeout.connect(self._apply_search)
        self.search.textChanged.connect(self._search_timer.start)
        self.object_combo.activated.connect(self._object_picked)
        self.tree.doubleClicked.connect(self._activated)
        self.tree.selectionModel().selectionChanged.connect(lambda *_: self.selectionChanged.emit())

        document.currentFlowChanged.connect(self._follow_flow)
        document.flowsChanged.connect(self._follow_flow)
        document.documentReplaced.connect(self._follow_flow)
        document.catalogsChanged.connect(self._follow_flow)
        document.mappingsChanged.connect(self._mappings_changed)
        self._follow_flow()

    # -- reading

    @property
    def system(self) -> System | None:
        obj = self.model.object_schema
        return obj.system if obj is not None else None

    def selected_paths(self) -> list[str]:
        rows = self.tree.selectionModel().selectedRows(0)
        paths = [self.proxy.data(i, FieldPathRole) for i in rows]
        return [p for p in paths if p and self.model.object_schema and p in self.model.object_schema]

    def selected_path(self) -> str | None:
        paths = self.selected_paths()
        return paths[0] if paths else None

    def select_path(self, path: str) -> bool:
        """Select and reveal a field (clears the search if it hides the field)."""
        source_index = self.model.index_of(path)
        if not source_index.isValid():
            return False
        index = self.proxy.mapFromSource(source_index)
        if not index.isValid():
            self.search.clear()
            self._apply_search()
            index = self.proxy.mapFromSource(source_index)
        self.tree.scrollTo(index)
        self.tree.selectionModel().select(
            index,
            self.tree.selectionModel().SelectionFlag.ClearAndSelect
            | self.tree.selectionModel().SelectionFlag.Rows,
        )
        # Through the selection model with NoUpdate: the view's setCurrentIndex asks the
        # keyboard which modifiers are down, and with Ctrl held it would toggle the row off.
        self.tree.selectionModel().setCurrentIndex(
            index, self.tree.selectionModel().SelectionFlag.NoUpdate
        )
        return True

    # -- following the document

    def _flow_object(self) -> ObjectSchema | None:
        name = self.document.current_flow
        if name is None or self.document.find_flow(name) is None:
            return None
        if self.side == "source":
            return self.document.source_schema(name)
        return self.document.target_schema(name)

    def _follow_flow(self, *_: object) -> None:
        obj = self._flow_object()
        flow = self.document.find_flow(self.document.current_flow)
        ref = None if flow is None else (flow.source if self.side == "source" else flow.target)
        system = ref.system if ref is not None else None
        self._fill_combo(system, obj)
        if obj is not self.model.object_schema:
            self.model.set_object(obj)
            if self.search.text():
                self._apply_search()
        if ref is None:
            self.title.setText(f"<b>{self.side.title()}</b> — no flow")
        elif obj is None:
            self.title.setText(f"<b>{ref.system.value.title()}</b> · {ref.object} (not in catalog)")
        else:
            self.title.setText(f"<b>{ref.system.value.title()}</b> · {obj.label or obj.name}")
        self.title.setToolTip(self.title.text().replace("<b>", "").replace("</b>", ""))
        self._mappings_changed(self.document.current_flow or "")

    def _fill_combo(self, system: System | None, obj: ObjectSchema | None) -> None:
        self.object_combo.blockSignals(True)
        self.object_combo.clear()
        if system is not None:
            catalog = self.document.catalogs.get(system)
            if catalog is not None:
                self.object_combo.addItems(catalog.names())
        if obj is not None:
            self.object_combo.setCurrentText(obj.name)
        self.object_combo.setEnabled(system is not None)
        self._fit_combo()
        self.object_combo.blockSignals(False)

    def _fit_columns(self, *_: object) -> None:
        """Names and types as wide as the rows now in sight."""
        self.tree.header().resizeSections(QHeaderView.ResizeMode.ResizeToContents)

    def _fit_combo(self) -> None:
        self.object_combo.setMinimumContentsLength(max(8, len(self.object_combo.currentText())))

    def _object_picked(self, _row: int) -> None:
        """Browse another object of the same system (drops still need the flow's object)."""
        system = self.system
        if system is None:
            return
        obj = self.document.catalogs[system].get(self.object_combo.currentText())
        self._fit_combo()
        self.model.set_object(obj)
        self._apply_search()
        self._mappings_changed(self.document.current_flow or "")

    def _mappings_changed(self, flow_name: str) -> None:
        if flow_name != (self.document.current_flow or ""):
            return
        flow = self.document.find_flow(flow_name)
        if flow is None or self.model.object_schema is not self._flow_object():
            self.model.set_mapped(())
            return
        if self.side == "source":
            used = {p for m in flow.fields for p in m.sources}
            used |= {lk.source for lk in flow.lookups}
        else:
            used = set(flow.target_fields())
        self.model.set_mapped(used)

    def _apply_search(self) -> None:
        text = self.search.text().strip()
        if text:
            self.model.fetch_all()  # the model hands out rows in batches; search them all
        self.proxy.setFilterFixedString(text)
        if text:
            self.tree.expandAll()

    def _activated(self, index: QModelIndex) -> None:
        path = self.proxy.data(index, FieldPathRole)
        if path:
            self.fieldActivated.emit(path)


def make_map_action(
    document: StudioDocument,
    source_panel: SchemaPanel,
    target_panel: SchemaPanel,
    parent: QWidget,
) -> QAction:
    """The keyboard path for a drag: select a source field, a target field, press Ctrl+M."""
    interaction = KeyboardMapInteraction(
        document, source_panel.selected_paths, target_panel.selected_path
    )
    action = QAction("&Map Selected Fields", parent)
    action.setShortcut(QKeySequence("Ctrl+M"))
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.setStatusTip("Map the field selected on the left to the field selected on the right")
    action.triggered.connect(interaction.map)
    action.interaction = interaction  # type: ignore[attr-defined]

    def refresh() -> None:
        action.setEnabled(interaction.refusal() is None)

    source_panel.selectionChanged.connect(refresh)
    target_panel.selectionChanged.connect(refresh)
    document.currentFlowChanged.connect(refresh)
    refresh()
    return action
