"""Cross references: Stripe id <-> Salesforce Id, per Salesforce object.

Salesforce Ids are kept in the 18-character case-safe form (normalised on write and on
lookup; migration 0002 normalised the rows written before), so the 15- and 18-character
forms of one record match.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select

from runner.salesforce_ids import canonical_id
from runner.state.database import Database, Repository, chunks
from runner.state.models import xref as t


def xref_rows(rows: Iterable[tuple[str, str, str, str]], now: datetime, *,
              canonical: bool = False) -> list[dict[str, Any]]:
    """Rows for ``(sf_object, stripe_id, sf_id, flow)``; a ValueError for an empty key.
    ``canonical``: the Ids are in the stored form already (a :class:`Settlement` keeps
    them so), not normalised a second time."""
    out = []
    for sf_object, stripe_id, sf_id, flow in rows:
        if not (sf_object and stripe_id and sf_id):
            raise ValueError("xref_put needs sf_object, stripe_id and sf_id (non-empty)")
        out.append({"sf_object": sf_object, "stripe_id": stripe_id,
                    "sf_id": sf_id if canonical else canonical_id(sf_id), "flow": flow,
                    "updated_at": now})
    return out


def xref_upsert(db: Database) -> Any:
    """Insert a cross reference, or replace the one of the same key."""
    stmt = db.insert(t)
    return stmt.on_conflict_do_update(
        index_elements=["sf_object", "stripe_id"],
        set_={"sf_id": stmt.excluded.sf_id, "flow": stmt.excluded.flow,
              "updated_at": stmt.excluded.updated_at},
    )


def xref_forget_rows(keys: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """Parameters of :func:`xref_forget_stmt` for ``(sf_object, sf_id)`` pairs."""
    return [{"obj": obj, "sid": canonical_id(sf_id)} for obj, sf_id in keys]


def xref_forget_stmt(db: Database) -> Any:
    """Remove every cross reference to one Salesforce record (it was deleted)."""
    return delete(t).where(t.c.sf_object == bindparam("obj"), t.c.sf_id == bindparam("sid"))


# Read for every batch's lookups and writes: built once, the object and ids its parameters.
_XREFS_OF = select(t.c.stripe_id, t.c.sf_id).where(
    t.c.sf_object == bindparam("obj"), t.c.stripe_id.in_(bindparam("ids", expanding=True)))


class CrossReferences(Repository):
    def xref_get(self, sf_object: str, stripe_id: str) -> str | None:
        with self.db.read() as conn:
            return conn.execute(
                select(t.c.sf_id).where(t.c.sf_object == sf_object, t.c.stripe_id == stripe_id)
            ).scalar()

    def xref_get_many(self, sf_object: str, stripe_ids: Iterable[str]) -> dict[str, str]:
        """Stripe id -> Salesforce Id for those already known (one query per 500 ids)."""
        ids = list(dict.fromkeys(stripe_ids))
        found: dict[str, str] = {}
        with self.db.read() as conn:
            for chunk in chunks(ids):
                rows = conn.execute(_XREFS_OF, {"obj": sf_object, "ids": list(chunk)})
                found.update({row.stripe_id: row.sf_id for row in rows})
        return found

    def xref_put(self, sf_object: str, stripe_id: str, sf_id: str, flow: str) -> None:
        self.xref_put_many([(sf_object, stripe_id, sf_id, flow)])

    def xref_put_many(self, rows: Iterable[tuple[str, str, str, str]]) -> None:
        """Many ``(sf_object, stripe_id, sf_id, flow)`` in one commit; the last one of a
        key wins."""
        values = xref_rows(rows, self.now())
        if values:
            with self.db.write() as conn:
                conn.execute(xref_upsert(self.db), values)

    def xref_forget(self, sf_object: str, sf_id: str) -> None:
        """The record is deleted: no Stripe id resolves to it any more."""
        with self.db.write() as conn:
            conn.execute(self.db.prepared(xref_forget_stmt), xref_forget_rows([(sf_object, sf_id)]))

    def xref_by_sf(self, sf_id: str) -> str | None:
        """The Stripe id cross-referenced with this Salesforce Id (its 15- or 18-character
        form, in any case the 18-character form's suffix allows)."""
        with self.db.read() as conn:
            return conn.execute(
                select(t.c.stripe_id).where(t.c.sf_id == canonical_id(sf_id))
                .order_by(t.c.updated_at.desc()).limit(1)
            ).scalar()
