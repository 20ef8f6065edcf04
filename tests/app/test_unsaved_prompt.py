"""Closing (or replacing) a workspace with unsaved changes asks Save / Discard / Cancel."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from app.document.document import StudioDocument
from app.services import Services
from app.views import main_window as main_window_module
from app.views.main_window import MainWindow
from app.workspace import studio_settings
from mappings.document.yamlio import load_documents


class Asker:
    """A scripted answer to the unsaved-changes question, remembering it was asked."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.asked: list[str] = []

    def __call__(self, _parent, name: str) -> str:
        self.asked.append(name)
        return self.answer


def make_window(qtbot, tmp_path, catalogs, answer: str, folder=None) -> tuple[MainWindow, Asker]:
    from app.services import Services

    asker = Asker(answer)
    win = MainWindow(
        StudioDocument(catalogs=catalogs),
        settings=studio_settings(tmp_path / "settings.ini"),
        ask_unsaved=asker,
        choose_folder=lambda _title: folder,
        services=Services(config_path=tmp_path / "conn.json", sandbox_dir=tmp_path / "sb"),
    )
    qtbot.addWidget(win)
    win.open_template("charges-payments")
    win.show()
    return win, asker


def _edit(win: MainWindow) -> None:
    win.document.unmap_field(win.document.current_flow, "Amount__c")
    assert win.document.is_dirty


def test_a_clean_workspace_closes_without_asking(qtbot, tmp_path, catalogs):
    win, asker = make_window(qtbot, tmp_path, catalogs, "cancel")
    assert win.close()
    assert asker.asked == []


def test_save_writes_the_workspace_then_closes(qtbot, tmp_path, catalogs):
    folder = tmp_path / "ws"
    win, asker = make_window(qtbot, tmp_path, catalogs, "save", folder=folder)
    _edit(win)
    assert win.close()
    assert asker.asked == ["charges-payments (from template)"]
    [(path, saved)] = load_documents(folder)
    assert saved.flows[0].mapping_for("Amount__c") is None  # the edit reached the disk
    assert not win.document.is_dirty


def test_save_cancelled_in_the_folder_chooser_keeps_the_window_open(qtbot, tmp_path, catalogs):
    win, asker = make_window(qtbot, tmp_path, catalogs, "save", folder=None)
    _edit(win)
    assert not win.close()
    assert win.isVisible() and win.document.is_dirty


def test_discard_closes_without_writing(qtbot, tmp_path, catalogs):
    win, asker = make_window(qtbot, tmp_path, catalogs, "discard", folder=tmp_path / "ws")
    _edit(win)
    assert win.close()
    assert asker.asked and not (tmp_path / "ws").exists()


def test_cancel_keeps_the_window_open_with_its_changes(qtbot, tmp_path, catalogs):
    win, asker = make_window(qtbot, tmp_path, catalogs, "cancel")
    _edit(win)
    assert not win.close()
    assert win.isVisible()
    assert win.document.is_dirty and "*" in win.windowTitle()


def test_opening_another_template_asks_first(qtbot, tmp_path, catalogs):
    win, asker = make_window(qtbot, tmp_path, catalogs, "cancel")
    _edit(win)
    assert not win.open_template("payouts")
    assert win.template_name == "charges-payments"
    asker.answer = "discard"
    assert win.open_template("payouts")
    assert win.document.current_flow == "payout-to-record"
    assert not win.document.is_dirty


@pytest.mark.parametrize(
    ("button", "answer"),
    [
        (QMessageBox.StandardButton.Save, "save"),
        (QMessageBox.StandardButton.Discard, "discard"),
        (QMessageBox.StandardButton.Cancel, "cancel"),
    ],
)
def test_the_message_box_answers(qtbot, monkeypatch, button, answer):
    shown: list[QMessageBox] = []

    def fake_exec(box: QMessageBox) -> int:
        shown.append(box)
        return int(button.value)

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    assert main_window_module.ask_unsaved_with_message_box(None, "my-workspace") == answer
    [box] = shown
    assert box.text() == "Save the changes to my-workspace?"
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Save)


class _CountingServices(Services):
    """app.services.Services over tmp_path that counts close() calls."""

    def __init__(self, tmp_path) -> None:
        super().__init__(config_path=tmp_path / "c.json", sandbox_dir=tmp_path / "sandbox")
        self.closed = 0

    def close(self) -> None:
        self.closed += 1
        super().close()


def test_closing_stops_the_services_the_window_made(qtbot, tmp_path, catalogs, monkeypatch):
    made = _CountingServices(tmp_path)
    monkeypatch.setattr(main_window_module, "_default_services", lambda: made)
    win = MainWindow(StudioDocument(catalogs=catalogs), settings=studio_settings(tmp_path / "s.ini"))
    qtbot.addWidget(win)
    assert win.close()
    assert made.closed == 1  # the local sandboxes it started do not outlive the studio


def test_closing_leaves_services_it_was_given(qtbot, tmp_path, catalogs):
    given = _CountingServices(tmp_path)
    win = MainWindow(
        StudioDocument(catalogs=catalogs), settings=studio_settings(tmp_path / "s.ini"), services=given
    )
    qtbot.addWidget(win)
    assert win.close()
    assert given.closed == 0
