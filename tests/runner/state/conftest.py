"""Fixtures for the state store: the same tests run on a SQLite file and on the
PostgreSQL server on this machine (a fresh schema per test, dropped afterwards)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from runner.state import StateStore
from tests.runner.state.helpers import FakeClock

PG_BASE_URL = os.environ.get(
    "FIELDBRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def pg_admin():
    """An engine on the test database, or skip when no PostgreSQL is reachable."""
    engine = create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means: no server here
        engine.dispose()
        pytest.skip(f"no PostgreSQL at {make_url(PG_BASE_URL).render_as_string()}: {exc}")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url(pg_admin) -> Iterator[str]:
    """A URL whose search_path is a fresh, empty schema; dropped after the test."""
    schema = f"fbtest_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with pg_admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_BASE_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with pg_admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'state' / 'state.sqlite'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request) -> str:
    """The same test on both backends."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(url, clock) -> Iterator[StateStore]:
    opened = StateStore.open(url, clock=clock)
    yield opened
    opened.close()
