"""The child records of one selected parent record, under the preview and the test run.

"12 Order Products of in_1Q12Lines — 1 issue", a picker when the flow has several child
relationships, and a table of the children (:class:`~app.models.children_model.ChildrenModel`)
with their issues. Hidden while the selected record has no children.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTableView, QVBoxLayout, QWidget

from app.document.document import StudioDocument
from app.models.children_model import ChildrenModel
from app.models.preview_model import lookup_words, relationship_words
from mappings.engine.plan import relationship_name
from mappings.engine.result import MappingResult


class ChildrenView(QWidget):
    def __init__(self, document: StudioDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.model = ChildrenModel(self)
        self.label = QLabel(self)
        self.label.setStyleSheet("font-weight: 600")
        self.combo = QComboBox(self)
        self.combo.setAccessibleName("Child records shown")
        self.combo.currentIndexChanged.connect(lambda _row: self._show())
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setAccessibleName("Child records of the selected record")
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setStretchLastSection(True)
        head = QHBoxLayout()
        head.addWidget(self.label)
        head.addWidget(self.combo)
        head.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(head)
        layout.addWidget(self.table, 1)
        self._flow: str | None = None
        self._owner = ""
        self._children: Mapping[str, list[MappingResult]] = {}
        self.setVisible(False)

    def show_children(
        self, flow: str | None, owner: str | None, children: Mapping[str, list[MappingResult]]
    ) -> None:
        """Show ``children`` (by relationship) of the record ``owner`` of ``flow``."""
        self._flow, self._owner, self._children = flow, owner or "", children
        kept = self.combo.currentData()
        self.combo.blockSignals(True)
        self.combo.clear()
        for relationship in children:
            self.combo.addItem(relationship_words(self.document, flow, relationship), relationship)
        row = self.combo.findData(kept)
        self.combo.setCurrentIndex(row if row >= 0 else 0)
        self.combo.setVisible(len(children) > 1)
        self.combo.blockSignals(False)
        self.setVisible(bool(children))
        self._show()

    def _show(self) -> None:
        relationship = self.combo.currentData()
        flow = self.document.find_flow(self._flow)
        child = flow.child(relationship) if flow is not None and relationship else None
        if flow is None or child is None:
            self.model.set_children([], None)
            self.label.clear()
            return
        items = self._children.get(relationship, [])
        schema = self.document.schema_of(flow.target.system, child.target)
        lookups = {
            lk.target: relationship_name(lk.target, schema.find(lk.target) if schema else None)
            for lk in child.lookups
        }
        self.model.lookup_text = lambda name, value: lookup_words(
            self.document, schema, name, value
        )
        self.model.set_children(
            items, schema, [m.target for m in child.fields] + list(lookups), lookups
        )
        issues = self.model.issue_count()
        where = f" of {self._owner}" if self._owner else ""
        self.label.setText(
            f"{len(items)} {relationship_words(self.document, self._flow, relationship)}{where}"
            + (f" — {issues} issue{'s' if issues != 1 else ''}" if issues else "")
        )
        self.table.resizeColumnsToContents()
