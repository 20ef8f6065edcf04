"""Operate: watch and fix the runners that sync with the exported mappings.

One tab of the main window. A runner is connected by its address and admin token (the token
is kept in the OS keyring). Four pages:

* **Dashboard**: live charts and each flow's health, with Pause / Resume;
* **Problems**: refused records grouped by cause, each with its explanation; *Open in
  mapping* jumps to the flow and field on the canvas, *Deploy and replay* exports the open
  workspace, deploys it to the runner and sends the group again;
* **Possible duplicates**: the incoming Stripe record beside the Salesforce records it may
  be, field by field; Approve (link) / Create new / Skip;
* **Activity**: the runner's audit log.

Everything that reaches a runner runs on the thread pool (``asyncloop.submit``) through
:class:`~app.services.operate.OperateService`, each call with the client's timeout.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import asyncloop
from app.document.document import StudioDocument
from app.services.operate import (
    AuditLine,
    FlowHealth,
    History,
    OperateService,
    ProblemGroup,
    ReviewCase,
    flow_health,
    normalise_url,
)
from app.views.export_dialog import export_bundle
from app.views.operate_charts import Charts

REFRESH_MS = 2000
RUNNERS_KEY = "operate/runners"  # the addresses connected to before (tokens: the keyring)
MAX_REMEMBERED = 10
SAME = QColor("#d9f2e0")  # a candidate's value agrees with the incoming record
DIFFERENT = QColor("#fde2cf")

# On the UI thread: take a copy of the open workspace; the returned call (run on the pool)
# exports it as a bundle and gives its bytes.
BuildBundle = Callable[[], Callable[[], bytes]]


def workspace_bundle(document: StudioDocument) -> Callable[[], bytes]:
    """The open workspace's bundle, built as File ▸ Export Bundle builds it (unsigned),
    from a copy so later edits cannot change it half-written."""
    documents = copy.deepcopy(document.documents)
    catalogs = dict(document.catalogs)

    def build() -> bytes:
        with tempfile.TemporaryDirectory(prefix="fieldbridge-deploy-") as folder:
            path = Path(folder) / "workspace.fbz"
            export_bundle(documents, path, catalogs=catalogs)
            return path.read_bytes()

    return build


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One refresh of a runner: what every page shows."""

    status: dict[str, Any]
    problems: list[ProblemGroup]
    reviews: list[ReviewCase]
    audit: list[AuditLine]


def _table(columns: list[str], parent: QWidget) -> QTableWidget:
    table = QTableWidget(0, len(columns), parent)
    table.setHorizontalHeaderLabels(columns)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().hide()
    table.horizontalHeader().setStretchLastSection(True)
    table.setWordWrap(False)
    return table


def _item(text: Any) -> QTableWidgetItem:
    return QTableWidgetItem("" if text is None else str(text))


class OperateView(QWidget):
    errorRaised = Signal(str, str)  # summary, details: the main window's errors panel
    openMapping = Signal(str, str)  # flow, target field
    refreshed = Signal()  # a snapshot is shown (tests wait on it)
    message = Signal(str)  # an action's outcome, for the status line

    def __init__(self, service: OperateService, build_bundle: BuildBundle | None = None,
                 parent: QWidget | None = None, *, settings: QSettings | None = None
                 ) -> None:
        super().__init__(parent)
        self.setObjectName("operateView")
        self.service = service
        self.build_bundle = build_bundle
        self.settings = settings
        self.histories: dict[str, History] = {}
        self.snapshot: Snapshot | None = None
        self.problems: list[ProblemGroup] = []
        self.cases: list[ReviewCase] = []
        self.flows: list[FlowHealth] = []
        self._refreshing: asyncloop.BackgroundCall | None = None
        self.last_call: asyncloop.BackgroundCall | None = None

        layout = QVBoxLayout(self)
        layout.addLayout(self._build_connect_bar())
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._build_dashboard(), "Dashboard")
        self.tabs.addTab(self._build_problems(), "Problems")
        self.tabs.addTab(self._build_reviews(), "Possible duplicates")
        self.tabs.addTab(self._build_audit(), "Activity")
        layout.addWidget(self.tabs, 1)
        self.status_line = QLabel("Connect to a runner to see how its flows are doing.", self)
        self.status_line.setObjectName("muted")
        self.status_line.setWordWrap(True)
        layout.addWidget(self.status_line)

        remembered = self.remembered()
        self.url_edit.setCompleter(QCompleter(remembered, self.url_edit))
        if remembered:  # its token is in the keyring: Connect is enough
            self.url_edit.setText(remembered[0])
        self.timer = QTimer(self, interval=REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.message.connect(self.status_line.setText)

    # ------------------------------------------------------------------ building

    def _build_connect_bar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Runner", self))
        self.runner_combo = QComboBox(self)
        self.runner_combo.setMinimumContentsLength(24)
        self.runner_combo.setToolTip("The runner shown below (connect to more than one to "
                                     "switch between them)")
        self.runner_combo.currentTextChanged.connect(lambda _url: self.refresh())
        bar.addWidget(self.runner_combo)
        self.url_edit = QLineEdit(self)
        self.url_edit.setPlaceholderText("http://runner-host:8080")
        self.url_edit.setToolTip("The runner's address (its admin API, /api/v1)")
        bar.addWidget(self.url_edit, 2)
        self.token_edit = QLineEdit(self)
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText("admin token (kept in the keyring)")
        self.token_edit.setToolTip("The runner's admin token; leave empty to use the one "
                                   "kept in the keyring for this address")
        bar.addWidget(self.token_edit, 2)
        self.connect_button = QPushButton("Connect", self)
        self.connect_button.clicked.connect(lambda: self.connect_runner())
        bar.addWidget(self.connect_button)
        return bar

    def _build_dashboard(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        self.summary = QLabel("", page)
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.charts = Charts(page)
        layout.addWidget(self.charts, 3)
        row = QHBoxLayout()
        self.flows_table = _table(["Flow", "Direction", "Health", "Written", "Refused",
                                   "Waiting"], page)
        self.flows_table.horizontalHeader().setSectionResizeMode(
            2, QHeaderView.ResizeMode.Stretch)
        self.flows_table.itemSelectionChanged.connect(self._flow_selected)
        row.addWidget(self.flows_table, 1)
        buttons = QVBoxLayout()
        self.pause_button = QPushButton("Pause", page)
        self.pause_button.setToolTip("Hold new records of this flow; nothing is lost, they "
                                     "are written when you resume")
        self.pause_button.clicked.connect(lambda: self.pause_selected(True))
        self.resume_button = QPushButton("Resume", page)
        self.resume_button.clicked.connect(lambda: self.pause_selected(False))
        for b in (self.pause_button, self.resume_button):
            b.setEnabled(False)
            buttons.addWidget(b)
        buttons.addStretch(1)
        row.addLayout(buttons)
        layout.addLayout(row, 2)
        return page

    def _build_problems(self) -> QWidget:
        split = QSplitter(Qt.Orientation.Horizontal, self)
        self.problem_list = QListWidget(split)
        self.problem_list.setObjectName("problemList")
        self.problem_list.setWordWrap(True)
        self.problem_list.currentRowChanged.connect(self._problem_selected)
        right = QWidget(split)
        layout = QVBoxLayout(right)
        self.problem_title = QLabel("No refused records.", right)
        self.problem_title.setWordWrap(True)
        self.problem_what = QLabel("", right)
        self.problem_what.setWordWrap(True)
        self.problem_fix = QLabel("", right)
        self.problem_fix.setWordWrap(True)
        self.problem_fix.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for w in (self.problem_title, self.problem_what, self.problem_fix):
            layout.addWidget(w)
        buttons = QHBoxLayout()
        self.open_mapping_button = QPushButton("Open in mapping", right)
        self.open_mapping_button.setToolTip("Show this flow and field on the canvas to fix it")
        self.open_mapping_button.clicked.connect(self.open_selected_in_mapping)
        self.deploy_replay_button = QPushButton("Deploy and replay", right)
        self.deploy_replay_button.setToolTip(
            "Export the open mappings, deploy them to this runner, then send these records "
            "again")
        self.deploy_replay_button.clicked.connect(lambda: self.deploy_and_replay())
        self.replay_button = QPushButton("Send again", right)
        self.replay_button.setToolTip("Send these records again with the mappings the "
                                      "runner has now (after a fix in Salesforce)")
        self.replay_button.clicked.connect(lambda: self.replay_selected())
        self.discard_button = QPushButton("Drop", right)
        self.discard_button.setToolTip("Give up on these records: nothing is written")
        self.discard_button.clicked.connect(lambda: self.discard_selected())
        for b in (self.open_mapping_button, self.deploy_replay_button, self.replay_button,
                  self.discard_button):
            b.setEnabled(False)
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addStretch(1)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 2)
        return split

    def _build_reviews(self) -> QWidget:
        split = QSplitter(Qt.Orientation.Horizontal, self)
        self.review_list = QListWidget(split)
        self.review_list.setWordWrap(True)
        self.review_list.currentRowChanged.connect(self._review_selected)
        right = QWidget(split)
        layout = QVBoxLayout(right)
        self.review_title = QLabel("No possible duplicates to decide.", right)
        self.review_title.setWordWrap(True)
        layout.addWidget(self.review_title)
        self.review_table = _table(["Field", "From Stripe"], right)
        self.review_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectColumns)
        self.review_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # The chosen column is tinted, not painted over: its agreeing and differing values
        # must stay readable.
        palette = self.review_table.palette()
        tint = QColor(palette.color(QPalette.ColorRole.Highlight))
        tint.setAlpha(70)
        palette.setColor(QPalette.ColorRole.Highlight, tint)
        palette.setColor(QPalette.ColorRole.HighlightedText,
                         palette.color(QPalette.ColorRole.Text))
        self.review_table.setPalette(palette)
        layout.addWidget(self.review_table, 1)
        buttons = QHBoxLayout()
        self.approve_button = QPushButton("Approve: same record", right)
        self.approve_button.setToolTip("Link the Stripe record to the Salesforce record in "
                                       "the selected column and update it")
        self.approve_button.clicked.connect(lambda: self.decide("approve"))
        self.create_button = QPushButton("Create new", right)
        self.create_button.setToolTip("None of these is the same: create a new record")
        self.create_button.clicked.connect(lambda: self.decide("create"))
        self.skip_button = QPushButton("Skip", right)
        self.skip_button.setToolTip("Drop this item: nothing is written in Salesforce")
        self.skip_button.clicked.connect(lambda: self.decide("skip"))
        for b in (self.approve_button, self.create_button, self.skip_button):
            b.setEnabled(False)
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        return split

    def _build_audit(self) -> QWidget:
        self.audit_table = _table(["When (UTC)", "Who", "What", "On", "Result"], self)
        return self.audit_table

    # ------------------------------------------------------------------ connecting

    @property
    def url(self) -> str | None:
        return self.runner_combo.currentText() or None

    def connect_runner(self, url: str | None = None, token: str | None = None
                       ) -> asyncloop.BackgroundCall:
        url = url if url is not None else self.url_edit.text()
        token = token if token is not None else self.token_edit.text()
        self.connect_button.setEnabled(False)
        self.status_line.setText(f"Connecting to {url.strip()}…")

        def done(result: tuple[str, dict[str, Any]]) -> None:
            connected, status = result
            if self._gone():
                return
            self.connect_button.setEnabled(True)
            self.token_edit.clear()
            if self.runner_combo.findText(connected) < 0:
                self.runner_combo.addItem(connected)
            self.histories.setdefault(connected, History()).add(status)
            self.runner_combo.setCurrentText(connected)
            self._remember(connected)
            self.status_line.setText(f"Connected to {connected}; the token is kept in the "
                                     "keyring.")
            self.timer.start()
            self.refresh()

        def failed(exc: BaseException) -> None:
            self.connect_button.setEnabled(True)
            self._failed("Could not connect", exc)

        def work() -> tuple[str, dict[str, Any]]:
            return normalise_url(url), self.service.connect(url, token or None)

        self.last_call = asyncloop.submit(work, on_done=done, on_error=failed,
                                          what="connecting to the runner")
        return self.last_call

    def remembered(self) -> list[str]:
        """Runner addresses connected to before, the latest first."""
        if self.settings is None:
            return []
        value = self.settings.value(RUNNERS_KEY, [])
        # QSettings gives one string back for a one-item list (INI files).
        urls = [value] if isinstance(value, str) else \
            list(value) if isinstance(value, list | tuple) else []
        return [str(u) for u in urls if u]

    def _remember(self, url: str) -> None:
        if self.settings is not None:
            urls = [url, *(u for u in self.remembered() if u != url)][:MAX_REMEMBERED]
            self.settings.setValue(RUNNERS_KEY, urls)

    def _failed(self, what: str, exc: BaseException) -> None:
        if self._gone():
            return
        self.status_line.setText(f"{what}: {exc}")
        self.errorRaised.emit(f"{what}: {exc}", "")

    # ------------------------------------------------------------------ refreshing

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.service.urls:
            self.timer.start()

    def refresh(self, *, force: bool = False) -> asyncloop.BackgroundCall | None:
        """Fetch the current runner's status, problems, reviews and audit log (one call in
        flight at a time; a tick while one runs is skipped; hidden, only when ``force``)."""
        url = self.url
        if url is None or (self._refreshing is not None and self._refreshing.running):
            return self._refreshing
        if not force and not self.isVisible() and self.snapshot is not None:
            self.timer.stop()  # hidden: stop polling until shown again
            return None
        service = self.service

        def work() -> Snapshot:
            return Snapshot(service.status(url), service.problems(url),
                            service.reviews(url), service.audit(url))

        def failed(exc: BaseException) -> None:
            if not self._gone():
                self.status_line.setText(f"{url} did not answer: {exc}")

        self._refreshing = asyncloop.submit(work, on_done=lambda s: self._show(url, s),
                                            on_error=failed, what="refreshing Operate")
        return self._refreshing

    def _gone(self) -> bool:
        # A runner's answer can arrive after the window (and this view) was closed.
        return not shiboken6.isValid(self.runner_combo)

    def _show(self, url: str, snapshot: Snapshot) -> None:
        if self._gone() or url != self.url:
            return
        self.snapshot = snapshot
        history = self.histories.setdefault(url, History())
        history.add(snapshot.status)
        self.charts.show_history(history)
        self._show_summary(snapshot.status)
        self._show_flows(flow_health(snapshot.status))
        self._show_problems(snapshot.problems)
        self._show_reviews(snapshot.reviews)
        self._show_audit(snapshot.audit)
        self.refreshed.emit()

    def _show_summary(self, status: dict[str, Any]) -> None:
        parts = []
        api = status.get("salesforce_api")
        if api:
            share = 100 * api["used"] / api["max"] if api.get("max") else 0
            parts.append(f"Salesforce API: {api['used']:,} of {api['max']:,} calls today "
                         f"({share:.0f}%)")
        parts.append(f"{status.get('dead_letters', 0)} refused record(s) to fix")
        parts.append(f"{status.get('reviews', 0)} possible duplicate(s) to decide")
        last = status.get("last_event")
        if last:
            parts.append(f"last event {last.get('type')} at "
                         f"{str(last.get('received_at') or '')[:19].replace('T', ' ')}")
        self.summary.setText(" · ".join(parts))

    def _show_flows(self, flows: list[FlowHealth]) -> None:
        selected = self.selected_flow()
        self.flows = flows
        table = self.flows_table
        table.setRowCount(len(flows))
        for row, f in enumerate(flows):
            for col, value in enumerate((f.name, f.direction, f.health, f.written, f.failed,
                                         f.dead_letters)):
                table.setItem(row, col, _item(value))
            if f.name == selected:
                table.selectRow(row)
        for col in (0, 1):
            table.resizeColumnToContents(col)
        self._flow_selected()

    def _show_problems(self, groups: list[ProblemGroup]) -> None:
        current = self.selected_problem()
        self.problems = groups
        self.problem_list.blockSignals(True)
        self.problem_list.clear()
        for g in groups:
            QListWidgetItem(g.headline, self.problem_list).setToolTip(g.fix)
        self.problem_list.blockSignals(False)
        causes = [g.cause for g in groups]
        row = causes.index(current.cause) if current and current.cause in causes else \
            (0 if groups else -1)
        self.problem_list.setCurrentRow(row)
        self._problem_selected(row)
        self.tabs.setTabText(1, f"Problems ({sum(g.count for g in groups)})" if groups
                             else "Problems")

    def _show_reviews(self, cases: list[ReviewCase]) -> None:
        current = self.selected_case()
        self.cases = cases
        self.review_list.blockSignals(True)
        self.review_list.clear()
        for c in cases:
            QListWidgetItem(c.headline, self.review_list)
        self.review_list.blockSignals(False)
        ids = [c.id for c in cases]
        row = ids.index(current.id) if current and current.id in ids else (0 if cases else -1)
        self.review_list.setCurrentRow(row)
        self._review_selected(row)
        self.tabs.setTabText(2, f"Possible duplicates ({len(cases)})" if cases
                             else "Possible duplicates")

    def _show_audit(self, lines: list[AuditLine]) -> None:
        table = self.audit_table
        table.setRowCount(len(lines))
        for row, line in enumerate(lines):
            for col, value in enumerate((line.when, line.who, line.what, line.target,
                                         line.outcome)):
                table.setItem(row, col, _item(value))
        table.resizeColumnsToContents()

    # ------------------------------------------------------------------ flows

    def selected_flow(self) -> str | None:
        rows = self.flows_table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.flows):
            return None
        return self.flows[rows[0].row()].name

    def select_flow(self, name: str) -> None:
        for row, f in enumerate(self.flows):
            if f.name == name:
                self.flows_table.selectRow(row)

    def _flow_selected(self) -> None:
        name = self.selected_flow()
        flow = next((f for f in self.flows if f.name == name), None)
        self.pause_button.setEnabled(flow is not None and flow.running)
        self.resume_button.setEnabled(flow is not None and not flow.running)

    def pause_selected(self, pause: bool) -> asyncloop.BackgroundCall | None:
        flow, url = self.selected_flow(), self.url
        if flow is None or url is None:
            return None
        act = self.service.pause if pause else self.service.resume
        word = "Paused" if pause else "Resumed"
        return self._act(lambda: act(url, flow), f"{word} {flow}")

    # ------------------------------------------------------------------ problems

    def selected_problem(self) -> ProblemGroup | None:
        row = self.problem_list.currentRow()
        return self.problems[row] if 0 <= row < len(self.problems) else None

    def _problem_selected(self, _row: int) -> None:
        group = self.selected_problem()
        if group is None:
            self.problem_title.setText("No refused records.")
            self.problem_what.setText("")
            self.problem_fix.setText("")
        else:
            where = f"flow <b>{group.flow}</b>" + (f", field <b>{group.field}</b>"
                                                  if group.field else "")
            self.problem_title.setText(f"<b>{group.title}</b> — {group.count} record(s) in "
                                       f"{where}")
            self.problem_what.setText(group.what)
            self.problem_fix.setText(f"<b>How to fix:</b> {group.fix}")
        self.open_mapping_button.setEnabled(group is not None and group.in_mapping)
        for b in (self.deploy_replay_button, self.replay_button, self.discard_button):
            b.setEnabled(group is not None)
        self.deploy_replay_button.setEnabled(group is not None and self.build_bundle is not None)

    def open_selected_in_mapping(self) -> None:
        group = self.selected_problem()
        if group is not None:
            self.openMapping.emit(group.flow, group.field or "")

    def deploy_and_replay(self) -> asyncloop.BackgroundCall | None:
        group, url, build = self.selected_problem(), self.url, self.build_bundle
        if group is None or url is None or build is None:
            return None
        service = self.service

        bundle = build()

        def work() -> str:
            return service.deploy_and_replay(url, bundle(), group.cause).summary()

        return self._act(work, None, what="deploying and replaying")

    def replay_selected(self) -> asyncloop.BackgroundCall | None:
        group, url = self.selected_problem(), self.url
        if group is None or url is None:
            return None

        def work() -> str:
            r = self.service.replay_group(url, group.cause)
            return f"{r['replayed']} record(s) sent again, {r['failed']} still refused"

        return self._act(work, None)

    def discard_selected(self) -> asyncloop.BackgroundCall | None:
        group, url = self.selected_problem(), self.url
        if group is None or url is None:
            return None
        return self._act(lambda: self.service.discard_group(url, group),
                         f"Dropped {group.count} record(s)")

    # ------------------------------------------------------------------ reviews

    def selected_case(self) -> ReviewCase | None:
        row = self.review_list.currentRow()
        return self.cases[row] if 0 <= row < len(self.cases) else None

    def _review_selected(self, _row: int) -> None:
        case = self.selected_case()
        table = self.review_table
        if case is None:
            self.review_title.setText("No possible duplicates to decide.")
            table.setColumnCount(2)
            table.setRowCount(0)
        else:
            self.review_title.setText(
                f"{case.headline}. Pick the column of the same record and Approve, or "
                "Create new if none is.")
            table.setColumnCount(2 + len(case.candidate_ids))
            table.setHorizontalHeaderLabels(
                ["Field", "From Stripe"] + [f"Salesforce {i + 1}"
                                            for i in range(len(case.candidate_ids))])
            table.setRowCount(len(case.rows))
            for row, r in enumerate(case.rows):
                table.setItem(row, 0, _item(r.field))
                table.setItem(row, 1, _item(r.incoming))
                for i, (value, same) in enumerate(zip(r.candidates, r.same, strict=True)):
                    cell = _item(value)
                    if r.field != "Id" and (value or r.incoming):
                        cell.setBackground(SAME if same else DIFFERENT)
                        cell.setForeground(QColor("#222222"))
                    table.setItem(row, 2 + i, cell)
            table.resizeColumnsToContents()
            if case.candidate_ids:
                table.selectColumn(2)
        for b in (self.approve_button, self.create_button, self.skip_button):
            b.setEnabled(case is not None)

    def chosen_candidate(self) -> str | None:
        case = self.selected_case()
        if case is None:
            return None
        columns = {i.column() for i in self.review_table.selectedIndexes()}
        column = min(columns) if columns else 2
        index = column - 2
        return case.candidate_ids[index] if 0 <= index < len(case.candidate_ids) else None

    def decide(self, how: str) -> asyncloop.BackgroundCall | None:
        case, url = self.selected_case(), self.url
        if case is None or url is None:
            return None
        if how == "approve":
            record = self.chosen_candidate()
            if record is None:
                self.status_line.setText("Select the column of the Salesforce record that is "
                                         "the same, then Approve.")
                return None
            return self._act(lambda: self.service.approve(url, case, record),
                             f"Linked {case.source_id} to {record}")
        if how == "create":
            return self._act(lambda: self.service.create_new(url, case),
                             f"Created a new record for {case.source_id}")
        return self._act(lambda: self.service.skip(url, case), f"Skipped {case.source_id}")

    # ------------------------------------------------------------------ acting

    def _act(self, fn: Callable[[], Any], done_text: str | None, *,
             what: str = "asking the runner") -> asyncloop.BackgroundCall:
        def done(result: Any) -> None:
            if self._gone():
                return
            self.message.emit(done_text or str(result))
            self._refreshing = None
            self.refresh(force=True)

        self.last_call = asyncloop.submit(fn, on_done=done,
                                          on_error=lambda e: self._failed("Refused", e),
                                          what=what)
        return self.last_call
