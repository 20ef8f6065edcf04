"""The preview table: sample records in rows, the flow's target fields in columns.

Each cell shows what the flow makes of that record for that field. A cell whose value has a
validation issue gets a tinted background, an icon and the issue as its tooltip; record-level
problems (a skip, a missing required field, a flow that does not compile) go to the Status
column.

The flow is compiled once per change of the document (:func:`mappings.engine.plan.compile_flow`)
and applied per record when the row is first shown; display strings are made in
:meth:`data`. An edit only drops the cached rows, so it costs what the visible rows cost.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon
from PySide6.QtWidgets import QApplication, QStyle

from app.document.child_flow import relationship_title
from app.document.document import StudioDocument
from app.models.naming import field_api_hint, field_naming, field_title
from app.models.qtmodel import ROOT, Index
from mappings.document.model import Flow
from mappings.engine.deletion import Deletion, deletion_result
from mappings.engine.plan import FlowPlan, compile_flow, relationship_name
from mappings.engine.result import Issue, MappingResult
from mappings.errors import MappingError
from mappings.schema.model import ObjectSchema
from mappings.schema.stripe_events import split_event

RECORD_COLUMN = 0
STATUS_COLUMN = 1
FIRST_FIELD_COLUMN = 2

# Soft tints that keep black text readable in the light and the dark theme alike.
ERROR_BACKGROUND = QColor(255, 205, 210)
WARNING_BACKGROUND = QColor(255, 236, 179)
SKIPPED_BACKGROUND = QColor(224, 224, 224)
ISSUE_FOREGROUND = QColor(33, 33, 33)

# Item-data roles beyond Qt's, for the panel and tests.
IssuesRole = Qt.ItemDataRole.UserRole + 1  # list[Issue] of the cell
ValueRole = Qt.ItemDataRole.UserRole + 2  # the raw transformed value


class IssueCells:
    """How a cell with issues looks (tint, icon, tooltip): the preview's records and their
    children alike."""

    _icons: dict[str, QIcon]

    def _issue_decoration(
        self, issues: list[Issue], role: int, *, skipped: bool, tooltip: bool = True
    ) -> Any:
        if not issues or skipped:
            return None
        worst = "error" if any(i.severity == "error" for i in issues) else "warning"
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(ERROR_BACKGROUND if worst == "error" else WARNING_BACKGROUND)
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(ISSUE_FOREGROUND)
        if role == Qt.ItemDataRole.ToolTipRole and tooltip:
            return "\n".join(i.message for i in issues)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icon(worst)
        return None

    def _icon(self, severity: str) -> QIcon:
        icon = self._icons.get(severity)
        if icon is None:
            style = QApplication.style() if QApplication.instance() is not None else None
            pixmap = (
                QStyle.StandardPixmap.SP_MessageBoxCritical
                if severity == "error"
                else QStyle.StandardPixmap.SP_MessageBoxWarning
            )
            icon = style.standardIcon(pixmap) if style is not None else QIcon()
            self._icons[severity] = icon
        return icon



def lookup_words(
    document: StudioDocument,
    schema: ObjectSchema | None,
    target_field: str,
    value: dict[str, Any],
) -> str:
    """``Account whose Stripe Customer ID is cus_123`` for a lookup's
    ``{"StripeCustomerID__c": "cus_123"}`` (``schema``: the object the lookup field is on)."""
    fs = schema.find(target_field) if schema is not None else None
    related = fs.reference_to[0] if fs is not None and fs.reference_to else "record"
    related_schema = document.schema_of(schema.system, related) if schema is not None else None
    parts = []
    for key, match in value.items():
        if key == "attributes":
            continue
        found = related_schema.find(key) if related_schema is not None else None
        parts.append(f"{field_title(found, key, show_api_names=False)} is {_display(match)}")
    return f"{related} whose " + " and ".join(parts) if parts else related


def relationship_words(document: StudioDocument, flow: str | None, relationship: str) -> str:
    """A child relationship of ``flow`` as users know it (Order Products), else its name."""
    found = document.find_flow(flow)
    child = found.child(relationship) if found is not None else None
    if found is None or child is None:
        return relationship
    return relationship_title(document.schema_of(found.target.system, child.target), relationship)


@dataclass
class RowResult:
    """One sample after the flow: its result and its issues sorted by column."""

    result: MappingResult
    by_field: dict[str, list[Issue]] = field(default_factory=dict)
    general: list[Issue] = field(default_factory=list)  # issues no column holds
    # A deletion sample (invoice.voided, customer.deleted...): what the flow's on_delete does,
    # shown instead of a mapping the runner would never write.
    deletion: Deletion | None = None


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, separators=(", ", ": "))
    return str(value)


def _get_path(record: dict[str, Any], path: str) -> Any:
    if path in record:
        return record[path]
    value: Any = record
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def source_record(sample: dict[str, Any]) -> dict[str, Any]:
    """The object inside a Stripe event, else the sample itself (``split_event``'s rule)."""
    record, _envelope = split_event(sample)
    return record if isinstance(record, dict) else sample


def summarize(sample: dict[str, Any]) -> str:
    """``ch_123 · charge.succeeded`` / ``cus_1 · Jenny Rosen``: a row's name."""
    rec = source_record(sample)
    ident = rec.get("id") or rec.get("Id") or "(no id)"
    extra = sample.get("type") if sample.get("object") == "event" else None
    extra = extra or rec.get("name") or rec.get("Name") or rec.get("email") or rec.get("object")
    return f"{ident} · {extra}" if extra else str(ident)


# Fields that tell records of one object apart, in the order a person would name them.
_TELLING_FIELDS = (
    "status", "amount", "currency", "email", "name", "Name", "description", "reason",
    "billing_reason", "StageName", "Amount", "id", "Id",
)


def _kind_of(sample: dict[str, Any]) -> str:
    rec = source_record(sample)
    if sample.get("object") == "event" and sample.get("type"):
        return str(sample["type"])
    return str(rec.get("object") or rec.get("attributes", {}).get("type") or "record")


def _telling_value(key: str, value: Any) -> str:
    shown = _display(value)
    if len(shown) > 24:
        shown = shown[:23] + "…"
    return f"{key} {shown}" if key in ("amount", "Amount") else shown


def row_labels(samples: Sequence[dict[str, Any]]) -> list[str]:
    """A label per sample: its event type (or object) and the values that set it apart.

    Fixtures of one flow often share an id (``ch_1Pgaf…`` three times), so the label names
    the first fields whose values differ between the samples: ``charge.succeeded · succeeded
    · amount 1999 · usd``.
    """
    records = [source_record(s) for s in samples]
    telling = [
        key
        for key in _TELLING_FIELDS
        if len({_display(r.get(key)) for r in records}) > 1
        and all(not isinstance(r.get(key), dict | list) for r in records)
    ][:3]
    if not telling:
        telling = ["id"] if any(r.get("id") for r in records) else ["Id"]
    labels = []
    for sample, rec in zip(samples, records, strict=True):
        parts = [_kind_of(sample)]
        parts += [_telling_value(k, rec.get(k)) for k in telling if rec.get(k) not in (None, "")]
        labels.append(" · ".join(parts))
    return labels


class PreviewModel(IssueCells, QAbstractTableModel):
    """Samples x target fields of one flow of a :class:`StudioDocument`."""

    resultsChanged = Signal()
    planErrorChanged = Signal(str)  # "" when the flow compiles again

    def __init__(self, document: StudioDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self._flow_name: str | None = None
        self._samples: list[dict[str, Any]] = []
        self._rows: list[RowResult | None] = []  # None: not applied yet
        self._plan: FlowPlan | None = None
        self._column_set: frozenset[str] = frozenset()
        self._columns: list[str] = []
        self._relationships: dict[str, str] = {}  # lookup target -> relationship key
        self._plan_error = ""
        self._labels: list[str] = []
        self._icons: dict[str, QIcon] = {}
        field_naming().changed.connect(self._names_changed)
        document.mappingsChanged.connect(self._on_mappings_changed)
        document.valueMapsChanged.connect(lambda _name: self.recompute())
        document.catalogsChanged.connect(self.recompute)
        document.documentReplaced.connect(self._on_replaced)

    # -- what the panel sets ----------------------------------------------------------------
    @property
    def flow_name(self) -> str | None:
        return self._flow_name

    @property
    def samples(self) -> list[dict[str, Any]]:
        return self._samples

    @property
    def plan_error(self) -> str:
        return self._plan_error

    def set_flow(self, name: str | None, samples: Sequence[dict[str, Any]] = ()) -> None:
        self._flow_name = name or None
        self._samples = list(samples)
        self._labels = row_labels(self._samples)
        self.recompute()

    def set_samples(self, samples: Sequence[dict[str, Any]]) -> None:
        self._samples = list(samples)
        self._labels = row_labels(self._samples)
        self.recompute()

    def _names_changed(self, _show_api_names: bool) -> None:
        if self._columns:
            self.headerDataChanged.emit(
                Qt.Orientation.Horizontal, FIRST_FIELD_COLUMN, self.columnCount() - 1
            )

    def row_result(self, row: int) -> RowResult:
        return self._row(row)

    def sample(self, row: int) -> dict[str, Any]:
        return self._samples[row]

    def column_field(self, column: int) -> str | None:
        """The target field a column shows (None for the record and status columns)."""
        index = column - FIRST_FIELD_COLUMN
        return self._columns[index] if 0 <= index < len(self._columns) else None

    def column_of(self, target_field: str) -> int:
        return FIRST_FIELD_COLUMN + self._columns.index(target_field)

    # -- computing ----------------------------------------------------------------------
    def _on_mappings_changed(self, flow: str) -> None:
        if flow == self._flow_name:
            self.recompute()

    def _on_replaced(self) -> None:
        self._flow_name, self._samples, self._labels = None, [], []
        self.recompute()

    def _flow(self) -> Flow | None:
        return self._document.find_flow(self._flow_name)

    def recompute(self) -> None:
        """Compile the flow once; its rows are applied when first shown (see :meth:`_row`)."""
        flow = self._flow()
        columns: list[str] = flow.target_fields() if flow is not None else []
        error = ""
        relationships: dict[str, str] = {}
        plan: FlowPlan | None = None
        if flow is not None:
            schema = None
            try:
                schema = self._document.target_schema(flow.name)
                plan = compile_flow(
                    flow,
                    self._document.document_of(flow.name),
                    schema,
                    source_schema=self._document.source_schema(flow.name),
                    schemas=self._document.schema_of,
                )
            except MappingError as exc:
                error = f"flow {flow.name!r} cannot be applied: {exc}"
            if plan is not None:
                # A required field nothing fills gets a column too, so the record's error has
                # a cell to sit in (the plan decides what is required; the preview follows).
                for issue in plan.static_issues:
                    if issue.field and issue.field not in columns and (
                        schema is not None and schema.find(issue.field) is not None
                    ):
                        columns.append(issue.field)
            for lk in flow.lookups:
                fs = schema.find(lk.target) if schema is not None else None
                relationships[lk.target] = relationship_name(lk.target, fs)
        rows: list[RowResult | None] = [None] * (len(self._samples) if flow is not None else 0)
        error_changed = error != self._plan_error
        self._plan_error = error
        self._plan = plan
        self._column_set = frozenset(columns)
        same_shape = columns == self._columns and len(rows) == len(self._rows)
        if same_shape:
            self._rows, self._relationships = rows, relationships
            if rows:
                self.dataChanged.emit(
                    self.index(0, 0), self.index(len(rows) - 1, self.columnCount() - 1)
                )
        else:
            self.beginResetModel()
            self._rows, self._columns, self._relationships = rows, columns, relationships
            self.endResetModel()
        if error_changed:
            self.planErrorChanged.emit(error)
        self.resultsChanged.emit()

    def children_words(self, result: MappingResult) -> str:
        """"12 Order Products" for a result with children (every relationship, in order)."""
        return ", ".join(
            f"{len(items)} {self.relationship_title(rel)}" for rel, items in result.children.items()
        )

    def relationship_title(self, relationship: str) -> str:
        return relationship_words(self._document, self._flow_name, relationship)

    def _row(self, index: int) -> RowResult:
        """One sample through the compiled plan, on first use.

        A view asks only for the rows it shows, so a thousand samples cost what a screenful
        does until someone scrolls (a JSONata step costs about a millisecond per record).
        """
        row = self._rows[index]
        if row is None:
            if self._plan is None:
                issue = Issue("FLOW_ERROR", None, self._plan_error or "no flow")
                row = RowResult(MappingResult({}, [issue]))
            else:
                sample = self._samples[index]
                deleted = deletion_result(self._plan.flow, sample, self._plan)
                if deleted is not None:
                    row = RowResult(deleted[1], deletion=deleted[0])
                else:
                    row = RowResult(self._plan.apply(sample))
                result = row.result
                for issue in result.issues:
                    if issue.field is not None and issue.field in self._column_set:
                        row.by_field.setdefault(issue.field, []).append(issue)
                    else:
                        row.general.append(issue)
            self._rows[index] = row
        return row

    def compute_all(self) -> list[RowResult]:
        """Every row's result now (for summaries and benchmarks)."""
        return [self._row(i) for i in range(len(self._rows))]

    def value(self, row: int, target_field: str) -> Any:
        """The transformed value of one cell (a lookup shows its reference)."""
        record = self._row(row).result.record
        value = _get_path(record, target_field)
        if value is None and target_field in self._relationships:
            value = record.get(self._relationships[target_field])
        return value

    # -- Qt model overrides -------------------------------------------------------------
    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else FIRST_FIELD_COLUMN + len(self._columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Vertical:
            return str(section + 1) if role == Qt.ItemDataRole.DisplayRole else None
        if role == Qt.ItemDataRole.DisplayRole:
            if section == RECORD_COLUMN:
                return "Record"
            if section == STATUS_COLUMN:
                return "Status"
            name = self.column_field(section)
            schema = self._target_schema()
            fs = schema.find(name) if schema is not None and name else None
            title = field_title(fs, name or "", system=schema.system if schema else None)
            return title + (" *" if fs is not None and fs.required else "")
        if role == Qt.ItemDataRole.ToolTipRole and section >= FIRST_FIELD_COLUMN:
            name = self.column_field(section)
            schema = self._target_schema()
            fs = schema.find(name) if schema is not None and name else None
            if fs is not None and schema is not None:
                api = field_api_hint(fs, fs.path, system=schema.system)
                text = f"{fs.label or fs.path}" + (f" — {api}" if api else "")
                text += f" ({fs.kind.value}{', required' if fs.required else ''})"
                return f"{text}\n{fs.description}" if fs.description else text
            return name
        return None

    def _target_schema(self) -> ObjectSchema | None:
        if self._flow_name is None or self._document.find_flow(self._flow_name) is None:
            return None
        return self._document.target_schema(self._flow_name)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row = self._row(index.row())
        column = index.column()
        if column == RECORD_COLUMN:
            return self._record_data(index.row(), role)
        if column == STATUS_COLUMN:
            return self._status_data(row, role)
        name = self.column_field(column)
        if name is None:
            return None
        issues = row.by_field.get(name, [])
        if role == Qt.ItemDataRole.DisplayRole:
            if row.result.skipped:
                return "—"
            value = self.value(index.row(), name)
            if name in self._relationships and isinstance(value, dict):
                return self._lookup_words(name, value)
            return _display(value)
        if role == ValueRole:
            return self.value(index.row(), name)
        if role == IssuesRole:
            return list(issues)
        return self._issue_decoration(issues, role, skipped=row.result.skipped)

    def _lookup_words(self, target_field: str, value: dict[str, Any]) -> str:
        return lookup_words(self._document, self._target_schema(), target_field, value)

    def _record_data(self, row: int, role: int) -> Any:
        sample = self._samples[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._labels[row] if row < len(self._labels) else summarize(sample)
        if role == Qt.ItemDataRole.ToolTipRole:
            text = json.dumps(source_record(sample), indent=2, default=str)
            return text if len(text) < 3000 else text[:3000] + "\n…"
        return None

    def _status_data(self, row: RowResult, role: int) -> Any:
        result = row.result
        if role == Qt.ItemDataRole.DisplayRole:
            if self._plan_error:
                return self._plan_error
            if result.skipped:
                return f"skipped: {result.skip_reason}"
            if row.deletion is not None and result.ok:
                return row.deletion.summary()
            errors = sum(1 for i in result.issues if i.severity == "error")
            warnings = len(result.issues) - errors
            counts = self.children_words(result)
            if not errors and not warnings:
                return "ok" + (f" · {counts}" if counts else "")
            parts = [counts] if counts else []
            if errors:
                parts.append(f"{errors} error{'s' if errors > 1 else ''}")
            if warnings:
                parts.append(f"{warnings} warning{'s' if warnings > 1 else ''}")
            return ", ".join(parts)
        if role == IssuesRole:
            return list(row.general)
        if result.skipped:
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"Skipped: {result.skip_reason}"
            if role == Qt.ItemDataRole.BackgroundRole:
                return QBrush(SKIPPED_BACKGROUND)
            return None
        if role == Qt.ItemDataRole.ToolTipRole and result.issues:
            return "\n".join(f"{i.field + ': ' if i.field else ''}{i.message}"
                             for i in result.issues)
        # The status cell takes the colour of the record's worst issue, wherever it is.
        return self._issue_decoration(result.issues, role, skipped=False, tooltip=False)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
