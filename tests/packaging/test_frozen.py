"""runner.frozen: one argv for "run this module" from source and from a PyInstaller build."""

from __future__ import annotations

import subprocess
import sys

import pytest

from runner import frozen


@pytest.fixture
def as_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/fieldbridge/fieldbridge-runner")


def test_from_source_the_command_is_python_dash_m(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "frozen", raising=False)
    assert not frozen.is_frozen()
    assert frozen.python_command("runner.sandbox.localstripe_launcher", "--port", "0") == [
        sys.executable, "-m", "runner.sandbox.localstripe_launcher", "--port", "0"]


def test_frozen_the_command_is_the_binary_with_the_hidden_entry(as_frozen: None) -> None:
    assert frozen.is_frozen()
    assert frozen.python_command("runner.sandbox.localstripe_launcher", "--port", "0") == [
        "/opt/fieldbridge/fieldbridge-runner", frozen.RUN_MODULE,
        "runner.sandbox.localstripe_launcher", "--port", "0"]


@pytest.mark.parametrize("argv", [[], ["--help"], ["bundle", "test", "x.fbz"],
                                  ["run", "-m", "runner.sandbox.localstripe_launcher"]])
def test_an_ordinary_command_line_is_left_alone(argv: list[str]) -> None:
    assert frozen.dispatch(argv) is None


@pytest.mark.parametrize("entry", [frozen.RUN_MODULE, "-m"])
def test_dispatch_runs_the_module_as_main_with_its_arguments(
        entry: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str, list[str]]] = []

    def run_module(name: str, run_name: str, alter_sys: bool) -> dict:
        calls.append((name, run_name, list(sys.argv)))
        return {}

    monkeypatch.setattr(frozen.runpy, "run_module", run_module)
    monkeypatch.setattr(sys, "argv", ["fieldbridge-runner"])
    module = "runner.sandbox.localstripe_launcher"
    assert frozen.dispatch([entry, module, "--port", "0"]) == 0
    assert calls == [(module, "__main__", [module, "--port", "0"])]


def test_dispatch_refuses_a_module_that_is_not_runnable(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert frozen.dispatch([frozen.RUN_MODULE, "os"]) == 2
    err = capsys.readouterr().err
    assert "'os' cannot be run this way" in err
    assert "runner.sandbox.localstripe_launcher" in err


def test_dispatch_without_a_module_name_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert frozen.dispatch([frozen.RUN_MODULE]) == 2
    assert "needs a module name" in capsys.readouterr().err


def test_every_runnable_module_exists() -> None:
    import importlib.util

    for name in frozen.RUNNABLE_MODULES:
        assert importlib.util.find_spec(name) is not None, name


@pytest.mark.slow
def test_the_real_launcher_runs_through_dispatch() -> None:
    # From source, through the same entry a frozen build uses: localstripe comes up.
    code = ("import sys; from runner.frozen import dispatch; "
            "sys.exit(dispatch(sys.argv[1:]))")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, frozen.RUN_MODULE, "runner.sandbox.localstripe_launcher",
         "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("LISTENING "), line
        assert int(line.split()[1]) > 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
