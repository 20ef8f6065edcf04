"""Stripe -> Salesforce deletions through the writer's path (runner.pipeline.deletion), on an
in-memory org: each policy, each deletion event type, and bad input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from mappings.document.model import (
    Action,
    DeletionPolicy,
    FieldMapping,
    Flow,
    MappingDocument,
    ObjectRef,
    Operation,
    TransformStep,
    Trigger,
)
from mappings.engine.plan import compile_flow
from mappings.schema.model import System
from runner.classify import Failure
from runner.connectors.errors import ConnectorError, RecordOutcome
from runner.pipeline.deletion import Deletions, marked_deleted, write_with_deletions
from runner.pipeline.ordering import newest_per_object
from runner.pipeline.outcomes import TaskOutcome
from runner.pipeline.writer import MemoryLedger, SalesforceWriter, WriteItem
from runner.state import EventStatus
from runner.state.records import InboxEvent
from tests.mappings.test_deletion import DELETIONS, event


class Org:
    """The calls the writer's path makes, answered from a dict of records by Id."""

    def __init__(self, records: dict[str, dict[str, Any]] | None = None) -> None:
        self.records = records or {}
        self.calls: list[tuple[str, str, Any]] = []
        self.api_calls = 0
        self.refuse: dict[str, str] = {}  # Id -> error code

    def find_ids(self, obj: str, field: str, values: Sequence[Any]) -> dict[Any, list[str]]:
        self.calls.append(("query", obj, list(values)))
        return {v: [rid for rid, r in self.records.items()
                    if r.get("type") == obj and r.get(field) == v] for v in values}

    def _answer(self, rid: str) -> RecordOutcome:
        code = self.refuse.get(rid)
        if code:
            return RecordOutcome(0, False, errors=[{"statusCode": code, "message": "no"}],
                                 failure=Failure.SKIPPABLE)
        return RecordOutcome(0, True, id=rid)

    def update_many(self, obj: str, records: Sequence[dict]) -> list[RecordOutcome]:
        self.calls.append(("update", obj, [dict(r) for r in records]))
        out = []
        for r in records:
            answer = self._answer(r["Id"])
            if answer.success:
                self.records[r["Id"]].update({k: v for k, v in r.items() if k != "Id"})
            out.append(answer)
        return out

    def delete_many(self, obj: str, ids: Sequence[str]) -> list[RecordOutcome]:
        self.calls.append(("delete", obj, list(ids)))
        out = []
        for rid in ids:
            answer = self._answer(rid)
            if answer.success:
                self.records.pop(rid)
            out.append(answer)
        return out

    def writes(self) -> list[tuple[str, str, Any]]:
        return [c for c in self.calls if c[0] != "query"]


class Ledger(MemoryLedger):
    def __init__(self) -> None:
        super().__init__()
        self.deleted: list[tuple[str, str]] = []

    def own_deletion(self, sf_object: str, sf_id: str) -> None:
        self.deleted.append((sf_object, sf_id))


def flow_for(event_type: str, source: str, target: str, ext: str,
             policy: DeletionPolicy) -> Flow:
    other = "customer.updated" if source == "customer" else f"{source}.updated"
    return Flow(name=f"{source}-flow", trigger=Trigger(stripe_events=[other, event_type]),
                source=ObjectRef(System.STRIPE, source),
                target=ObjectRef(System.SALESFORCE, target),
                operation=Operation(Action.UPSERT, external_id=ext),
                fields=[FieldMapping(ext, ["id"]), FieldMapping("Name", ["name"])],
                on_delete=policy)


def run(flow: Flow, org: Org, payloads: list[dict[str, Any]], *, ledger: Ledger | None = None,
        dry: bool = False) -> list[WriteItem]:
    ledger = ledger if ledger is not None else Ledger()
    writer = SalesforceWriter(org, ledger)  # type: ignore[arg-type]
    items = [WriteItem(data=p, payload=p) for p in payloads]
    plan = compile_flow(flow, MappingDocument("test", [flow]))
    write_with_deletions(writer, flow, plan, items, dry=dry)
    return items


@pytest.mark.parametrize(("event_type", "source", "target", "ext"), DELETIONS)
def test_mark_stamps_the_target_with_the_event_time(event_type: str, source: str, target: str,
                                                    ext: str) -> None:
    org = Org({"a0X1": {"type": target, ext: "obj_1", "Name": "Kept"}})
    ledger = Ledger()
    [item] = run(flow_for(event_type, source, target, ext, DeletionPolicy.MARK), org,
                 [event(event_type, {"id": "obj_1", "object": source})], ledger=ledger)
    assert item.outcome is TaskOutcome.WRITTEN and item.sf_id == "a0X1"
    assert org.writes() == [("update", target, [
        {"Id": "a0X1", ext: "obj_1", "StripeDeletedAt__c": "2026-01-01T00:00:00.000+0000"}])]
    assert org.records["a0X1"]["Name"] == "Kept"  # marked, not rewritten
    assert ledger.own_writes == [(target, "a0X1")]
    assert ledger.xrefs == {(target, "obj_1"): "a0X1"}


@pytest.mark.parametrize(("event_type", "source", "target", "ext"), DELETIONS)
def test_delete_deletes_the_target_by_id(event_type: str, source: str, target: str,
                                         ext: str) -> None:
    org = Org({"a0X1": {"type": target, ext: "obj_1"}, "a0X2": {"type": target, ext: "obj_2"}})
    ledger = Ledger()
    [item] = run(flow_for(event_type, source, target, ext, DeletionPolicy.DELETE), org,
                 [event(event_type, {"id": "obj_1", "object": source})], ledger=ledger)
    assert item.outcome is TaskOutcome.WRITTEN
    assert org.writes() == [("delete", target, ["a0X1"])]
    assert list(org.records) == ["a0X2"]
    assert ledger.deleted == [(target, "a0X1")]  # its deletion is no trigger


@pytest.mark.parametrize(("event_type", "source", "target", "ext"), DELETIONS)
def test_ignore_writes_nothing_and_says_why(event_type: str, source: str, target: str,
                                            ext: str) -> None:
    org = Org({"a0X1": {"type": target, ext: "obj_1"}})
    [item] = run(flow_for(event_type, source, target, ext, DeletionPolicy.IGNORE), org,
                 [event(event_type, {"id": "obj_1", "object": source})])
    assert item.outcome is TaskOutcome.SKIPPED and org.calls == []
    assert item.error == (f"{event_type}: flow '{source}-flow' ignores deletions (on_delete: "
                          f"ignore); the {target} with {ext} = obj_1 is left as it is")


@pytest.mark.parametrize("policy", [DeletionPolicy.MARK, DeletionPolicy.DELETE])
def test_no_target_is_skipped_with_nothing_written(policy: DeletionPolicy) -> None:
    org = Org({"001A": {"type": "Account", "StripeCustomerID__c": "cus_other"}})
    flow = flow_for("customer.deleted", "customer", "Account", "StripeCustomerID__c", policy)
    [item] = run(flow, org, [event("customer.deleted", {"id": "cus_gone"})])
    assert item.outcome is TaskOutcome.SKIPPED
    assert item.error == (f"customer.deleted: no Account with StripeCustomerID__c = cus_gone "
                          f"to {policy.value}; nothing written")
    assert org.writes() == []


def test_two_targets_with_one_id_are_refused() -> None:
    org = Org({"001A": {"type": "Account", "StripeCustomerID__c": "cus_1"},
               "001B": {"type": "Account", "StripeCustomerID__c": "cus_1"}})
    flow = flow_for("customer.deleted", "customer", "Account", "StripeCustomerID__c",
                    DeletionPolicy.MARK)
    [item] = run(flow, org, [event("customer.deleted", {"id": "cus_1"})])
    assert item.outcome is TaskOutcome.DEAD_LETTERED and item.error_code == "DUPLICATE_VALUE"
    assert "2 Account with StripeCustomerID__c = cus_1 records" in str(item.error)
    assert org.writes() == []


def test_a_deletion_event_without_an_id_is_dead_lettered_with_one_sentence() -> None:
    org = Org()
    flow = flow_for("customer.deleted", "customer", "Account", "StripeCustomerID__c",
                    DeletionPolicy.MARK)
    [item] = run(flow, org, [event("customer.deleted", {"object": "customer"})])
    assert item.outcome is TaskOutcome.DEAD_LETTERED and item.error_code == "INVALID_INPUT"
    assert item.error == ("flow 'customer-flow': the customer.deleted event evt_1 names no "
                          "customer id in data.object.id, so there is nothing to delete")
    assert org.calls == []


def test_the_cross_reference_finds_the_target_without_a_query() -> None:
    org = Org({"001A": {"type": "Account", "StripeCustomerID__c": "cus_1"}})
    ledger = Ledger()
    ledger.xref_put("Account", "cus_1", "001A", "customer-flow")
    flow = flow_for("customer.deleted", "customer", "Account", "StripeCustomerID__c",
                    DeletionPolicy.MARK)
    [item] = run(flow, org, [event("customer.deleted", {"id": "cus_1"})], ledger=ledger)
    assert item.outcome is TaskOutcome.WRITTEN
    assert [c[0] for c in org.calls] == ["update"]


def test_a_target_already_deleted_is_skipped() -> None:
    org = Org({"001A": {"type": "Account", "StripeCustomerID__c": "cus_1"}})
    org.refuse["001A"] = "ENTITY_IS_DELETED"
    flow = flow_for("customer.deleted", "customer", "Account", "StripeCustomerID__c",
                    DeletionPolicy.DELETE)
    [item] = run(flow, org, [event("customer.deleted", {"id": "cus_1"})])
    assert item.outcome is TaskOutcome.SKIPPED
    assert item.error == "the Account 001A is already deleted in Salesforce; nothing to delete"


def test_a_refused_mark_is_dead_lettered_with_salesforce_words() -> None:
    org = Org({"001A": {"type": "Account", "StripeCustomerID__c": "cus_1"}})
    org.refuse["001A"] = "INVALID_FIELD_FOR_INSERT_UPDATE"
    flow = flow_for("customer.deleted", "customer", "Account", "StripeCustomerID__c",
                    DeletionPolicy.MARK)
    [item] = run(flow, org, [event("customer.deleted", {"id": "cus_1"})])
    assert item.outcome is TaskOutcome.DEAD_LETTERED
    assert item.error_code == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_a_failed_query_is_each_deletions_outcome() -> None:
    class Down(Org):
        def find_ids(self, obj: str, field: str, values: Sequence[Any]) -> dict:
            raise ConnectorError("Salesforce query timed out", failure=Failure.RETRIABLE)

    flow = flow_for("customer.deleted", "customer", "Account", "StripeCustomerID__c",
                    DeletionPolicy.MARK)
    items = run(flow, Down(), [event("customer.deleted", {"id": "cus_1"}),
                               event("customer.deleted", {"id": "cus_2"})])
    assert [i.outcome for i in items] == [TaskOutcome.RETRY, TaskOutcome.RETRY]


def test_deletions_and_writes_in_one_group_each_take_their_path() -> None:
    org = Org({"001A": {"type": "Account", "StripeCustomerID__c": "cus_1"}})

    def upsert_many(obj: str, key: str, records: Sequence[dict]) -> list[RecordOutcome]:
        org.calls.append(("upsert", obj, [dict(r) for r in records]))
        return [RecordOutcome(0, True, id="001N", created=True) for _ in records]

    org.upsert_many = upsert_many  # type: ignore[attr-defined]
    flow = flow_for("customer.deleted", "customer", "Account", "StripeCustomerID__c",
                    DeletionPolicy.MARK)
    updated = event("customer.updated", {"id": "cus_2", "name": "New Co"})
    deleted = event("customer.deleted", {"id": "cus_1", "name": "Old Co"})
    items = run(flow, org, [updated, deleted])
    assert [i.outcome for i in items] == [TaskOutcome.WRITTEN, TaskOutcome.WRITTEN]
    assert [c[0] for c in org.writes()] == ["update", "upsert"]
    assert org.writes()[1][2] == [{"StripeCustomerID__c": "cus_2", "Name": "New Co"}]


def test_a_dry_run_plans_the_deletion_and_writes_nothing() -> None:
    org = Org({"001A": {"type": "Account", "StripeCustomerID__c": "cus_1"}})
    mark = flow_for("customer.deleted", "customer", "Account", "StripeCustomerID__c",
                    DeletionPolicy.MARK)
    [item] = run(mark, org, [event("customer.deleted", {"id": "cus_1"})], dry=True)
    assert item.outcome is None and item.write is not None
    assert (item.write.kind, item.write.sf_id) == ("update", "001A")
    assert item.record == {"Id": "001A", "StripeCustomerID__c": "cus_1",
                           "StripeDeletedAt__c": "2026-01-01T00:00:00.000+0000"}
    delete = flow_for("customer.deleted", "customer", "Account", "StripeCustomerID__c",
                      DeletionPolicy.DELETE)
    [item] = run(delete, org, [event("customer.deleted", {"id": "cus_1"})], dry=True)
    assert item.write is not None and item.write.kind == "delete"
    assert org.writes() == []


def test_an_object_marked_deleted_in_salesforce_is_not_written_back() -> None:
    org = Org()
    flow = flow_for("customer.deleted", "customer", "Account", "StripeCustomerID__c",
                    DeletionPolicy.MARK)
    payload = event("customer.updated", {
        "id": "cus_1", "name": "Gone Co",
        "metadata": {"salesforce_deleted_at": "2026-01-02T03:04:05Z"}})
    [item] = run(flow, org, [payload])
    assert item.outcome is TaskOutcome.SKIPPED and org.calls == []
    assert item.error == ("the Stripe customer cus_1 was marked deleted in Salesforce at "
                          "2026-01-02T03:04:05Z (salesforce_deleted_at); its Account is not "
                          "written again")
    assert marked_deleted(payload) == "2026-01-02T03:04:05Z"
    assert marked_deleted({"id": "cus_1", "metadata": {"other": "x"}}) is None
    assert marked_deleted("not an object") is None


def test_deletions_skip_items_already_finished() -> None:
    flow = flow_for("customer.deleted", "customer", "Account", "StripeCustomerID__c",
                    DeletionPolicy.MARK)
    item = WriteItem(data=event("customer.deleted", {"id": "cus_1"}), payload={})
    item.finish(TaskOutcome.STALE)
    writer = SalesforceWriter(Org(), Ledger())  # type: ignore[arg-type]
    plan = compile_flow(flow, MappingDocument("test", [flow]))
    assert Deletions(writer).apply(flow, plan, [item]) == []
    assert item.outcome is TaskOutcome.STALE


def inbox(event_id: str, event_type: str, created: int = 100) -> InboxEvent:
    return InboxEvent(event_id=event_id, type=event_type, object_id="cus_1", created=created,
                      payload={}, attempts=1, status=EventStatus.PROCESSING, source="test")


@pytest.mark.parametrize("ids", [("evt_a", "evt_z"), ("evt_z", "evt_a")])
def test_a_deletion_is_the_last_word_on_its_object_in_its_second(ids: tuple[str, str]) -> None:
    # Event ids are random: whichever sorts last, the deletion wins, and it is no tie
    # (there is no newer state of a deleted object to fetch).
    updated, deleted = inbox(ids[0], "customer.updated"), inbox(ids[1], "customer.deleted")
    for batch in ([updated, deleted], [deleted, updated]):
        newest, superseded, tied = newest_per_object(batch)
        assert newest == {"cus_1": deleted} and superseded == [updated] and tied == set()
    later = inbox("evt_b", "customer.updated", created=101)  # not a Stripe order, but ordered
    newest, _, _ = newest_per_object([deleted, later])
    assert newest == {"cus_1": later}


def test_mark_also_writes_the_objects_last_state_but_never_clears() -> None:
    org = Org({"001A": {"type": "Account", "StripeCustomerID__c": "cus_1", "Name": "Old"}})
    flow = flow_for("customer.deleted", "customer", "Account", "StripeCustomerID__c",
                    DeletionPolicy.MARK)
    flow.fields.append(FieldMapping("Phone", ["phone"]))
    [item] = run(flow, org, [event("customer.deleted", {"id": "cus_1", "name": "Last Name Co",
                                                        "phone": None})])
    assert item.outcome is TaskOutcome.WRITTEN
    assert org.writes()[0][2] == [{"Id": "001A", "StripeCustomerID__c": "cus_1",
                                   "Name": "Last Name Co",
                                   "StripeDeletedAt__c": "2026-01-01T00:00:00.000+0000"}]


def test_a_stub_or_an_unmappable_object_is_marked_with_the_stamp_only() -> None:
    org = Org({"001A": {"type": "Account", "StripeCustomerID__c": "cus_1", "Name": "Old"}})
    flow = flow_for("customer.deleted", "customer", "Account", "StripeCustomerID__c",
                    DeletionPolicy.MARK)
    stub = event("customer.deleted", {"id": "cus_1", "object": "customer", "deleted": True,
                                      "name": "Stub"})
    flow.fields.append(FieldMapping("NumberOfEmployees", ["metadata.size"],
                                    [TransformStep("to_number")]))
    bad = event("customer.deleted", {"id": "cus_1", "name": "Bad",
                                     "metadata": {"size": "many"}})
    for payload in (stub, bad):
        org.calls.clear()
        [item] = run(flow, org, [payload])
        assert item.outcome is TaskOutcome.WRITTEN
        assert org.writes()[0][2] == [{"Id": "001A", "StripeCustomerID__c": "cus_1",
                                       "StripeDeletedAt__c": "2026-01-01T00:00:00.000+0000"}]


def test_a_batch_of_deletions_costs_one_query_and_a_call_per_200() -> None:
    org = Org({f"001{n:04d}": {"type": "Account", "StripeCustomerID__c": f"cus_{n}"}
               for n in range(450)})
    flow = flow_for("customer.deleted", "customer", "Account", "StripeCustomerID__c",
                    DeletionPolicy.MARK)
    items = run(flow, org, [event("customer.deleted", {"id": f"cus_{n}"}) for n in range(450)])
    assert {i.outcome for i in items} == {TaskOutcome.WRITTEN}
    assert [(kind, len(body)) for kind, _obj, body in org.calls] == [
        ("query", 450), ("update", 200), ("update", 200), ("update", 50)]
