"""reconcile on the local sandboxes: a seeded period, the CLI report, --fix through the flows.

localstripe links no balance transactions to payouts, so the sandbox covers the balance
transactions of charges and refunds not in a payout (payout None); the payout checks (net
vs payout amount, Payout__c) are covered by the pure tests in test_reconcile.py.
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.cli import main
from runner.connectors.salesforce import SalesforceConnector, SalesforceSettings
from runner.sandbox.up import sandbox_up

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("recon")
    with sandbox_up(root / "sandbox", reset=True) as session:
        client = session.stripe.client()
        sf_handle = session.salesforce
        sf = SalesforceConnector(SalesforceSettings(
            login_url=sf_handle.login_url, auth="jwt", username=sf_handle.username,
            consumer_key=sf_handle.consumer_key, private_key_file=sf_handle.private_key_file,
            ca_file=sf_handle.ca_file, api_version=sf_handle.api_version, timeout=10))
        sf.connect()

        cus = client.v1.customers.create(params={"email": "ap@acme.test", "name": "Acme"})
        pm = client.v1.payment_methods.create(params={
            "type": "card", "card": {"number": "4242424242424242", "exp_month": 12,
                                     "exp_year": 2034, "cvc": "123"}})
        client.v1.payment_methods.attach(pm.id, params={"customer": cus.id})
        client.v1.customers.update(
            cus.id, params={"invoice_settings": {"default_payment_method": pm.id}})
        acct = sf.upsert_many("Account", "StripeCustomerID__c",
                              [{"StripeCustomerID__c": cus.id, "Name": "Acme <Corp> & Co"}])
        charges = {}
        for name, amount in (("matched", 10000), ("missing", 4500), ("mismatch", 2500)):
            charges[name] = client.v1.charges.create(params={
                "amount": amount, "currency": "usd", "customer": cus.id,
                "description": f"order {name}"})
        client.v1.refunds.create(params={"charge": charges["matched"].id, "amount": 3000})
        paid_at = datetime.fromtimestamp(charges["matched"].created, UTC).strftime(
            "%Y-%m-%dT%H:%M:%S.000+0000")
        rows = [
            {"StripeChargeID__c": charges["matched"].id, "Name": "matched",
             "Amount__c": 100.0, "Amount_Refunded__c": 30.0, "Currency__c": "USD",
             "Status__c": "Completed", "Paid_At__c": paid_at, "Account__c": acct[0].id},
            {"StripeChargeID__c": charges["mismatch"].id, "Name": "mismatch",
             "Amount__c": 26.0, "Currency__c": "USD", "Status__c": "Completed",
             "Paid_At__c": paid_at, "Account__c": acct[0].id},
            {"StripeChargeID__c": "ch_only_in_salesforce", "Name": "orphan",
             "Amount__c": 12.0, "Currency__c": "USD", "Status__c": "Completed",
             "Paid_At__c": paid_at},
        ]
        outcomes = sf.upsert_many("Payment__c", "StripeChargeID__c", rows)
        assert all(o.success for o in outcomes), [o.message for o in outcomes]
        sandbox_file = root / "sandbox.json"
        sandbox_file.write_text(session.to_json())
        day = datetime.fromtimestamp(charges["matched"].created, UTC).strftime("%Y-%m-%d")
        yield {"file": sandbox_file, "day": day, "charges": charges, "root": root, "sf": sf}


def cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


def statuses(report: dict) -> dict[str | None, str]:
    return {line["stripe_id"]: line["status"] for line in report["lines"]
            if line["kind"] in ("charge", "payment")}


def test_seeded_period_is_classified(seeded: dict) -> None:
    code, out = cli("reconcile", "--from", seeded["day"], "--to", seeded["day"],
                    "--sandbox", str(seeded["file"]), "--json")
    assert code == 0
    report = json.loads(out)
    ch = seeded["charges"]
    assert statuses(report) == {
        ch["matched"].id: "matched", ch["missing"].id: "missing_in_salesforce",
        ch["mismatch"].id: "amount_mismatch", "ch_only_in_salesforce": "orphan_in_salesforce"}
    refund = [line for line in report["lines"] if line["kind"] == "refund"]
    assert [line["status"] for line in refund] == ["matched"]
    assert report["by_currency"]["USD"]["net"] == "140.00"  # 100 + 45 + 25 - 30
    accounts = {row["account"] for row in report["by_account"]}
    assert "Acme <Corp> & Co" in accounts


def test_readable_report_and_html(seeded: dict, tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    code, out = cli("reconcile", "--from", seeded["day"], "--to", seeded["day"],
                    "--sandbox", str(seeded["file"]), "--report", str(html))
    assert code == 0
    assert "Per currency" in out and "Per Account" in out and "missing in Salesforce" in out
    page = html.read_text()
    assert "Acme &lt;Corp&gt; &amp; Co" in page and "<Corp>" not in page
    assert "amount 26.00 USD in Salesforce, 25.00 USD in Stripe" in page


def test_fix_repairs_missing_and_mismatched(seeded: dict, tmp_path: Path) -> None:
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    code, out = cli("reconcile", "--from", seeded["day"], "--to", seeded["day"],
                    "--sandbox", str(seeded["file"]), "--state", state, "--fix", "--json")
    assert code == 0
    result = json.loads(out)
    assert len(result["fix"]["queued"]) == 2
    ch = seeded["charges"]
    after = statuses(result["after_fix"])
    assert after[ch["missing"].id] == "matched" and after[ch["mismatch"].id] == "matched"
    assert after["ch_only_in_salesforce"] == "orphan_in_salesforce"  # not ours to delete
    rows = seeded["sf"].query_all(
        f"SELECT Amount__c, Account__c FROM Payment__c WHERE StripeChargeID__c = "
        f"'{ch['missing'].id}'")
    assert rows and float(rows[0]["Amount__c"]) == 45.0 and rows[0]["Account__c"]


def test_bad_dates_are_errors(seeded: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reconcile", "--from", "2026-02-30", "--to", "2026-03-01",
                 "--sandbox", str(seeded["file"])]) == 1
    assert "error: '2026-02-30' is not a date" in capsys.readouterr().err
    assert main(["reconcile", "--from", "2026-03-02", "--to", "2026-03-01",
                 "--sandbox", str(seeded["file"])]) == 1
    assert "is before --from" in capsys.readouterr().err
