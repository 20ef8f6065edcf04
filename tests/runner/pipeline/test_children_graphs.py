"""Composite graphs of parents with children: packing, nodes, answers (no network)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mappings.document.model import ChildCollection, DeletionPolicy
from mappings.document.yamlio import load_document
from runner.classify import Failure
from runner.pipeline import children as kids

DATA = "/services/data/v62.0"
TEMPLATE = Path(__file__).resolve().parents[3] / "mappings" / "templates" / "invoices-orders.yaml"


@pytest.fixture
def flow() -> Any:
    return load_document(TEMPLATE).flows[0]


def updatable(obj: str, name: str) -> bool:
    return name not in ("OrderId", "PricebookEntryId", "Product2Id")


def item(key: str, quantity: int = 1) -> dict[str, Any]:
    return {"StripeLineItemID__c": key, "Quantity": quantity, "UnitPrice": 15.0,
            "PricebookEntryId": "01uX", "Description": key}


@pytest.mark.parametrize(("sizes", "calls"), [
    ([13] * 80, [38, 38, 4]),  # 500 nodes a call: 38 invoices of 12 lines
    ([2] * 80, [75, 5]),  # 75 graphs a call
    ([500, 1, 499, 2], [1, 2, 1]),
    ([], []),
])
def test_graphs_are_packed_within_salesforce_limits(sizes: list[int], calls: list[int]) -> None:
    packed = kids.pack(sizes)
    assert [len(c) for c in packed] == calls
    assert [i for c in packed for i in c] == list(range(len(sizes)))
    assert all(sum(sizes[i] for i in c) <= kids.MAX_NODES for c in packed)


def test_a_new_parent_and_its_children_are_upserted_by_external_id(flow: Any) -> None:
    family = kids.Family(records={"OrderItems": [item("il_1"), item("il_2/x")]})
    graph = kids.build_graph("g0", flow, DATA, "upsert", "in_1", None,
                             {"StripeInvoiceID__c": "in_1", "Status": "Draft"}, family,
                             updatable)
    parent, first, second = graph.request()["compositeRequest"]
    assert parent == {"method": "PATCH", "referenceId": "parent",
                      "url": f"{DATA}/sobjects/Order/StripeInvoiceID__c/in_1",
                      "body": {"Status": "Draft"}}
    assert first["url"] == f"{DATA}/sobjects/OrderItem/StripeLineItemID__c/il_1"
    assert first["body"]["OrderId"] == "@{parent.id}"
    assert "StripeLineItemID__c" not in first["body"]
    assert first["body"]["PricebookEntryId"] == "01uX"
    assert second["url"].endswith("/StripeLineItemID__c/il_2%2Fx")  # quoted


def test_existing_children_are_updated_by_id_and_gone_ones_get_on_removed(flow: Any) -> None:
    family = kids.Family(records={"OrderItems": [item("il_1", 4), item("il_3")]},
                         existing={"OrderItems": {"il_1": "802A", "il_2": "802B"}})
    kids.plan_removals(flow, family)
    assert [(r.key, r.sf_id) for r in family.removals] == [("il_2", "802B")]
    graph = kids.build_graph("g0", flow, DATA, "update", None, "801P",
                             {"Id": "801P", "Status": "Draft"}, family, updatable)
    nodes = graph.request()["compositeRequest"]
    assert nodes[0]["url"] == f"{DATA}/sobjects/Order/801P"
    assert nodes[1] == {"method": "PATCH", "url": f"{DATA}/sobjects/OrderItem/802A",
                        "referenceId": "c1",
                        "body": {"Quantity": 4, "UnitPrice": 15.0, "Description": "il_1"}}
    assert nodes[2]["body"]["OrderId"] == "801P"  # the parent's Id, known: no reference
    assert nodes[3] == {"method": "DELETE", "url": f"{DATA}/sobjects/OrderItem/802B",
                        "referenceId": "r3"}
    assert family.node_count() == len(nodes) == 4


def child(policy: DeletionPolicy) -> ChildCollection:
    return ChildCollection("Items__r", "items.data", "subscription_item", "Item__c",
                           "Contract__c", "StripeItemID__c", on_removed=policy)


@pytest.mark.parametrize("policy", list(DeletionPolicy))
def test_on_removed_decides_what_a_gone_child_becomes(flow: Any, policy: DeletionPolicy) -> None:
    flow.children = [child(policy)]
    family = kids.Family(records={"Items__r": []}, existing={"Items__r": {"si_1": "a0B1"}},
                         marked={"a0B2"})
    kids.plan_removals(flow, family)
    graph = kids.build_graph("g0", flow, DATA, "upsert", "in_1", None, {}, family, updatable,
                             now=datetime(2026, 12, 2, 6, 30, tzinfo=UTC))
    removal = graph.request()["compositeRequest"][1:]
    if policy is DeletionPolicy.IGNORE:
        assert removal == []
    elif policy is DeletionPolicy.DELETE:
        assert removal[0]["method"] == "DELETE"
    else:
        assert removal[0]["body"] == {"StripeDeletedAt__c": "2026-12-02T06:30:00.000Z"}


def test_a_child_already_marked_is_not_marked_again(flow: Any) -> None:
    flow.children = [child(DeletionPolicy.MARK)]
    family = kids.Family(records={"Items__r": []}, existing={"Items__r": {"si_1": "a0B1"}},
                         marked={"a0B1"})
    kids.plan_removals(flow, family)
    assert family.removals == []


def answer(*nodes: tuple[str, int, Any]) -> dict[str, Any]:
    responses = [{"referenceId": ref, "httpStatusCode": status, "body": body,
                  "httpHeaders": {}} for ref, status, body in nodes]
    return {"graphId": "g0", "graphResponse": {"compositeResponse": responses},
            "isSuccessful": all(status < 300 for _, status, _ in nodes)}


def halted() -> list[dict[str, str]]:
    return [{"errorCode": "PROCESSING_HALTED", "message": "rolled back"}]


def test_a_successful_graph_gives_every_record_its_id(flow: Any) -> None:
    family = kids.Family(records={"OrderItems": [item("il_1")]},
                         existing={"OrderItems": {"il_1": "802A"}})
    graph = kids.build_graph("g0", flow, DATA, "upsert", "in_1", None, {}, family, updatable)
    read = kids.read_answer(graph, answer(
        ("parent", 201, {"id": "801N", "success": True, "errors": [], "created": True}),
        ("c1", 204, None)))
    assert (read.parent.success, read.parent.id, read.parent.created) == (True, "801N", True)
    assert read.ids == {"parent": "801N", "c1": "802A"}


@pytest.mark.parametrize(("code", "failure"), [
    ("FIELD_INTEGRITY_EXCEPTION", Failure.SKIPPABLE),
    ("UNABLE_TO_LOCK_ROW", Failure.RETRIABLE),
    ("PROCESSING_HALTED", Failure.RETRIABLE),  # the whole graph halted (too many failures)
])
def test_a_failed_graph_is_classified_by_its_failing_node(flow: Any, code: str,
                                                          failure: Failure) -> None:
    family = kids.Family(records={"OrderItems": [item("il_1"), item("il_2")]})
    graph = kids.build_graph("g0", flow, DATA, "upsert", "in_1", None, {}, family, updatable)
    read = kids.read_answer(graph, answer(
        ("parent", 400, halted()), ("c1", 400, halted()),
        ("c2", 400, [{"errorCode": code, "message": "no", "fields": ["PricebookEntryId"]}])))
    assert not read.parent.success
    assert read.parent.failure is failure
    assert read.parent.error_code == code
    if code != "PROCESSING_HALTED":
        assert read.parent.message == f"{code}: OrderItem il_2: no (PricebookEntryId)"


def test_a_call_holds_at_most_15_kinds_of_node() -> None:
    kinds = [{f"PATCH Obj{n}__c"} for n in range(16)] + [{"PATCH Obj0__c"}]
    assert [len(c) for c in kids.pack([2] * 17, kinds)] == [15, 2]


def test_a_graph_names_its_kinds_of_node(flow: Any) -> None:
    family = kids.Family(records={"OrderItems": [item("il_1"), item("il_2")]},
                         existing={"OrderItems": {"il_2": "802A", "il_9": "802Z"}})
    kids.plan_removals(flow, family)
    graph = kids.build_graph("g0", flow, DATA, "upsert", "in_1", None, {}, family, updatable)
    assert graph.kinds() == {"PATCH Order", "PATCH OrderItem", "DELETE OrderItem"}
