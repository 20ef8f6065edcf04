"""Alembic environment for the runner's state database.

There is no alembic.ini: ``runner.state.migrate`` builds the Config in code and hands over
an open connection (``config.attributes["connection"]``), already inside the transaction
that holds the migration lock. For the ``alembic`` command line (writing a new revision),
set ``sqlalchemy.url`` with ``-x url=...``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from runner.state.models import metadata

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("give the database with -x url=sqlite:///path/to/state.sqlite")
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
