"""Item models for the transform panel: the library palette and one mapping's chain."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QAbstractListModel, QObject, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel

from app.models.qtmodel import ROOT, Index
from mappings.document.model import TransformStep
from mappings.errors import MappingError
from mappings.schema.model import ObjectSchema
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


def _arg_words(value: Any, kind: str, source: ObjectSchema | None) -> str:
    """A parameter's value as a person reads it: a source path by its field's label."""
    if kind == "path" and source is not None:
        paths = value if isinstance(value, list) else [value]
        names = []
        for path in paths:
            fs = source.find(path) if isinstance(path, str) else None
            names.append(fs.label if fs is not None and fs.label else str(path))
        return " or ".join(names)
    if isinstance(value, bool):
        return "yes" if value else "no"
    shown = value if isinstance(value, str) else json.dumps(value, default=str)
    return shown if len(shown) <= 40 else shown[:39] + "…"


def describe_step(step: TransformStep, source: ObjectSchema | None = None) -> str:
    """A step in words: ``Convert cents to amount — currency from: Currency``.

    The transform's label and its parameters' labels come from the registry (one home for
    what a transform is called); a path parameter names the source field by its label.
    """
    try:
        spec = get_transform(step.name)
    except MappingError:  # an unknown name is shown as written; the engine reports it
        return step.name + (f" ({describe_args(step.args)})" if step.args else "")
    parts = []
    for key, value in step.args.items():
        param = spec.param(key)
        title = param.title if param is not None else key.replace("_", " ")
        kind = param.kind if param is not None else "any"
        words = _arg_words(value, kind, source)
        parts.append(f"{title[:1].lower()}{title[1:]}: {words}")
    label = spec.label or spec.name
    return f"{label} — {', '.join(parts)}" if parts else label


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
            item.setToolTip(f"<b>{spec.label or spec.name}</b><br>{spec.description}")
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
        # The flow's source object: path parameters are named by their field's label.
        self.source_schema: ObjectSchema | None = None

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
            return f"{index.row() + 1}. {describe_step(step, self.source_schema)}"
        if role == Qt.ItemDataRole.ToolTipRole:
            try:
                spec = get_transform(step.name)
            except MappingError:  # an unknown name is shown, the engine reports it
                return f"unknown transform {step.name!r}"
            args = describe_args(step.args)
            return f"{spec.description}\n\nIn the YAML: {step.name}" + (
                f" ({args})" if args else ""
            )
        if role == TransformNameRole:
            return step.name
        if role == StepRole:
            return step
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
