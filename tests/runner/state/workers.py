"""Worker processes for the multi-process claim test (module level, so ``spawn`` can
import them)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from runner.state import StateStore


def claim_until_empty(url: str, name: str, clock_offset: float, batch: int,
                      barrier: Any, results: Any) -> None:
    """Claim and finish events until none is due; report every event id claimed.

    ``clock_offset`` moves this worker's clock forward, so that leases taken by the
    crashed worker (at the real time) have already expired for it.
    """
    store = StateStore(url, clock=lambda: datetime.now(UTC) + timedelta(seconds=clock_offset))
    claimed: list[str] = []
    try:
        barrier.wait(timeout=60)
        while events := store.claim_events(name, limit=batch, lease_seconds=300):
            for event in events:
                claimed.append(event.event_id)
                store.mark_done(event.event_id, worker=name)
    finally:
        results.put((name, claimed))
        store.close()


def claim_and_crash(url: str, name: str, count: int, results: Any) -> None:
    """Claim ``count`` events, report them, then die without finishing (like kill -9)."""
    store = StateStore(url)
    events = store.claim_events(name, limit=count, lease_seconds=60)
    results.put((name, [event.event_id for event in events]))
    results.close()
    results.join_thread()  # make sure the report left before the process vanishes
    os._exit(9)
