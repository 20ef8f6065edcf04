"""A Salesforce record the runner deleted leaves no cross reference behind: a later lookup
of its Stripe id must not point a new record at a deleted one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mappings.document.model import DeletionPolicy
from runner.pipeline.settle import BatchLedger, StoreLedger
from runner.pipeline.writer import MemoryLedger
from runner.state.settlement import Settlement
from runner.state.store import StateStore
from runner.state.testing import memory_store
from tests.mappings.test_deletion import event
from tests.runner.pipeline.test_deletion import Org, flow_for, run

ACCOUNT_15 = "001000000000001"  # the 15-character form of the Id stored as 18


@pytest.fixture
def store() -> Iterator[StateStore]:
    s = memory_store()
    yield s
    s.close()


def test_forget_removes_every_reference_to_the_record(store: StateStore) -> None:
    store.xref_put("Account", "cus_1", "001000000000001AAA", "f")
    store.xref_put("Account", "cus_2", "001000000000002AAA", "f")
    store.xref_put("Contact", "cus_1", "003000000000001AAA", "f")
    store.xref_forget("Account", ACCOUNT_15)  # either form of the Id
    assert store.xref_get("Account", "cus_1") is None
    assert store.xref_get("Account", "cus_2") == "001000000000002AAA"
    assert store.xref_get("Contact", "cus_1") == "003000000000001AAA"


def test_a_batch_forgets_on_settling_and_hides_the_reference_before(store: StateStore) -> None:
    store.xref_put("Account", "cus_1", "001000000000001AAA", "f")
    settlement = Settlement()
    ledger = BatchLedger(store, settlement, frozenset())
    ledger.own_deletion("Account", "001000000000001AAA")
    assert ledger.xref_get_many("Account", ["cus_1"]) == {}  # already, inside the batch
    # The same Stripe id made again in the batch keeps its new record.
    ledger.xref_put("Account", "cus_1", "001000000000009AAA", "f")
    store.settle_batch(settlement)
    assert store.xref_get("Account", "cus_1") == "001000000000009AAA"


def test_a_pending_reference_to_the_deleted_record_is_dropped(store: StateStore) -> None:
    settlement = Settlement()
    settlement.xref("Order", "in_1", "801000000000001AAA", "f")
    settlement.xref_forget("Order", "801000000000001")
    assert settlement.xref_get("Order", "in_1") is None
    store.settle_batch(settlement)
    assert store.xref_get("Order", "in_1") is None


def test_the_store_ledger_forgets_at_once(store: StateStore) -> None:
    store.xref_put("Account", "cus_1", "001000000000001AAA", "f")
    StoreLedger(store, frozenset()).own_deletion("Account", "001000000000001AAA")
    assert store.xref_get("Account", "cus_1") is None


def test_delete_policy_through_the_writer_forgets_the_reference() -> None:
    org = Org({"001X": {"type": "Account", "StripeCustomerID__c": "cus_1"}})
    ledger = MemoryLedger(xrefs={("Account", "cus_1"): "001X"})
    flow = flow_for("customer.deleted", "customer", "Account", "StripeCustomerID__c",
                    DeletionPolicy.DELETE)
    [item] = run(flow, org, [event("customer.deleted", {"id": "cus_1", "object": "customer"})],
                 ledger=ledger)  # type: ignore[arg-type]
    assert org.records == {}
    assert ledger.xrefs == {}
