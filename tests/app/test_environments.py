"""Environments in the studio: the current one in the title and the status bar, a question
before anything writes to a protected one, and the Promote dialog running the runner's steps
with progress (the promotion itself is faked here; the real one is tested end to end in
tests/runner/promote)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from app import asyncloop
from app.document.document import StudioDocument
from app.services.environments import EnvironmentState
from app.views import promote_dialog
from app.views.main_window import MainWindow
from app.views.promote_dialog import PromoteDialog
from app.workspace import studio_settings
from runner.api.promote import STEPS, Promotion, StepResult

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "mappings" / "templates"
ENVIRONMENTS = """format_version = 1

[environments.dev]
stripe = "dev"
salesforce = "dev-org"
runner = "http://127.0.0.1:8787"

[environments.qa]
stripe = "qa"
salesforce = "qa-org"
runner = "http://qa.example.com:8787"

[environments.prod]
stripe = "live"
salesforce = "production"
runner = "https://sync.example.com"
"""


@pytest.fixture
def workspace(tmp_path) -> Path:
    folder = tmp_path / "payments"
    folder.mkdir()
    shutil.copy(TEMPLATES_DIR / "charges-payments.yaml", folder)
    (folder / "environments.toml").write_text(ENVIRONMENTS, encoding="utf-8")
    return folder


@pytest.fixture
def window(qtbot, tmp_path, catalogs, workspace) -> MainWindow:
    from app.services import Services

    win = MainWindow(StudioDocument(catalogs=catalogs),
                     settings=studio_settings(tmp_path / "settings.ini"),
                     ask_unsaved=lambda _parent, _name: "discard",
                     services=Services(config_path=tmp_path / "connections.json",
                                       sandbox_dir=tmp_path / "sandbox"))
    qtbot.addWidget(win)
    assert win.open_workspace(workspace)
    yield win
    asyncloop.set_error_sink(None)


def test_the_current_environment_is_in_the_title_and_the_status_bar(window) -> None:
    assert window.windowTitle() == "payments [DEV] — Fieldbridge Studio"
    badge = window.status_area.environment_badge
    assert not badge.isHidden() and badge.text() == "ENV · DEV"
    assert "#2e7d32" in badge.styleSheet()
    window.environments.choose("prod")
    assert window.windowTitle() == "payments [PROD] — Fieldbridge Studio"
    assert badge.text() == "ENV · PROD" and "#c62828" in badge.styleSheet()
    assert "asks before anything writes" in badge.toolTip()


def test_writes_to_prod_are_asked_about_first(window, monkeypatch) -> None:
    asked: list[str] = []

    def answer(_parent, title, _text):
        asked.append(title)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", answer)
    assert window.confirm_write("a real test run")  # dev: not asked
    window.environments.choose("prod")
    assert not window.confirm_write("a real test run")
    assert asked == ["Write to prod?"]


def test_a_workspace_without_environments_shows_none(qtbot, tmp_path) -> None:
    state = EnvironmentState()
    state.load(tmp_path)
    assert state.current is None and state.names == [] and state.problem is None
    (tmp_path / "environments.toml").write_text("format_version = 2\n", encoding="utf-8")
    state.load(tmp_path)
    assert state.current is None and "format_version = 1" in (state.problem or "")


def _fake_promote(result_at: str | None):
    def promote(path, workspace, to, *, sign_key=None, progress=None):
        done = Promotion(Path(path).name, "ab" * 32, to)
        for index, step in enumerate(STEPS):
            progress(index, step, None)
            ok = step != result_at
            result = StepResult(step, ok, f"{step} fine" if ok else
                                "the qa org does not accept the bundle: Payment__c.Amount__c "
                                "is missing", [] if ok else ["Payment__c.Amount__c is missing"])
            done.steps.append(result)
            progress(index, step, result)
            if not ok:
                break
        done.deployed = result_at is None
        return done
    return promote


def _dialog(qtbot, window) -> PromoteDialog:
    dialog = window.show_promote()
    assert isinstance(dialog, PromoteDialog)
    qtbot.addWidget(dialog)
    return dialog


def test_the_promote_dialog_shows_each_step_and_stops_at_the_failure(qtbot, window,
                                                                     monkeypatch) -> None:
    monkeypatch.setattr(promote_dialog, "promote", _fake_promote("contract"))
    dialog = _dialog(qtbot, window)
    assert dialog.target.currentText() == "qa"  # the environment after the current one
    call = dialog.start()
    assert call is not None
    qtbot.waitUntil(lambda: dialog.promotion is not None, timeout=10000)
    texts = [dialog.steps.item(i).text() for i in range(len(STEPS))]
    assert texts[0].startswith("✓  1. verify") and texts[2].startswith("✗  3. contract")
    assert texts[3].startswith("○  4. dry run")
    assert "Not promoted" in dialog.outcome.text() and "Amount__c" in dialog.outcome.text()
    assert "Payment__c.Amount__c is missing" in dialog.details.toPlainText()


def test_promoting_to_prod_asks_first_and_no_stops_it(qtbot, window, monkeypatch) -> None:
    monkeypatch.setattr(promote_dialog, "promote", _fake_promote(None))
    dialog = _dialog(qtbot, window)
    dialog.ask = lambda _title, _text: False
    dialog.target.setCurrentText("prod")
    assert "protected" in dialog.target_note.text()
    assert dialog.start() is None
    assert "chose not to write to prod" in dialog.outcome.text()
    dialog.ask = lambda _title, _text: True
    assert dialog.start() is not None
    qtbot.waitUntil(lambda: dialog.promotion is not None, timeout=10000)
    assert "Promoted" in dialog.outcome.text()


def test_the_dialog_renders(qtbot, window, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(promote_dialog, "promote", _fake_promote("contract"))
    dialog = _dialog(qtbot, window)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.promotion is not None, timeout=10000)
    dialog.resize(720, 620)
    assert not dialog.grab().isNull()
    shots = Path(os.environ.get("FB_SHOTS", tmp_path))
    dialog.grab().save(str(shots / "promote-dialog.png"))
    window.environments.choose("prod")
    window.resize(1280, 800)
    window.grab().save(str(shots / "window-prod.png"))


def test_a_real_test_run_against_prod_is_asked_about_first(window, monkeypatch) -> None:
    asked: list[str] = []

    def answer(_parent, title, text):
        asked.append(text)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", answer)
    panel = window.testrun_panel
    monkeypatch.setattr(panel, "samples", lambda: [{"id": "ch_1"}])
    window.environments.choose("prod")
    assert panel.start(dry=False) is False
    assert "a real test run of charge-to-payment" in asked[0]
    assert panel.summary_label.text() == "Not run: you chose not to write there"
