"""The test-run panel: a dry run or a real run of the current flow against a Salesforce org.

The samples are the preview's (published through the services), else the flow's fixtures.
Runs go to the thread pool (``app.asyncloop.submit``): the panel shows a progress bar and
disables its buttons while one runs, and the UI never waits. Per-record results fill a
table (record, action, Salesforce Id, message); a run that fails as a whole goes to
:attr:`errorRaised`, for the main window's errors panel.
"""

from __future__ import annotations

import traceback
from functools import partial
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app import asyncloop
from app.document.child_flow import parent_name
from app.document.document import StudioDocument
from app.models.naming import title_in
from app.models.preview_model import summarize
from app.models.qtmodel import ROOT, Index
from app.services import LOCAL_SANDBOX, RecordResult, RunReport, Services
from app.views.children_view import ChildrenView
from mappings.engine.result import MappingResult
from mappings.schema.model import ObjectSchema

FAIL_BACKGROUND = QColor(255, 205, 210)
SKIP_FOREGROUND = QColor(117, 117, 117)
COLUMNS = ("Record", "Action", "Salesforce Id", "Written values", "Message")
MESSAGE_COLUMN = 4


def written_values(record: dict[str, Any], schema: ObjectSchema | None) -> str:
    """What a record carries, as the user reads it: ``Amount = 19.99 · Status = Completed``
    (labels for Salesforce fields; a lookup by its external id)."""
    parts = []
    for name, value in record.items():
        if isinstance(value, dict) and len(value) == 1:
            (key, inner), = value.items()
            value = f"{inner} (by {title_in(schema, key) if schema else key})"
        elif value is None:
            continue
        parts.append(f"{title_in(schema, name)} = {value}")
    return " · ".join(parts)


class RunResultsModel(QAbstractTableModel):
    """One row per sample of the last run."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._results: list[RecordResult] = []
        self._names: list[str] = []
        self._values: list[str] = []

    def set_report(
        self,
        report: RunReport | None,
        samples: list[dict[str, Any]],
        schema: ObjectSchema | None = None,
    ) -> None:
        self.beginResetModel()
        self._results = list(report.results) if report else []
        self._values = [written_values(r.record, schema) for r in self._results]
        self._names = [
            summarize(samples[r.index]) if r.index < len(samples) else (r.source_id or "")
            for r in self._results
        ]
        self.endResetModel()

    def result(self, row: int) -> RecordResult:
        return self._results[row]

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._results)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section] if 0 <= section < len(COLUMNS) else None
        return str(section + 1)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._results):
            return None
        r = self._results[index.row()]
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            values = (self._names[index.row()], r.action, r.salesforce_id or "",
                      self._values[index.row()], r.message)
            text = values[column] if 0 <= column < len(values) else None
            if role == Qt.ItemDataRole.ToolTipRole and column == 3:
                text = text.replace(" · ", "\n") if text else text
            if role == Qt.ItemDataRole.ToolTipRole and column == MESSAGE_COLUMN and r.issues:
                text = "\n".join([r.message, *(str(i) for i in r.issues)])
            return text
        if role == Qt.ItemDataRole.BackgroundRole and r.outcome == "fail":
            return QBrush(FAIL_BACKGROUND)
        if role == Qt.ItemDataRole.ForegroundRole and r.outcome == "skip":
            return QBrush(SKIP_FOREGROUND)
        if role == Qt.ItemDataRole.ForegroundRole and r.outcome == "fail":
            return QBrush(QColor(33, 33, 33))  # readable on the tint in both themes
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


class TestRunPanel(QWidget):
    """Dry run / Run against sandbox for the document's current flow."""

    __test__ = False  # not a pytest class
    # Asked before a real run writes, with what it is (the window asks when the current
    # environment is protected); None: nothing to ask.
    confirm_write: Any = None

    errorRaised = Signal(str, str)  # summary, details
    runFinished = Signal(object)  # RunReport
    connectionChosen = Signal(str, str)  # "salesforce", connection name: the status bar badge

    def __init__(
        self, document: StudioDocument, services: Services, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("testRunPanel")
        self._document = document
        self._services = services
        self._pending: Any = None
        self._samples: list[dict[str, Any]] = []
        self.report: RunReport | None = None

        self.org_combo = QComboBox()
        self.org_combo.setToolTip("The Salesforce org to test against")
        self.dry_button = QPushButton("Dry run")
        self.dry_button.setToolTip(
            "Map the samples and look them up in the org: what would be created, updated or "
            "refused. Writes nothing."
        )
        self.run_button = QPushButton("Run against sandbox")
        self.run_button.setToolTip(
            "Write the samples to the org (the local sandbox or a Salesforce sandbox only)"
        )
        self.delete_button = QPushButton("Delete test records")
        self.delete_button.setToolTip(
            "Remove from the org the records this test run created (updated records stay)"
        )
        self.delete_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.samples_label = QLabel()
        self.summary_label = QLabel()
        self.summary_label.setObjectName("testRunSummary")

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Org:"))
        bar.addWidget(self.org_combo, 1)
        bar.addWidget(self.dry_button)
        bar.addWidget(self.run_button)
        bar.addWidget(self.delete_button)
        bar.addWidget(self.progress, 1)

        self.model = RunResultsModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate((200, 100, 150, 320)):
            header.resizeSection(column, width)
        self.table.verticalHeader().setDefaultSectionSize(22)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.samples_label)
        layout.addWidget(self.table, 1)
        # The selected record's children, written (or that would be) with it.
        self.children_view = ChildrenView(document, self)
        layout.addWidget(self.children_view, 1)
        layout.addWidget(self.summary_label)

        self._fill_orgs()
        # Plain-Python subscriptions end with the widget, or they would call a dead one.
        unsubscribe = (services.store.subscribe(self._fill_orgs),
                       services.subscribe_samples(self._on_samples))
        self.destroyed.connect(lambda *_: [u() for u in unsubscribe])
        self.dry_button.clicked.connect(lambda: self.start(dry=True))
        self.run_button.clicked.connect(lambda: self.start(dry=False))
        self.delete_button.clicked.connect(self.delete_created)
        self.org_combo.currentIndexChanged.connect(self._update_controls)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._show_children())
        self.org_combo.activated.connect(
            lambda _i: self.connectionChosen.emit("salesforce", self.connection()))
        document.currentFlowChanged.connect(self._on_current_flow)
        document.fixturesChanged.connect(lambda _flow: self._update_samples_label())
        self._on_current_flow(document.current_flow or "")

    # -- state ----------------------------------------------------------------------------
    def _fill_orgs(self) -> None:
        current = self.org_combo.currentData()
        self.org_combo.blockSignals(True)
        self.org_combo.clear()
        for conn in self._services.store.salesforce_connections():
            label = ("Local sandbox (Salesforce emulator)" if conn.builtin
                     else f"{conn.name} [{conn.badge}]")
            self.org_combo.addItem(label, conn.name)
        index = self.org_combo.findData(current) if current else 0
        self.org_combo.setCurrentIndex(max(index, 0))
        self.org_combo.blockSignals(False)
        self._update_controls()

    def connection(self) -> str:
        return self.org_combo.currentData() or LOCAL_SANDBOX

    def set_connection(self, name: str) -> None:
        index = self.org_combo.findData(name)
        if index < 0:
            raise ValueError(f"there is no Salesforce connection named {name!r}")
        self.org_combo.setCurrentIndex(index)
        self.connectionChosen.emit("salesforce", name)

    @property
    def running(self) -> bool:
        """True from the start of a run until its results are shown."""
        return self._pending is not None

    def samples(self) -> list[dict[str, Any]]:
        flow = self._document.find_flow(self._document.current_parent_flow)
        return self._services.samples_for(flow) if flow is not None else []

    def _on_samples(self, flow: str, _samples: list[dict[str, Any]]) -> None:
        if flow == self._document.current_parent_flow:
            self._update_samples_label()

    def _on_current_flow(self, name: str) -> None:
        if self.report is not None and parent_name(name) == self.report.flow:
            return  # one of the flow's children was opened or closed: the report stands
        self.model.set_report(None, [])
        self.report = None
        self.summary_label.clear()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self._update_samples_label()
        self._update_controls()

    def _update_samples_label(self) -> None:
        flow = self._document.find_flow(self._document.current_parent_flow)
        if flow is None:
            self.samples_label.setText("No flow selected")
        else:
            n = len(self.samples())
            self.samples_label.setText(
                f"{n} sample record{'s' if n != 1 else ''} of {flow.name} (from the preview)"
            )
        self._update_controls()

    def _update_controls(self, *_args: Any) -> None:
        flow = self._document.find_flow(self._document.current_parent_flow)
        idle = not self.running and flow is not None
        self.dry_button.setEnabled(idle)
        writable = False
        try:
            conn = self._services.store.get("salesforce", self.connection())
            writable = bool(getattr(conn, "is_sandbox_org", False))
        except Exception:  # no such connection (the list is being refilled)
            writable = False
        self.run_button.setEnabled(idle and writable)
        self.delete_button.setEnabled(not self.running and bool(self.created_ids()))
        self.run_button.setToolTip(
            "Write the samples to this sandbox" if writable
            else "Real runs write records: only the local sandbox or a Salesforce sandbox"
        )

    # -- running --------------------------------------------------------------------------
    def start(self, *, dry: bool) -> bool:
        """Start a run in the background; False (and a status) if it cannot start now."""
        if self.running:
            return False
        name = self._document.current_parent_flow  # a child is run with its flow
        flow = self._document.find_flow(name)
        if flow is None:
            self.summary_label.setText("Choose a flow first")
            return False
        samples = self.samples()
        if not samples:
            self.summary_label.setText(
                "No sample records: load some in the preview or add fixtures to the flow"
            )
            return False
        if not dry and self.confirm_write is not None and \
                not self.confirm_write(f"a real test run of {flow.name}"):
            self.summary_label.setText("Not run: you chose not to write there")
            return False
        run = self._services.dry_run if dry else self._services.real_run
        what = "dry run" if dry else "test run"
        connection = self.connection()
        self._samples = list(samples)
        self.model.set_report(None, [])
        self.progress.setRange(0, 0)  # busy until the first progress report
        self.summary_label.setText(f"{what.capitalize()} of {flow.name} against {connection}…")
        # A call that finishes at once runs its callback inside submit(): mark busy first,
        # and keep the handle only if the callback has not already cleared it.
        self._pending = True
        call = asyncloop.submit(
            partial(run, flow, self._document.document_of(flow.name),
                    self._document.target_schema(flow.name), self._samples,
                    connection=connection, progress=self._progress_relay(),
                    source_schema=self._document.source_schema(flow.name),
                    schemas=self._document.schema_of),
            on_done=self._finished,
            on_error=lambda exc: self._failed(what, exc),
            what=f"{what} of {flow.name}",
        )
        if self._pending is not None:
            self._pending = call
        self._update_controls()
        return True

    def _progress_relay(self):  # noqa: ANN202 - a thread-safe callback
        relay = _ProgressRelay(self)
        relay.progressed.connect(self._on_progress)

        def report(done: int, total: int) -> None:
            relay.progressed.emit(done, total)  # queued: arrives on the UI thread

        report.relay = relay  # type: ignore[attr-defined]  # keep it alive with the call
        return report

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, max(total, 1)))

    def _finished(self, report: RunReport) -> None:
        self._pending = None
        self.report = report
        flow = self._document.find_flow(report.flow)
        schema = self._document.target_schema(flow.name) if flow is not None else None
        self.model.set_report(report, self._samples, schema)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        kind = "Dry run" if report.dry else "Test run"
        self.summary_label.setText(f"{kind} of {report.flow}: {report.summary}")
        self._update_controls()
        if report.results:
            self.table.selectRow(0)
        self._show_children()
        self.runFinished.emit(report)

    def _show_children(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        result = self.model.result(rows[0].row()) if rows and self.report else None
        self.children_view.show_children(
            self.report.flow if self.report else None,
            result.source_id if result is not None else None,
            {
                rel: [MappingResult(record) for record in records]
                for rel, records in (result.children if result is not None else {}).items()
            },
        )

    def created_ids(self) -> list[str]:
        """The Salesforce ids the last real run created (what Delete test records removes)."""
        report = self.report
        if report is None or report.dry:
            return []
        return [r.salesforce_id for r in report.results
                if r.outcome == "create" and r.salesforce_id]

    def delete_created(self) -> bool:
        """Remove the records the last real run created, in the background."""
        ids = self.created_ids()
        if not ids or self.running:
            return False
        connection = self.connection()
        self._pending = True
        self.summary_label.setText(f"Deleting {len(ids)} test record(s) from {connection}…")
        call = asyncloop.submit(
            partial(self._services.delete_records, ids, connection=connection),
            on_done=self._deleted,
            on_error=lambda exc: self._failed("deletion of the test records", exc),
            what="deleting the test records",
        )
        if self._pending is not None:
            self._pending = call
        self._update_controls()
        return True

    def _deleted(self, outcome: tuple[int, list[str]]) -> None:
        self._pending = None
        deleted, failures = outcome
        self.report = None  # nothing left to delete
        text = f"Deleted {deleted} test record{'s' if deleted != 1 else ''}"
        if failures:
            text += f"; {len(failures)} not deleted: {failures[0]}"
        self.summary_label.setText(text)
        self._update_controls()

    def _failed(self, what: str, exc: BaseException) -> None:
        self._pending = None
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        summary = f"The {what} failed: {exc}"
        self.summary_label.setText(summary)
        self._update_controls()
        self.errorRaised.emit(summary, "".join(traceback.format_exception(exc)))


class _ProgressRelay(QObject):
    progressed = Signal(int, int)
