"""The studio's main window: panels in splitters, menus, toolbar, status bar, file handling.

The window composes the other views and owns no mapping logic: every edit goes through the
:class:`~app.document.document.StudioDocument`; everything that reaches the outside world
goes through :class:`~app.services.Services`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

import mappings
from app import asyncloop, icons, theme
from app.canvas.scene import MappingScene
from app.canvas.view import MappingView
from app.document.child_flow import parent_name
from app.document.document import StudioDocument
from app.errors import StudioError
from app.models.naming import field_naming, save_show_api_names, saved_show_api_names
from app.services import Services
from app.services.bundles import open_bundle
from app.services.connections import LOCAL_SANDBOX, Connection
from app.services.environments import EnvironmentState
from app.services.operate import OperateService
from app.services.reconcile import ReconcileService
from app.services.sandbox import WARM_UP_TEXT, SandboxStopped
from app.views import actions
from app.views.automap_dialog import AutoMapDialog
from app.views.child_bar import ChildBar
from app.views.connections_dialog import ConnectionsDialog
from app.views.diff_view import DiffView
from app.views.errors_panel import ErrorsPanel
from app.views.export_dialog import ExportDialog
from app.views.flow_dialog import FlowDialog
from app.views.preview_panel import PreviewPanel
from app.views.reconcile_view import ReconcileView
from app.views.schema_panel import SchemaPanel
from app.views.statusbar import Badge, StatusArea, badge_mode
from app.views.templates_gallery import TemplatesGallery
from app.views.testrun_panel import TestRunPanel
from app.views.transform_panel import TransformPanel
from app.workspace import (
    RecentWorkspaces,
    check_workspace_folder,
    save_theme,
    saved_theme,
    studio_settings,
)
from mappings.engine.plan import compile_flow
from mappings.engine.result import Issue
from mappings.errors import MappingError

if TYPE_CHECKING:
    from app.views.operate_view import OperateView

__all__ = [
    "APP_NAME", "Badge", "MainWindow", "ask_unsaved_with_message_box", "badge_mode",
    "validation_issues",
]  # Badge and badge_mode live in app.views.statusbar; kept importable from here

_Dialog = TypeVar("_Dialog", bound=QWidget)
UnsavedAnswer = Literal["save", "discard", "cancel"]
AskUnsaved = Callable[[QWidget, str], UnsavedAnswer]
ChooseFolder = Callable[[str], Path | None]

APP_NAME = "Fieldbridge Studio"
DEFAULT_SIZE = (1400, 900)


def ask_unsaved_with_message_box(parent: QWidget, name: str) -> UnsavedAnswer:
    """Save / Discard / Cancel, the platform's way."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(APP_NAME)
    box.setText(f"Save the changes to {name}?")
    box.setInformativeText("Your changes are lost if you don't save them.")
    buttons = QMessageBox.StandardButton
    box.setStandardButtons(buttons.Save | buttons.Discard | buttons.Cancel)
    box.setDefaultButton(buttons.Save)
    answer = box.exec()
    if answer == buttons.Save:
        return "save"
    if answer == buttons.Discard:
        return "discard"
    return "cancel"


def validation_issues(document: StudioDocument, flow_name: str | None) -> list[Issue]:
    """What is wrong with a flow now: its static issues plus those its fixtures raise."""
    # A child mapping is checked with its flow: parent and children are written together.
    flow = document.find_flow(parent_name(flow_name))
    if flow is None:
        return []
    try:
        doc = document.document_of(flow.name)
        plan = compile_flow(
            flow,
            doc,
            document.target_schema(flow.name),
            source_schema=document.source_schema(flow.name),
            schemas=document.schema_of,
        )
    except MappingError as exc:
        return [Issue("INVALID_FLOW", None, str(exc))]
    # The same problem found statically and again on every fixture counts once.
    seen: dict[tuple[str, str | None, str], Issue] = {}
    found = list(plan.static_issues)
    for fixture in flow.fixtures:
        found.extend(plan.apply(fixture.input).issues)
    for issue in found:
        seen.setdefault((issue.code, issue.field, issue.message), issue)
    return list(seen.values())


WARM_UP_KEY = "sandbox/warm_up"
WARM_UP_ENV = "FIELDBRIDGE_SANDBOX_WARM_UP"


def sandbox_warm_up(settings: QSettings) -> bool:
    """Whether to start the local sandboxes at start-up: the setting ``sandbox/warm_up``
    (default on), overridden by ``FIELDBRIDGE_SANDBOX_WARM_UP=0`` (tests, CI)."""
    if os.environ.get(WARM_UP_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return False
    return str(settings.value(WARM_UP_KEY, "true")).lower() != "false"


def _default_services() -> Services:
    """The user's own connections and sandbox (a seam: tests put theirs under tmp_path)."""
    return Services()


class MainWindow(QMainWindow):
    # Built by app.views.actions (menus, toolbar) and _build_status_bar.
    flow_combo: QComboBox
    recent_menu: QMenu
    theme_group: QActionGroup
    toolbar: QToolBar
    status_area: StatusArea
    reconcile_view: ReconcileView | None

    def __init__(
        self,
        document: StudioDocument | None = None,
        *,
        settings: QSettings | None = None,
        ask_unsaved: AskUnsaved | None = None,
        choose_folder: ChooseFolder | None = None,
        services: Services | None = None,
        warm_up: bool | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document or StudioDocument(self)
        # Connections, samples, sandbox and test runs: the studio's only door to the runner.
        self.services = services if services is not None else _default_services()
        # Services we made are ours to close (it stops the local sandboxes we started).
        self._owns_services = services is None
        self.settings = settings or studio_settings()
        self.recent = RecentWorkspaces(self.settings)
        self.ask_unsaved = ask_unsaved or ask_unsaved_with_message_box
        self.choose_folder = choose_folder or self._choose_folder_dialog
        self.template_name: str | None = None
        self.actions_by_name: dict[str, QAction] = {}
        self._dialogs: list[QWidget] = []  # non-modal dialogs kept alive while open
        # The connections the studio works against now (the badges, the reconcile view).
        self.current_connections = {"stripe": LOCAL_SANDBOX, "salesforce": LOCAL_SANDBOX}
        self.reconcile_view = None  # made by show_reconcile()
        # Start the local sandboxes once the window shows (None: the setting decides; tests
        # and screenshots turn it off).
        self.warm_up = sandbox_warm_up(self.settings) if warm_up is None else warm_up
        self._warm_up_call: asyncloop.BackgroundCall | None = None
        self.operate_view: OperateView | None = None  # made by show_operate()
        self.operate_service = OperateService()  # the runners Operate is connected to
        # The workspace's environments (environments.toml) and the one worked against now.
        self.environments = EnvironmentState()

        self.setWindowIcon(icons.app_icon())
        self.setObjectName("mainWindow")
        self.resize(*DEFAULT_SIZE)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks)

        self._build_errors_dock()
        asyncloop.set_error_sink(self.report_error)
        field_naming().set_show_api_names(saved_show_api_names(self.settings))
        self._build_panels()
        actions.build_actions(self)
        actions.build_menus(self)
        actions.build_toolbar(self)
        self._build_status_bar()
        self.errors.countChanged.connect(self.status_area.show_error_count)

        self._issues_timer = QTimer(self, singleShot=True, interval=250)
        self._issues_timer.timeout.connect(self._update_issue_count)
        doc = self.document
        doc.dirtyChanged.connect(lambda _dirty: self._update_title())
        doc.documentReplaced.connect(self._update_title)
        doc.flowsChanged.connect(self._fill_flow_combo)
        doc.currentFlowChanged.connect(self._on_current_flow)
        doc.mappingsChanged.connect(lambda _flow: self._schedule_issue_count())
        doc.fixturesChanged.connect(lambda _flow: self._schedule_issue_count())
        # A fresh message for every gesture, so an old refusal never sits beside a success.
        doc.editRefused.connect(lambda reason: self.statusBar().showMessage(f"✗ {reason}", 15000))
        doc.edited.connect(lambda what: self.statusBar().showMessage(f"✓ {what}", 8000))
        asyncloop.busy.changed.connect(self.status_area.show_busy)
        self.environments.subscribe(self._show_environment)
        self.status_area.environmentClicked.connect(self.choose_environment)
        doc.documentReplaced.connect(lambda: self.environments.load(self.document.workspace))
        self.environments.load(self.document.workspace)
        self.testrun_panel.confirm_write = self.confirm_write
        self._fill_flow_combo()
        self._on_current_flow(doc.current_flow or "")
        self._update_title()

    # ------------------------------------------------------------------ building

    def _build_errors_dock(self) -> None:
        self.errors = ErrorsPanel(self)
        self.errors_dock = QDockWidget("Errors", self)
        self.errors_dock.setObjectName("errorsDock")
        self.errors_dock.setWidget(self.errors)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.errors_dock)
        self.errors_dock.hide()

    def _build_panels(self) -> None:
        doc = self.document
        self.source_panel = SchemaPanel(doc, "source", parent=self)
        self.target_panel = SchemaPanel(doc, "target", parent=self)
        self.canvas = MappingView(MappingScene(doc), self)
        self.transform_panel = TransformPanel(doc, self._sample_record, parent=self)
        self.preview_panel = PreviewPanel(doc, self.services, parent=self)
        self.testrun_panel = TestRunPanel(doc, self.services, parent=self)
        for panel in (self.preview_panel, self.testrun_panel):
            panel.errorRaised.connect(self._panel_error)

        self.schemas_splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.schemas_splitter.setObjectName("schemasSplitter")
        self.schemas_splitter.addWidget(self.source_panel)
        self.schemas_splitter.addWidget(self.target_panel)
        self.schemas_splitter.setChildrenCollapsible(False)

        self.top_splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.top_splitter.setObjectName("topSplitter")
        self.top_splitter.addWidget(self.schemas_splitter)
        # The canvas, under the child mapping's header while a child collection is open.
        self.child_bar = ChildBar(doc, self)
        canvas_box = QWidget(self)
        canvas_layout = QVBoxLayout(canvas_box)
        canvas_layout.setContentsMargins(0, 0, 0, 0)
        canvas_layout.setSpacing(0)
        canvas_layout.addWidget(self.child_bar)
        canvas_layout.addWidget(self.canvas, 1)
        self.top_splitter.addWidget(canvas_box)
        self.top_splitter.setStretchFactor(0, 0)
        self.top_splitter.setStretchFactor(1, 1)

        self.bottom_tabs = QTabWidget(self)
        self.bottom_tabs.setObjectName("bottomTabs")
        self.bottom_tabs.setDocumentMode(True)
        self.bottom_tabs.addTab(self.transform_panel, icons.icon("map"), "Transform")
        self.bottom_tabs.addTab(self.preview_panel, icons.icon("preview"), "Preview")
        self.bottom_tabs.addTab(self.testrun_panel, icons.icon("run"), "Test run")

        self.main_splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.main_splitter.setObjectName("mainSplitter")
        self.main_splitter.addWidget(self.top_splitter)
        self.main_splitter.addWidget(self.bottom_tabs)
        self.main_splitter.setStretchFactor(0, 3)
        self.main_splitter.setStretchFactor(1, 2)
        self.setCentralWidget(self.main_splitter)
        self._default_splitter_sizes()

        self.canvas.mapping_scene().mappingSelected.connect(self._mapping_selected)
        self.canvas.mapping_scene().editRequested.connect(self.edit_transforms)

    def _default_splitter_sizes(self) -> None:
        width, height = DEFAULT_SIZE
        left = int(width * 0.42)
        self.schemas_splitter.setSizes([left // 2, left - left // 2])
        self.top_splitter.setSizes([left, width - left])
        self.main_splitter.setSizes([int(height * 0.58), int(height * 0.42)])

    def _build_status_bar(self) -> None:
        area = StatusArea(self.statusBar(), self)
        self.status_area = area
        # The widgets stay reachable as the window's attributes (tests, screenshots).
        self.flow_status = area.flow_status
        self.busy_label = area.busy_label
        self.busy_bar = area.busy_bar
        self.issue_label = area.issue_label
        self.stripe_badge = area.stripe_badge
        self.salesforce_badge = area.salesforce_badge
        self.errors_button = area.errors_button
        area.errorsClicked.connect(self.show_errors)
        area.connectionsClicked.connect(self.manage_connections)
        self._follow_connection_choices()
        area.show_error_count(self.errors.count)

    # ------------------------------------------------------------------ connections

    def _follow_connection_choices(self) -> None:
        """The badges follow what the preview and test-run panels pick and the store's edits."""
        for panel in (self.preview_panel, self.testrun_panel):
            panel.connectionChosen.connect(self.use_connection)
        unsubscribe = self.services.store.subscribe(self._update_badges)
        self.destroyed.connect(lambda *_: unsubscribe())
        self._update_badges()

    def use_connection(self, system: str, name: str) -> None:
        """Make ``name`` the current Stripe or Salesforce connection (badges, reconcile)."""
        if system not in self.current_connections:
            raise ValueError(f"unknown system {system!r}: stripe or salesforce")
        self.current_connections[system] = name
        self._update_badges()

    def _connection(self, system: str) -> Connection | None:
        """The current connection of ``system``; a removed one falls back to the sandbox."""
        name = self.current_connections[system]
        for candidate in (name, LOCAL_SANDBOX):
            try:
                return self.services.store.get(system, candidate)
            except StudioError:  # renamed or removed in the connections dialog
                self.current_connections[system] = LOCAL_SANDBOX
        return None

    def _update_badges(self) -> None:
        self.status_area.show_connections(
            self._connection("stripe"), self._connection("salesforce")
        )

    def set_connection_badges(
        self, stripe: tuple[str, str] | None, salesforce: tuple[str, str] | None
    ) -> None:
        """(connection name, badge text) per system, None when not connected."""
        self.status_area.set_connection_badges(stripe, salesforce)

    # ------------------------------------------------------------------ status

    def workspace_name(self) -> str:
        if self.document.workspace is not None:
            return self.document.workspace.name
        if self.template_name:
            return f"{self.template_name} (from template)"
        return "Untitled"

    def _update_title(self) -> None:
        star = "*" if self.document.is_dirty else ""
        env = self.environments.current
        where = f" [{env.name.upper()}]" if env is not None else ""
        self.setWindowTitle(f"{self.workspace_name()}{star}{where} — {APP_NAME}")

    # ------------------------------------------------------------------ environments

    def _show_environment(self) -> None:
        env = self.environments.current
        if env is None:
            self.status_area.show_environment(None)
        else:
            guard = "; the studio asks before anything writes to it" if env.protected else ""
            self.status_area.show_environment(
                env.name, env.color, f"Environment {env.name!r}: runner {env.runner}, Stripe "
                f"{env.stripe!r}, Salesforce {env.salesforce!r}{guard}. Click to change.")
        if self.environments.problem:
            self.statusBar().showMessage(f"✗ {self.environments.problem}", 15000)
        self._update_title()

    def choose_environment(self) -> None:
        """The environment badge's menu: pick the environment to work against."""
        menu = QMenu(self)
        for name in self.environments.names:
            action = menu.addAction(name)
            action.setCheckable(True)
            current = self.environments.current
            action.setChecked(current is not None and current.name == name)
            action.triggered.connect(lambda _checked=False, n=name: self.environments.choose(n))
        menu.popup(self.status_area.environment_badge.mapToGlobal(
            self.status_area.environment_badge.rect().topLeft()))

    def confirm_write(self, what: str) -> bool:
        """Ask before ``what`` writes to a protected environment (True: go ahead)."""
        env = self.environments.current
        if not self.environments.needs_confirmation(env) or env is None:
            return True
        answer = QMessageBox.question(
            self, f"Write to {env.name}?",
            f"You are working against {env.name}, a protected environment: {what} writes "
            "to it. Go ahead?")
        return answer == QMessageBox.StandardButton.Yes

    def show_promote(self) -> QWidget | None:
        """Tools ▸ Promote Bundle…: the runner's seven promotion steps, with progress."""
        workspace = self.document.workspace
        if workspace is None:
            self.statusBar().showMessage(
                "✗ Promote needs a saved workspace folder (its environments.toml and "
                "promotion history live there)", 10000)
            return None
        self.environments.load(workspace)
        # Lazy: runner.api.promote loads the writer, the connectors and the admin client.
        from app.views.promote_dialog import PromoteDialog

        dialog = PromoteDialog(workspace, self.environments, list(self.document.documents),
                               dict(self.document.catalogs), self)
        self._dialogs.append(dialog)
        dialog.finished.connect(lambda _r: self._dialogs.remove(dialog)
                                if dialog in self._dialogs else None)
        dialog.show()
        return dialog

    def _fill_flow_combo(self) -> None:
        self.flow_combo.blockSignals(True)
        self.flow_combo.clear()
        for _doc, flow in self.document.flows():
            self.flow_combo.addItem(flow.name, flow.name)
            self.flow_combo.setItemData(
                self.flow_combo.count() - 1,
                flow.description or flow.name,
                Qt.ItemDataRole.ToolTipRole,
            )
        current = self.document.current_parent_flow
        if current:
            self.flow_combo.setCurrentIndex(self.flow_combo.findData(current))
        self.flow_combo.setEnabled(self.flow_combo.count() > 0)
        self.flow_combo.blockSignals(False)

    def _flow_picked(self, row: int) -> None:
        name = self.flow_combo.itemData(row)
        if name and name != self.document.current_parent_flow:
            self.document.set_current_flow(name)

    def _on_current_flow(self, name: str) -> None:
        # With no flow there is nothing to auto-map, preview or test.
        for action in ("automap", "preview", "test_run"):
            self.actions_by_name[action].setEnabled(bool(name))
        row = self.flow_combo.findData(parent_name(name)) if name else -1
        if row != self.flow_combo.currentIndex():
            self.flow_combo.setCurrentIndex(row)
        self._update_flow_status()
        self._schedule_issue_count()

    def _update_flow_status(self) -> None:
        self.status_area.show_flow(self.document.find_flow(self.document.current_flow))

    def _schedule_issue_count(self) -> None:
        self._issues_timer.start()

    def _update_issue_count(self) -> list[Issue]:
        issues = validation_issues(self.document, self.document.current_flow)
        flow = self.document.find_flow(self.document.current_flow)
        self.status_area.show_issues(issues, started=flow is None or bool(flow.fields or flow.lookups))
        self._update_flow_status()
        return issues

    # ------------------------------------------------------------------ errors

    def report_error(
        self, exc: BaseException | str, summary: str = "", *, show: bool = True
    ) -> None:
        """Into the errors panel (non-modal); the dock opens without taking the focus."""
        if isinstance(exc, StudioError) and not summary:
            summary = str(exc)  # the studio's own errors are written for people: no class name
        self.errors.add_error(exc, summary)
        if show and not self.errors_dock.isVisible():
            self.show_errors()
        text = summary or (str(exc) if isinstance(exc, str) else f"{type(exc).__name__}: {exc}")
        self.statusBar().showMessage(text.splitlines()[0] if text else "", 8000)

    def show_errors(self) -> None:
        """Open the errors dock at a modest height: the mapping stays the main thing."""
        self.errors_dock.show()
        self.resizeDocks([self.errors_dock], [190], Qt.Orientation.Vertical)

    # ------------------------------------------------------------------ files

    def maybe_save(self) -> bool:
        """True when it is fine to drop the open workspace (saved, discarded or clean)."""
        if not self.document.is_dirty:
            return True
        answer = self.ask_unsaved(self, self.workspace_name())
        if answer == "save":
            return self.save()
        return answer == "discard"

    def open_workspace(self, folder: Path | str) -> bool:
        if not self.maybe_save():
            return False
        try:
            folder = check_workspace_folder(folder)
            self.document.open_workspace(folder)
        except (MappingError, OSError) as exc:
            self.report_error(exc, f"cannot open {folder}: {exc}")
            return False
        self.template_name = None
        self.recent.add(folder)
        self._update_title()
        self.statusBar().showMessage(f"Opened {folder}", 4000)
        return True

    def open_template(self, name: str) -> bool:
        if not self.maybe_save():
            return False
        try:
            self.document.open_template(name)
        except MappingError as exc:
            self.report_error(exc, str(exc))
            return False
        self.template_name = name
        self._update_title()
        return True

    def open_bundle(self, path: Path | str, folder: Path | str | None = None) -> bool:
        """File ▸ Open Bundle…: verify the .fbz, unpack it as a workspace folder, open it."""
        if not self.maybe_save():
            return False
        try:
            opened = open_bundle(path, folder)
        except MappingError as exc:
            self.report_error(exc, f"Cannot open the bundle: {exc}")
            return False
        if not self.open_workspace(opened.folder):
            return False
        self.statusBar().showMessage(
            f"Opened {Path(path).name} (verified) as the workspace {opened.folder}", 6000
        )
        return True

    def open_bundle_dialog(self) -> bool:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open bundle", "", "Fieldbridge bundles (*.fbz);;All files (*)"
        )
        return self.open_bundle(path) if path else False

    def set_show_api_names(self, show: bool) -> None:
        """View ▸ Show API names: labels alone, or labels with their API names."""
        field_naming().set_show_api_names(show)
        save_show_api_names(self.settings, show)
        self.canvas.viewport().update()

    def open_workspace_dialog(self) -> bool:
        folder = self.choose_folder("Open workspace")
        return self.open_workspace(folder) if folder is not None else False

    def save(self) -> bool:
        if self.document.workspace is None:
            return self.save_as()
        try:
            self.document.save()
        except (MappingError, OSError) as exc:
            self.report_error(exc, f"cannot save: {exc}")
            return False
        self.recent.add(self.document.workspace)
        self.statusBar().showMessage(f"Saved {self.document.workspace}", 4000)
        self._update_title()
        return True

    def save_as(self, folder: Path | str | None = None) -> bool:
        if folder is None:
            folder = self.choose_folder("Save workspace as (choose an empty folder)")
            if folder is None:
                return False
        folder = Path(folder)
        same = self.document.workspace is not None and folder.resolve() == (
            self.document.workspace.resolve()
        )
        if not same and folder.is_dir() and any(folder.glob("*.y*ml")):
            self.report_error(
                f"{folder} already holds mapping documents; choose an empty folder so no file "
                "is overwritten"
            )
            return False
        try:
            self.document.save_as(folder)
        except (MappingError, OSError) as exc:
            self.report_error(exc, f"cannot save to {folder}: {exc}")
            return False
        self.template_name = None
        self.recent.add(folder)
        self._update_title()
        self.statusBar().showMessage(f"Saved {folder}", 4000)
        return True

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = self.recent.paths()
        for path in paths:
            action = self.recent_menu.addAction(str(path))
            action.triggered.connect(lambda _checked=False, p=path: self.open_workspace(p))
        if not paths:
            empty = self.recent_menu.addAction("No recent workspaces")
            empty.setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Recent", self.recent.clear)

    def _choose_folder_dialog(self, title: str) -> Path | None:
        folder = QFileDialog.getExistingDirectory(self, title)
        return Path(folder) if folder else None

    def new_from_template(self) -> bool:
        gallery = TemplatesGallery(self)
        if gallery.exec() and gallery.chosen:
            return self.open_template(gallery.chosen)
        return False

    def export_bundle(self) -> QWidget:
        default = None
        if self.document.workspace is not None:
            default = self.document.workspace.parent / f"{self.document.workspace.name}.fbz"
        dialog = ExportDialog(
            lambda: self.document.documents,
            self,
            catalogs=lambda: self.document.catalogs,
            default_destination=default,
        )
        dialog.failed.connect(lambda msg: self.report_error(msg, f"export failed: {msg}"))
        self._show_dialog(dialog)
        return dialog

    def compare_with_bundle(self) -> QWidget:
        dialog = DiffView(lambda: self.document.documents, self)
        self._show_dialog(dialog)
        return dialog

    def _show_dialog(self, dialog: _Dialog) -> _Dialog:
        self._dialogs.append(dialog)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda _obj=None, d=dialog: self._forget_dialog(d))
        dialog.show()
        return dialog

    def _forget_dialog(self, dialog: QWidget) -> None:
        if dialog in self._dialogs:
            self._dialogs.remove(dialog)

    # ------------------------------------------------------------------ other panels

    def auto_map(self) -> QWidget | None:
        if self.document.current_flow is None:
            self.statusBar().showMessage("Pick or create a flow first", 5000)
            return None
        return self._show_dialog(AutoMapDialog(self.document, parent=self))

    def new_flow(self) -> QWidget:
        return self._show_dialog(FlowDialog(
            self.document, parent=self, services=self.services,
            connection=self.current_connections["salesforce"]))

    def manage_connections(self) -> QWidget:
        return self._show_dialog(ConnectionsDialog(
            self.services, parent=self, documents=lambda: list(self.document.documents)))

    def show_preview(self) -> None:
        self.bottom_tabs.setCurrentWidget(self.preview_panel)
        self.preview_panel.refresh()

    def show_test_run(self) -> None:
        self.bottom_tabs.setCurrentWidget(self.testrun_panel)

    def show_reconcile(self) -> ReconcileView | None:
        """Tools ▸ Reconcile Payouts: the reconciliation view, a bottom tab made on first use
        (full width for the report's reason column; the canvas keeps its room)."""
        if self.reconcile_view is None:
            view = ReconcileView(ReconcileService(self.services), self.services.store, self)
            view.errorRaised.connect(self._panel_error)
            view.connectionsChanged.connect(self._reconcile_connections)
            self.bottom_tabs.addTab(view, icons.icon("compare"), "Reconciliation")
            self.reconcile_view = view
        view = self.reconcile_view
        view.set_connections(
            self.current_connections["stripe"], self.current_connections["salesforce"]
        )
        self.bottom_tabs.setCurrentWidget(view)
        return view

    def _reconcile_connections(self, stripe: str, salesforce: str) -> None:
        self.use_connection("stripe", stripe)
        self.use_connection("salesforce", salesforce)

    def show_operate(self) -> OperateView:
        """Tools ▸ Operate Runners: watch and fix running runners, a bottom tab made on first
        use (the canvas stays above it for Open in mapping)."""
        if self.operate_view is None:
            # Lazy: its charts import pyqtgraph and numpy, ~1.5 s measured with -X importtime.
            from app.views.operate_view import OperateView, workspace_bundle

            view = OperateView(self.operate_service, lambda: workspace_bundle(self.document),
                               self, settings=self.settings)
            view.errorRaised.connect(self._panel_error)
            view.openMapping.connect(self.open_mapping)
            view.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
            self.bottom_tabs.addTab(view, icons.icon("run"), "Operate")
            self.operate_view = view
        self.bottom_tabs.setCurrentWidget(self.operate_view)
        return self.operate_view

    def open_mapping(self, flow: str, target: str) -> bool:
        """Show ``flow`` on the canvas and ``target``'s mapping in the transform panel (False,
        with a status message, when the open workspace has no such flow)."""
        if self.document.find_flow(flow) is None:
            self.statusBar().showMessage(
                f"The open workspace has no flow {flow!r}: open the workspace the runner's "
                "bundle was exported from", 10000)
            return False
        self.document.set_current_flow(flow)
        if target:
            self.canvas.mapping_scene().select_mapping(target)  # selected and scrolled to
        self.transform_panel.show_mapping(target)
        self.bottom_tabs.setCurrentWidget(self.transform_panel)
        return True

    def fill_preview_from_fixtures(self) -> bool:
        """Fill the preview with the current flow's fixtures (the screenshot mode uses it)."""
        self.preview_panel.load_fixtures_of_current_flow()
        self.bottom_tabs.setCurrentWidget(self.preview_panel)
        return True

    def _sample_record(self) -> dict | None:
        """The first sample of the current flow, for the transform panel's live result."""
        flow = self.document.find_flow(self.document.current_flow)
        if flow is None:
            return None
        try:
            samples = self.services.samples_for(flow)
        except Exception:  # no samples is not an error here: the editor shows no result
            return None
        return samples[0] if samples else None

    def _panel_error(self, summary: str, details: str) -> None:
        self.report_error(details or summary, summary)

    def edit_transforms(self, target: str) -> None:
        """Enter on the canvas: the Transform tab for ``target``, with the keyboard focus."""
        self.transform_panel.show_mapping(target)
        self.bottom_tabs.setCurrentWidget(self.transform_panel)
        self.transform_panel.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _mapping_selected(self, target: str) -> None:
        flow = self.document.current_flow
        if flow is None:
            return
        self.transform_panel.show_mapping(target)
        if target:
            self.bottom_tabs.setCurrentWidget(self.transform_panel)

    # ------------------------------------------------------------------ theme, about, close

    def set_theme(self, name: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            theme.apply_theme(app, name)
        save_theme(self.settings, name)
        actions.check_theme_action(self, name)
        actions.refresh_icons(self)

    def saved_theme(self) -> str:
        return saved_theme(self.settings)

    def about(self) -> None:
        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            f"<b>{APP_NAME}</b> {getattr(mappings, '__version__', '')}<br>"
            "Map Stripe and Salesforce fields, preview, test against a sandbox and export "
            "bundles for the Fieldbridge runner.",
        )

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.warm_up and self._warm_up_call is None:
            # After the first paint: the window comes up first, the sandboxes behind it.
            QTimer.singleShot(0, self.warm_up_sandboxes)

    def warm_up_sandboxes(self) -> asyncloop.BackgroundCall | None:
        """Start the local sandboxes in the background, shown in the status bar, so the first
        dry run is quick. Once per window; cancelled by closing it."""
        if self._warm_up_call is not None or self.services.sandbox.running:
            return self._warm_up_call
        self.statusBar().showMessage(f"{WARM_UP_TEXT}…", 8000)
        self._warm_up_call = asyncloop.submit(
            self.services.sandbox.ensure_up,
            on_done=lambda _session: self.statusBar().showMessage(
                "✓ The local sandboxes are ready", 6000
            ),
            on_error=self._warm_up_failed,
            what=WARM_UP_TEXT,
        )
        return self._warm_up_call

    def _warm_up_failed(self, exc: BaseException) -> None:
        if isinstance(exc, SandboxStopped):
            return  # the window closed during the start
        # Not fatal: the first test run starts them again and reports its own error.
        self.statusBar().showMessage(f"The local sandboxes did not start: {exc}", 10000)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.maybe_save():
            asyncloop.set_error_sink(None)
            if self._owns_services:
                self.services.close()
            event.accept()
        else:
            event.ignore()
