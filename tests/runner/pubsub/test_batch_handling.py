"""A batch of change events against the local sandboxes: one query, the Stripe writes side
by side, one writeback call; the writebacks' own change events are echoes by their header."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from runner.pipeline.sf_poller import PollReport, SalesforcePoller
from runner.pipeline.writeback import is_writeback_echo
from runner.sandbox.salesforce.server import salesforce_client
from tests.runner.pipeline.conftest import (  # noqa: F401 - the fixtures this module uses
    bundle,
    salesforce,
    sandbox,
    store,
    stripe,
)

pytestmark = pytest.mark.slow


# The fixtures come from tests.runner.pipeline.conftest, imported above.
def test_a_batch_costs_one_query_and_one_writeback_call(  # noqa: F811
        bundle, store, salesforce, stripe, sandbox) -> None:  # noqa: F811
    handle = sandbox.salesforce
    admin = salesforce_client(handle, access_token=handle.new_token("admin@fieldbridge.test"))
    poller = SalesforcePoller(bundle, store, salesforce, stripe, start=datetime.now(UTC))
    flow = bundle.flow("account-to-customer")
    ids = [admin.Account.create({"Name": f"Batch Co {n}"})["id"] for n in range(6)]

    calls = salesforce.api_calls
    report = PollReport()
    assert poller.handle_ids(flow, ids, report)
    assert (report.created, report.dead_lettered, report.errors) == (6, 0, [])
    assert salesforce.api_calls - calls == 2  # the query by Id, the Collections update
    rows: list[Any] = [admin.Account.get(i) for i in ids]
    customers = {c["metadata"].get("salesforceid"): c["id"]
                 for c in stripe.list_objects("customer")}
    assert [r["StripeCustomerID__c"] for r in rows] == [customers[i] for i in ids]

    # Each writeback's change event is the runner's own, told without reading the record.
    for row in rows:
        assert is_writeback_echo(store, salesforce.user_id, commit_user=row["LastModifiedById"],
                                 record_id=row["Id"],
                                 changed={"StripeCustomerID__c", "LastModifiedDate"},
                                 values=row, writeback="StripeCustomerID__c")
    # Read anyway (a poll, a redelivery), they are echoes by the same rule: nothing written.
    again = PollReport()
    assert poller.handle_ids(flow, ids, again)
    assert (again.echo, again.created, again.updated) == (6, 0, 0)
