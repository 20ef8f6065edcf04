"""``map preview`` of a deletion input: what the flow's on_delete would do, in words and as
the record it would leave; a deletion without an id is one issue, not a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main

TEMPLATES = Path(__file__).resolve().parents[2] / "mappings" / "templates"


def preview(tmp_path: Path, template: str, flow: str, data: dict[str, Any],
            capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    path = tmp_path / "input.json"
    path.write_text(json.dumps(data))
    code = main(["map", "preview", str(TEMPLATES / template), "--flow", flow,
                 "--input", str(path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_a_deleted_customer_would_mark_its_account(tmp_path: Path, stripe_fixtures: dict,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    customer = dict(stripe_fixtures["customer"], id="cus_gone1", name="Gone Ltd")
    out = preview(tmp_path, "customer-account.yaml", "customer-to-account",
                  {"object": "event", "id": "evt_d1", "type": "customer.deleted",
                   "created": 1767225600, "data": {"object": customer}}, capsys)
    assert out["deletion"]["summary"] == (
        "customer.deleted: would mark the Account with StripeCustomerID__c = cus_gone1 "
        "deleted (StripeDeletedAt__c = 2026-01-01T00:00:00.000+0000)")
    assert out["deletion"]["policy"] == "mark"
    assert out["record"]["StripeDeletedAt__c"] == "2026-01-01T00:00:00.000+0000"
    assert out["record"]["Name"] == "Gone Ltd"  # the customer's last state goes too
    assert out["skipped"] is False and out["issues"] == []


def test_a_deleted_account_would_mark_its_customer(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = preview(tmp_path, "account-to-stripe-customer.yaml", "account-to-customer",
                  {"Id": "001000000000001AAA", "IsDeleted": True, "Name": "Acme",
                   "StripeCustomerID__c": "cus_1",
                   "SystemModstamp": "2026-01-02T03:04:05.000+0000"}, capsys)
    assert out["deletion"]["summary"] == (
        "Account 001000000000001AAA deleted in Salesforce: would mark the customer cus_1 "
        "deleted (metadata.salesforce_deleted_at = 2026-01-02T03:04:05Z)")
    assert out["record"] == {"id": "cus_1",
                             "metadata": {"salesforce_deleted_at": "2026-01-02T03:04:05Z"}}


def test_a_deletion_without_an_id_is_one_issue(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = preview(tmp_path, "customer-account.yaml", "customer-to-account",
                  {"object": "event", "id": "evt_d2", "type": "customer.deleted",
                   "created": 1767225600, "data": {"object": {"object": "customer"}}}, capsys)
    assert "deletion" not in out
    assert out["issues"] == [{
        "code": "INVALID_INPUT", "field": None, "severity": "error",
        "message": "the customer.deleted event evt_d2 names no customer id in "
                   "data.object.id, so there is nothing to delete"}]
