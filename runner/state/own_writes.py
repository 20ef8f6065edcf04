"""Echo suppression: the writes the runner made itself, so that their echo coming back
(a Salesforce change event, a Stripe webhook) is not synced again."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select

from runner.state.database import Database, Repository
from runner.state.models import own_writes as t


def own_write_rows(rows: Iterable[tuple[str, str, str]], now: datetime) -> list[dict[str, Any]]:
    """Rows for ``(system, object id, fingerprint)``; a ValueError for an empty part."""
    out = []
    for system, object_id, fingerprint in rows:
        if not (system and object_id and fingerprint):
            raise ValueError("an own write needs system, object id and fingerprint "
                             "(non-empty)")
        out.append({"system": system, "object_id": object_id,
                    "fingerprint": fingerprint, "created_at": now})
    return out


def own_write_insert(db: Database) -> Any:
    """Insert an own write; one already noted stays as it is."""
    return db.insert(t).on_conflict_do_nothing(
        index_elements=["system", "object_id", "fingerprint"])


def own_write_select(_db: Database) -> Any:
    return select(t.c.object_id).where(t.c.system == bindparam("system"),
                                       t.c.object_id == bindparam("object_id"),
                                       t.c.fingerprint == bindparam("fingerprint"))


class OwnWrites(Repository):
    def note_own_write(self, system: str, object_id: str, fingerprint: str) -> None:
        self.note_own_writes([(system, object_id, fingerprint)])

    def note_own_writes(self, rows: Iterable[tuple[str, str, str]]) -> None:
        """Many ``(system, object id, fingerprint)`` in one commit."""
        values = own_write_rows(rows, self.now())
        if values:
            with self.db.write() as conn:
                conn.execute(self.db.prepared(own_write_insert), values)

    def is_own_write(self, system: str, object_id: str, fingerprint: str) -> bool:
        with self.db.read() as conn:
            return conn.execute(self.db.prepared(own_write_select),
                                {"system": system, "object_id": object_id,
                                 "fingerprint": fingerprint}).first() is not None

    def prune_own_writes(self, before: datetime) -> int:
        with self.db.write() as conn:
            return conn.execute(delete(t).where(t.c.created_at < before)).rowcount
