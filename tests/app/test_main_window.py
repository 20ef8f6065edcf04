"""The main window: composition, title and dirty marker, flows, status bar, themes, errors,
and the background helpers of ``app.asyncloop`` that report into the errors panel."""

from __future__ import annotations

import asyncio
import threading

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from app import asyncloop, icons, theme
from app.document.document import StudioDocument
from app.views.errors_panel import ErrorsPanel, cause_chain, describe_exception
from app.views.main_window import (
    MainWindow,
    badge_mode,
    validation_issues,
)
from app.workspace import studio_settings
from mappings.schema.model import FieldKind


def make_services(tmp_path):
    """Connections and sandbox state under tmp_path: never the user's own."""
    from app.services import Services

    return Services(config_path=tmp_path / "connections.json", sandbox_dir=tmp_path / "sandbox")


@pytest.fixture
def window(qtbot, tmp_path, catalogs) -> MainWindow:
    document = StudioDocument(catalogs=catalogs)
    win = MainWindow(
        document,
        settings=studio_settings(tmp_path / "settings.ini"),
        ask_unsaved=lambda _parent, _name: "discard",
        services=make_services(tmp_path),
    )
    qtbot.addWidget(win)
    win.open_template("charges-payments")
    yield win
    asyncloop.set_error_sink(None)


def test_opens_a_template_as_an_unsaved_workspace(window):
    assert window.document.workspace is None
    assert window.windowTitle() == "charges-payments (from template) — Fieldbridge Studio"
    flows = [window.flow_combo.itemData(i) for i in range(window.flow_combo.count())]
    assert flows == [f.name for _, f in window.document.flows()]
    assert window.flow_combo.currentData() == window.document.current_flow == flows[0]
    assert flows[0] in window.flow_status.text()


def test_title_shows_a_star_while_dirty_and_undo_clears_it(window):
    flow = window.document.current_flow
    window.document.unmap_field(flow, "Amount__c")
    assert window.windowTitle().startswith("charges-payments (from template)* ")
    window.actions_by_name["undo"].trigger()
    assert window.document.flow(flow).mapping_for("Amount__c") is not None
    assert "*" not in window.windowTitle()
    window.actions_by_name["redo"].trigger()
    assert window.document.flow(flow).mapping_for("Amount__c") is None
    assert "*" in window.windowTitle()


def test_picking_a_flow_in_the_toolbar_sets_the_current_flow(qtbot, window):
    window.open_template("subscriptions")
    second = window.flow_combo.itemData(1)
    window.flow_combo.setCurrentIndex(1)
    window.flow_combo.activated.emit(1)
    assert window.document.current_flow == second
    window.document.set_current_flow(window.flow_combo.itemData(2))
    assert window.flow_combo.currentIndex() == 2


def test_validation_issue_count_follows_edits(qtbot, window):
    flow = window.document.current_flow
    assert validation_issues(window.document, flow) == []
    window.document.unmap_field(flow, "Amount__c")
    qtbot.waitUntil(lambda: "1 validation issue" in window.issue_label.text(), timeout=3000)
    issues = validation_issues(window.document, flow)
    assert [(i.code, i.field) for i in issues] == [("REQUIRED_FIELD_MISSING", "Amount__c")]
    assert "Amount__c" in window.issue_label.toolTip()
    window.document.undo_stack.undo()
    qtbot.waitUntil(lambda: "No validation issues" in window.issue_label.text(), timeout=3000)


def test_menus_hold_the_file_edit_and_view_actions(window):
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert list(menus) == [
        "File", "Edit", "Run", "Connections", "View", "Tools", "Help"
    ]
    file_items = [a.text().replace("&", "") for a in menus["File"].actions() if a.text()]
    for expected in ("New from Template…", "Open Workspace…", "Open Recent", "Save",
                     "Save As…", "Export Bundle…", "Compare with Bundle…", "Quit"):  # fmt: skip
        assert expected in file_items
    edit_items = [a.text().replace("&", "") for a in menus["Edit"].actions() if a.text()]
    assert edit_items[:2] == ["Undo", "Redo"]
    assert window.actions_by_name["map"].shortcut().toString() == "Ctrl+M"


def test_connection_badges(window):
    window.set_connection_badges(("acme", "LIVE"), None)
    assert window.stripe_badge.text() == "Stripe · live"
    assert window.stripe_badge.property("mode") == "live"
    assert window.salesforce_badge.text() == "Salesforce: not connected"
    assert [badge_mode(b) for b in ("TEST", "LIVE", "SANDBOX", "PRODUCTION", "SANDBOX ORG")] == [
        "test", "live", "local", "live", "test"
    ]  # fmt: skip


def test_theme_switch_changes_palette_icons_and_settings(window):
    app = QApplication.instance()
    try:
        window.set_theme("dark")
        assert app.palette().color(QPalette.ColorRole.Window).name() == theme.COLOURS["dark"].window
        assert window.actions_by_name["theme_dark"].isChecked()
        assert window.saved_theme() == "dark"
        assert "#262a33" in app.styleSheet()
        window.set_theme("light")
        assert window.saved_theme() == "light"
        assert window.actions_by_name["theme_light"].isChecked()
    finally:
        app.setStyleSheet("")
    with pytest.raises(ValueError, match="unknown theme 'blue'"):
        theme.apply_theme(app, "blue")


def test_every_icon_file_loads(qtbot):
    for name in icons.TOOLBAR_ICONS:
        assert not icons.icon(name).isNull(), name
    for kind in FieldKind:
        assert not icons.kind_icon(kind).isNull(), kind
    assert not icons.app_icon().isNull()
    with pytest.raises(FileNotFoundError, match="no icon file nope.svg"):
        icons.icon("nope")


def test_report_error_opens_the_dock_with_the_cause_chain(window):
    try:
        try:
            raise ConnectionError("connection refused")
        except ConnectionError as inner:
            raise RuntimeError("cannot load the org describe") from inner
    except RuntimeError as exc:
        window.report_error(exc)
    assert not window.errors_dock.isHidden()
    entry = window.errors.model.entries[-1]
    # issue 13, scenario 9: the summary is the message in words (was "RuntimeError: …")
    assert entry.summary == "Cannot load the org describe"
    assert "caused by: ConnectionError: connection refused" in entry.details
    assert "connection refused" in window.errors.details.toPlainText()
    assert window.errors_button.text() == "1 error"


def test_errors_panel_model(qtbot, qtmodeltester):
    panel = ErrorsPanel()
    qtbot.addWidget(panel)
    panel.add_error("plain message")
    panel.add_error(ValueError("bad value"), "summary given")
    qtmodeltester.check(panel.model)
    assert panel.count == 2
    assert panel.model.entries[1].summary == "summary given"
    panel.clear()
    assert panel.count == 0 and panel.details.toPlainText() == ""


def test_cause_chain_stops_on_cycles():
    a, b = ValueError("a"), KeyError("b")
    a.__cause__, b.__cause__ = b, a
    assert cause_chain(a) == [a, b]
    assert describe_exception(ValueError("x")).startswith("ValueError: x")


# --------------------------------------------------------------------------- asyncloop


def test_submit_runs_off_the_ui_thread_and_reports_back(qtbot, window):
    ui_thread = threading.get_ident()
    seen: dict[str, object] = {}

    def work(x: int) -> int:
        seen["thread"] = threading.get_ident()
        return x * 2

    def done(value: int) -> None:
        seen["value"] = value
        seen["callback_thread"] = threading.get_ident()

    with qtbot.waitSignal(asyncloop.busy.changed, timeout=3000):
        call = asyncloop.submit(work, 21, on_done=done, what="doubling")
    qtbot.waitUntil(lambda: "value" in seen, timeout=3000)
    assert seen["value"] == 42
    assert seen["thread"] != ui_thread
    assert seen["callback_thread"] == ui_thread
    assert not call.running
    qtbot.waitUntil(lambda: asyncloop.busy.count == 0, timeout=3000)


def test_a_failing_background_call_lands_in_the_errors_panel(qtbot, window):
    def fail() -> None:
        raise OSError("disk full")

    asyncloop.submit(fail, what="writing the bundle")
    qtbot.waitUntil(lambda: window.errors.count == 1, timeout=3000)
    assert window.errors.model.entries[0].summary == "writing the bundle failed: disk full"


def test_busy_indicator_follows_the_counter(window):
    asyncloop.busy.enter("testing the connection")
    try:
        assert not window.busy_bar.isHidden()
        assert window.busy_label.text() == "testing the connection…"
    finally:
        asyncloop.busy.leave("testing the connection")
    assert window.busy_bar.isHidden()


def test_run_blocking_and_spawn_on_the_qasync_loop(qtbot, window):
    loop = asyncloop.create_loop(QApplication.instance())
    release = threading.Event()
    try:

        async def scenario():
            value = await asyncloop.run_blocking(sum, [1, 2, 3], what="adding")
            with pytest.raises(TimeoutError, match="waiting did not finish within 0.05 s"):
                await asyncloop.run_blocking(release.wait, 5, timeout=0.05, what="waiting")

            async def broken():
                raise ValueError("describe failed")

            task = asyncloop.spawn(broken(), what="refreshing the schema")
            await asyncio.wait([task])
            await asyncio.sleep(0)
            return value

        assert asyncloop.wait_for(scenario(), loop) == 6
    finally:
        release.set()
        loop.close()
        asyncio.set_event_loop(None)
    assert window.errors.model.entries[-1].summary == (
        "refreshing the schema failed: describe failed"
    )


def test_many_void_qt_calls_keep_none_alive(qtbot):
    """shiboken6 6.12.0 on Python 3.11 dropped a reference to None per void call, which
    aborted long sessions (pyproject pins PySide6 below 6.12 for it). None's reference
    count must not move across many such calls."""
    import sys

    from PySide6.QtWidgets import QLabel

    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for _ in range(50_000):
        label.setEnabled(True)
    # Other threads may hold or drop a few references meanwhile; a leak is one per call.
    assert abs(sys.getrefcount(None) - before) < 1_000


def test_scenario_9_errors_read_in_plain_words_with_the_traceback_folded(qtbot, window):
    """Issue 13, scenario 9: no Python traceback in front of the user; it sits under a
    collapsed "Details" with the class names, and the message says what to do."""
    try:
        try:
            raise ConnectionRefusedError("connection refused")
        except ConnectionRefusedError as inner:
            raise RuntimeError("cannot load the org describe") from inner
    except RuntimeError as exc:
        window.report_error(exc)
    panel = window.errors
    shown = panel.message.text()
    assert shown.startswith("Cannot load the org describe")
    assert "Because: Connection refused" in shown and "network connection" in shown
    assert "Traceback" not in shown and "RuntimeError" not in shown
    assert panel.details_toggle.text() == "Details" and not panel.details_toggle.isChecked()
    assert not panel.details.isVisibleTo(panel)
    assert "Traceback" in panel.details.toPlainText()
    panel.details_toggle.setChecked(True)
    assert panel.details.isVisibleTo(panel)
