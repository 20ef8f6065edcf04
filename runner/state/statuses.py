"""The statuses of the state tables' rows, one ``StrEnum`` per table family.

A member equals its string (``EventStatus.DONE == "done"``), so callers that still pass or
compare the bare strings keep working, and the database holds the same text as before.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar


class EventStatus(StrEnum):
    """Where an inbox event stands. A finished event (done, skipped, dead) keeps its row as
    the ledger entry that deduplicates a late redelivery."""

    PENDING = "pending"
    PROCESSING = "processing"  # claimed by a worker until its lease runs out
    RETRY = "retry"  # due again at retry_at
    DONE = "done"
    SKIPPED = "skipped"  # finished without writing anything
    DEAD = "dead"


class DeadLetterStatus(StrEnum):
    OPEN = "open"
    REPLAYED = "replayed"
    DISCARDED = "discarded"


class ReviewStatus(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"


# Events not finished yet: a hold may still move them.
UNFINISHED = (EventStatus.PENDING, EventStatus.RETRY, EventStatus.PROCESSING)
# Finished events the ledger may forget after a while (dead ones stay for inspection).
PRUNABLE = (EventStatus.DONE, EventStatus.SKIPPED)

# Outcomes of mark_done that mean "nothing was written" rather than "synced".
SKIP_OUTCOMES = frozenset({"skipped", "ignored", "stale"})


def finished_status(outcome: str) -> EventStatus:
    """The status an event finished with ``outcome`` gets: skipped or done."""
    return EventStatus.SKIPPED if outcome in SKIP_OUTCOMES else EventStatus.DONE


S = TypeVar("S", bound=StrEnum)


def parse_status(kind: type[S], status: str, what: str) -> S:
    """``status`` as a member of ``kind``, or a ValueError naming the allowed ones."""
    try:
        return kind(status)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ValueError(
            f"unknown {what} status {status!r}; expected one of {allowed}") from None
