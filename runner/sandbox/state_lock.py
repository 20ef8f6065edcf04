"""One ``sandbox up`` per state directory, held by an advisory lock for the session's life.

Two sandboxes on one state directory would rewrite each other's CA, keys and data, and the
first one's clients would then fail TLS. The lock is ``flock`` on ``sandbox.lock`` in the
directory: the kernel drops it when the holder exits, however it exits (even ``kill -9``),
so a stale pid in the file never blocks a new start. The pid is written only to name the
holder in the refusal.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from runner.errors import SandboxError
from runner.sandbox.private_files import FILE_MODE

LOCK_NAME = "sandbox.lock"


class StateDirLock:
    """The held lock on one state directory; ``release()`` it when the sandboxes stop."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError as exc:
            raise SandboxError(
                f"cannot lock the sandbox state directory {state_dir}: {exc.strerror or exc}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise SandboxError(
                f"the sandbox state directory {state_dir} is in use by {holder}; stop that "
                "one first or choose another --state-dir"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Let another sandbox use the directory; safe to call twice."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor drops the flock


def _holder(fd: int) -> str:
    """The holder as the refusal names it: by the pid it wrote."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    if not text.isdigit():
        return "another running sandbox"  # it has the lock but has not written its pid yet
    return f"another running sandbox (pid {text})"
