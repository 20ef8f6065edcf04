"""The review queue: records with several possible Salesforce matches, waiting for a person
to approve one (or none: create a new record) or reject the sync."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from runner.state.database import Repository, insert_returning_id, json_object
from runner.state.errors import NotFoundError, StateError
from runner.state.guard import check_no_secret
from runner.state.models import review_items as t
from runner.state.records import ReviewItem
from runner.state.statuses import ReviewStatus, parse_status


def review_row(*, flow: str, source_id: str, record: dict[str, Any],
               candidates: list[dict[str, Any]], payload: dict[str, Any],
               now: datetime) -> dict[str, Any]:
    """The row of a new (open) review item; a ValueError for a malformed or secret value."""
    json_object(record, "record")
    json_object(payload, "payload")
    if not isinstance(candidates, list):
        raise ValueError(f"candidates must be a list, got {type(candidates).__name__}")
    check_no_secret(record, "record")
    check_no_secret(candidates, "candidates")
    check_no_secret(payload, "payload")
    return {"flow": flow, "source_id": source_id, "record": record,
            "candidates": candidates, "payload": payload, "status": ReviewStatus.OPEN,
            "chosen": None, "created_at": now}


def to_item(row: Mapping[Any, Any]) -> ReviewItem:
    return ReviewItem(**{**row, "status": ReviewStatus(row["status"])})


class ReviewItems(Repository):
    def review_add(self, *, flow: str, source_id: str, record: dict[str, Any],
                   candidates: list[dict[str, Any]], payload: dict[str, Any]) -> int:
        row = review_row(flow=flow, source_id=source_id, record=record,
                         candidates=candidates, payload=payload, now=self.now())
        with self.db.write() as conn:
            return insert_returning_id(conn, t, row)

    def review_list(self, status: str | None = ReviewStatus.OPEN) -> list[ReviewItem]:
        query = select(t).order_by(t.c.id)
        if status is not None:
            query = query.where(t.c.status == parse_status(ReviewStatus, status,
                                                           "review item"))
        with self.db.read() as conn:
            return [to_item(row._mapping) for row in conn.execute(query)]

    def review_get(self, id: int) -> ReviewItem:
        with self.db.read() as conn:
            row = conn.execute(select(t).where(t.c.id == id)).first()
        if row is None:
            raise NotFoundError(f"no review item with id {id}")
        return to_item(row._mapping)

    def review_decide(self, id: int, status: str, chosen: str | None = None) -> None:
        """Approve (``chosen``: the matching Salesforce Id, or None to create a new record),
        reject, or reopen ("open") a review item. A decided item is not decided again."""
        status = parse_status(ReviewStatus, status, "review item")
        reopen = status is ReviewStatus.OPEN
        with self.db.write() as conn:
            current = conn.execute(select(t.c.status).where(t.c.id == id)).scalar()
            if current is None:
                raise NotFoundError(f"no review item with id {id}")
            if not reopen and current != ReviewStatus.OPEN:
                raise StateError(f"review item {id} is already {current}")
            conn.execute(update(t).where(t.c.id == id).values(
                status=status, chosen=None if reopen else chosen,
                decided_at=None if reopen else self.now(),
            ))
