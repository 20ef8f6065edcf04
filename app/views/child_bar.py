"""The header over the canvas while a child mapping is open.

It says where the user is ("Invoice ▸ Lines → Order ▸ Order Products"), leads back to the
flow, and offers the child collection's ``on_removed`` choice in words ("When a line
disappears from the invoice: mark it / delete it / leave it"). Hidden for a flow's own
mapping. Edits go through the document (undoable); the bar follows the document's signals.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

from app import theme
from app.document.child_flow import ChildFlowView, child_titles
from app.document.document import StudioDocument
from app.models.policies import on_removed_choices, on_removed_question, singular
from mappings.engine.children import items_noun
from mappings.errors import MappingError


class ChildBar(QWidget):
    def __init__(self, document: StudioDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.setObjectName("childBar")
        self.back_button = QPushButton(self)
        self.back_button.clicked.connect(document.close_child)
        self.crumbs = QLabel(self)
        self.crumbs.setAccessibleName("Child mapping")
        font = self.crumbs.font()
        font.setBold(True)
        self.crumbs.setFont(font)
        self.question = QLabel(self)
        theme.set_text_role(self.question, "muted")
        self.policy = QComboBox(self)
        self.policy.setAccessibleName("What happens to a removed child")
        for policy, words in on_removed_choices():
            self.policy.addItem(words, policy)
        self.policy.activated.connect(self._policy_picked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.back_button)
        layout.addWidget(self.crumbs)
        layout.addStretch(1)
        layout.addWidget(self.question)
        layout.addWidget(self.policy)
        document.currentFlowChanged.connect(lambda _name: self.refresh())
        document.mappingsChanged.connect(self._on_mappings_changed)
        document.documentReplaced.connect(self.refresh)
        document.catalogsChanged.connect(self.refresh)
        self.refresh()

    def _on_mappings_changed(self, name: str) -> None:
        if name == self.document.current_flow:
            self.refresh()

    def refresh(self) -> None:
        view = self.document.current_child
        self.setVisible(view is not None)
        if view is None:
            return
        self.crumbs.setText(breadcrumb(self.document, view))
        self.back_button.setText(f"◂ Back to {view.parent.name}")
        parent_obj = self.document.source_schema(view.parent.name)
        parent_words = (
            parent_obj.label if parent_obj and parent_obj.label else view.parent.source.object
        ).lower()
        self.question.setText(
            on_removed_question(singular(items_noun(view.child.source)), parent_words)
        )
        self.policy.setCurrentIndex(self.policy.findData(view.child.on_removed))

    def _policy_picked(self, row: int) -> None:
        view = self.document.current_child
        if view is None:
            return
        try:
            self.document.set_on_removed(view.name, self.policy.itemData(row))
        except MappingError as exc:
            self.document.editRefused.emit(str(exc))
            self.refresh()


def breadcrumb(document: StudioDocument, view: ChildFlowView) -> str:
    """ "Invoice ▸ Lines → Order ▸ Order Products": labels as users know them."""
    source, array, target, child = child_titles(
        view,
        document.source_schema(view.parent.name),
        document.target_schema(view.parent.name),
        document.target_schema(view.name),
    )
    return f"{source} ▸ {array} → {target} ▸ {child}"
