"""The first state schema: inbox and ledger, object versions, cross references, dead
letters, review queue, cursors, own writes, snapshots and run history.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

ID = 255


def _ts(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "inbox_events",
        # INTEGER PRIMARY KEY is SQLite's rowid; BIGINT there would not autoincrement.
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("event_id", sa.String(ID), nullable=False),
        sa.Column("type", sa.String(ID), nullable=False),
        sa.Column("object_id", sa.String(ID), nullable=True),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(ID), nullable=True),
        _ts("lease_until", True),
        _ts("retry_at", True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(64), nullable=True),
        _ts("received_at", False),
        _ts("processed_at", True),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_inbox_events_due", "inbox_events", ["status", "created", "seq"])
    op.create_index("ix_inbox_events_object_id", "inbox_events", ["object_id"])

    op.create_table(
        "object_versions",
        sa.Column("object_id", sa.String(ID), primary_key=True),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(ID), nullable=False),
        _ts("updated_at", False),
    )

    op.create_table(
        "xref",
        sa.Column("sf_object", sa.String(ID), primary_key=True),
        sa.Column("stripe_id", sa.String(ID), primary_key=True),
        sa.Column("sf_id", sa.String(ID), nullable=False),
        sa.Column("flow", sa.String(ID), nullable=False),
        _ts("updated_at", False),
    )
    op.create_index("ix_xref_sf_id", "xref", ["sf_id"])

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("flow", sa.String(ID), nullable=False),
        sa.Column("event_id", sa.String(ID), nullable=True),
        sa.Column("source_id", sa.String(ID), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("error_code", sa.String(ID), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("created_at", False),
        _ts("updated_at", False),
    )
    op.create_index("ix_dead_letters_status", "dead_letters", ["status"])

    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("flow", sa.String(ID), nullable=False),
        sa.Column("source_id", sa.String(ID), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("chosen", sa.String(ID), nullable=True),
        _ts("created_at", False),
        _ts("decided_at", True),
    )
    op.create_index("ix_review_items_status", "review_items", ["status"])

    op.create_table(
        "cursors",
        sa.Column("name", sa.String(ID), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        _ts("updated_at", False),
    )

    op.create_table(
        "own_writes",
        sa.Column("system", sa.String(32), primary_key=True),
        sa.Column("object_id", sa.String(ID), primary_key=True),
        sa.Column("fingerprint", sa.String(ID), primary_key=True),
        _ts("created_at", False),
    )

    op.create_table(
        "snapshots",
        sa.Column("flow", sa.String(ID), primary_key=True),
        sa.Column("record_id", sa.String(ID), primary_key=True),
        sa.Column("values", sa.JSON(), nullable=False),
        _ts("updated_at", False),
    )

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _ts("started_at", False),
        _ts("stopped_at", True),
        sa.Column("host", sa.String(ID), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=True),
    )


def downgrade() -> None:
    for table in ("runs", "snapshots", "own_writes", "cursors", "review_items", "dead_letters",
                  "xref", "object_versions", "inbox_events"):
        op.drop_table(table)
