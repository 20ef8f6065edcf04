"""Item models for the transform panel: the library palette and one mapping's chain."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QAbstractListModel, QObject, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel

from app.models.qtmodel import ROOT, Index
from mappings.document.model import TransformStep
from mappings.transforms import TransformSpec, all_transforms, get_transform
from mappings.transforms.registry import CATEGORIES

TransformNameRole = Qt.ItemDataRole.UserRole + 11
StepRole = Qt.ItemDataRole.UserRole + 12


CATEGORY_LABELS = {
    "money": "Money",
    "time": "Dates and times",
    "text": "Text",
    "lookup": "Value maps",
    "logic": "Logic",
    "structure": "Structure",
    "expression": "Expressions",
}


def describe_args(args: dict[str, Any]) -> str:
    """``currency_path=currency, length=80`` for a chain row."""
    parts = []
    for key, value in args.items():
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        if len(shown) > 40:
            shown = shown[:37] + "…"
        parts.append(f"{key}={shown}")
    return ", ".join(parts)


class TransformLibraryModel(QStandardItemModel):
    """Categories, each with its transforms (name in TransformNameRole, description as tooltip)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setHorizontalHeaderLabels(["Transform"])
        groups: dict[str, QStandardItem] = {}
        for spec in all_transforms():
            group = groups.get(spec.category)
            if group is None:
                group = QStandardItem(CATEGORY_LABELS.get(spec.category, spec.category.title()))
                group.setEditable(False)
                group.setSelectable(False)
                groups[spec.category] = group
            item = QStandardItem(spec.label or spec.name)
            item.setEditable(False)
            item.setToolTip(f"<b>{spec.name}</b><br>{spec.description}")
            item.setData(spec.name, TransformNameRole)
            group.appendRow(item)
        for category in CATEGORIES:
            if category in groups:
                self.appendRow(groups.pop(category))
        for group in groups.values():  # a category the palette does not know yet
            self.appendRow(group)

    def grouped(self) -> list[tuple[str, list[TransformSpec]]]:
        """(category label, specs) in palette order, for menus."""
        out = []
        for row in range(self.rowCount()):
            group = self.item(row)
            specs = [
                get_transform(group.child(i).data(TransformNameRole))
                for i in range(group.rowCount())
            ]
            out.append((group.text(), specs))
        return out


class TransformChainModel(QAbstractListModel):
    """The steps of one field mapping's chain, a private copy the panel edits then commits."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._steps: list[TransformStep] = []

    @property
    def steps(self) -> list[TransformStep]:
        return [TransformStep(s.name, dict(s.args)) for s in self._steps]

    def set_steps(self, steps: list[TransformStep]) -> None:
        self.beginResetModel()
        self._steps = [TransformStep(s.name, dict(s.args)) for s in steps]
        self.endResetModel()

    def step(self, row: int) -> TransformStep | None:
        return self._steps[row] if 0 <= row < len(self._steps) else None

    # -- Qt overrides

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._steps)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._steps):
            return None
        step = self._steps[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            args = describe_args(step.args)
            return f"{index.row() + 1}. {step.name}" + (f"  ({args})" if args else "")
        if role == Qt.ItemDataRole.ToolTipRole:
            try:
                return get_transform(step.name).description
            except Exception:  # an unknown name is shown, the engine reports it
                return f"unknown transform {step.name!r}"
        if role == TransformNameRole:
            return step.name
        if role == StepRole:
            return step
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
