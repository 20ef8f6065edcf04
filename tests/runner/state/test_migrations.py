"""Opening the state database: migrations, URLs, the default location, bad input."""

from __future__ import annotations

import threading

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select

from runner.state import StateError, StateStore, default_url, migrate
from runner.state.models import metadata, utcnow, xref
from tests.runner.state.helpers import make_event

TABLES = {"inbox_events", "object_versions", "xref", "dead_letters", "review_items", "cursors",
          "own_writes", "snapshots", "runs"}


def test_open_migrates_an_empty_database_and_is_idempotent(url):
    store = StateStore.open(url)
    try:
        names = set(inspect(store.db.engine).get_table_names())
        assert names >= TABLES | {"alembic_version"}
        assert migrate.current_revision(store.db.engine) == migrate.head_revision()
        store.add_event(make_event(1), source="webhook")
    finally:
        store.close()
    again = StateStore.open(url)  # a second open upgrades nothing and loses nothing
    try:
        assert migrate.current_revision(again.db.engine) == migrate.head_revision()
        assert again.get_event("evt_1").status == "pending"
    finally:
        again.close()


def test_migrated_schema_matches_the_models(url):
    store = StateStore.open(url)
    try:
        with store.db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        store.close()
    assert diff == []


def test_downgrade_to_base_removes_the_tables(url):
    store = StateStore.open(url)
    try:
        config = migrate.alembic_config()
        with store.db.writer.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert not set(inspect(store.db.engine).get_table_names()) & TABLES
    finally:
        store.close()


def test_migration_0002_normalises_stored_salesforce_ids(url):
    old = StateStore(url)  # not opened: bring it to revision 0001 only, as an older runner
    try:
        config = migrate.alembic_config()
        with old.db.writer.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")
        assert migrate.current_revision(old.db.engine) == "0001"
        rows = [("Account", "cus_15", "001A0000006Vm9r"),  # 15 characters
                ("Account", "cus_low", "001a0000006vm9riac"),  # 18, typed in lower case
                ("Account", "cus_18", "001000000000001AAA"),  # already canonical
                ("Account", "cus_fake", "001KNOWN"),  # a test double's id: left alone
                ("Account", "cus_bad", "001A0000006Vm9rIA9")]  # wrong checksum: left alone
        with old.db.writer.begin() as conn:
            conn.execute(insert(xref), [
                {"sf_object": o, "stripe_id": s, "sf_id": i, "flow": "f",
                 "updated_at": utcnow()} for o, s, i in rows])
    finally:
        old.close()
    store = StateStore.open(url)
    try:
        assert migrate.current_revision(store.db.engine) == migrate.head_revision()
        with store.db.engine.connect() as conn:
            stored = dict(conn.execute(select(xref.c.stripe_id, xref.c.sf_id)).all())
        assert stored == {"cus_15": "001A0000006Vm9rIAC", "cus_low": "001A0000006Vm9rIAC",
                          "cus_18": "001000000000001AAA", "cus_fake": "001KNOWN",
                          "cus_bad": "001A0000006Vm9rIA9"}
        assert store.xref_by_sf("001A0000006Vm9r") in ("cus_15", "cus_low")
    finally:
        store.close()


@pytest.mark.postgres
def test_concurrent_first_opens_do_not_collide(pg_url):
    # Several runner processes starting together on an empty database: the advisory lock
    # lets one create the tables and the others find them there.
    errors: list[BaseException] = []

    def open_once() -> None:
        try:
            StateStore.open(pg_url).close()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_once) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_sqlite_uses_wal(sqlite_url):
    store = StateStore.open(sqlite_url)
    try:
        with store.db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
    finally:
        store.close()


def test_in_memory_sqlite_works(clock):
    store = StateStore.open("sqlite://", clock=clock)
    try:
        assert store.add_event(make_event(1), source="webhook")
        assert [e.event_id for e in store.claim_events("w")] == ["evt_1"]
    finally:
        store.close()


def test_default_url_is_in_the_user_data_directory(tmp_path, monkeypatch):
    target = tmp_path / "data" / "fieldbridge"
    monkeypatch.setattr("platformdirs.user_data_dir", lambda name: str(target))
    assert default_url() == f"sqlite:///{target / 'state.sqlite'}"
    store = StateStore.open(None)
    try:
        assert store.dialect == "sqlite"
        assert (target / "state.sqlite").exists()
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@localhost/db", "postgresql+psycopg"),
        ("postgres://u@localhost/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@localhost/db", "postgresql+psycopg"),
        ("sqlite:///x.sqlite", "sqlite"),
    ],
)
def test_urls_pick_the_installed_driver(url, driver, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the relative SQLite file is made private up front
    store = StateStore(url)  # no connection is made before open()/first use
    try:
        assert store.url.drivername == driver
        assert store.dialect == driver.split("+")[0]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@localhost/db", "unsupported state database 'mysql'"),
        ("not a url", "could not be read"),
        ("", "could not be read"),
    ],
)
def test_bad_urls_are_refused_by_name(url, message):
    with pytest.raises(StateError, match=message):
        StateStore(url)


def test_unreachable_server_is_a_clear_error_without_the_password():
    # Port 9 (discard) on loopback: nothing listens there, the connection is refused.
    url = "postgresql://fb:hunter2secret@127.0.0.1:9/state?connect_timeout=2"
    with pytest.raises(StateError, match="cannot open the state database") as caught:
        StateStore.open(url)
    assert "hunter2secret" not in str(caught.value)
    assert "***" in str(caught.value)
