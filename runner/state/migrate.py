"""Bring a state database to the newest schema with Alembic, without an alembic.ini.

The migration scripts ship inside the package (``runner/state/migrations``). Several runner
processes may start at once against one PostgreSQL database, so the upgrade runs under a
transaction-scoped advisory lock there; on SQLite the writer's BEGIN IMMEDIATE serializes it.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Any fixed 64-bit number; it only has to be the same in every runner process.
_PG_MIGRATION_LOCK = 0x46425F5354415445  # "FB_STATE"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Migrate to head; a no-op (one small query) when the database is already there."""
    config = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
