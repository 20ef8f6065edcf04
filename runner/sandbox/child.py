"""The local sandboxes in a child process: ``sandbox up --json``, started by the studio.

The Salesforce emulator answers its requests on threads of the process that starts it. In
the studio's own process every sandbox request (the demo seed, a test run, samples) took
the interpreter from the window: a workspace opened while the sandboxes warmed up cost
0.1-0.45 s more CPU (issue 12). A child process runs them on the other core.

The child is ``fieldbridge-runner sandbox up --json --parent-pid <ours>`` (from source or
from a frozen build, :func:`runner.frozen.python_command`): it prints the sandboxes'
configuration as one line of JSON, stays up until stopped, and stops by itself when its
parent is gone, so a killed studio leaves no sandboxes behind holding the state directory.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from runner.config import read_sandbox_json
from runner.errors import ConfigError, SandboxError
from runner.frozen import python_command
from runner.private_files import create_private_file, private_dir

# A first start makes a certificate authority and seeds both sides: about 3-10 s, more on a
# loaded machine.
START_TIMEOUT = 120.0
STOP_TIMEOUT = 20.0
LOG_NAME = "sandbox-child.log"


@dataclass(frozen=True)
class StripeEndpoint:
    api_base: str
    api_key: str
    webhook_secret: str


@dataclass(frozen=True)
class SalesforceEndpoint:
    instance_url: str
    access_token: str
    login_url: str
    username: str
    password: str
    consumer_key: str
    ca_file: Path
    pubsub_endpoint: str = ""
    security_token: str | None = None
    consumer_secret: str | None = None
    api_version: str | None = None


class SandboxChild:
    """Both sandboxes, running in a child process: the attributes of
    :class:`runner.sandbox.up.SandboxSession` a client needs (``stripe``, ``salesforce``,
    ``state_dir``) and ``stop()``."""

    def __init__(self, process: subprocess.Popen[str], config: dict[str, Any],
                 log_path: Path) -> None:
        self.process = process
        self.log_path = log_path
        st, sf = config["stripe"], config["salesforce"]
        self.stripe = StripeEndpoint(api_base=st["api_base"], api_key=st["api_key"],
                                     webhook_secret=st["webhook_secret"])
        self.salesforce = SalesforceEndpoint(
            instance_url=sf["instance_url"], access_token=sf["access_token"],
            login_url=sf["login_url"], username=sf["username"], password=sf["password"],
            consumer_key=sf["consumer_key"], ca_file=Path(sf["ca_file"]),
            pubsub_endpoint=sf.get("pubsub_endpoint") or "",
            security_token=sf.get("security_token"), consumer_secret=sf.get("consumer_secret"),
            api_version=sf.get("api_version"))
        self.state_dir = Path(config["state_dir"])

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    @property
    def pids(self) -> list[int]:
        return [self.process.pid]

    def stop(self) -> None:
        """Ask the child to stop (it stops both sandboxes and frees the state directory);
        killed if it has not within :data:`STOP_TIMEOUT` seconds."""
        stop_child(self.process)


def stop_child(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


def start_sandbox_child(state_dir: Path, *, seed: str | None = None,
                        timeout: float = START_TIMEOUT) -> SandboxChild:
    """Start ``sandbox up`` on ``state_dir`` in a child process; once it is up, the
    sandboxes. :class:`SandboxError` with the child's last words if it stops or is not up
    within ``timeout`` seconds."""
    state_dir = Path(state_dir).expanduser().resolve()
    try:
        private_dir(state_dir)
        log_path = create_private_file(state_dir / LOG_NAME)
    except OSError as exc:
        raise SandboxError(f"cannot create the sandbox state directory {state_dir}") from exc
    args = ["sandbox", "up", "--json", "--state-dir", str(state_dir),
            "--parent-pid", str(os.getpid())]
    if seed is not None:
        args += ["--seed", seed]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(python_command("runner.cli", *args), stdout=subprocess.PIPE,
                                   stderr=log, stdin=subprocess.DEVNULL, text=True, env=env)
    line = _first_line(process.stdout, timeout) if process.stdout is not None else None
    if line is None or not line.startswith("{"):
        slow = line is None and process.poll() is None
        stop_child(process)
        what = f"did not start within {timeout:g} s" if slow else "could not start"
        raise SandboxError(f"the local sandboxes {what}: {_last_words(log_path, line)}")
    try:
        # The runner's one reader of what `sandbox up --json` prints (and its checks).
        return SandboxChild(process, read_sandbox_json(line), log_path)
    except (ConfigError, KeyError, TypeError) as exc:
        stop_child(process)
        raise SandboxError(f"the local sandboxes answered something unexpected: {exc}") from exc


def _first_line(stream: IO[str], timeout: float) -> str | None:
    """The stream's first line, or None if none came within ``timeout`` seconds or it ended."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), name="sandbox-child-start",
                     daemon=True).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        return None
    return line.strip() or None


def _last_words(log_path: Path, line: str | None) -> str:
    """The child's last error line (its log, else what it printed), for one sentence."""
    try:
        lines = [t.strip() for t in log_path.read_text(encoding="utf-8").splitlines()
                 if t.strip()]
    except OSError:
        lines = []
    errors = [t for t in lines if t.startswith("error:")] or lines or [line or ""]
    last = errors[-1][:300]
    return last or f"see {log_path}"
