"""The org emulator's recycle bin, as the runner's deletion handling relies on it: a deleted
record keeps its fields, moves its SystemModstamp, and only queryAll sees it (also with
``IsDeleted = true`` in the WHERE clause); the marked-deletion field exists where flows mark."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from runner.sandbox.salesforce import start_emulator

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    h = start_emulator(tmp_path_factory.mktemp("sf-recycle"), reset=True)
    yield h
    h.stop()


def test_a_deleted_record_keeps_its_fields_for_query_all(sf) -> None:  # noqa: ANN001
    account = sf.Account.create({"Name": "Binned Co", "StripeCustomerID__c": "cus_bin1"})["id"]
    before = sf.Account.get(account)["SystemModstamp"]
    time.sleep(0.01)
    sf.Account.delete(account)
    soql = ("SELECT Id, Name, StripeCustomerID__c, IsDeleted, SystemModstamp FROM Account "
            f"WHERE IsDeleted = true AND Id = '{account}'")
    assert sf.query(soql)["totalSize"] == 0  # query: live records only
    [row] = sf.query_all(soql, include_deleted=True)["records"]
    assert (row["Name"], row["StripeCustomerID__c"], row["IsDeleted"]) == (
        "Binned Co", "cus_bin1", True)
    assert row["SystemModstamp"] > before  # the poll's watermark finds the deletion
    live = sf.query_all(f"SELECT Id FROM Account WHERE IsDeleted = false AND Id = '{account}'",
                        include_deleted=True)
    assert live["totalSize"] == 0


@pytest.mark.parametrize("obj", ["Account", "Contact", "Order", "Product2", "PricebookEntry",
                                 "Subscription_Contract__c"])
def test_marked_objects_have_stripe_deleted_at(sf, obj: str) -> None:  # noqa: ANN001
    fields = {f["name"]: f for f in getattr(sf, obj).describe()["fields"]}
    assert fields["StripeDeletedAt__c"]["type"] == "datetime"
    assert fields["StripeDeletedAt__c"]["updateable"] is True
