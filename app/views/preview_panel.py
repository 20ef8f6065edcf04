"""The preview panel: pick where samples come from, see what the current flow makes of them.

A source picker (the flow's fixtures, the local sandbox, each connected Stripe account, a
JSON file), Refresh, the preview table (:class:`~app.models.preview_model.PreviewModel`), a
detail pane with the selected record's source JSON and target JSON with its issues, and
"Pin as fixture", which adds the selected record and its current output to the flow's
fixtures through an undoable document command.

Samples from an account load on the thread pool (``app.asyncloop.submit``); the panel shows
"Loading…" and disables Refresh meanwhile, and a failure goes to :attr:`errorRaised`.
"""

from __future__ import annotations

import copy
import json
import traceback
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import asyncloop, theme
from app.document.child_flow import parent_name
from app.document.document import StudioDocument
from app.models.naming import title_in
from app.models.preview_model import PreviewModel, source_record
from app.services import (
    LOCAL_SANDBOX,
    SOURCE_FILE,
    SOURCE_FIXTURES,
    SOURCE_STRIPE,
    Services,
)
from app.services.samples import DEFAULT_LIMIT, MAX_LIMIT
from app.views.children_view import ChildrenView
from mappings.document.model import Fixture
from mappings.engine.result import json_safe


def _fitted_width(content: int) -> int:
    """A preview column's width for content this wide: room to breathe, long text elided."""
    return max(80, min(content + 8, 260))


def _monospace() -> Any:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


class PreviewPanel(QWidget):
    """Preview of the document's current flow over sample records."""

    errorRaised = Signal(str, str)  # summary, details: the main window's errors panel
    samplesLoaded = Signal(str, int)  # flow name, number of samples
    connectionChosen = Signal(str, str)  # "stripe", connection name: the status bar badge

    def __init__(
        self, document: StudioDocument, services: Services, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("previewPanel")
        self._document = document
        self._services = services
        self._file: Path | None = None
        self._pending: Any = None  # the running background load, if any
        self.model = PreviewModel(document, self)

        self.source_combo = QComboBox()
        self.source_combo.setToolTip("Where the sample records come from")
        self.limit_spin = QSpinBox()
        self.limit_spin.setRange(1, MAX_LIMIT)
        self.limit_spin.setValue(DEFAULT_LIMIT)
        self.limit_spin.setToolTip("How many of the newest records to fetch")
        self.limit_spin.setSuffix(" newest")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Load the samples again")
        self.pin_button = QPushButton("Pin as fixture")
        self.pin_button.setToolTip(
            "Add the selected record and its current output to the flow's fixtures"
        )
        self.status_label = QLabel()
        self.status_label.setObjectName("previewStatus")

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Samples:"))
        bar.addWidget(self.source_combo, 1)
        bar.addWidget(self.limit_spin)
        bar.addWidget(self.refresh_button)
        bar.addStretch(0)
        bar.addWidget(self.pin_button)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setDefaultSectionSize(130)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setDefaultSectionSize(22)
        # Fit columns to the rows on screen only: rows are mapped when first shown.
        self.table.horizontalHeader().setResizeContentsPrecision(0)

        self.source_view = QPlainTextEdit(readOnly=True)
        self.source_view.setPlaceholderText("Select a record to see its source JSON")
        self.target_view = QPlainTextEdit(readOnly=True)
        self.target_view.setPlaceholderText("…and what the flow makes of it")
        for view in (self.source_view, self.target_view):
            view.setFont(_monospace())
            view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        detail = QSplitter(Qt.Orientation.Horizontal)
        detail.addWidget(self._titled("Source", self.source_view))
        detail.addWidget(self._titled("Target", self.target_view))
        self.json_detail = detail
        # The reason comes first, in words; the JSON is there on demand, not in front of it.
        self.reason_label = QLabel()
        self.reason_label.setObjectName("previewReason")
        self.reason_label.setWordWrap(True)
        self.reason_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.json_toggle = QToolButton()
        self.json_toggle.setText("Record JSON")
        self.json_toggle.setCheckable(True)
        self.json_toggle.setChecked(True)
        self.json_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.json_toggle.setAutoRaise(True)
        self.json_toggle.setToolTip("Show or hide the selected record's source and target JSON")
        self.json_toggle.toggled.connect(self._show_json)
        self._show_json(True)
        # The selected record's child records (an Order's Order Products), with their issues.
        self.children_view = ChildrenView(document, self)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.setSpacing(2)
        lower_layout.addWidget(self.reason_label)
        lower_layout.addWidget(self.json_toggle)
        lower_layout.addWidget(detail, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.children_view)
        splitter.addWidget(lower)
        # Children, when the flow has some, get the most room: a parent's dozen lines.
        self.children_view.setMinimumHeight(150)
        self.table.setMinimumHeight(90)  # three records stay in sight above the children
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 4)
        splitter.setStretchFactor(2, 2)
        self._kept_row: int | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status_label)

        self._fill_sources()
        # A plain-Python subscription ends with the widget, or it would call a dead one.
        unsubscribe = services.store.subscribe(self._fill_sources)
        self.destroyed.connect(lambda *_: unsubscribe())
        self.source_combo.activated.connect(self._on_source_activated)
        self.source_combo.currentIndexChanged.connect(self._update_controls)
        self.refresh_button.clicked.connect(self.refresh)
        self.pin_button.clicked.connect(self.pin_selected)
        self.table.selectionModel().selectionChanged.connect(self._show_detail)
        self.model.resultsChanged.connect(self._on_results)
        # An edit that adds or removes a column resets the model: the selected record stays.
        self.model.modelAboutToBeReset.connect(self._keep_selection)
        self.model.modelReset.connect(self._restore_selection)
        self.model.planErrorChanged.connect(self._on_plan_error)
        document.currentFlowChanged.connect(self._on_current_flow)
        self._update_controls()
        if document.current_flow:
            self._on_current_flow(document.current_flow)

    def _flow_name(self) -> str | None:
        """The flow previewed: the current one, also while one of its children is open."""
        return self._document.current_parent_flow

    @staticmethod
    def _titled(title: str, widget: QWidget) -> QWidget:
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        label = QLabel(title)
        label.setStyleSheet("font-weight: 600")
        lay.addWidget(label)
        lay.addWidget(widget)
        return box

    # -- sources --------------------------------------------------------------------------
    def _fill_sources(self) -> None:
        current = self.source_combo.currentData()
        self.source_combo.blockSignals(True)
        self.source_combo.clear()
        self.source_combo.addItem("Fixtures of the flow", SOURCE_FIXTURES)
        for conn in self._services.store.stripe_connections():
            label = ("Local sandbox (Stripe)" if conn.builtin
                     else f"Stripe: {conn.name} [{conn.badge}]")
            self.source_combo.addItem(label, f"{SOURCE_STRIPE}:{conn.name}")
        self.source_combo.addItem("JSON file…", SOURCE_FILE)
        index = self.source_combo.findData(current) if current is not None else 0
        self.source_combo.setCurrentIndex(max(index, 0))
        self.source_combo.blockSignals(False)
        self._update_controls()

    def source(self) -> tuple[str, str | None]:
        """``(kind, Stripe connection name or None)`` of the chosen sample source."""
        data = self.source_combo.currentData() or SOURCE_FIXTURES
        kind, _, connection = str(data).partition(":")
        return kind, connection or None

    def set_source(self, kind: str, connection: str | None = None) -> None:
        key = f"{kind}:{connection}" if connection else kind
        index = self.source_combo.findData(key)
        if index < 0:
            raise ValueError(f"no sample source {kind!r} {connection or ''}".rstrip())
        self.source_combo.setCurrentIndex(index)
        if kind == SOURCE_STRIPE and connection:
            self.connectionChosen.emit("stripe", connection)

    def _on_source_activated(self, _index: int) -> None:
        kind, conn = self.source()
        if kind == SOURCE_STRIPE and conn:
            self.connectionChosen.emit("stripe", conn)
        if kind == SOURCE_FILE:
            path, _ = QFileDialog.getOpenFileName(
                self, "Sample records", str(self._file or Path.home()), "JSON files (*.json)"
            )
            if not path:
                return
            self._file = Path(path)
        self.refresh()

    def _update_controls(self, *_args: Any) -> None:
        kind, _conn = self.source()
        loading = self.loading
        self.limit_spin.setEnabled(kind == SOURCE_STRIPE)
        self.refresh_button.setEnabled(not loading and self._flow_name() is not None)
        self.pin_button.setEnabled(
            not loading and bool(self.table.selectionModel().selectedRows())
        )

    # -- loading --------------------------------------------------------------------------
    def load_fixtures_of_current_flow(self) -> None:
        """Show the current flow's fixtures now (synchronous: used by ``--screenshot``)."""
        self.set_source(SOURCE_FIXTURES)
        self.refresh()

    def load_file(self, path: Path | str) -> None:
        """Preview the records of a JSON file (synchronous)."""
        self._file = Path(path)
        self.set_source(SOURCE_FILE)
        self.refresh()

    def refresh(self) -> None:
        """Load the samples from the chosen source; account sources load in the background."""
        name = self._flow_name()
        flow = self._document.find_flow(name)
        if flow is None:
            self.model.set_flow(None)
            self._set_status("No flow selected")
            return
        kind, connection = self.source()
        if kind != SOURCE_STRIPE:
            try:
                samples = self._services.load_samples(flow, kind, path=self._file)
            except Exception as exc:  # a bad file or source: shown, never raised into Qt
                self._fail(f"Cannot load samples: {exc}", exc)
                return
            where = "its fixtures"
            if kind == SOURCE_FILE and self._file is not None:
                where = self._file.name
                index = self.source_combo.findData(SOURCE_FILE)
                self.source_combo.setItemText(index, f"JSON file: {where}…")
            self._set_samples(flow.name, samples, where)
            return
        limit = self.limit_spin.value()
        where = self.source_combo.currentText()
        self._set_status(f"Loading the newest {limit} {flow.source.object} records from "
                         f"{where}…")
        # A call that finishes at once runs its callback inside submit(): mark busy first,
        # and keep the handle only if the callback has not already cleared it.
        self._pending = True
        call = asyncloop.submit(
            partial(self._services.load_samples, flow, kind,
                    connection=connection or LOCAL_SANDBOX, limit=limit),
            on_done=lambda samples: self._loaded(flow.name, samples, where),
            on_error=lambda exc: self._load_failed(where, exc),
            what=f"loading samples from {where}",
        )
        if self._pending is not None:
            self._pending = call
        self._update_controls()

    @property
    def loading(self) -> bool:
        """True from the start of a background load until its result is shown."""
        return self._pending is not None

    def _loaded(self, flow: str, samples: list[dict[str, Any]], where: str) -> None:
        self._pending = None
        if flow == self._flow_name():
            self._set_samples(flow, samples, where)
        self._update_controls()

    def _load_failed(self, where: str, exc: BaseException) -> None:
        self._pending = None
        self._fail(f"Cannot load samples from {where}: {exc}", exc)
        self._update_controls()

    def _fail(self, summary: str, exc: BaseException) -> None:
        self._set_status(summary, error=True)
        details = "".join(traceback.format_exception(exc))
        self.errorRaised.emit(summary, details)

    def _set_samples(self, flow: str, samples: list[dict[str, Any]], where: str) -> None:
        self.model.set_flow(flow, samples)
        self._services.publish_samples(flow, samples)
        noun = "record" if len(samples) == 1 else "records"
        self._set_status(f"{len(samples)} {noun} from {where}")
        self.samplesLoaded.emit(flow, len(samples))
        self._fit_columns()
        if samples:
            self.table.selectRow(0)

    def _fit_columns(self) -> None:
        """Columns as wide as their content, within reason (long text stays elided)."""
        header = self.table.horizontalHeader()
        self.table.resizeColumnsToContents()
        last = self.model.columnCount() - 1
        if last < 0:
            return
        # With the last section stretched, every resizeSection re-lays out the whole header:
        # a 250-field flow's 253 columns took 0.025 s. So the stretch is off while the others
        # are set. Turning it off puts back the last column's width from before the fit, so
        # that is kept first; the last is then fitted as before, stretched (issue 12).
        fitted_last = header.sectionSize(last)
        header.setStretchLastSection(False)
        for column in range(last):
            header.resizeSection(column, _fitted_width(header.sectionSize(column)))
        header.resizeSection(last, fitted_last)
        header.setStretchLastSection(True)
        header.resizeSection(last, _fitted_width(header.sectionSize(last)))

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.status_label.setText(text)
        theme.set_text_role(self.status_label, "error" if error else "")

    def _on_current_flow(self, name: str) -> None:
        name = parent_name(name) or ""
        if name and name == self.model.flow_name:
            return  # one of the flow's children was opened or closed: same records
        # A new flow: its fixtures at once (cheap); an account is fetched on Refresh only.
        if self.source()[0] == SOURCE_STRIPE:
            self.model.set_flow(name or None)
            self._set_status("Press Refresh to fetch samples for this flow")
        else:
            self.refresh()
        self._update_controls()

    def _on_plan_error(self, error: str) -> None:
        if error:
            self._set_status(error, error=True)

    def _on_results(self) -> None:
        self._show_detail()
        self._update_controls()

    def _keep_selection(self) -> None:
        self._kept_row = self.selected_row()

    def _restore_selection(self) -> None:
        row, self._kept_row = self._kept_row, None
        if row is not None and row < self.model.rowCount():
            self.table.selectRow(row)

    def _show_json(self, shown: bool) -> None:
        self.json_detail.setVisible(shown)
        self.json_toggle.setArrowType(
            Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        )

    # -- detail and pinning ---------------------------------------------------------------
    def selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def _show_detail(self, *_args: Any) -> None:
        row = self.selected_row()
        self._update_controls()
        if row is None or row >= self.model.rowCount():
            self.source_view.clear()
            self.target_view.clear()
            self.reason_label.clear()
            self._fill_children(None)
            return
        sample = self.model.sample(row)
        result = self.model.row_result(row).result
        self.source_view.setPlainText(
            json.dumps(source_record(sample), indent=2, default=str, ensure_ascii=False)
        )
        if result.skipped:
            text = f"Skipped: {result.skip_reason}"
        else:
            text = json.dumps(json_safe(result.record), indent=2, default=str, ensure_ascii=False)
        self.target_view.setPlainText(text)
        self.reason_label.setText(self._reason_text(result))
        self._fill_children(result)

    def _fill_children(self, result: Any) -> None:
        self.children_view.show_children(
            self.model.flow_name,
            result.source_id if result is not None else None,
            result.children if result is not None else {},
        )

    def _reason_text(self, result: Any) -> str:
        """What is wrong with the record, field by field in the user's names, or that it is fine."""
        if result.skipped:
            return f"Skipped: {result.skip_reason}"
        if not result.issues:
            return "✓ This record maps without problems."
        flow = self._document.find_flow(self.model.flow_name)
        schema = self._document.target_schema(flow.name) if flow is not None else None
        lines = []
        for issue in result.issues:
            mark = "✗" if issue.severity == "error" else "⚠"
            where = f"{title_in(schema, issue.field)}: " if issue.field else ""
            lines.append(f"{mark} {where}{issue.message}")
        return "\n".join(lines)

    def pin_selected(self) -> Fixture | None:
        """Add the selected record, with its current output as expected, as a fixture."""
        row = self.selected_row()
        flow_name = self.model.flow_name
        if row is None or flow_name is None:
            return None
        sample = self.model.sample(row)
        result = self.model.row_result(row).result
        flow = self._document.flow(flow_name)
        base = f"pinned {result.source_id or f'record {row + 1}'}"
        taken = {f.name for f in flow.fixtures}
        name, n = base, 2
        while name in taken:
            name, n = f"{base} ({n})", n + 1
        fixture = Fixture(
            name=name,
            input=copy.deepcopy(sample),
            expected=None if result.skipped else json_safe(result.record),
            expect_skip=result.skipped,
            expected_issues=sorted({i.code for i in result.issues if i.severity == "error"}),
        )
        try:
            self._document.add_fixture(flow_name, fixture)
        except Exception as exc:  # a refused edit: say why, keep going
            self._fail(f"Cannot pin the record as a fixture: {exc}", exc)
            return None
        self._set_status(f"Pinned {summary_name(name)} to {flow_name}'s fixtures (Undo removes it)")
        return fixture


def summary_name(name: str) -> str:
    return f"“{name}”"
