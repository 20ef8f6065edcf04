"""Object ordering: per Stripe object, the (created, event id) of the last event applied.

Versions only ever move forward, so an older event that arrives late is recognised as stale.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, or_, select

from runner.state.database import Database, Repository, chunks
from runner.state.models import object_versions as t


def version_rows(versions: Iterable[tuple[str, int, str]], now: datetime) -> list[dict[str, Any]]:
    """Rows for ``(object id, created, event id)``; a ValueError for a malformed one."""
    rows = []
    for object_id, created, event_id in versions:
        if not (object_id and event_id) or isinstance(created, bool) \
                or not isinstance(created, int):
            raise ValueError("an object version needs an object id, created (Unix "
                             f"seconds) and an event id; got {(object_id, created, event_id)}")
        rows.append({"object_id": object_id, "created": created, "event_id": event_id,
                     "updated_at": now})
    return rows


def version_upsert(db: Database) -> Any:
    """Insert a version, or move an existing one forward (never back)."""
    stmt = db.insert(t)
    new = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=["object_id"],
        set_={"created": new.created, "event_id": new.event_id, "updated_at": new.updated_at},
        where=or_(t.c.created < new.created,
                  and_(t.c.created == new.created, t.c.event_id < new.event_id)),
    )


# Read for every batch (the ordering guard): built once, the ids its parameter.
_VERSIONS_OF = select(t.c.object_id, t.c.created, t.c.event_id).where(
    t.c.object_id.in_(bindparam("ids", expanding=True)))


class ObjectVersions(Repository):
    def object_version(self, object_id: str) -> tuple[int, str] | None:
        """(event created, event id) of the last event applied to this Stripe object."""
        with self.db.read() as conn:
            row = conn.execute(
                select(t.c.created, t.c.event_id).where(t.c.object_id == object_id)
            ).first()
        return None if row is None else (row.created, row.event_id)

    def object_versions(self, object_ids: Iterable[str]) -> dict[str, tuple[int, str]]:
        """``object_version`` of many objects in one read; unknown objects are left out."""
        ids = list(dict.fromkeys(object_ids))
        found: dict[str, tuple[int, str]] = {}
        with self.db.read() as conn:
            for chunk in chunks(ids):
                rows = conn.execute(_VERSIONS_OF, {"ids": list(chunk)})
                found.update({row.object_id: (row.created, row.event_id) for row in rows})
        return found

    def is_stale(self, object_id: str, created: int, event_id: str) -> bool:
        """True if a newer (or the same) event was already applied to this object."""
        current = self.object_version(object_id)
        return current is not None and current >= (created, event_id)

    def record_object_version(self, object_id: str, created: int, event_id: str) -> bool:
        """Remember the event applied to the object, only ever moving forward in
        (created, event id) order; True if it moved."""
        stmt = version_upsert(self.db).values(
            object_id=object_id, created=created, event_id=event_id, updated_at=self.now()
        ).returning(t.c.object_id)
        with self.db.write() as conn:
            return conn.execute(stmt).first() is not None

    def record_object_versions(self, versions: Iterable[tuple[str, int, str]]) -> None:
        """``record_object_version`` for many ``(object id, created, event id)`` in one
        commit (each still only moves forward)."""
        rows = version_rows(versions, self.now())
        if rows:
            with self.db.write() as conn:
                conn.execute(version_upsert(self.db), rows)
