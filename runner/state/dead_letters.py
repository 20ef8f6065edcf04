"""Dead letters: what could not be synced, kept with its payload for a replay or a discard.

Payloads, records and errors are checked for secrets before they are stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from runner.state.database import Repository, insert_returning_id, json_object
from runner.state.errors import NotFoundError
from runner.state.guard import check_no_secret
from runner.state.models import dead_letters as t
from runner.state.records import DlqEntry
from runner.state.statuses import DeadLetterStatus, parse_status


def dead_letter_row(*, flow: str, event_id: str | None, source_id: str | None,
                    payload: dict[str, Any], record: dict[str, Any] | None, error: str,
                    error_code: str | None, now: datetime) -> dict[str, Any]:
    """The row of a new (open) dead letter; a ValueError for a malformed or secret value."""
    json_object(payload, "payload")
    if record is not None:
        json_object(record, "record")
    check_no_secret(payload, "payload")
    check_no_secret(record, "record")
    check_no_secret(error, "error")
    return {"flow": flow, "event_id": event_id, "source_id": source_id,
            "payload": payload, "record": record, "error": error,
            "error_code": error_code, "status": DeadLetterStatus.OPEN, "attempts": 0,
            "created_at": now, "updated_at": now}


def to_entry(row: Mapping[Any, Any]) -> DlqEntry:
    return DlqEntry(**{**row, "status": DeadLetterStatus(row["status"])})


class DeadLetters(Repository):
    def dlq_add(self, *, flow: str, event_id: str | None, source_id: str | None,
                payload: dict[str, Any], record: dict[str, Any] | None, error: str,
                error_code: str | None) -> int:
        row = dead_letter_row(flow=flow, event_id=event_id, source_id=source_id,
                              payload=payload, record=record, error=error,
                              error_code=error_code, now=self.now())
        with self.db.write() as conn:
            return insert_returning_id(conn, t, row)

    def dlq_list(self, status: str | None = DeadLetterStatus.OPEN) -> list[DlqEntry]:
        """Dead letters with that status (None: all), oldest first."""
        query = select(t).order_by(t.c.id)
        if status is not None:
            query = query.where(t.c.status == parse_status(DeadLetterStatus, status,
                                                           "dead letter"))
        with self.db.read() as conn:
            return [to_entry(row._mapping) for row in conn.execute(query)]

    def dlq_get(self, id: int) -> DlqEntry:
        with self.db.read() as conn:
            row = conn.execute(select(t).where(t.c.id == id)).first()
        if row is None:
            raise NotFoundError(f"no dead letter with id {id}")
        return to_entry(row._mapping)

    def dlq_set_status(self, id: int, status: str) -> None:
        status = parse_status(DeadLetterStatus, status, "dead letter")
        with self.db.write() as conn:
            done = conn.execute(
                update(t).where(t.c.id == id).values(status=status, updated_at=self.now())
            ).rowcount
        if not done:
            raise NotFoundError(f"no dead letter with id {id}")

    def dlq_record_attempt(self, id: int, error: str | None = None) -> None:
        """A replay was tried; with ``error`` it failed again and the entry stays open."""
        values: dict[str, Any] = {"attempts": t.c.attempts + 1, "updated_at": self.now()}
        if error is not None:
            check_no_secret(error, "error")
            values["error"] = error
        with self.db.write() as conn:
            if not conn.execute(update(t).where(t.c.id == id).values(values)).rowcount:
                raise NotFoundError(f"no dead letter with id {id}")
