"""Auto-map: the ranked suggestions for the current flow, to accept or reject.

Suggestions come from ``mappings.suggest.suggest_mappings`` (name similarity, synonyms and
type fit, each with its reasons), and reference fields come from ``suggest_lookups`` as
lookups through an external id (``Account__c`` = the Account whose StripeCustomerID__c is
the charge's customer). Fields the flow already fills are shown but cannot be ticked.
Accepting maps and looks up every ticked suggestion as one undo step.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QObject, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.document.document import StudioDocument
from app.models.qtmodel import ROOT, Index, column_header
from app.models.transform_models import describe_step
from mappings.errors import MappingError
from mappings.schema.model import System
from mappings.suggest import LookupSuggestion, Suggestion, suggest_lookups, suggest_mappings

Choice = Suggestion | LookupSuggestion


def source_of(item: Choice) -> str:
    return item.lookup.source if isinstance(item, LookupSuggestion) else item.source_path


def target_of(item: Choice) -> str:
    return item.lookup.target if isinstance(item, LookupSuggestion) else item.target_field


def _how(item: Choice) -> str:
    if isinstance(item, LookupSuggestion):
        return f"lookup: {item.lookup.object}.{item.lookup.match_field}"
    return " → ".join(describe_step(t) for t in item.transforms)

# Widest a column may start (px): the dialog's 900 px leave "Why" at least ~150 px.
_COLUMN_CAPS = {0: 220, 1: 220, 2: 70, 3: 200}

DEFAULT_THRESHOLD = 0.8  # ticked by default from this score up


class SuggestionModel(QAbstractTableModel):
    COLUMNS = ("Source field", "Target field", "Score", "Transforms", "Why")

    def __init__(
        self,
        suggestions: list[Choice],
        already_mapped: set[str] | frozenset[str] = frozenset(),
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.suggestions = list(suggestions)
        self.already_mapped = set(already_mapped)
        self.checked = [
            s.score >= DEFAULT_THRESHOLD and target_of(s) not in self.already_mapped
            for s in self.suggestions
        ]

    def accepted(self) -> list[Choice]:
        return [s for s, on in zip(self.suggestions, self.checked, strict=True) if on]

    def set_all(self, on: bool) -> None:
        self.checked = [on and target_of(s) not in self.already_mapped for s in self.suggestions]
        if self.suggestions:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.suggestions) - 1, 0))

    # -- Qt overrides

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self.suggestions)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        return column_header(self.COLUMNS, section, orientation, role)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.suggestions):
            return None
        s = self.suggestions[index.row()]
        col = index.column()
        taken = target_of(s) in self.already_mapped
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                source_of(s),
                target_of(s) + (" (already mapped)" if taken else ""),
                f"{s.score:.0%}",
                _how(s),
                "; ".join(s.reasons),
            )[col]
        if role == Qt.ItemDataRole.CheckStateRole and col == 0:
            return Qt.CheckState.Checked if self.checked[index.row()] else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == 3:
                return _how(s) or None
            return "<br>".join(s.reasons) or None
        if role == Qt.ItemDataRole.ForegroundRole and taken:
            return QColor("#94a3b8")
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if (
            not index.isValid()
            or index.column() != 0
            or role != Qt.ItemDataRole.CheckStateRole
            or target_of(self.suggestions[index.row()]) in self.already_mapped
        ):
            return False
        state = value.value if hasattr(value, "value") else value
        self.checked[index.row()] = state == Qt.CheckState.Checked.value
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        return True

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsSelectable
        if target_of(self.suggestions[index.row()]) not in self.already_mapped:
            flags |= Qt.ItemFlag.ItemIsEnabled
            if index.column() == 0:
                flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags


class AutoMapDialog(QDialog):
    def __init__(
        self, document: StudioDocument, flow: str | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.document = document
        name = flow or document.current_flow
        if name is None:
            raise MappingError("auto-map needs a flow: create or pick one first")
        self.flow_name: str = name
        source = document.source_schema(self.flow_name)
        target = document.target_schema(self.flow_name)
        flow_obj = document.flow(self.flow_name)
        if source is None or target is None:
            missing = flow_obj.source if source is None else flow_obj.target
            raise MappingError(f"auto-map needs the schema of {missing}, which is not loaded")
        self.setWindowTitle(f"Auto-map {flow_obj.source.object} → {flow_obj.target.object}")
        self.resize(900, 520)
        taken = set(flow_obj.target_fields())
        # Open choices first; what the flow already maps only behind the toggle (a template
        # listed 17 greyed "(already mapped)" rows before the useful ones).
        choices: list[Choice] = list(suggest_mappings(source, target))
        if source.system is System.STRIPE and target.system is System.SALESFORCE:
            choices += suggest_lookups(source, target, document.catalogs.get(System.SALESFORCE))
        self._taken = taken
        self._ranked = sorted(choices, key=lambda s: (target_of(s) in taken, -s.score))
        mapped_count = sum(1 for s in self._ranked if target_of(s) in taken)
        self.show_mapped_box = QCheckBox(
            f"Show the {mapped_count} suggestions for fields already mapped", self
        )
        self.show_mapped_box.setVisible(mapped_count > 0)
        self.model = SuggestionModel(self._open_choices(), taken, self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self._fit_columns()
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        all_button = QPushButton("Tick all", self)
        none_button = QPushButton("Tick none", self)
        self.buttons = QDialogButtonBox(self)
        self.accept_button = self.buttons.addButton(
            "Map ticked fields", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        row = QHBoxLayout()
        row.addWidget(all_button)
        row.addWidget(none_button)
        row.addStretch(1)
        row.addWidget(self.buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel("Suggestions ranked by name, synonyms and type fit. Tick the ones to map.", self)
        )
        layout.addWidget(self.table, 1)
        layout.addWidget(self.show_mapped_box)
        layout.addWidget(self.summary)
        layout.addLayout(row)
        all_button.clicked.connect(lambda: self.model.set_all(True))
        none_button.clicked.connect(lambda: self.model.set_all(False))
        self.model.dataChanged.connect(self._update_summary)
        self.show_mapped_box.toggled.connect(self._show_mapped)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._update_summary()

    def _open_choices(self, include_mapped: bool = False) -> list[Choice]:
        return [s for s in self._ranked if include_mapped or target_of(s) not in self._taken]

    def _show_mapped(self, shown: bool) -> None:
        ticked = {id(s) for s in self.model.accepted()}
        self.model = SuggestionModel(self._open_choices(shown), self._taken, self)
        self.model.checked = [id(s) in ticked for s in self.model.suggestions]
        self.model.dataChanged.connect(self._update_summary)
        self.table.setModel(self.model)
        self._fit_columns()
        self._update_summary()

    def _fit_columns(self) -> None:
        """Every column inside the dialog: each as wide as its text up to a cap (the cell's
        tooltip has it in full), and "Why" takes what is left, so nothing runs off the edge."""
        header = self.table.horizontalHeader()
        # "Why" stretches first and is never sized to its text: a new model (the toggle) keeps
        # it stretched, where sizing every column to contents let it run off the edge.
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(True)
        for col, cap in _COLUMN_CAPS.items():
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            self.table.resizeColumnToContents(col)
            header.resizeSection(col, min(header.sectionSize(col), cap))

    def _update_summary(self, *_: object) -> None:
        ticked = len(self.model.accepted())
        total = len(self.model.suggestions)
        self.summary.setText(f"{ticked} of {total} suggestions ticked.")
        self.accept_button.setEnabled(ticked > 0)

    def apply(self) -> tuple[int, list[str]]:
        """Map the ticked suggestions as one undo step: (how many mapped, refusals)."""
        mapped, refused = 0, []
        chosen = self.model.accepted()
        if not chosen:
            return 0, []
        with self.document.macro(f"Auto-map {len(chosen)} fields"):
            for s in chosen:
                try:
                    if isinstance(s, LookupSuggestion):
                        current = self.document.flow(self.flow_name).lookups
                        self.document.set_lookups(self.flow_name, [*current, s.lookup])
                    else:
                        self.document.map_field(
                            self.flow_name, s.source_path, s.target_field, list(s.transforms)
                        )
                    mapped += 1
                except MappingError as exc:
                    refused.append(f"{source_of(s)} → {target_of(s)}: {exc}")
        return mapped, refused

    def accept(self) -> None:
        mapped, refused = self.apply()
        if refused:
            self.document.editRefused.emit(
                f"Auto-map mapped {mapped} fields; skipped: " + "; ".join(refused)
            )
        super().accept()
