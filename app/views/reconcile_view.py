"""Tools ▸ Reconcile payouts: Stripe payouts against the Payment__c rows in Salesforce.

The user picks a period (UTC days, both inclusive) and the two connections (the local
sandbox pair by default); the reconciliation runs off the UI thread through
:class:`app.services.reconcile.ReconcileService` while the view shows a busy state. The
report comes as tabs: the flagged lines with their reasons first (what a person acts on),
then the totals per currency and per Account, and the payout checks. Export writes the
runner's self-contained HTML report.

The view reads the report by attribute only (``lines``, ``by_currency``, ``by_account``,
``payouts``), so it needs no import of the runner.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import asyncloop, theme
from app.services.connections import LOCAL_SANDBOX
from app.services.reconcile import (
    ReconcileRequest,
    ReconcileServiceError,
    problem_statuses,
    status_label,
    statuses,
)

Index = QModelIndex | QPersistentModelIndex
DEFAULT_DAYS = 30
RUN_TIMEOUT = 120.0  # seconds the view waits; each network call has its own socket timeout


class RowsModel(QAbstractTableModel):
    """A read-only table of strings; ``flags`` per row colour its first column."""

    def __init__(self, headers: Sequence[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.headers = list(headers)
        self.rows: list[list[str]] = []
        self.tooltips: list[str] = []
        self.bad: list[bool] = []
        self.numeric_from = len(self.headers)

    def set_rows(self, rows: Sequence[Sequence[Any]], *, tooltips: Sequence[str] = (),
                 bad: Sequence[bool] = (), numeric_from: int | None = None) -> None:
        self.beginResetModel()
        self.rows = [["" if c is None else str(c) for c in row] for row in rows]
        self.tooltips = list(tooltips) or [""] * len(self.rows)
        self.bad = list(bad) or [False] * len(self.rows)
        if numeric_from is not None:
            self.numeric_from = numeric_from
        self.endResetModel()

    # Qt model overrides
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt default
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.headers)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal
                and 0 <= section < len(self.headers)):
            return self.headers[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self.rows)):
            return None
        row, column = index.row(), index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self.rows[row][column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltips[row] or self.rows[row][column] or None
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= self.numeric_from:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and column == 0:
            if self.bad[row]:
                return QColor(theme.colours().bad_text)
            return None
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _pydate(day: QDate) -> date:
    return date(day.year(), day.month(), day.day())


class ReconcileView(QWidget):
    """Period and connections on top, the report below; ``service`` is a ReconcileService
    (or anything with ``run(request)`` and ``export_html(report, path)``)."""

    errorRaised = Signal(str, str)  # summary, details: the main window's errors panel
    finished = Signal(object)  # the report
    connectionsChanged = Signal(str, str)  # stripe, salesforce names chosen here

    def __init__(self, service: Any, store: Any = None, parent: QWidget | None = None,
                 *, today: date | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reconcileView")
        self.service = service
        self.store = store
        self.report: Any = None
        self.request: ReconcileRequest | None = None
        self._pending: Any = None
        self.save_path = self._ask_save_path  # replaced in tests

        today = today or date.today()
        self.first_edit = QDateEdit(_qdate(today - timedelta(days=DEFAULT_DAYS)))
        self.last_edit = QDateEdit(_qdate(today))
        for edit in (self.first_edit, self.last_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.first_edit.setToolTip("First day of the period (UTC)")
        self.last_edit.setToolTip("Last day of the period, inclusive (UTC)")
        self.stripe_combo = QComboBox()
        self.stripe_combo.setToolTip("The Stripe account whose payouts to reconcile")
        self.salesforce_combo = QComboBox()
        self.salesforce_combo.setToolTip("The Salesforce org holding the Payment__c records")
        self.run_button = QPushButton("Reconcile")
        self.run_button.setDefault(True)
        self.run_button.setToolTip("Match the period's payouts and balance transactions "
                                   "against Salesforce (reads only)")
        self.export_button = QPushButton("Export HTML…")
        self.export_button.setToolTip("Save the report as a self-contained HTML page")
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setFixedWidth(90)
        self.busy_bar.hide()
        self.status_label = QLabel("Choose a period and press Reconcile.")
        self.status_label.setObjectName("reconcileStatus")
        self.status_label.setWordWrap(True)
        self.summary_label = QLabel()
        self.summary_label.setObjectName("muted")

        # One row, like the preview and test-run bars: the report keeps the height.
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Period"))
        bar.addWidget(self.first_edit)
        bar.addWidget(QLabel("to"))
        bar.addWidget(self.last_edit)
        bar.addSpacing(12)
        bar.addWidget(QLabel("Stripe"))
        bar.addWidget(self.stripe_combo, 1)
        bar.addWidget(QLabel("Salesforce"))
        bar.addWidget(self.salesforce_combo, 1)
        bar.addWidget(self.run_button)
        bar.addWidget(self.busy_bar)
        bar.addWidget(self.export_button)
        status = QHBoxLayout()
        status.addWidget(self.status_label, 1)
        status.addWidget(self.summary_label)

        self.flagged = RowsModel(["status", "currency", "account", "Stripe id", "reason"], self)
        self.currencies = RowsModel(["currency"], self)
        self.accounts = RowsModel(["account", "currency"], self)
        self.payouts = RowsModel(["payout", "currency", "amount", "net of transactions",
                                  "difference", "transactions", "Payout__c", "check"], self)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tables: dict[str, QTableView] = {}
        for key, title, model in (("flagged", "Flagged", self.flagged),
                                  ("currency", "Per currency", self.currencies),
                                  ("account", "Per Account", self.accounts),
                                  ("payouts", "Payouts", self.payouts)):
            table = QTableView()
            table.setModel(model)
            table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
            table.setAlternatingRowColors(True)
            table.setWordWrap(False)
            table.verticalHeader().hide()
            table.verticalHeader().setDefaultSectionSize(22)
            table.horizontalHeader().setStretchLastSection(True)
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
            self.tables[key] = table
            self.tabs.addTab(table, title)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addLayout(status)
        layout.addWidget(self.tabs, 1)

        self.fill_connections()
        if store is not None and hasattr(store, "subscribe"):
            unsubscribe = store.subscribe(self.fill_connections)
            self.destroyed.connect(lambda *_: unsubscribe())
        self.run_button.clicked.connect(lambda: self.start())
        self.export_button.clicked.connect(lambda: self.export())
        for combo in (self.stripe_combo, self.salesforce_combo):
            combo.activated.connect(lambda _i: self.connectionsChanged.emit(*self.connections()))
        self._update_controls()

    # -- connections ----------------------------------------------------------------------
    def fill_connections(self) -> None:
        for combo, system in ((self.stripe_combo, "stripe"),
                              (self.salesforce_combo, "salesforce")):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            conns: list[Any] = []
            if self.store is not None:
                conns = (self.store.stripe_connections() if system == "stripe"
                         else self.store.salesforce_connections())
            for name, conn in [(c.name, c) for c in conns] or [(LOCAL_SANDBOX, None)]:
                builtin = conn is None or getattr(conn, "builtin", False)
                combo.addItem(name if builtin else f"{name} [{conn.badge}]", name)
            index = combo.findData(current) if current else 0
            combo.setCurrentIndex(max(index, 0))
            combo.blockSignals(False)

    def connections(self) -> tuple[str, str]:
        return (self.stripe_combo.currentData() or LOCAL_SANDBOX,
                self.salesforce_combo.currentData() or LOCAL_SANDBOX)

    def set_connections(self, stripe: str | None, salesforce: str | None) -> None:
        """Preselect (the window's current connections); unknown names are ignored."""
        for combo, name in ((self.stripe_combo, stripe), (self.salesforce_combo, salesforce)):
            index = combo.findData(name) if name else -1
            if index >= 0:
                combo.setCurrentIndex(index)

    def set_period(self, first: date, last: date) -> None:
        self.first_edit.setDate(_qdate(first))
        self.last_edit.setDate(_qdate(last))

    # -- running --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._pending is not None

    def current_request(self) -> ReconcileRequest:
        stripe, salesforce = self.connections()
        first, last = _pydate(self.first_edit.date()), _pydate(self.last_edit.date())
        request = ReconcileRequest(first, last, stripe, salesforce)
        request.period  # noqa: B018 - raises ReconcileServiceError for a bad period
        return request

    def start(self) -> bool:
        """Reconcile in the background; False (with the reason shown) if it cannot start."""
        if self.running:
            return False
        try:
            request = self.current_request()
        except ReconcileServiceError as exc:
            self._set_status(str(exc), error=True)
            return False
        self.request = request
        self._set_status(f"Reconciling {request.describe()}…")
        self._pending = True  # before submit: a call that finishes at once clears it
        call = asyncloop.submit(
            self.service.run, request,
            on_done=self._done, on_error=self._failed, what="reconciling payouts",
        )
        if self._pending is not None:
            self._pending = call
        self._update_controls()
        return True

    def _done(self, report: Any) -> None:
        self._pending = None
        self.show_report(report)
        self._update_controls()
        self.finished.emit(report)

    def _failed(self, exc: BaseException) -> None:
        self._pending = None
        summary = f"Reconciliation failed: {exc}"
        self._set_status(summary, error=True)
        self._update_controls()
        self.errorRaised.emit(summary, "".join(traceback.format_exception(exc)))

    def _update_controls(self) -> None:
        running = self.running
        self.busy_bar.setVisible(running)
        self.run_button.setEnabled(not running)
        for widget in (self.first_edit, self.last_edit, self.stripe_combo,
                       self.salesforce_combo):
            widget.setEnabled(not running)
        self.export_button.setEnabled(not running and self.report is not None)

    def _set_status(self, text: str, *, error: bool = False, ok: bool = False) -> None:
        self.status_label.setText(text)
        colour = theme.colours().bad_text if error else (theme.colours().ok_text if ok else "")
        self.status_label.setStyleSheet(f"color: {colour}; font-weight: 600" if colour else "")

    # -- the report -----------------------------------------------------------------------
    def show_report(self, report: Any) -> None:
        self.report = report
        problems = set(problem_statuses())
        lines = list(report.lines)
        flagged = [line for line in lines if line.status in problems]
        bad_payouts = [p for p in report.payouts if not p.ok]
        if report.ok:
            self._set_status(f"Everything reconciles: {len(lines)} balance transaction"
                             f"{'s' if len(lines) != 1 else ''} checked.", ok=True)
        else:
            parts = []
            if flagged:
                parts.append(f"{len(flagged)} flagged line{'s' if len(flagged) != 1 else ''}")
            if bad_payouts:
                n = len(bad_payouts)
                parts.append(f"{n} payout check{'s' if n != 1 else ''} failing")
            self._set_status("Problems found: " + ", ".join(parts) + ".", error=True)
        counts = {s: sum(1 for line in lines if line.status == s) for s in statuses()}
        self.summary_label.setText(" · ".join(f"{status_label(s)}: {n}"
                                              for s, n in counts.items()))

        self.flagged.set_rows(
            [[status_label(line.status), line.currency, line.account, line.stripe_id or
              line.sf_id or "-", line.reason] for line in flagged],
            tooltips=[line.reason for line in flagged], bad=[True] * len(flagged))
        total_headers = [status_label(s) for s in statuses()] + ["gross", "fees", "net"]
        self.currencies.headers = ["currency", *total_headers]
        self.currencies.set_rows(
            [[c, *self._totals(t)] for c, t in sorted(report.by_currency.items())],
            bad=[self._has_problems(t) for _c, t in sorted(report.by_currency.items())],
            numeric_from=1)
        self.accounts.headers = ["account", "currency", *total_headers]
        accounts = sorted(report.by_account.items())
        self.accounts.set_rows([[a, c, *self._totals(t)] for (a, c), t in accounts],
                               bad=[self._has_problems(t) for _k, t in accounts],
                               numeric_from=2)
        self.payouts.set_rows(
            [[p.payout, p.currency, p.amount, p.bt_net_total, p.difference, p.transactions,
              p.sf_id or "-", "ok" if p.ok else "; ".join(p.problems)] for p in report.payouts],
            tooltips=["; ".join(p.problems) for p in report.payouts],
            bad=[not p.ok for p in report.payouts], numeric_from=2)
        self.tabs.setTabText(0, f"Flagged ({len(flagged)})")
        self.tabs.setTabText(3, f"Payouts ({len(report.payouts)})")
        for key, table in self.tables.items():
            table.resizeColumnsToContents()
            header = table.horizontalHeader()
            for column in range(table.model().columnCount()):
                if header.sectionSize(column) > 320:
                    header.resizeSection(column, 320)
            if key == "flagged":
                header.setStretchLastSection(True)
        self.tabs.setCurrentIndex(0 if flagged or not lines else 1)

    @staticmethod
    def _totals(t: Any) -> list[str]:
        return [*(str(t.counts.get(s, 0)) for s in statuses()), str(t.gross), str(t.fees),
                str(t.net)]

    @staticmethod
    def _has_problems(t: Any) -> bool:
        return any(t.counts.get(s, 0) for s in problem_statuses())

    # -- export ---------------------------------------------------------------------------
    def _ask_save_path(self) -> Path | None:
        default = "reconciliation.html"
        if self.request is not None:
            default = f"reconciliation-{self.request.first}-{self.request.last}.html"
        path, _ = QFileDialog.getSaveFileName(self, "Export the reconciliation report",
                                              str(Path.home() / default), "HTML (*.html)")
        return Path(path) if path else None

    def export(self, path: Path | str | None = None) -> Path | None:
        """Write the shown report as HTML (asks where without ``path``); None if not."""
        if self.report is None:
            self._set_status("Reconcile first: there is no report to export.", error=True)
            return None
        target = Path(path) if path is not None else self.save_path()
        if target is None:
            return None
        if target.suffix.lower() not in (".html", ".htm"):
            target = target.with_name(target.name + ".html")
        try:
            written = self.service.export_html(self.report, target)
        except ReconcileServiceError as exc:
            self._set_status(str(exc), error=True)
            self.errorRaised.emit(str(exc), "")
            return None
        self._set_status(f"Report written to {written}", ok=True)
        return Path(written)
