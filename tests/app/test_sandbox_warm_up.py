"""Issue 13, scenario 5: the local sandboxes start in the background when the studio shows,
with visible progress, and closing the studio during the start does not wait for it."""

from __future__ import annotations

import threading

import pytest

import runner.api.sandbox as sandbox_api
from app import asyncloop
from app.document.document import StudioDocument
from app.services import Services
from app.services.sandbox import WARM_UP_TEXT, SandboxService, SandboxStopped
from app.views.main_window import MainWindow, sandbox_warm_up
from app.workspace import studio_settings


class FakeSession:
    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def slow_sandbox(monkeypatch):
    """start_sandbox_child blocks until released; the sessions it made are recorded."""
    release = threading.Event()
    sessions: list[FakeSession] = []

    def fake_up(state_dir, seed=None):
        release.wait(10)
        sessions.append(FakeSession())
        return sessions[-1]

    monkeypatch.setattr(sandbox_api, "start_sandbox_child", fake_up)
    return release, sessions


def _window(qtbot, tmp_path, catalogs, **kw) -> MainWindow:
    win = MainWindow(
        StudioDocument(catalogs=catalogs),
        settings=studio_settings(tmp_path / "settings.ini"),
        ask_unsaved=lambda _parent, _name: "discard",
        services=Services(config_path=tmp_path / "c.json", sandbox_dir=tmp_path / "sandbox"),
        **kw,
    )
    qtbot.addWidget(win)
    return win


def test_warm_up_starts_when_the_window_shows_and_says_so(qtbot, tmp_path, catalogs, slow_sandbox):
    release, sessions = slow_sandbox
    win = _window(qtbot, tmp_path, catalogs, warm_up=True)
    try:
        win.show()
        qtbot.waitUntil(lambda: win._warm_up_call is not None)
        assert win.busy_label.isVisible()
        assert WARM_UP_TEXT in win.busy_label.text()
        release.set()
        qtbot.waitUntil(lambda: not win._warm_up_call.running)
        qtbot.waitUntil(lambda: "ready" in win.statusBar().currentMessage())
        assert win.services.sandbox.running  # the first dry run finds them up
        assert len(sessions) == 1
    finally:
        win.services.close()
        asyncloop.set_error_sink(None)


def test_closing_during_the_start_does_not_wait(qtbot, tmp_path, slow_sandbox):
    release, sessions = slow_sandbox
    service = SandboxService(tmp_path / "sandbox")
    call = threading.Thread(target=lambda: pytest.raises(SandboxStopped, service.ensure_up))
    call.start()
    qtbot.waitUntil(lambda: service._lock.locked())
    service.stop()  # returns at once although the start holds the lock
    assert call.is_alive()
    release.set()
    call.join(5)
    assert sessions and sessions[0].stopped and not service.running


def test_it_can_be_turned_off(tmp_path, monkeypatch, qtbot, catalogs):
    settings = studio_settings(tmp_path / "s.ini")
    monkeypatch.delenv("FIELDBRIDGE_SANDBOX_WARM_UP", raising=False)
    assert sandbox_warm_up(settings)
    settings.setValue("sandbox/warm_up", "false")
    assert not sandbox_warm_up(settings)
    settings.setValue("sandbox/warm_up", "true")
    monkeypatch.setenv("FIELDBRIDGE_SANDBOX_WARM_UP", "0")
    assert not sandbox_warm_up(settings)
    win = _window(qtbot, tmp_path, catalogs)
    assert not win.warm_up
    asyncloop.set_error_sink(None)
