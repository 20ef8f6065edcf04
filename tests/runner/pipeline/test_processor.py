"""Processor end to end against the local sandboxes (one sandbox for the module).

localstripe emits no charge.* events and has no disputes, so those events are built with
``make_event`` (the same shape Stripe sends) and go through the inbox like webhooks do.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from mappings.document.model import Action, FieldMapping, TransformStep
from runner.errors import ConfigError
from runner.metrics import Metrics
from runner.pipeline.outcomes import ProcessedRecord
from runner.pipeline.processor import Processor
from runner.pipeline.writeback import note_stripe_write
from runner.retry import RetryPolicy
from runner.sandbox.stripe_events import fresh_id, make_event
from runner.state.store import StateStore
from tests.runner.pipeline.conftest import (
    create_plan,
    create_subscription,
    load_templates,
    template_documents,
)

pytestmark = pytest.mark.slow


def claim_all(store: StateStore, events: list[dict[str, Any]]) -> list:
    for event in events:
        store.add_event(event, source="test")
    return store.claim_events("test-worker", limit=1000)


def rows(salesforce: Any, soql: str) -> list[dict[str, Any]]:
    return salesforce.query_all(soql)


def charge_for(customer: str, **changes: Any) -> dict[str, Any]:
    return make_event("charge.succeeded", overrides={"customer": customer, **changes})


def new_customer_id() -> str:
    return fresh_id("cus_")


class CountingCalls:
    """Counts the connector's collections calls per object."""

    def __init__(self, salesforce: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: dict[str, int] = {}
        for name in ("upsert_many", "insert_many", "update_many"):
            original = getattr(salesforce, name)

            def spy(obj: str, *args: Any, _original: Any = original) -> Any:
                records = args[-1]
                self.calls[obj] = self.calls.get(obj, 0) + -(-len(records) // 200)
                return _original(obj, *args)

            monkeypatch.setattr(salesforce, name, spy)


def test_charge_lands_once_linked_to_its_account(bundle, store, salesforce, stripe) -> None:
    # An Account the runner never wrote: found by one SOQL lookup, then cross-referenced.
    customer = new_customer_id()
    account = salesforce.sf.Account.create({"Name": "Lookup Co", "StripeCustomerID__c": customer})
    processor = Processor(bundle, store, salesforce, stripe)
    event = charge_for(customer, amount=2500, currency="usd")
    first = processor.process_events(claim_all(store, [event]))
    assert first.written == 1 and first.outcomes == {event["id"]: "done"}
    assert store.xref_get("Account", customer) == account["id"]

    # The same event again (a redelivery after a crash before mark_done): same record.
    again = processor.process_events([store.get_event(event["id"])])
    assert again.written == 1
    charge_id = event["data"]["object"]["id"]
    found = rows(salesforce, "SELECT Id, Account__c, Amount__c, Currency__c, Status__c "
                 f"FROM Payment__c WHERE StripeChargeID__c = '{charge_id}'")
    assert len(found) == 1
    assert found[0]["Account__c"] == account["id"]
    assert found[0]["Amount__c"] == 25
    assert (found[0]["Currency__c"], found[0]["Status__c"]) == ("USD", "Completed")
    assert store.get_event(event["id"]).status == "done"
    assert store.xref_get("Payment__c", charge_id) == found[0]["Id"]


def test_customer_and_charge_in_one_batch_link_through_the_xref(bundle, store, salesforce,
                                                                 stripe) -> None:
    processor = Processor(bundle, store, salesforce, stripe)
    customer = make_event("customer.created",
                          overrides={"name": "Batch Co", "email": "batch@example.com"})
    customer_id = customer["data"]["object"]["id"]
    charge = charge_for(customer_id)
    report = processor.process_events(claim_all(store, [charge, customer]))
    assert report.outcomes == {customer["id"]: "done", charge["id"]: "done"}
    account = store.xref_get("Account", customer_id)
    assert account is not None
    payment = rows(salesforce, "SELECT Account__c FROM Payment__c WHERE StripeChargeID__c = "
                   f"'{charge['data']['object']['id']}'")
    assert [p["Account__c"] for p in payment] == [account]
    contact = rows(salesforce, "SELECT AccountId, StripeCustomerID__c FROM Contact WHERE "
                   "Email = 'batch@example.com'")
    assert [(c["AccountId"], c["StripeCustomerID__c"]) for c in contact] == [
        (account, customer_id)]


def test_500_events_use_three_collection_calls_per_object(bundle, store, salesforce, stripe,
                                                           monkeypatch) -> None:
    customers = [new_customer_id() for _ in range(5)]
    for i, customer in enumerate(customers):
        salesforce.sf.Account.create({"Name": f"Burst {i}", "StripeCustomerID__c": customer})
    events = [charge_for(customers[i % 5], amount=100 + i) for i in range(500)]
    claimed = claim_all(store, events)
    assert len(claimed) == 500
    calls = CountingCalls(salesforce, monkeypatch)
    metrics = Metrics()
    before = salesforce.api_calls
    report = Processor(bundle, store, salesforce, stripe, metrics=metrics).process_events(claimed)
    assert report.written == 500 and not report.errors
    assert calls.calls == {"Payment__c": 3}
    # The five Accounts: one lookup query for the whole batch.
    assert salesforce.api_calls - before == 4
    assert report.api_calls == 4
    text = metrics.render().decode()
    assert 'fieldbridge_events_processed_total{flow="charge-to-payment",outcome="written"} 500.0' \
        in text
    ids = [e["data"]["object"]["id"] for e in events]
    found = salesforce.find_ids("Payment__c", "StripeChargeID__c", ids)
    assert all(len(v) == 1 for v in found.values()) and len(found) == 500


def current_shape(subscription: dict[str, Any]) -> dict[str, Any]:
    """localstripe answers in 2017 shapes: a subscription has no top-level currency there
    (current Stripe has it, and the template reads it)."""
    plan = subscription["items"]["data"][0]["plan"]
    return {"currency": plan["currency"], **subscription}


def test_out_of_order_subscription_events_converge_to_the_newest_state(
        bundle, store, salesforce, stripe, sandbox) -> None:
    plan = create_plan(sandbox, "order-plan")
    sub = create_subscription(sandbox, plan, "order@example.com")
    current = current_shape(stripe.retrieve("subscription", sub))
    old = copy.deepcopy(current)
    old["status"] = "trialing"
    now = int(time.time())
    created = make_event("customer.subscription.created", old, created=now - 60)
    updated = make_event("customer.subscription.updated", current, created=now)
    processor = Processor(bundle, store, salesforce, stripe)
    # updated arrives and is applied first, created comes late and is stale.
    processor.process_events(claim_all(store, [updated]))
    retrieved: list[str] = []
    original = stripe.retrieve

    def spy(object_type: str, object_id: str, **kw: Any) -> dict:
        retrieved.append(f"{object_type}/{object_id}")
        return current_shape(original(object_type, object_id, **kw))

    processor.stripe = type("S", (), {"retrieve": staticmethod(spy)})()
    report = processor.process_events(claim_all(store, [created]))
    assert retrieved == [f"subscription/{sub}"]
    assert report.written == 1
    found = rows(salesforce, "SELECT Status__c, Interval__c, StripePriceID__c FROM "
                 f"Subscription_Contract__c WHERE StripeSubscriptionID__c = '{sub}'")
    assert [(r["Status__c"], r["StripePriceID__c"]) for r in found] == [("Active", plan)]
    assert store.object_version(sub) == (now, updated["id"])

    # Both in one batch, the older one listed last: the newest wins, the other is superseded.
    again_old = make_event("customer.subscription.updated", {**current, "status": "past_due"},
                           created=now + 5)
    again_new = make_event("customer.subscription.updated", current, created=now + 10)
    report = processor.process_events(claim_all(store, [again_new, again_old]))
    assert report.outcomes == {again_new["id"]: "done", again_old["id"]: "stale"}
    found = rows(salesforce, "SELECT Status__c FROM Subscription_Contract__c WHERE "
                 f"StripeSubscriptionID__c = '{sub}'")
    assert [r["Status__c"] for r in found] == ["Active"]


def broken_bundle() -> Any:
    """The charges template with a bug: the amount comes out negative."""
    docs = template_documents()
    for doc in docs:
        for flow in doc.flows:
            if flow.name == "charge-to-payment":
                index = next(i for i, f in enumerate(flow.fields) if f.target == "Amount__c")
                flow.fields[index] = FieldMapping(
                    target="Amount__c",
                    transforms=[TransformStep("jsonata", {"expr": "0 - amount / 100"})])
    return load_templates(docs)


def test_validation_failure_dead_letters_and_replays_after_the_fix(store, salesforce,
                                                                   stripe) -> None:
    customer = new_customer_id()
    event = charge_for(customer, amount=4200, currency="usd")
    report = Processor(broken_bundle(), store, salesforce, stripe).process_events(
        claim_all(store, [event]))
    assert report.dead_lettered == 1 and report.outcomes == {event["id"]: "dead_lettered"}
    [entry] = store.dlq_list()
    assert entry.error_code == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert "Amount must not be negative" in entry.error
    assert entry.record is not None and entry.record["Amount__c"] == -42
    assert entry.payload["id"] == event["id"]
    assert store.get_event(event["id"]).outcome == "dead_lettered"

    # Replaying with the broken bundle fails again and the entry stays open.
    Processor(broken_bundle(), store, salesforce, stripe).replay_dlq(entry.id)
    assert store.dlq_get(entry.id).status == "open"
    assert store.dlq_get(entry.id).attempts == 1

    fixed = Processor(load_templates(), store, salesforce, stripe)
    replay = fixed.replay_dlq(entry.id)
    assert replay.written == 1
    assert store.dlq_get(entry.id).status == "replayed"
    found = rows(salesforce, "SELECT Amount__c FROM Payment__c WHERE StripeChargeID__c = "
                 f"'{event['data']['object']['id']}'")
    assert [r["Amount__c"] for r in found] == [42]
    with pytest.raises(ConfigError, match="only open entries"):
        fixed.replay_dlq(entry.id)


def test_mapping_errors_dead_letter_with_the_engine_issues(bundle, store, salesforce,
                                                           stripe) -> None:
    # A subscription status the strict value map does not know: caught before Salesforce.
    event = make_event("customer.subscription.updated", overrides={"status": "bogus"})
    report = Processor(bundle, store, salesforce, stripe).process_events(
        claim_all(store, [event]))
    assert report.dead_lettered == 1
    [entry] = store.dlq_list()
    assert entry.flow == "subscription-to-contract" and "Status__c" in entry.error


def test_503_schedules_a_retry(bundle, store, salesforce, stripe, sandbox) -> None:
    event = charge_for(new_customer_id())
    claimed = claim_all(store, [event])
    sandbox.salesforce.set_faults("error503=1")
    try:
        report = Processor(bundle, store, salesforce, stripe).process_events(claimed)
    finally:
        sandbox.salesforce.set_faults(None)
    assert report.retried == 1 and report.outcomes == {event["id"]: "retry"}
    row = store.get_event(event["id"])
    assert row.status == "retry" and row.retry_at is not None
    assert "503" in (row.last_error or "")
    assert store.dlq_list() == []

    # Out of attempts: the event is dead-lettered instead of retried again.
    last = charge_for(new_customer_id())
    claimed = claim_all(store, [last])
    sandbox.salesforce.set_faults("error503=1")
    try:
        report = Processor(bundle, store, salesforce, stripe,
                           policy=RetryPolicy(max_attempts=1)).process_events(claimed)
    finally:
        sandbox.salesforce.set_faults(None)
    assert report.outcomes == {last["id"]: "dead_lettered"}
    [entry] = store.dlq_list()
    assert entry.event_id == last["id"] and "still failing after 1 attempts" in entry.error


def test_ambiguous_email_goes_to_review_and_single_match_links(bundle, store, salesforce,
                                                               stripe) -> None:
    for last in ("One", "Two"):
        salesforce.sf.Contact.create({"LastName": last, "Email": "twins@example.com"})
    single = salesforce.sf.Contact.create({"LastName": "Solo", "Email": "solo@example.com"})
    twins = make_event("customer.created",
                       overrides={"name": "Twin Corp", "email": "twins@example.com"})
    solo = make_event("customer.created",
                      overrides={"name": "Solo Corp", "email": "SOLO@example.com"})
    report = Processor(bundle, store, salesforce, stripe).process_events(
        claim_all(store, [twins, solo]))
    assert report.outcomes == {twins["id"]: "review", solo["id"]: "done"}
    [item] = store.review_list()
    assert item.flow == "customer-to-contact"
    assert item.source_id == twins["data"]["object"]["id"]
    assert sorted(c["field"] for c in item.candidates) == ["Email", "Email"]
    twins_rows = rows(salesforce, "SELECT Id FROM Contact WHERE Email = 'twins@example.com'")
    assert len(twins_rows) == 2  # no third Contact
    solo_rows = rows(salesforce, "SELECT Id, StripeCustomerID__c FROM Contact WHERE "
                     "Email = 'solo@example.com'")
    assert [(r["Id"], r["StripeCustomerID__c"]) for r in solo_rows] == [
        (single["id"], solo["data"]["object"]["id"])]

    # A person picks the first candidate: that Contact is linked, no new one is made.
    chosen = item.candidates[0]["Id"]
    store.review_decide(item.id, "approved", chosen)
    applied = Processor(bundle, store, salesforce, stripe).apply_review(item.id)
    assert applied.written == 1
    linked = rows(salesforce, "SELECT Id, StripeCustomerID__c FROM Contact WHERE "
                  "Email = 'twins@example.com' AND StripeCustomerID__c != null")
    assert [(r["Id"], r["StripeCustomerID__c"]) for r in linked] == [
        (chosen, twins["data"]["object"]["id"])]


def test_unknown_types_are_ignored_and_echoes_skipped(bundle, store, salesforce,
                                                      stripe) -> None:
    unknown = make_event("coupon.created")
    echo = make_event("customer.created", overrides={
        "name": "From Salesforce", "metadata": {"fieldbridge_origin": "salesforce"}})
    note_stripe_write(store, echo["data"]["object"]["id"], "k1", created=True)
    metrics = Metrics()
    report = Processor(bundle, store, salesforce, stripe, metrics=metrics).process_events(
        claim_all(store, [unknown, echo]))
    assert (report.ignored, report.echo, report.written) == (1, 1, 0)
    assert store.get_event(unknown["id"]).outcome == "ignored"
    assert store.get_event(echo["id"]).status == "skipped"
    assert rows(salesforce, "SELECT Id FROM Account WHERE Name = 'From Salesforce'") == []
    assert 'fieldbridge_events_ignored_total{type="coupon.created"} 1.0' in \
        metrics.render().decode()


def test_bad_settings_are_refused(bundle, store, salesforce, stripe) -> None:
    with pytest.raises(ValueError, match="batch_size must be a whole number from 1 to 200"):
        Processor(bundle, store, salesforce, stripe, batch_size=500)
    with pytest.raises(ConfigError, match="no flow 'nope'"):
        bundle.flow("nope")


def test_insert_only_flow_is_guarded_by_the_xref(store, salesforce, stripe) -> None:
    docs = template_documents()
    for doc in docs:
        for flow in doc.flows:
            if flow.name == "dispute-to-case":
                flow.operation.action = Action.INSERT
    processor = Processor(load_templates(docs), store, salesforce, stripe)
    event = make_event("charge.dispute.created")
    dispute = event["data"]["object"]["id"]
    assert processor.process_events(claim_all(store, [event])).written == 1
    # Processed again (a crash before mark_done): the xref says it was inserted already.
    assert processor.process_events([store.get_event(event["id"])]).written == 1
    cases = rows(salesforce, f"SELECT Id FROM Case WHERE StripeObjectID__c = '{dispute}'")
    assert len(cases) == 1 and store.xref_get("Case", dispute) == cases[0]["Id"]


def test_charge_and_refund_in_the_same_second_apply_the_current_state(
    bundle, store, salesforce, stripe, sandbox
) -> None:
    # A real charge refunded at once: both events carry the same `created` second, and
    # their ids say nothing about order. The processor must fetch the charge, not guess.
    client = sandbox.stripe.client()
    customer = client.v1.customers.create(params={"email": "tie@example.com"})
    card = client.v1.payment_methods.create(params={
        "type": "card",
        "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
    })
    client.v1.payment_methods.attach(card.id, params={"customer": customer.id})
    charge = client.v1.charges.create(
        params={"amount": 3000, "currency": "usd", "customer": customer.id, "source": card.id}
    )
    refunded = client.v1.refunds.create(params={"charge": charge.id})
    assert refunded.status == "succeeded"
    now = int(time.time())
    shape = stripe.retrieve("charge", charge.id)
    before = {**shape, "refunded": False, "amount_refunded": 0}
    # Ids chosen so that ordering by id would wrongly pick the older state.
    succeeded = make_event("charge.succeeded", before, created=now, event_id="evt_tie_z")
    refund = make_event("charge.refunded", shape, created=now, event_id="evt_tie_a")
    report = Processor(bundle, store, salesforce, stripe).process_events(
        claim_all(store, [refund, succeeded])
    )
    # One write per flow of charge.refunded (charge-to-payment, and the refunds template's
    # charge-refunds-to-payment); the older charge.succeeded is stale.
    assert report.written == 2, report
    [row] = rows(salesforce, f"SELECT Status__c, Amount_Refunded__c FROM Payment__c "
                             f"WHERE StripeChargeID__c = '{charge.id}'")
    assert row["Status__c"] == "Refunded" and row["Amount_Refunded__c"] == 30


def test_observers_see_each_settled_task_and_their_failures_do_not_break_it(
        bundle, store, salesforce, stripe) -> None:
    seen: list[ProcessedRecord] = []
    ledger_when_seen: dict[str | None, str] = {}

    def watch(record: ProcessedRecord) -> None:
        seen.append(record)
        if record.event_id:
            ledger_when_seen[record.event_id] = store.get_event(record.event_id).status

    def broken(_record: ProcessedRecord) -> None:
        raise RuntimeError("observer bug")

    processor = Processor(bundle, store, salesforce, stripe, observers=[broken, watch])
    customer = make_event("customer.created",
                          overrides={"name": "Observed Co", "email": "observed@example.com"})
    customer_id = customer["data"]["object"]["id"]
    charge = charge_for(customer_id, amount=1200, currency="usd")
    unknown = make_event("coupon.created")
    report = processor.process_events(claim_all(store, [customer, charge, unknown]))
    assert report.outcomes[charge["id"]] == "done"
    by_flow = {(r.event_id, r.flow): r for r in seen}
    # One per (event, flow) task; the ignored event has no task.
    assert {event_id for event_id, _ in by_flow} == {customer["id"], charge["id"]}
    charge_seen = [r for r in seen if r.event_id == charge["id"]]
    assert len(charge_seen) == 1
    done = charge_seen[0]
    assert done.outcome == "written"
    assert done.event_type == "charge.succeeded"
    assert done.payload == charge
    assert done.data_object is not None and done.data_object["id"] == \
        charge["data"]["object"]["id"]
    assert done.record is not None and done.record["StripeChargeID__c"] == \
        charge["data"]["object"]["id"]
    assert done.sf_id == store.xref_get("Payment__c", charge["data"]["object"]["id"])
    # Observers run after the batch settled: the ledger already said done.
    assert ledger_when_seen[charge["id"]] == "done"
