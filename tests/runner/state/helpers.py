"""Helpers shared by the state tests (and importable by spawned worker processes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """A settable UTC clock, so leases and retries expire without sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_event(n: int | str, created: int = 1_700_000_000, *, type: str = "customer.updated",
               object_id: str | None = "cus_1") -> dict:
    data = {"object": {"id": object_id, "object": "customer"}} if object_id else {"object": {}}
    return {"id": f"evt_{n}", "object": "event", "type": type, "created": created, "data": data}
