"""Salesforce -> Stripe deletions (runner.pipeline.sf_deletions) with in-memory connectors:
a record polled from the recycle bin and a change-event DELETE follow the flow's on_delete."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mappings.document.model import DeletionPolicy
from mappings.document.yamlio import load_document
from mappings.schema.org_metadata import load_salesforce_catalog
from mappings.schema.stripe_catalog import load_stripe_catalog
from runner.classify import Failure
from runner.connectors.errors import ConnectorError
from runner.pipeline.bundle_runtime import LoadedBundle
from runner.pipeline.sf_poller import PollReport, SalesforcePoller
from runner.pipeline.writeback import DELETED_MARK, is_stripe_echo
from runner.pubsub.client import Received
from runner.pubsub.subscriber import Redeliver
from runner.pubsub.triggers import SalesforceTriggers, TriggerPlan
from runner.state.store import StateStore

TEMPLATE = Path(__file__).resolve().parents[3] / "mappings/templates/account-to-stripe-customer.yaml"
USER = "005INTEGRATION"
DELETED = {"Id": "001A", "IsDeleted": True, "Name": "Gone Co", "StripeCustomerID__c": "cus_1",
           "SystemModstamp": "2026-01-02T03:04:05.000+0000", "LastModifiedById": "005PERSON"}


class Org:
    """query_all over a list of rows: queryAll gives the deleted ones too."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.user_id = USER
        self.queries: list[tuple[str, bool]] = []

    def query_all(self, soql: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        self.queries.append((soql, include_deleted))
        rows = [r for r in self.rows if include_deleted or not r.get("IsDeleted")]
        if " Id IN (" in soql:
            rows = [r for r in rows if f"'{r['Id']}'" in soql]
        return rows


class Stripe:
    def __init__(self, fail: ConnectorError | None = None) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.params: list[dict[str, Any]] = []
        self.fail = fail

    def update(self, obj: str, oid: str, params: dict, key: str) -> dict:
        self.calls.append(("update", obj, oid, key))
        self.params.append(params)
        if self.fail is not None:
            raise self.fail
        return {"id": oid, "object": obj}

    def delete(self, obj: str, oid: str) -> dict:
        self.calls.append(("delete", obj, oid))
        if self.fail is not None:
            raise self.fail
        return {"id": oid, "deleted": True}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    with StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}") as opened:
        yield opened


def bundle(policy: DeletionPolicy = DeletionPolicy.MARK) -> LoadedBundle:
    doc = load_document(TEMPLATE)
    doc.flows[0].on_delete = policy
    return LoadedBundle.from_documents([doc], load_salesforce_catalog(), load_stripe_catalog())


def poller(store: StateStore, org: Org, stripe: Stripe,
           policy: DeletionPolicy = DeletionPolicy.MARK) -> SalesforcePoller:
    return SalesforcePoller(bundle(policy), store, org, stripe,  # type: ignore[arg-type]
                            start=datetime(2026, 1, 1, tzinfo=UTC))


def test_a_polled_deleted_account_marks_its_customer(store) -> None:
    org, stripe = Org([dict(DELETED)]), Stripe()
    report = poller(store, org, stripe).poll_once()
    assert (report.records, report.updated, report.dead_lettered) == (1, 1, 0)
    [(soql, include_deleted)] = org.queries
    assert include_deleted and "IsDeleted" in soql.split(" FROM ")[0]
    [(kind, obj, oid, key)] = stripe.calls
    assert (kind, obj, oid) == ("update", "customer", "cus_1")
    assert stripe.params == [{"metadata": {"salesforce_deleted_at": "2026-01-02T03:04:05Z",
                                           "fieldbridge_origin": "salesforce"}}]
    assert store.is_own_write("stripe", "cus_1", key)  # its customer.updated is an echo
    # The watermark moved past it: the next poll does not mark it again.
    assert store.cursor_get("sf.watermark.account-to-customer") == "2026-01-02T03:04:05.000Z"


def test_delete_deletes_the_customer_and_its_event_is_an_echo(store) -> None:
    org, stripe = Org([dict(DELETED)]), Stripe()
    report = poller(store, org, stripe, DeletionPolicy.DELETE).poll_once()
    assert report.updated == 1 and stripe.calls == [("delete", "customer", "cus_1")]
    assert store.is_own_write("stripe", "cus_1", DELETED_MARK)
    event = {"id": "evt_1", "object": "event", "type": "customer.deleted", "created": 1,
             "data": {"object": {"id": "cus_1", "object": "customer", "metadata": {}}}}
    assert is_stripe_echo(store, event)
    other = {**event, "data": {"object": {"id": "cus_2", "object": "customer"}}}
    assert not is_stripe_echo(store, other)


def test_ignore_leaves_the_customer(store) -> None:
    org, stripe = Org([dict(DELETED)]), Stripe()
    report = poller(store, org, stripe, DeletionPolicy.IGNORE).poll_once()
    assert (report.skipped, report.updated) == (1, 0) and stripe.calls == []


def test_an_account_the_runner_deleted_is_an_echo(store) -> None:
    store.note_own_write("salesforce", "001A", DELETED_MARK)
    org, stripe = Org([dict(DELETED)]), Stripe()
    report = poller(store, org, stripe).poll_once()
    assert report.echo == 1 and stripe.calls == []


def test_an_account_without_a_customer_is_skipped(store) -> None:
    org, stripe = Org([{**DELETED, "StripeCustomerID__c": None}]), Stripe()
    report = poller(store, org, stripe).poll_once()
    assert report.skipped == 1 and stripe.calls == []


def test_the_customer_the_runner_created_is_found_when_the_writeback_missed(store) -> None:
    store.snapshot_put("account-to-customer#stripe", "001A", {"id": "cus_9"})
    org, stripe = Org([{**DELETED, "StripeCustomerID__c": None}]), Stripe()
    poller(store, org, stripe).poll_once()
    assert [c[:3] for c in stripe.calls] == [("update", "customer", "cus_9")]


def test_a_customer_already_gone_from_stripe_is_skipped(store) -> None:
    gone = ConnectorError("Stripe update customer cus_1 failed: HTTP 404: No such customer",
                          failure=Failure.SKIPPABLE, status=404)
    org, stripe = Org([dict(DELETED)]), Stripe(gone)
    report = poller(store, org, stripe).poll_once()
    assert (report.skipped, report.dead_lettered) == (1, 0)


def test_a_retriable_failure_keeps_the_deleted_record_for_the_next_poll(store) -> None:
    down = ConnectorError("Stripe update timed out", failure=Failure.RETRIABLE)
    org, stripe = Org([dict(DELETED)]), Stripe(down)
    p = poller(store, org, stripe)
    assert p.poll_once().retried == 1
    stripe.fail = None
    again = p.poll_once()
    assert again.updated == 1
    # The retry sends the same Idempotency-Key: Stripe applies the mark once.
    assert stripe.calls[0][3] == stripe.calls[1][3]


def test_a_bad_stripe_request_is_dead_lettered(store) -> None:
    bad = ConnectorError("Stripe update customer cus_1 failed: HTTP 400: bad metadata",
                         failure=Failure.SKIPPABLE, status=400)
    org, stripe = Org([dict(DELETED)]), Stripe(bad)
    report = poller(store, org, stripe).poll_once()
    assert report.dead_lettered == 1
    [entry] = store.dlq_list()
    assert entry.source_id == "001A" and "bad metadata" in entry.error


def change(kind: str, ids: list[str]) -> Received:
    header = {"entityName": "Account", "recordIds": ids, "changeType": kind,
              "commitTimestamp": 1767322800000, "commitUser": "005PERSON"}
    return Received(b"r", "s", {"ChangeEventHeader": header})


def triggers(store: StateStore, p: SalesforcePoller) -> SalesforceTriggers:
    plan = TriggerPlan(topics={"/data/AccountChangeEvent": ["account-to-customer"]})

    class NoClient:
        def close(self) -> None:
            return None

    return SalesforceTriggers(plan, NoClient(), store, lambda: p)  # type: ignore[arg-type]


def test_a_delete_change_event_reads_the_recycle_bin_and_marks(store) -> None:
    live = {**DELETED, "Id": "001B", "IsDeleted": False, "StripeCustomerID__c": "cus_2"}
    org, stripe = Org([dict(DELETED), live]), Stripe()
    p = poller(store, org, stripe)
    # 001B is named too but is not deleted (undeleted since), 001C is purged: left out.
    report = PollReport()
    assert p.handle_deleted_ids(p.bundle.flow("account-to-customer"),
                                ["001A", "001B", "001C"], report)
    [(soql, include_deleted)] = org.queries
    assert include_deleted and "Id IN ('001A', '001B', '001C')" in soql
    assert [c[:3] for c in stripe.calls] == [("update", "customer", "cus_1")]
    assert (report.records, report.updated, report.skipped) == (1, 1, 2)
    org.queries.clear()
    triggers(store, p).handle("/data/AccountChangeEvent", [change("DELETE", ["001A"])])
    assert len(org.queries) == 1 and len(stripe.calls) == 2  # the same path from an event


def test_a_delete_change_event_that_fails_is_delivered_again(store) -> None:
    down = ConnectorError("Stripe update timed out", failure=Failure.RETRIABLE)
    org, stripe = Org([dict(DELETED)]), Stripe(down)
    p = poller(store, org, stripe)
    with pytest.raises(Redeliver, match="timed out"):
        triggers(store, p).handle("/data/AccountChangeEvent", [change("DELETE", ["001A"])])


def test_a_delete_change_event_of_the_runners_own_deletion_is_an_echo(store) -> None:
    store.note_own_write("salesforce", "001A", DELETED_MARK)
    org, stripe = Org([dict(DELETED)]), Stripe()
    p = poller(store, org, stripe)
    triggers(store, p).handle("/data/AccountChangeEvent", [change("DELETE", ["001A"])])
    assert stripe.calls == []


def test_a_dead_lettered_deletion_replays_from_the_recycle_bin(store) -> None:
    bad = ConnectorError("Stripe update customer cus_1 failed: HTTP 400: bad metadata",
                         failure=Failure.SKIPPABLE, status=400)
    org, stripe = Org([dict(DELETED)]), Stripe(bad)
    p = poller(store, org, stripe)
    assert p.poll_once().dead_lettered == 1
    [entry] = store.dlq_list()
    stripe.fail = None
    report = p.replay_dlq(entry.id)
    assert report.updated == 1 and report.dead_lettered == 0
    assert stripe.calls[-1][:3] == ("update", "customer", "cus_1")
    assert org.queries[-1][1] is True  # queryAll: the record is in the recycle bin
    assert store.dlq_get(entry.id).status == "replayed"


def test_an_account_whose_customer_was_deleted_in_stripe_is_not_dead_lettered(store) -> None:
    # The customer went in Stripe (its Account is marked StripeDeletedAt__c); a later edit
    # of the Account has nothing to update.
    gone = ConnectorError("Stripe update customer cus_1 failed: HTTP 404: No such customer",
                          failure=Failure.SKIPPABLE, status=404)
    live = {**DELETED, "IsDeleted": False, "Name": "Edited Co"}
    org, stripe = Org([live]), Stripe(gone)
    report = poller(store, org, stripe).poll_once()
    assert (report.skipped, report.dead_lettered, report.retried) == (1, 0, 0)
    assert [c[:3] for c in stripe.calls] == [("update", "customer", "cus_1")]
    assert store.dlq_list() == []
