"""The local sandboxes behind the built-in "Local sandbox" connections.

Started on demand, the first time something needs them, once per studio session, under a
state directory in the user data dir (so what a user seeded survives a restart), and
stopped when the studio exits (:meth:`SandboxService.stop`, called from the services'
``close``). The studio warms them up in the background from start-up (the window calls
:meth:`SandboxService.ensure_up` on the pool) so the first dry run need not wait; closing the
studio during that start does not wait for it: the start stops what it started.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from app.errors import StudioError

if TYPE_CHECKING:
    from runner.api.sandbox import SandboxChild

log = logging.getLogger(__name__)

WARM_UP_TEXT = "Starting the local sandboxes — about 30 s"


class SandboxStopped(StudioError):
    """The studio closed while the sandboxes were starting."""


def default_state_dir() -> Path:
    return Path(platformdirs.user_data_dir("fieldbridge", appauthor=False)) / "studio-sandbox"


class SandboxService:
    """Starts the Stripe sandbox and the Salesforce org emulator once, lazily."""

    def __init__(self, state_dir: Path | str | None = None, *, seed: str | None = "demo") -> None:
        self.state_dir = Path(state_dir) if state_dir else default_state_dir()
        self.seed = seed
        self._session: SandboxChild | None = None
        self._lock = threading.Lock()
        self._stop_when_up = threading.Event()  # stop() came while a start was under way

    @property
    def running(self) -> bool:
        return self._session is not None

    def ensure_up(self) -> SandboxChild:
        """The running sandboxes; starts (and seeds) them on first use. Blocking: ~1-3 s.

        They run in a child process (:mod:`runner.sandbox.child`): in the studio's own, the
        emulator's work took the interpreter from the window."""
        with self._lock:
            if self._session is None:
                # Lazy: the runner's API is imported when the sandboxes are first needed.
                from runner.api.sandbox import start_sandbox_child

                self._stop_when_up.clear()
                log.info("starting the local sandboxes in %s", self.state_dir)
                session = start_sandbox_child(self.state_dir, seed=self.seed)
                if self._stop_when_up.is_set():
                    session.stop()
                    raise SandboxStopped("the local sandboxes were stopped while starting")
                self._session = session
            return self._session

    def stop(self) -> None:
        """Stop the sandboxes; during a start, without waiting (the start stops them)."""
        if not self._lock.acquire(blocking=False):
            self._stop_when_up.set()
            return
        try:
            session, self._session = self._session, None
        finally:
            self._lock.release()
        if session is not None:
            session.stop()
