"""Change events the echo rule settles from the header alone: the runner's own writeback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.pipeline.bundle_runtime import LoadedBundle
from runner.pipeline.writeback import is_writeback_echo, note_writeback
from runner.pubsub.client import Received, changed_fields
from runner.pubsub.triggers import flow_ids
from runner.state.store import StateStore

TEMPLATE = (Path(__file__).resolve().parents[3] / "mappings" / "templates"
            / "account-to-stripe-customer.yaml")
USER = "005RUNNER"
FIELDS = ["ChangeEventHeader", "Name", "Phone", "StripeCustomerID__c", "LastModifiedDate"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    try:
        yield opened
    finally:
        opened.close()


def test_changed_fields_read_the_bitmap_with_the_schema_order() -> None:
    assert changed_fields(["0x0A"], FIELDS) == {"Name", "StripeCustomerID__c"}
    assert changed_fields(["0x18"], FIELDS) == {"StripeCustomerID__c", "LastModifiedDate"}
    assert changed_fields([], FIELDS) == frozenset()
    # A compound field's parts count as the field; a bit past the schema stays visible.
    assert changed_fields(["2-0x01"], FIELDS) == {"Phone"}
    assert changed_fields(["0x40"], FIELDS) == {"#6"}


def _echo(store: StateStore, *, user: str = USER, changed: set[str] | None = None,
          value: str = "cus_1") -> bool:
    return is_writeback_echo(
        store, USER, commit_user=user, record_id="001A",
        changed={"StripeCustomerID__c", "LastModifiedDate"} if changed is None else changed,
        values={"StripeCustomerID__c": value}, writeback="StripeCustomerID__c")


def test_only_the_runners_own_writeback_is_an_echo(store: StateStore) -> None:
    assert not _echo(store)  # nothing noted yet: read the record
    note_writeback(store, "001A", "StripeCustomerID__c", "cus_1", "fp:x")
    assert _echo(store)
    assert not _echo(store, user="005SOMEONE")
    assert not _echo(store, value="cus_2")  # someone else's value, even by the same user
    assert not _echo(store, changed={"StripeCustomerID__c", "Name"})
    assert not _echo(store, changed=set())  # nothing known: not an echo


def test_flow_ids_leave_out_echoes() -> None:
    account = LoadedBundle.from_template(TEMPLATE).salesforce_flows[0]

    def change(ids: list[str]) -> Received:
        return Received(b"r", "s", {"ChangeEventHeader": {
            "entityName": "Account", "recordIds": ids, "changeType": "UPDATE"}})

    events = [change(["001A"]), change(["001B"])]
    assert flow_ids(account, events, lambda _event, rid: rid == "001A") == (["001B"], [])
