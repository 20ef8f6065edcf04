"""How the Stripe sandbox keeps its data on disk without a cost that grows with it.

localstripe pickles its whole store on every ``store[key] = ...`` and again after every
POST, PUT or DELETE: a customer create (the customer, its ``customer.created`` event, the
request) wrote the whole store three times, and the idempotency keys (whole responses) were
rewritten as one JSON file after each new key. Both grow with the sandbox's history, so a
create that took 12 ms on an empty sandbox took 60-80 ms after 400 customers, and a
benchmark of the runner measured the sandbox instead.

- :class:`StoreWrites` (group commit): inside a request, a store change only marks the
  store dirty; when the request ends, one dump covers it and every other request that ended
  in the same turn of the event loop. A response is still sent only after the dump that
  holds its changes, so a sandbox killed at any moment keeps every answered write. Changes
  made outside a request (scheduled events) are dumped at once, as before.
- :class:`KeyJournal`: each new idempotency key is one appended JSON line
  (``[slot digest, request fingerprint, status, body]``); the file is rewritten whole only
  at start-up (which also drops a line torn by a kill and reads the older one-object form).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from runner.private_files import FILE_MODE, write_private

MUTATING_METHODS = ("PUT", "POST", "DELETE")

Kept = list[Any]  # [request fingerprint, status, body]


class StoreWrites:
    """Group commit of the store's dumps (see the module docstring). ``write`` dumps the
    whole store; :meth:`dump` replaces localstripe's ``Store.dump_to_disk``."""

    def __init__(self, write: Callable[[], None]) -> None:
        self.write = write
        self.in_requests = 0
        self.dirty = False
        self._pending: asyncio.Future[None] | None = None

    def dump(self) -> None:
        if self.in_requests:
            self.dirty = True  # the request's end dumps it
            return
        self.dirty = False  # a whole dump covers what requests waiting for one changed
        self.write()

    async def request(self, request: Any, handler: Callable[[Any], Awaitable[Any]]) -> Any:
        """Run ``handler``; answer only once its changes are on disk. Every POST, PUT and
        DELETE counts as a change (localstripe edits objects in place without a store
        assignment, and ``/_config/data`` clears the store), as localstripe's own
        middleware assumed."""
        self.in_requests += 1
        try:
            return await handler(request)
        finally:
            self.in_requests -= 1
            if request.method in MUTATING_METHODS:
                self.dirty = True
            if self.dirty:
                await self._flushed()

    async def _flushed(self) -> None:
        if self._pending is None:
            loop = asyncio.get_running_loop()
            self._pending = loop.create_future()
            # After the callbacks already due: requests ending in this turn share the dump.
            loop.call_soon(self._flush)
        await asyncio.shield(self._pending)

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        assert pending is not None
        try:
            if self.dirty:
                self.dirty = False
                self.write()
        except BaseException as exc:
            self.dirty = True
            pending.set_exception(exc)
            with contextlib.suppress(BaseException):
                pending.exception()  # retrieved: no "never retrieved" noise if all left
        else:
            pending.set_result(None)


class KeyJournal:
    """The sandbox's idempotency keys, in memory and appended to ``path`` (or memory only)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.seen: dict[str, Kept] = {}
        if path is None or not path.exists():
            return
        text = path.read_text(encoding="utf-8")
        if text.lstrip().startswith("{"):  # the older form: one JSON object
            self.seen.update(json.loads(text))
        else:
            for line in text.splitlines():
                try:
                    digest, *kept = json.loads(line)
                except (ValueError, TypeError):
                    continue  # torn by a kill mid-append: that key was never answered
                self.seen[str(digest)] = kept
        lines = "".join(_line(d, k) for d, k in self.seen.items())
        write_private(path, lines.encode("utf-8"))

    def get(self, digest: str) -> Kept | None:
        return self.seen.get(digest)

    def add(self, digest: str, kept: Kept) -> None:
        """Keep a first answer; on disk before the caller answers (one appended line)."""
        self.seen[digest] = kept
        if self.path is None:
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            data = memoryview(_line(digest, kept).encode("utf-8"))
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)


def _line(digest: str, kept: Kept) -> str:
    return json.dumps([digest, *kept], separators=(",", ":")) + "\n"
