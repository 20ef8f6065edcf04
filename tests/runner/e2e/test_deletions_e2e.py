"""Deletions both ways through the runner on the sandboxes (issue 14; issue 15 for change
events): the templates' on_delete is ``mark`` in both directions.

The bundle holds both directions (customer-account and account-to-stripe-customer), so each
test also shows that a mark does not come back as a trigger: no Account is made again for a
customer marked deleted, and no customer update follows an Account the runner marked.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import stripe

from mappings.document.model import DeletionPolicy
from runner.state.store import StateStore
from tests.runner.e2e.helpers import TEMPLATES, RunnerProcess, build_template_bundle, wait_for

pytestmark = pytest.mark.slow

BOUND = 30.0  # generous: a shared CI machine


@pytest.fixture(scope="module")
def both_ways(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "both-ways.fbz"
    return build_template_bundle(out, ("customer-account", "account-to-stripe-customer"))


def accounts(sf: Any, customer: str, *, deleted: bool = False) -> list[dict]:
    soql = ("SELECT Id, IsDeleted, StripeDeletedAt__c FROM Account WHERE "
            f"StripeCustomerID__c = '{customer}'")
    rows = sf.query_all(soql, include_deleted=deleted)["records"]
    return [r for r in rows if deleted or not r["IsDeleted"]]


def deleted_mark(client: Any, customer: str) -> str | None:
    found = client.v1.customers.retrieve(customer).to_dict()
    return (found.get("metadata") or {}).get("salesforce_deleted_at")


def customer_gone(client: Any, customer: str) -> bool:
    """Deleted: Stripe answers a stub with ``deleted``, the sandbox a 404."""
    try:
        return bool(client.v1.customers.retrieve(customer).to_dict().get("deleted"))
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            return True
        raise


def no_open_dead_letters(state_url: str) -> None:
    with StateStore.open(state_url) as store:
        assert store.counts()["dlq_open"] == 0, [(e.flow, e.error) for e in store.dlq_list()]


def test_a_customer_deleted_in_stripe_marks_its_account(sandbox, sf, both_ways, state_url,
                                                         tmp_path: Path) -> None:
    runner = RunnerProcess(both_ways, sandbox.json_path, state_url, tmp_path).start()
    try:
        client = sandbox.stripe.client()
        customer = client.v1.customers.create(params={
            "name": f"Deleted In Stripe {uuid.uuid4().hex[:8]}",
                                                      "email": "gone@example.com"}).id
        [account] = wait_for(lambda: accounts(sf, customer), BOUND, "the customer's Account")
        assert account["StripeDeletedAt__c"] is None
        client.v1.customers.delete(customer)
        marked = wait_for(lambda: accounts(sf, customer)[0]["StripeDeletedAt__c"], BOUND,
                          "StripeDeletedAt__c on the Account")
        assert marked.startswith(time.strftime("%Y-%m-%dT", time.gmtime()))
        time.sleep(2.0)  # the mark's own change must not sync back to Stripe
        assert [a["Id"] for a in accounts(sf, customer)] == [account["Id"]]  # kept, marked
        no_open_dead_letters(state_url)
    finally:
        assert runner.stop() == 0


def _account_deleted_marks_its_customer(sandbox: Any, sf: Any, runner: RunnerProcess,
                                        state_url: str) -> None:
    client = sandbox.stripe.client()
    runner.start()
    try:
        # A name of its own: customer-to-account dedups on Name, and the runner's catch-up
        # replays the other tests' customer events.
        account = sf.Account.create({"Name": f"Deleted In Salesforce {uuid.uuid4().hex[:8]}"})["id"]
        customer = wait_for(lambda: sf.Account.get(account).get("StripeCustomerID__c"),
                            BOUND, "the customer id written back")
        assert deleted_mark(client, customer) is None
        sf.Account.delete(account)
        stamp = wait_for(lambda: deleted_mark(client, customer), BOUND,
                         "metadata.salesforce_deleted_at on the customer")
        assert stamp.endswith("Z") and stamp.startswith(time.strftime("%Y-%m-%dT",
                                                                      time.gmtime()))
        time.sleep(2.0)  # the customer.updated of the mark must not make a new Account
        assert accounts(sf, customer) == []
        assert not client.v1.customers.retrieve(customer).to_dict().get("deleted")
        assert f"Account {account} deleted in Salesforce: marked the customer {customer}" \
            in runner.log()
        no_open_dead_letters(state_url)
    finally:
        assert runner.stop() == 0


def test_an_account_deleted_in_salesforce_marks_its_customer_by_polling(
        sandbox, sf, both_ways, state_url, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDBRIDGE_SALESFORCE_TRIGGERS", "poll")  # queryAll, IsDeleted
    runner = RunnerProcess(both_ways, sandbox.json_path, state_url, tmp_path)
    _account_deleted_marks_its_customer(sandbox, sf, runner, state_url)
    assert "listen to /data/AccountChangeEvent" not in runner.log()  # polled, no events


def test_an_account_deleted_in_salesforce_marks_its_customer_by_change_event(
        sandbox, sf, both_ways, state_url, tmp_path: Path) -> None:
    # --poll-interval 600: only the DELETE change event can deliver within the bound.
    runner = RunnerProcess(both_ways, sandbox.json_path, state_url, tmp_path,
                           extra=("--poll-interval", "600"))
    _account_deleted_marks_its_customer(sandbox, sf, runner, state_url)
    assert "listen to /data/AccountChangeEvent" in runner.log()


@pytest.fixture(scope="module")
def deleting(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both directions with on_delete: delete."""
    from mappings.bundle import build_bundle
    from mappings.document.yamlio import load_documents

    docs = [doc for path, doc in load_documents(TEMPLATES)
            if path.stem in ("customer-account", "account-to-stripe-customer")]
    for doc in docs:
        for flow in doc.flows:
            flow.on_delete = DeletionPolicy.DELETE
    return build_bundle(docs, tmp_path_factory.mktemp("bundle") / "deleting.fbz")


def test_delete_policy_deletes_across_and_its_echo_stops(sandbox, sf, deleting, state_url,
                                                         tmp_path: Path) -> None:
    runner = RunnerProcess(deleting, sandbox.json_path, state_url, tmp_path,
                           extra=("--poll-interval", "600")).start()
    try:
        client = sandbox.stripe.client()
        # Stripe -> Salesforce: the customer's Account goes to the recycle bin.
        gone = client.v1.customers.create(
            params={"name": f"Delete Me In Stripe {uuid.uuid4().hex[:8]}"}).id
        [account] = wait_for(lambda: accounts(sf, gone), BOUND, "the customer's Account")
        client.v1.customers.delete(gone)
        wait_for(lambda: not accounts(sf, gone), BOUND, "the Account deleted")
        [binned] = accounts(sf, gone, deleted=True)
        assert binned["Id"] == account["Id"] and binned["IsDeleted"]
        # Salesforce -> Stripe: the Account's customer is deleted.
        doomed = sf.Account.create(
            {"Name": f"Delete Me In Salesforce {uuid.uuid4().hex[:8]}"})["id"]
        customer = wait_for(lambda: sf.Account.get(doomed).get("StripeCustomerID__c"),
                            BOUND, "the customer id written back")
        sf.Account.delete(doomed)
        wait_for(lambda: customer_gone(client, customer), BOUND, "the Stripe customer deleted")
        time.sleep(2.0)  # each deletion's echo (DELETE event, customer.deleted) comes back
        no_open_dead_letters(state_url)
        with StateStore.open(state_url) as store:
            # The runner's own deletions came back as echoes, not as work.
            assert store.is_own_write("salesforce", account["Id"], "deleted")
            assert store.is_own_write("stripe", customer, "deleted")
    finally:
        assert runner.stop() == 0
    assert f"Account {doomed} deleted in Salesforce: deleted the customer {customer}" \
        in runner.log()
