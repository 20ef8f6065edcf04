"""The child records of one previewed (or test-run) parent: one row a child, one column a
child field, tinted where the child has an issue.

A flow with child collections maps an invoice to an Order and each of its lines to an
OrderItem (:attr:`MappingResult.children`, by relationship). The preview shows the parent
rows in :class:`~app.models.preview_model.PreviewModel` and the selected parent's children
here ("12 Order Products").
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QObject, Qt
from PySide6.QtGui import QIcon

from app.models.naming import field_title
from app.models.preview_model import IssueCells, IssuesRole, _display, _get_path
from app.models.qtmodel import ROOT, Index
from mappings.engine.result import Issue, MappingResult
from mappings.schema.model import ObjectSchema

STATUS_COLUMN = 0
FIRST_FIELD_COLUMN = 1


class ChildrenModel(IssueCells, QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._icons: dict[str, QIcon] = {}
        self._lookups: dict[str, str] = {}  # lookup field -> its relationship key in a record
        self.lookup_text: Any = None  # (field, {match}) -> words; set by the view
        self._results: list[MappingResult] = []
        self._columns: list[str] = []
        self._schema: ObjectSchema | None = None

    def set_children(
        self,
        results: list[MappingResult],
        schema: ObjectSchema | None,
        columns: list[str] | None = None,
        lookups: dict[str, str] | None = None,
    ) -> None:
        """Show ``results``; the columns are ``columns`` (the child's mapped fields) and
        any other field a child wrote or has an issue on. ``lookups`` maps a lookup field
        (PricebookEntryId) to the key its match sits under in a record (PricebookEntry)."""
        self.beginResetModel()
        self._results, self._schema = list(results), schema
        self._lookups = dict(lookups or {})
        keys = set(self._lookups.values())
        wanted: dict[str, None] = dict.fromkeys(columns or [])
        for result in self._results:
            wanted.update(
                dict.fromkeys(k for k in result.record if k != "attributes" and k not in keys)
            )
            wanted.update(dict.fromkeys(i.field for i in result.issues if i.field))
        self._columns = list(wanted)
        self.endResetModel()

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def result(self, row: int) -> MappingResult:
        return self._results[row]

    def issue_count(self) -> int:
        return sum(len(r.issues) for r in self._results)

    # -- Qt model overrides
    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._results)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else FIRST_FIELD_COLUMN + len(self._columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Vertical:
            return str(section + 1)
        if section == STATUS_COLUMN:
            return "Status"
        name = self._columns[section - FIRST_FIELD_COLUMN]
        fs = self._schema.find(name) if self._schema is not None else None
        return field_title(fs, name, system=self._schema.system if self._schema else None)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._results):
            return None
        result = self._results[index.row()]
        if index.column() == STATUS_COLUMN:
            return self._status(result, role)
        name = self._columns[index.column() - FIRST_FIELD_COLUMN]
        issues = [i for i in result.issues if i.field == name]
        if role == Qt.ItemDataRole.DisplayRole:
            if result.skipped:
                return "—"
            value = _get_path(result.record, name)
            if value is None and name in self._lookups:
                value = result.record.get(self._lookups[name])
                if isinstance(value, dict) and self.lookup_text is not None:
                    return self.lookup_text(name, value)
            return _display(value)
        if role == IssuesRole:
            return issues
        return self._issue_decoration(issues, role, skipped=result.skipped)

    def _status(self, result: MappingResult, role: int) -> Any:
        general: list[Issue] = [i for i in result.issues if i.field not in self._columns]
        if role == Qt.ItemDataRole.DisplayRole:
            if result.skipped:
                return f"skipped: {result.skip_reason}"
            errors = sum(1 for i in result.issues if i.severity == "error")
            warnings = len(result.issues) - errors
            if not result.issues:
                return "ok"
            return ", ".join(
                part
                for part in (
                    f"{errors} error{'s' if errors != 1 else ''}" if errors else "",
                    f"{warnings} warning{'s' if warnings != 1 else ''}" if warnings else "",
                )
                if part
            )
        if role == IssuesRole:
            return general
        if role == Qt.ItemDataRole.ToolTipRole and result.issues:
            return "\n".join(
                f"{i.field + ': ' if i.field else ''}{i.message}" for i in result.issues
            )
        return self._issue_decoration(result.issues, role, skipped=result.skipped, tooltip=False)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
