"""One process at a time: an advisory ``flock`` on a lock file, held for the holder's life.

The kernel drops the lock when its holder exits, however it exits (even ``kill -9``), so a
stale file never blocks a new start. The holder writes its pid into the file only so that a
refusal can name it. Used by ``sandbox up`` (one per state directory) and ``run`` (one runner
per SQLite state database).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from runner.private_files import FILE_MODE


class LockHeld(Exception):
    """Another process holds the lock; ``pid`` is the one it wrote (None: not yet written)."""

    def __init__(self, path: Path, pid: int | None) -> None:
        super().__init__(f"{path} is locked by {f'pid {pid}' if pid else 'another process'}")
        self.path = path
        self.pid = pid


class FileLock:
    """The held lock on ``path`` (created 0600); ``release()`` it, or exit. OSError when the
    file cannot be opened, :class:`LockHeld` when another process holds it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder(fd)
            os.close(fd)
            raise LockHeld(path, pid) from None
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
        """Let the next process take it; safe to call twice."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor drops the flock


def _holder(fd: int) -> int | None:
    """The pid the holder wrote, if it has written one yet."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
