"""Cross references keep Salesforce Ids in the 18-character case-safe form.

Before this revision ``xref.sf_id`` held an Id exactly as it was given, so the 15- and the
18-character form of one record did not match. The store now normalises on write and on
lookup (:func:`runner.salesforce_ids.canonical_id`); this brings the rows written before it
to the same form. Values not shaped like an Id are left as they are, and so is an Id-shaped
value whose suffix is not its checksum (it cannot be told which record it meant).
Downgrading keeps the 18-character Ids: the older code reads them as well.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from runner.salesforce_ids import MalformedIdError, canonical_id

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

BATCH = 1000

_xref = sa.table("xref", sa.column("sf_object", sa.String), sa.column("stripe_id", sa.String),
                 sa.column("sf_id", sa.String))


def _normalised(value: str) -> str:
    try:
        return canonical_id(value)
    except MalformedIdError:
        return value


def upgrade() -> None:
    conn = op.get_bind()
    # Only 15-character values can change (18-character ones only if typed in another
    # case): select those rather than every row.
    rows = conn.execute(
        sa.select(_xref.c.sf_object, _xref.c.stripe_id, _xref.c.sf_id)
        .where(sa.func.length(_xref.c.sf_id).in_((15, 18)))
    ).all()
    changed = [{"o": r.sf_object, "s": r.stripe_id, "v": new} for r in rows
               if (new := _normalised(r.sf_id)) != r.sf_id]
    stmt = (sa.update(_xref)
            .where(_xref.c.sf_object == sa.bindparam("o"), _xref.c.stripe_id == sa.bindparam("s"))
            .values(sf_id=sa.bindparam("v")))
    for start in range(0, len(changed), BATCH):
        conn.execute(stmt, changed[start:start + BATCH])


def downgrade() -> None:
    pass  # the 18-character form is what Salesforce itself answers; nothing to undo
