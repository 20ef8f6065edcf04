"""The studio's one asyncio loop (qasync), background work and the busy counter.

Everything slow (network, bundle builds, sandbox runs) leaves the UI thread through here:

* ``run_blocking(fn, *args, timeout=...)`` is an awaitable for coroutines on the qasync loop:
  the call runs on a shared thread pool and is abandoned with a TimeoutError naming it.
* ``submit(fn, *args, on_done=..., on_error=...)`` is for plain Qt code with no coroutine
  around it: the callbacks come back on the UI thread through a queued signal.
* ``spawn(coro)`` starts a coroutine on the loop; an exception it raises goes to the error
  sink (the main window's errors panel), never into a silent "Task exception was never
  retrieved".

Each of them counts as busy while it runs, and ``busy`` tells the status bar.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

import qasync
from PySide6.QtCore import QCoreApplication, QObject, Signal

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0
_MAX_WORKERS = 4

ErrorSink = Callable[[BaseException, str], None]





class BusyCounter(QObject):
    """How many background tasks are running, and what the latest one is doing."""

    changed = Signal(int, str)  # count, description of the newest running task ("" if idle)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._running: list[str] = []

    @property
    def count(self) -> int:
        return len(self._running)

    @property
    def is_busy(self) -> bool:
        return bool(self._running)

    def enter(self, what: str = "") -> None:
        with self._lock:
            self._running.append(what)
            count, label = len(self._running), what
        self.changed.emit(count, label)

    def leave(self, what: str = "") -> None:
        with self._lock:
            if what in self._running:
                self._running.remove(what)
            elif self._running:
                self._running.pop()
            count = len(self._running)
            label = self._running[-1] if self._running else ""
        self.changed.emit(count, label)

    @contextmanager
    def track(self, what: str = "") -> Iterator[None]:
        self.enter(what)
        try:
            yield
        finally:
            self.leave(what)


busy = BusyCounter()

_executor: ThreadPoolExecutor | None = None
_error_sink: ErrorSink | None = None


def executor() -> ThreadPoolExecutor:
    """The shared pool; small, because the machine and the UI thread share cores."""
    global _executor
    if _executor is None or getattr(_executor, "_shutdown", False):
        _executor = ThreadPoolExecutor(max_workers=_MAX_WORKERS, thread_name_prefix="studio")
    return _executor


def shutdown_executor() -> None:
    global _executor
    if _executor is not None:
        _executor.shutdown(wait=False, cancel_futures=True)
        _executor = None


# --------------------------------------------------------------------------- errors


def set_error_sink(sink: ErrorSink | None) -> None:
    """Where background failures go: ``sink(exception, summary)`` on the UI thread."""
    global _error_sink
    _error_sink = sink


def report_error(exc: BaseException, summary: str = "") -> None:
    summary = summary or f"{type(exc).__name__}: {exc}"
    if _error_sink is None:
        log.error("%s", summary, exc_info=exc)
    else:
        _error_sink(exc, summary)


# --------------------------------------------------------------------------- the loop


def create_loop(app: QCoreApplication | None = None) -> asyncio.AbstractEventLoop:
    """Create the qasync loop over the Qt application and make it the current loop.

    The one place that does so: two loops on one Qt thread would fight over its events.
    """
    app = app or QCoreApplication.instance()
    if app is None:
        raise RuntimeError("create the QApplication before the qasync loop")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    # Not the loop's default executor: closing the loop would shut our shared pool down.
    return loop


async def run_blocking(
    fn: Callable[..., T], *args: Any, timeout: float | None = DEFAULT_TIMEOUT, what: str = ""
) -> T:
    """Run ``fn(*args)`` on the thread pool; TimeoutError (naming it) after ``timeout`` s.

    On a timeout the thread is not killed (Python cannot), but the UI stops waiting for it:
    the callee must carry its own socket timeouts too.
    """
    what = what or getattr(fn, "__name__", "background task")
    loop = asyncio.get_running_loop()
    with busy.track(what):
        future = loop.run_in_executor(executor(), partial(fn, *args))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError as exc:
            raise TimeoutError(f"{what} did not finish within {timeout:g} s") from exc


def spawn(coro: Coroutine[Any, Any, Any], *, what: str = "") -> asyncio.Task:
    """Start ``coro`` on the running loop; its exception (if any) goes to the error sink."""
    task = asyncio.ensure_future(coro)

    def done(t: asyncio.Task) -> None:
        if t.cancelled():
            return
        exc = t.exception()
        if exc is not None:
            report_error(exc, f"{what} failed: {exc}" if what else "")

    task.add_done_callback(done)
    return task


# --------------------------------------------------------------------------- Qt callbacks


class _Relay(QObject):
    """Carries a finished future back to the UI thread (a signal across threads is queued)."""

    finished = Signal(object)


class BackgroundCall:
    """One :func:`submit` call: its future, and whether it is still running."""

    def __init__(self, future: Future, relay: _Relay) -> None:
        self.future = future
        self._relay = relay  # kept alive until the callbacks have run

    @property
    def running(self) -> bool:
        return not self.future.done()

    def result(self, timeout: float | None = None) -> Any:
        return self.future.result(timeout)


_live_relays: set[_Relay] = set()


def submit(
    fn: Callable[..., T],
    *args: Any,
    on_done: Callable[[T], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    what: str = "",
) -> BackgroundCall:
    """Run ``fn(*args)`` on the pool; ``on_done(result)`` / ``on_error(exc)`` on the UI thread.

    Without ``on_error`` a failure goes to the error sink. Must be called from the UI thread.
    """
    what = what or getattr(fn, "__name__", "background task")
    relay = _Relay()
    _live_relays.add(relay)

    def finished(future: Future) -> None:
        _live_relays.discard(relay)
        busy.leave(what)
        exc = future.exception()
        if exc is not None:
            if on_error is not None:
                on_error(exc)
            else:
                report_error(exc, f"{what} failed: {exc}")
        elif on_done is not None:
            on_done(future.result())

    relay.finished.connect(finished)
    busy.enter(what)
    future = executor().submit(fn, *args)
    future.add_done_callback(relay.finished.emit)
    return BackgroundCall(future, relay)


def wait_for(awaitable: Awaitable[T], loop: asyncio.AbstractEventLoop) -> T:
    """Drive ``awaitable`` to completion on ``loop`` (for the entry point and tests)."""
    return loop.run_until_complete(awaitable)
