"""The main window's actions, menus and toolbar.

Every action is named (``window.actions_by_name["save"]``) so tests, the toolbar and the
menus share one object per command; the slots are the window's public methods. Icons are
tinted per theme, so :func:`refresh_icons` fetches them again after a switch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QMenu, QToolButton

from app import icons, theme
from app.models.naming import field_naming
from app.views.schema_panel import make_map_action

if TYPE_CHECKING:
    # The window builds its actions with this module: a runtime import would close a circle.
    from app.views.main_window import MainWindow

# action name -> icon name, for the actions that have one
ICONS = {
    "new_from_template": "templates", "open": "open", "save": "save", "undo": "undo",
    "redo": "redo", "map": "map", "automap": "automap", "preview": "preview",
    "test_run": "run", "export": "export", "connections": "connections",
    "compare": "compare", "errors": "errors", "reconcile": "compare", "operate": "run",
    "promote": "export",
}  # fmt: skip
TAB_ICONS = ("map", "preview", "run", "compare")  # the bottom tabs, in order


def add_action(
    window: MainWindow,
    name: str,
    text: str,
    slot: Callable[[], Any],
    *,
    shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
    tip: str = "",
) -> QAction:
    action = QAction(text, window)
    if name in ICONS:
        action.setIcon(icons.icon(ICONS[name]))
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
        # The tooltip names the key too (menus show it on their own).
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        tip = f"{tip} ({keys})" if tip else keys
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.triggered.connect(lambda _checked=False: slot())
    window.actions_by_name[name] = action
    return action


def build_actions(window: MainWindow) -> None:
    keys = QKeySequence.StandardKey
    w = window

    def a(name: str, text: str, slot: Callable[[], Any], **kw: Any) -> QAction:
        return add_action(w, name, text, slot, **kw)

    a("new_from_template", "&New from Template…", w.new_from_template, shortcut=keys.New,
      tip="Start a workspace from a shipped template")
    a("open", "&Open Workspace…", w.open_workspace_dialog, shortcut=keys.Open,
      tip="Open a folder of mapping YAML files")
    a("open_bundle", "Open &Bundle…", w.open_bundle_dialog,
      tip="Open an exported .fbz bundle as a workspace (it is verified first)")
    a("save", "&Save", w.save, shortcut=keys.Save, tip="Save the workspace")
    a("save_as", "Save &As…", w.save_as, shortcut=keys.SaveAs,
      tip="Save the workspace to another folder")
    a("export", "&Export Bundle…", w.export_bundle, shortcut="Ctrl+E",
      tip="Write a .fbz bundle for the runner, optionally signed")
    a("compare", "&Compare with Bundle…", w.compare_with_bundle,
      tip="Show what differs between the workspace and a bundle")
    a("quit", "&Quit", w.close, shortcut=keys.Quit)

    stack = w.document.undo_stack
    undo = stack.createUndoAction(w, "&Undo")
    undo.setShortcut(QKeySequence(keys.Undo))
    undo.setIcon(icons.icon("undo"))
    redo = stack.createRedoAction(w, "&Redo")
    redo.setShortcut(QKeySequence(keys.Redo))
    redo.setIcon(icons.icon("redo"))
    w.actions_by_name["undo"] = undo
    w.actions_by_name["redo"] = redo

    map_action = make_map_action(w.document, w.source_panel, w.target_panel, w)
    map_action.setText("&Map")
    map_action.setToolTip("Map the selected source field to the selected target (Ctrl+M)")
    map_action.setIcon(icons.icon("map"))
    w.actions_by_name["map"] = map_action
    a("automap", "&Auto-map…", w.auto_map, shortcut="Ctrl+Shift+M",
      tip="Suggest mappings by name and type, to accept or reject")
    a("new_flow", "New &Flow…", w.new_flow, tip="Create a flow (trigger, objects, operation)")
    a("preview", "&Preview", w.show_preview, shortcut="F5", tip="Preview the current flow on sample records")
    a("test_run", "&Test Run", w.show_test_run, shortcut="F6",
      tip="Dry run or real run against the Salesforce sandbox")
    a("connections", "&Manage Connections…", w.manage_connections,
      tip="Stripe accounts and Salesforce orgs")
    a("reconcile", "&Reconcile Payouts…", w.show_reconcile,
      tip="Match Stripe payouts and their transactions against the payments in Salesforce")
    a("operate", "&Operate Runners…", w.show_operate, shortcut="Ctrl+Shift+O",
      tip="Watch running runners: live charts, refused records to fix and replay, possible "
          "duplicates to decide, pause and resume (Ctrl+Shift+O)")
    a("promote", "&Promote Bundle…", w.show_promote,
      tip="Verify, test, check against the target org and deploy the workspace's bundle "
          "into the next environment (environments.toml)")
    a("about", "&About Fieldbridge Studio", w.about)

    w.theme_group = QActionGroup(w)
    for name in theme.THEMES:
        action = QAction(f"{name.title()} Theme", w, checkable=True)
        action.setData(name)
        action.triggered.connect(lambda _checked=False, n=name: w.set_theme(n))
        w.theme_group.addAction(action)
        w.actions_by_name[f"theme_{name}"] = action
    check_theme_action(w, theme.current_theme())
    show_api = QAction("Show &API Names", w, checkable=True)
    show_api.setToolTip("Show Salesforce API names beside the field labels")
    show_api.setStatusTip(show_api.toolTip())
    show_api.setChecked(field_naming().show_api_names)
    show_api.toggled.connect(w.set_show_api_names)
    w.actions_by_name["show_api_names"] = show_api


def check_theme_action(window: MainWindow, name: str) -> None:
    for action in window.theme_group.actions():
        action.setChecked(action.data() == name)


def build_menus(window: MainWindow) -> None:
    acts = window.actions_by_name
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(acts["new_from_template"])
    file_menu.addAction(acts["open"])
    file_menu.addAction(acts["open_bundle"])
    window.recent_menu = QMenu("Open &Recent", window)
    window.recent_menu.aboutToShow.connect(window._fill_recent_menu)
    file_menu.addMenu(window.recent_menu)
    file_menu.addSeparator()
    file_menu.addAction(acts["save"])
    file_menu.addAction(acts["save_as"])
    file_menu.addSeparator()
    file_menu.addAction(acts["export"])
    file_menu.addAction(acts["compare"])
    file_menu.addSeparator()
    file_menu.addAction(acts["quit"])

    edit_menu = bar.addMenu("&Edit")
    edit_menu.addAction(acts["undo"])
    edit_menu.addAction(acts["redo"])
    edit_menu.addSeparator()
    edit_menu.addAction(acts["map"])
    edit_menu.addAction(acts["automap"])
    edit_menu.addSeparator()
    edit_menu.addAction(acts["new_flow"])

    run_menu = bar.addMenu("&Run")
    run_menu.addAction(acts["preview"])
    run_menu.addAction(acts["test_run"])

    conn_menu = bar.addMenu("&Connections")
    conn_menu.addAction(acts["connections"])

    view_menu = bar.addMenu("&View")
    for action in window.theme_group.actions():
        view_menu.addAction(action)
    view_menu.addSeparator()
    view_menu.addAction(acts["show_api_names"])
    errors_toggle = window.errors_dock.toggleViewAction()
    errors_toggle.setText("&Errors Panel")
    errors_toggle.setIcon(icons.icon("errors"))
    acts["errors"] = errors_toggle
    view_menu.addAction(errors_toggle)

    tools_menu = bar.addMenu("&Tools")
    tools_menu.addAction(acts["reconcile"])
    tools_menu.addAction(acts["operate"])
    tools_menu.addAction(acts["promote"])

    help_menu = bar.addMenu("&Help")
    help_menu.addAction(acts["about"])


def build_toolbar(window: MainWindow) -> None:
    acts = window.actions_by_name
    bar = window.addToolBar("Main")
    bar.setObjectName("mainToolbar")
    bar.setMovable(False)
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    window.toolbar = bar
    for name in ("new_from_template", "open", "save"):
        bar.addAction(acts[name])
    bar.addSeparator()
    bar.addAction(acts["undo"])
    bar.addAction(acts["redo"])
    bar.addSeparator()
    flow_label = QLabel(" Flow ", window)
    flow_label.setObjectName("muted")
    bar.addWidget(flow_label)
    combo = QComboBox(window)
    combo.setObjectName("flowCombo")
    combo.setMinimumContentsLength(22)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setToolTip("The flow shown on the canvas")
    combo.activated.connect(window._flow_picked)
    window.flow_combo = combo
    bar.addWidget(combo)
    bar.addSeparator()
    for name in ("map", "automap", "preview", "test_run"):
        bar.addAction(acts[name])
    bar.addSeparator()
    for name in ("export", "connections"):
        bar.addAction(acts[name])
    # Icons only for the secondary actions keeps the bar within a laptop's width.
    for name in ("undo", "redo", "save", "open"):
        button = bar.widgetForAction(acts[name])
        if isinstance(button, QToolButton):
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)


def refresh_icons(window: MainWindow) -> None:
    """Toolbar icons are tinted per theme: fetch them again after a switch."""
    window.status_area.errors_button.setIcon(icons.icon("errors"))
    for action_name, icon_name in ICONS.items():
        action = window.actions_by_name.get(action_name)
        if action is not None:
            action.setIcon(icons.icon(icon_name))
    for i, icon_name in enumerate(TAB_ICONS[: window.bottom_tabs.count()]):
        window.bottom_tabs.setTabIcon(i, icons.icon(icon_name))
