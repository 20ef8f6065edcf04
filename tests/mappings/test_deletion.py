"""The deletion table and the reading of a deletion input (mappings.engine.deletion)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mappings.document.model import (
    Action,
    DeletionPolicy,
    FieldMapping,
    Flow,
    ObjectRef,
    Operation,
    SalesforceChange,
    Trigger,
)
from mappings.engine.deletion import (
    DeletionInputError,
    deletion_of,
    deletion_result,
    salesforce_deletion,
    stripe_deletion,
)
from mappings.schema.model import System
from mappings.schema.stripe_events import DELETION_EVENT_TYPES, is_deletion_event

# (event type, source object, Salesforce target, external id): the five deletions the
# issue names, each on the object its flow would mirror.
DELETIONS = [
    ("customer.deleted", "customer", "Account", "StripeCustomerID__c"),
    ("product.deleted", "product", "Product2", "StripeProductID__c"),
    ("price.deleted", "price", "PricebookEntry", "StripePriceID__c"),
    ("invoice.voided", "invoice", "Order", "StripeInvoiceID__c"),
    ("customer.subscription.deleted", "subscription", "Subscription_Contract__c",
     "StripeSubscriptionID__c"),
]
CREATED = 1767225600  # 2026-01-01T00:00:00Z


def stripe_flow(event_type: str, source: str, target: str, ext: str,
                policy: DeletionPolicy = DeletionPolicy.MARK) -> Flow:
    return Flow(name=f"{source}-flow", trigger=Trigger(stripe_events=[event_type]),
                source=ObjectRef(System.STRIPE, source),
                target=ObjectRef(System.SALESFORCE, target),
                operation=Operation(Action.UPSERT, external_id=ext),
                fields=[FieldMapping(ext, ["id"])], on_delete=policy)


def event(event_type: str, obj: dict[str, Any], created: Any = CREATED) -> dict[str, Any]:
    return {"id": "evt_1", "object": "event", "type": event_type, "created": created,
            "data": {"object": obj}}


def account_flow(policy: DeletionPolicy = DeletionPolicy.MARK) -> Flow:
    return Flow(name="account-to-customer", trigger=Trigger(
        salesforce_change=SalesforceChange("Account")),
        source=ObjectRef(System.SALESFORCE, "Account"),
        target=ObjectRef(System.STRIPE, "customer"),
        operation=Operation(Action.UPSERT, external_id="StripeCustomerID__c",
                            writeback="StripeCustomerID__c"), on_delete=policy)


@pytest.mark.parametrize(("event_type", "expected"), [
    *[(t, True) for t, *_ in DELETIONS],
    ("coupon.deleted", True),  # any other *.deleted
    ("customer.tax_id.deleted", True),
    ("customer.updated", False),
    ("invoice.paid", False),
    ("customer.subscription.updated", False),
    ("", False),
    (None, False),
    (42, False),
])
def test_which_event_types_are_deletions(event_type: Any, expected: bool) -> None:
    assert is_deletion_event(event_type) is expected


def test_the_table_lists_the_five_deletions_of_the_issue() -> None:
    assert {t for t, *_ in DELETIONS} == DELETION_EVENT_TYPES


@pytest.mark.parametrize(("event_type", "source", "target", "ext"), DELETIONS)
@pytest.mark.parametrize("policy", list(DeletionPolicy))
def test_each_deletion_event_under_each_policy(event_type: str, source: str, target: str,
                                                ext: str, policy: DeletionPolicy) -> None:
    flow = stripe_flow(event_type, source, target, ext, policy)
    found = stripe_deletion(flow, event(event_type, {"id": "obj_9", "object": source}))
    assert found is not None
    assert (found.policy, found.source_id, found.match_field, found.match_value) == (
        policy, "obj_9", ext, "obj_9")
    assert found.deleted_at == datetime(2026, 1, 1, tzinfo=UTC)
    label = f"{target} with {ext} = obj_9"
    if policy is DeletionPolicy.MARK:
        assert found.record() == {ext: "obj_9",
                                  "StripeDeletedAt__c": "2026-01-01T00:00:00.000+0000"}
        assert found.summary() == (f"{event_type}: would mark the {label} deleted "
                                   "(StripeDeletedAt__c = 2026-01-01T00:00:00.000+0000)")
        assert found.summary(done=True).startswith(f"{event_type}: marked the {label}")
    elif policy is DeletionPolicy.DELETE:
        assert found.record() == {ext: "obj_9"}
        assert found.summary() == f"{event_type}: would delete the {label}"
    else:
        assert found.record() is None
        assert found.skip_reason() == (f"{event_type}: flow '{source}-flow' ignores deletions "
                                       f"(on_delete: ignore); the {label} is left as it is")
    assert found.not_found() == f"{event_type}: no {label} to {policy.value}; nothing written"


def test_a_deletion_the_flow_does_not_list_is_no_deletion() -> None:
    flow = stripe_flow("customer.updated", "customer", "Account", "StripeCustomerID__c")
    assert stripe_deletion(flow, event("customer.deleted", {"id": "cus_1"})) is None
    assert stripe_deletion(flow, event("customer.updated", {"id": "cus_1"})) is None
    assert stripe_deletion(flow, {"id": "cus_1", "object": "customer"}) is None  # no envelope


def test_a_deletion_event_without_an_id_is_one_clear_sentence() -> None:
    flow = stripe_flow("customer.deleted", "customer", "Account", "StripeCustomerID__c")
    for obj in ({"object": "customer"}, {"id": "", "object": "customer"}, {"id": 7}):
        with pytest.raises(DeletionInputError) as caught:
            stripe_deletion(flow, event("customer.deleted", obj))
        assert str(caught.value) == ("the customer.deleted event evt_1 names no customer id "
                                     "in data.object.id, so there is nothing to delete")
    result = deletion_result(flow, event("customer.deleted", {"object": "customer"}))
    assert result is not None and result[0] is None
    [issue] = result[1].issues
    assert issue.code == "INVALID_INPUT" and "names no customer id" in issue.message


def test_the_time_falls_back_to_now_when_the_event_has_none() -> None:
    flow = stripe_flow("customer.deleted", "customer", "Account", "StripeCustomerID__c")
    now = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    for created in (None, "yesterday", True):
        found = stripe_deletion(flow, event("customer.deleted", {"id": "cus_1"}, created),
                                now=now)
        assert found is not None and found.deleted_at == now


def test_a_salesforce_deletion_marks_the_customer_the_record_names() -> None:
    record = {"Id": "001A", "IsDeleted": True, "StripeCustomerID__c": "cus_1",
              "SystemModstamp": "2026-01-02T03:04:05.000+0000"}
    found = salesforce_deletion(account_flow(), record)
    assert (found.match_field, found.match_value) == ("StripeCustomerID__c", "cus_1")
    assert found.record() == {"id": "cus_1",
                              "metadata": {"salesforce_deleted_at": "2026-01-02T03:04:05Z"}}
    assert found.summary() == ("Account 001A deleted in Salesforce: would mark the customer "
                               "cus_1 deleted (metadata.salesforce_deleted_at = "
                               "2026-01-02T03:04:05Z)")
    assert deletion_of(account_flow(), record) == found
    assert deletion_of(account_flow(), {**record, "IsDeleted": False}) is None
    gone = salesforce_deletion(account_flow(DeletionPolicy.DELETE), record)
    assert gone.summary() == "Account 001A deleted in Salesforce: would delete the customer cus_1"


def test_a_salesforce_deletion_without_an_id_or_link() -> None:
    with pytest.raises(DeletionInputError, match="deleted Account record without an Id"):
        salesforce_deletion(account_flow(), {"IsDeleted": True})
    unlinked = salesforce_deletion(account_flow(), {"Id": "001B", "IsDeleted": True,
                                                    "SystemModstamp": "garbage"},
                                   now=datetime(2026, 1, 1, tzinfo=UTC))
    assert unlinked.match_value is None and unlinked.record() == {
        "metadata": {"salesforce_deleted_at": "2026-01-01T00:00:00Z"}}
