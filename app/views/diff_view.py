"""Semantic diff between the open workspace and a bundle (``.fbz``), as a tree.

The diff is ``mappings.document.diff.diff_document_sets(bundle, workspace)``: what the user
changed in the workspace since the bundle, so it speaks from their side ("removed in your
workspace"). Each change's path ("flow x / field Y / transforms") becomes tree levels, so a
reviewer folds by flow and field; the cells read as words (sources and transform steps by
name), not JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtGui import QBrush, QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app import icons
from app.models.transform_models import describe_step
from mappings.bundle import load_bundle
from mappings.document.diff import SEP, Change, diff_document_sets
from mappings.document.model import MappingDocument, TransformStep
from mappings.errors import MappingError

COLUMNS = ("Change in your workspace", "In the bundle", "In your workspace")
_KIND_WORDS = {
    "added": "added in your workspace",
    "removed": "removed in your workspace",
    "changed": "changed in your workspace",
}
_KIND_COLOURS = {"added": "#16a34a", "removed": "#dc2626", "changed": "#d97706"}
_KIND_MARKS = {"added": "+", "removed": "−", "changed": "~"}


def _steps_words(steps: list[Any]) -> str:
    return " → ".join(
        describe_step(TransformStep(str(s.get("name")), dict(s.get("args") or {})))
        for s in steps
    )


def _words(value: Any) -> str:
    """A document value as a person reads it: a mapping as "amount → Convert cents…"."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(isinstance(v, dict) and "name" in v for v in value):
        return _steps_words(value) if value else "no steps"
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict) and "target" in value:
        source = value.get("source")
        sources = ", ".join(source) if isinstance(source, list) else str(source or "an expression")
        text = f"{sources} → {value['target']}"
        steps = value.get("transforms")
        return f"{text}, via {_steps_words(steps)}" if steps else text
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_words(v)}" for k, v in value.items())
    return json.dumps(value, default=str, sort_keys=True)


def _short(value: Any, limit: int = 120) -> str:
    text = " ".join(_words(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def changes_model(changes: Sequence[Change]) -> QStandardItemModel:
    """A tree model: path segments as folders, each change a leaf (summary, before, after)."""
    model = QStandardItemModel()
    model.setHorizontalHeaderLabels(list(COLUMNS))
    root = model.invisibleRootItem()
    folders: dict[tuple[str, ...], QStandardItem] = {}
    for change in changes:
        parts = tuple(change.path.split(SEP))
        parent = root
        for depth in range(1, len(parts)):
            key = parts[:depth]
            if key not in folders:
                item = QStandardItem(parts[depth - 1])
                item.setEditable(False)
                parent.appendRow([item, _cell(""), _cell("")])
                folders[key] = item
            parent = folders[key]
        mark = _KIND_MARKS[change.kind]
        leaf = _cell(f"{mark} {parts[-1]} {_KIND_WORDS[change.kind]}")
        leaf.setForeground(QBrush(QColor(_KIND_COLOURS[change.kind])))
        leaf.setToolTip(f"{change.kind}: {change.path}\n{change.summary}")
        leaf.setData(change, _ChangeRole)
        before, after = _cell(_short(change.before)), _cell(_short(change.after))
        before.setToolTip(_short(change.before, 2000))
        after.setToolTip(_short(change.after, 2000))
        parent.appendRow([leaf, before, after])
    return model


_ChangeRole = 0x0100 + 7


def _cell(text: str) -> QStandardItem:
    item = QStandardItem(text)
    item.setEditable(False)
    return item


class DiffView(QDialog):
    """Compare the workspace's documents with a bundle's."""

    def __init__(
        self,
        workspace_documents: Callable[[], Sequence[MappingDocument]],
        parent: QWidget | None = None,
        *,
        choose_file: Callable[[], str | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare with bundle")
        self.setWindowIcon(icons.icon("compare"))
        self.resize(900, 560)
        self._documents = workspace_documents
        self._choose_file = choose_file or self._ask_for_file
        self.changes: list[Change] = []
        self.bundle_path: Path | None = None

        self.path_label = QLabel("No bundle chosen.", self)
        self.path_label.setObjectName("muted")
        self.choose_button = QPushButton(icons.icon("open"), "Choose bundle…", self)
        self.choose_button.clicked.connect(self.choose)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.tree = QTreeView(self)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setAccessibleName("differences")
        self.model = changes_model([])
        self.tree.setModel(self.model)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)

        top = QHBoxLayout()
        top.addWidget(self.path_label, 1)
        top.addWidget(self.choose_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)

    def choose(self) -> None:
        path = self._choose_file()
        if path:
            self.compare_with(Path(path))

    def compare_with(self, path: Path | str) -> list[Change]:
        """Load the bundle and show the diff; a bad bundle shows its reason (and raises)."""
        path = Path(path)
        try:
            bundle = load_bundle(path)
        except MappingError as exc:
            self.changes = []
            self._show([])
            self.summary.setText(f"Cannot compare: {exc}")
            raise
        self.bundle_path = path
        self.path_label.setText(str(path))
        # From the bundle to the workspace: what the user did, in their words.
        self.changes = diff_document_sets(bundle.documents, list(self._documents()))
        self._show(self.changes)
        return self.changes

    def _show(self, changes: Sequence[Change]) -> None:
        self.model = changes_model(changes)
        self.tree.setModel(self.model)
        self.tree.expandAll()
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(1, 200)
        header.resizeSection(2, 200)
        header.setStretchLastSection(False)
        if not changes:
            self.summary.setText("The workspace and the bundle hold the same mappings.")
            return
        counts = {k: sum(1 for c in changes if c.kind == k) for k in _KIND_MARKS}
        parts = [f"{n} {k}" for k, n in counts.items() if n]
        noun = "difference" if len(changes) == 1 else "differences"
        self.summary.setText(
            f"Since the bundle, your workspace has {len(changes)} {noun}: " + ", ".join(parts)
        )

    def _ask_for_file(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Compare with bundle", "", "Fieldbridge bundles (*.fbz);;All files (*)"
        )
        return path or None
