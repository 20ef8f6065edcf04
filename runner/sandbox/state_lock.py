"""One ``sandbox up`` per state directory, held by an advisory lock for the session's life.

Two sandboxes on one state directory would rewrite each other's CA, keys and data, and the
first one's clients would then fail TLS. The lock is :class:`runner.filelock.FileLock` on
``sandbox.lock`` in the directory (dropped by the kernel however the holder exits).
"""

from __future__ import annotations

from pathlib import Path

from runner.errors import SandboxError
from runner.filelock import FileLock, LockHeld

LOCK_NAME = "sandbox.lock"


class StateDirLock:
    """The held lock on one state directory; ``release()`` it when the sandboxes stop."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        try:
            self._lock = FileLock(self.path)
        except LockHeld as exc:
            holder = "another running sandbox" + (f" (pid {exc.pid})" if exc.pid else "")
            raise SandboxError(
                f"the sandbox state directory {state_dir} is in use by {holder}; stop that "
                "one first or choose another --state-dir"
            ) from None
        except OSError as exc:
            raise SandboxError(
                f"cannot lock the sandbox state directory {state_dir}: {exc.strerror or exc}"
            ) from exc

    @property
    def held(self) -> bool:
        return self._lock.held

    def release(self) -> None:
        """Let another sandbox use the directory; safe to call twice."""
        self._lock.release()
