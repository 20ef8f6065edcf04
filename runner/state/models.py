"""The state database's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

The Alembic migrations in ``migrations/versions`` create exactly these tables; a test
compares the migrated database with this metadata, so change both together.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so values are stored as
    naive UTC (which also keeps its text comparisons in time order) and read back aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(
                f"refusing a naive datetime {value.isoformat()}: pass an aware UTC time"
            )
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# Long enough for any Stripe id, Salesforce Id, flow name or cursor name we produce.
ID = 255

metadata = MetaData()

# Inbox and processed-event ledger in one table: a finished event keeps its row (status
# done / skipped / dead), which is what deduplicates a late redelivery of the same id.
inbox_events = Table(
    "inbox_events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),  # received order
    Column("event_id", String(ID), nullable=False, unique=True),
    Column("type", String(ID), nullable=False),
    Column("object_id", String(ID), nullable=True),
    Column("created", BigInteger, nullable=False),  # the event's own Unix time
    Column("payload", JSON, nullable=False),
    Column("source", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("worker", String(ID), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("retry_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("outcome", String(64), nullable=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("processed_at", UTCDateTime, nullable=True),
    Index("ix_inbox_events_due", "status", "created", "seq"),
    Index("ix_inbox_events_object_id", "object_id"),
)

# Per Stripe object, the (created, event id) of the last event applied.
object_versions = Table(
    "object_versions",
    metadata,
    Column("object_id", String(ID), primary_key=True),
    Column("created", BigInteger, nullable=False),
    Column("event_id", String(ID), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Stripe id <-> Salesforce Id, per Salesforce object.
xref = Table(
    "xref",
    metadata,
    Column("sf_object", String(ID), primary_key=True),
    Column("stripe_id", String(ID), primary_key=True),
    Column("sf_id", String(ID), nullable=False),
    Column("flow", String(ID), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_xref_sf_id", "sf_id"),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("flow", String(ID), nullable=False),
    Column("event_id", String(ID), nullable=True),
    Column("source_id", String(ID), nullable=True),
    Column("payload", JSON, nullable=False),
    Column("record", JSON, nullable=True),
    Column("error", Text, nullable=False),
    Column("error_code", String(ID), nullable=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_dead_letters_status", "status"),
)

review_items = Table(
    "review_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("flow", String(ID), nullable=False),
    Column("source_id", String(ID), nullable=False),
    Column("record", JSON, nullable=False),
    Column("candidates", JSON, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("chosen", String(ID), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("decided_at", UTCDateTime, nullable=True),
    Index("ix_review_items_status", "status"),
)

# Named positions: "stripe.last_event_id", "sf.watermark.<flow>", backfill progress ...
cursors = Table(
    "cursors",
    metadata,
    Column("name", String(ID), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Writes the runner made itself, so that their echo coming back is not synced again.
# The Pub/Sub API position of each subscription (topic), as the hex of Salesforce's opaque
# replay id bytes; written only once the events up to it are settled.
replay_ids = Table(
    "replay_ids",
    metadata,
    Column("topic", String(ID), primary_key=True),
    Column("replay_id", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

own_writes = Table(
    "own_writes",
    metadata,
    Column("system", String(32), primary_key=True),
    Column("object_id", String(ID), primary_key=True),
    Column("fingerprint", String(ID), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# Previous trigger-field values of a record, for conditions like "StageName becomes X".
snapshots = Table(
    "snapshots",
    metadata,
    Column("flow", String(ID), primary_key=True),
    Column("record_id", String(ID), primary_key=True),
    Column("values", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("stopped_at", UTCDateTime, nullable=True),
    Column("host", String(ID), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("version", String(64), nullable=False),
    Column("counts", JSON, nullable=True),
)

# What was done through the admin API: by which token (its name and a hash, never the token),
# which action, on what, when.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("token_name", String(64), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(ID), nullable=True),
    Column("outcome", Text, nullable=True),
    Index("ix_audit_log_at", "at"),
)
