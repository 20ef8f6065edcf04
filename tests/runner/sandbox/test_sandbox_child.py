"""The local sandboxes in a child process (runner.sandbox.child): what the studio starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

import runner.sandbox.child as child_module
from runner.errors import SandboxError
from runner.sandbox.child import start_sandbox_child

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # our own child: reap it, or it lingers as a zombie
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.1)
    return False


def test_the_child_serves_both_sandboxes_and_stops_cleanly(tmp_path: Path) -> None:
    child = start_sandbox_child(tmp_path / "sandbox")
    try:
        assert child.running and child.state_dir == (tmp_path / "sandbox").resolve()
        answer = requests.get(child.stripe.api_base + "/v1/customers", timeout=5,
                              headers={"Authorization": f"Bearer {child.stripe.api_key}"})
        assert answer.status_code == 200
        session = requests.Session()
        session.verify = str(child.salesforce.ca_file)
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        versions = session.get(child.salesforce.instance_url + "/services/data", timeout=5)
        assert versions.status_code == 200
    finally:
        child.stop()
    assert not child.running
    with pytest.raises(requests.ConnectionError):
        requests.get(child.stripe.api_base + "/v1/customers", timeout=2)
    # The state directory is free again: a second start on it succeeds.
    start_sandbox_child(tmp_path / "sandbox").stop()


def test_a_start_that_fails_is_one_sentence_from_the_child(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match=r"^the local sandboxes could not start: .*nope"):
        start_sandbox_child(tmp_path / "sandbox", seed="nope")


def test_the_sandboxes_stop_when_their_parent_is_killed(tmp_path: Path) -> None:
    """A studio killed with SIGKILL leaves no sandboxes behind holding its state directory."""
    script = ("import sys\nfrom pathlib import Path\n"
              "from runner.sandbox.child import start_sandbox_child\n"
              "child = start_sandbox_child(Path(sys.argv[1]))\n"
              "print(child.process.pid, flush=True)\n"
              "import time\ntime.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "sandbox")],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        assert _gone(child_pid, 15), "the sandbox child outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
    start_sandbox_child(tmp_path / "sandbox").stop()  # the state directory was freed


def test_a_child_that_answers_something_else_is_stopped_with_one_sentence(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = 'import time; print(\'{"stripe": {}, "salesforce": {}}\', flush=True); time.sleep(60)'
    monkeypatch.setattr(child_module, "python_command",
                        lambda module, *args: [sys.executable, "-c", script])
    with pytest.raises(SandboxError, match=r"^the local sandboxes answered something "
                                           r"unexpected: sandbox JSON: stripe lacks api_base"):
        start_sandbox_child(tmp_path / "sandbox")
