"""Child processes for the build smoke tests: read one line with a deadline, find orphans."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import requests


def read_line(proc: subprocess.Popen[str], timeout: float = 120) -> str:
    """The next stdout line, or an AssertionError with stderr when none comes in time."""
    assert proc.stdout is not None
    found: list[str] = []
    reader = threading.Thread(target=lambda: found.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not found or not found[0]:
        proc.kill()
        _, err = proc.communicate(timeout=30)
        raise AssertionError(f"no line from {proc.args!r} (exit {proc.returncode}): {err}")
    return found[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[str], timeout: float = 120) -> dict:
    """Poll ``url`` (GET /healthz) until 200; fail with stderr if the process exits first."""
    session = requests.Session()
    session.trust_env = False  # loopback: no proxies
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _, err = proc.communicate(timeout=30)
            raise AssertionError(f"{proc.args!r} exited with {proc.returncode}: {err[-3000:]}")
        with contextlib.suppress(requests.RequestException):
            resp = session.get(url, timeout=2)
            if resp.status_code == 200:
                return resp.json()
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered 200")


def descendants(pid: int) -> set[int]:
    """Every descendant process of ``pid`` (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


def wait_gone(pids: set[int], timeout: float = 30) -> set[int]:
    """The pids still alive after ``timeout`` (they get that long to exit)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = {p for p in pids if alive(p)}
        if not left:
            return left
        time.sleep(0.2)
    return {p for p in pids if alive(p)}
