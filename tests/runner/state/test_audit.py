"""The admin API's audit log: a token's name and hash, never the token; one migration head."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select

from runner.state import StateStore, migrate
from runner.state.audit import token_hash
from runner.state.models import audit_log
from tests.runner.state.helpers import make_event

TOKEN = "a-very-long-admin-token-0123456789"


def test_the_migrations_have_one_head_and_the_audit_log_is_the_newest() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert script.get_heads() == ["0004"]
    assert script.get_revision("0004").down_revision == "0003"


def test_an_action_is_recorded_with_the_tokens_hash_only(tmp_path) -> None:
    with StateStore.open(f"sqlite:///{tmp_path / 's.sqlite'}") as store:
        store.audit_add(token_name="admin", token_digest=token_hash(TOKEN),
                        action="flows.pause", target="charge-to-payment", outcome="ok")
        store.audit_add(token_name="admin", token_digest=token_hash(TOKEN),
                        action="dead-letters.replay", target="3", outcome="ok")
        entries = store.audit_list()
        assert [e.action for e in entries] == ["dead-letters.replay", "flows.pause"]
        assert entries[1].to_dict()["target"] == "charge-to-payment"
        assert "token_hash" not in entries[0].to_dict()  # the API shows the name only
        assert [e.action for e in store.audit_list(before=entries[0].id)] == ["flows.pause"]
        with store.db.read() as conn:
            rows = [dict(r._mapping) for r in conn.execute(select(audit_log))]
        assert TOKEN not in repr(rows)
        assert rows[0]["token_hash"] == token_hash(TOKEN)


def test_the_audit_log_refuses_a_raw_token(tmp_path) -> None:
    with StateStore.open(f"sqlite:///{tmp_path / 's.sqlite'}") as store, \
            pytest.raises(ValueError, match="hash"):
        store.audit_add(token_name="admin", token_digest=TOKEN, action="x", target=None,
                        outcome=None)


def test_events_after_is_a_tail_in_received_order(tmp_path) -> None:
    with StateStore.open(f"sqlite:///{tmp_path / 's.sqlite'}") as store:
        for n in range(1, 4):
            store.add_event(make_event(n), source="webhook")
        first = store.events_after(0, limit=2)
        assert [r["event_id"] for r in first] == ["evt_1", "evt_2"]
        rest = store.events_after(first[-1]["seq"])
        assert [r["event_id"] for r in rest] == ["evt_3"]
        assert "payload" not in rest[0]
