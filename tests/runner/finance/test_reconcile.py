"""Reconciliation core: a seeded period with every case present and correctly classified."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from runner.finance.reconcile import (
    ReconcileError,
    reconcile,
    resync_event,
    to_major,
)


@pytest.fixture
def shapes(stripe_fixtures: dict) -> dict:
    return {k: stripe_fixtures[k] for k in ("payout", "balance_transaction", "charge")}


def bt(shapes: dict, id_: str, type_: str, amount: int, fee: int, source: str | None,
       currency: str = "usd") -> dict:
    b = copy.deepcopy(shapes["balance_transaction"])
    b.update(id=id_, type=type_, amount=amount, fee=fee, net=amount - fee, source=source,
             currency=currency, reporting_category=type_)
    return b


def payout(shapes: dict, id_: str, amount: int, currency: str) -> dict:
    p = copy.deepcopy(shapes["payout"])
    p.update(id=id_, amount=amount, currency=currency)
    return p


def row(id_: str, charge: str, amount: str, currency: str, account: str | None, *,
        refunded: str = "0", status: str = "Completed", bt_id: str | None = None,
        fee: str | None = None, net: str | None = None) -> dict:
    return {"Id": id_, "StripeChargeID__c": charge, "StripeBalanceTransactionID__c": bt_id,
            "Amount__c": float(amount), "Amount_Refunded__c": float(refunded),
            "Currency__c": currency, "Fee__c": None if fee is None else float(fee),
            "Net__c": None if net is None else float(net), "Status__c": status,
            "Account__c": "001A" if account else None,
            "Account__r": {"Name": account} if account else None}


@pytest.fixture
def period(shapes: dict) -> dict:
    usd = [
        bt(shapes, "txn_a", "charge", 10000, 320, "ch_a"),
        bt(shapes, "txn_b", "charge", 5000, 175, "ch_b"),  # missing in Salesforce
        bt(shapes, "txn_c", "charge", 2500, 103, "ch_c"),  # Salesforce says 25.50
        bt(shapes, "txn_d", "refund", -3000, 0, "re_d"),  # partial refund of ch_a
        bt(shapes, "txn_f", "stripe_fee", -150, 0, None),  # not synced
        bt(shapes, "txn_po1", "payout", -0, 0, "po_1"),  # the payout's own transaction
    ]
    usd_net = sum(b["net"] for b in usd if b["type"] != "payout")
    eur = [bt(shapes, "txn_e", "charge", 4200, 150, "ch_e", "eur")]
    charges = {"ch_b": dict(shapes["charge"], id="ch_b", customer="cus_bob")}
    return {
        "payouts": [payout(shapes, "po_1", usd_net, "usd"),
                    payout(shapes, "po_2", 4050 + 100, "eur")],  # 1.00 EUR too much
        "bts": {"po_1": usd, "po_2": eur},
        "sf": [
            row("a0A", "ch_a", "100.00", "USD", "Acme", refunded="30.00", fee="3.20"),
            row("a0C", "ch_c", "25.50", "USD", "Acme"),
            row("a0E", "ch_e", "42.00", "EUR", "Globex", bt_id="txn_e"),
            row("a0Z", "ch_z", "12.00", "USD", "Initech"),  # orphan
            row("a0F", "ch_f", "9.00", "USD", "Initech", status="Failed"),  # no money moved
        ],
        "sf_payouts": [{"Id": "a1P", "StripePayoutID__c": "po_1",
                        "Amount__c": usd_net / 100, "Currency__c": "USD"}],
        "refunds": {"re_d": "ch_a"},
        "charges": charges,
    }


def run(p: dict):
    return reconcile(p["payouts"], p["bts"], p["sf"], p["sf_payouts"], refunds=p["refunds"],
                     charges=p["charges"])


def test_every_case_is_classified(period: dict) -> None:
    report = run(period)
    got = {(line.stripe_id, line.status) for line in report.lines}
    assert got == {
        ("ch_a", "matched"), ("ch_b", "missing_in_salesforce"), ("ch_c", "amount_mismatch"),
        ("re_d", "matched"), (None, "not_synced"), ("ch_e", "matched"),
        ("ch_z", "orphan_in_salesforce"),
    }
    assert report.count("matched") == 3 and not report.ok
    assert report.charges_to_fix() == ["ch_b", "ch_c"]


def test_reasons_are_checkable(period: dict) -> None:
    lines = {line.stripe_id: line for line in run(period).lines}
    assert lines["ch_b"].reason == "charge ch_b (50.00 USD) has no Payment__c in Salesforce"
    assert lines["ch_b"].account == "cus_bob"  # named from the Stripe charge
    assert lines["ch_c"].reason == ("Payment__c a0C for ch_c: amount 25.50 USD in Salesforce, "
                                    "25.00 USD in Stripe")
    assert "has no balance transaction in the period" in lines["ch_z"].reason
    assert lines["ch_a"].account == "Acme" and lines["ch_e"].sf_id == "a0E"


def test_payout_checks(period: dict) -> None:
    checks = {p.payout: p for p in run(period).payouts}
    assert checks["po_1"].ok and checks["po_1"].transactions == 5
    assert checks["po_1"].bt_net_total == checks["po_1"].amount
    po2 = checks["po_2"]
    assert not po2.ok and po2.difference == Decimal("-1.00")
    assert po2.problems == ["balance transactions net 40.50 EUR, payout is 41.50 EUR "
                            "(difference -1.00 EUR)", "no Payout__c in Salesforce"]


def test_totals_per_currency_and_account(period: dict) -> None:
    report = run(period)
    usd = report.by_currency["USD"]
    assert usd.counts["matched"] == 2 and usd.counts["orphan_in_salesforce"] == 1
    assert usd.fees == Decimal("5.98")  # 3.20 + 1.75 + 1.03
    assert usd.net == Decimal("137.52")  # 96.80 + 48.25 + 23.97 - 30.00 - 1.50
    assert report.by_currency["EUR"].gross == Decimal("42.00")
    acme = report.by_account[("Acme", "USD")]
    assert acme.counts["matched"] == 2 and acme.counts["amount_mismatch"] == 1
    assert ("Globex", "EUR") in report.by_account and ("cus_bob", "USD") in report.by_account


@pytest.mark.parametrize(("change", "expected"), [
    ({"Amount__c": 100.0}, "matched"),
    ({"Amount__c": 99.99}, "amount_mismatch"),
    ({"Currency__c": "EUR"}, "amount_mismatch"),
    ({"Fee__c": 3.2}, "matched"),
    ({"Fee__c": 3.0}, "amount_mismatch"),
    ({"Net__c": 96.8}, "matched"),
    ({"StripeChargeID__c": "ch_other", "StripeBalanceTransactionID__c": "txn_a"}, "matched"),
])
def test_charge_line_table(shapes: dict, change: dict, expected: str) -> None:
    sf = row("a0A", "ch_a", "100.00", "USD", "Acme")
    sf.update(change)
    report = reconcile([], {None: [bt(shapes, "txn_a", "charge", 10000, 320, "ch_a")]}, [sf])
    assert [line.status for line in report.lines] == [expected]


@pytest.mark.parametrize(("refunded", "expected"), [
    ("0", "amount_mismatch"), ("20.00", "amount_mismatch"), ("30.00", "matched"),
])
def test_refund_line_table(shapes: dict, refunded: str, expected: str) -> None:
    sf = row("a0A", "ch_a", "100.00", "USD", "Acme", refunded=refunded)
    report = reconcile([], {None: [bt(shapes, "txn_d", "refund", -3000, 0, "re_d")]}, [sf],
                       refunds={"re_d": "ch_a"})
    assert [line.status for line in report.lines] == [expected]


def test_expanded_refund_source_needs_no_lookup(shapes: dict) -> None:
    b = bt(shapes, "txn_d", "refund", -3000, 0, None)
    b["source"] = {"id": "re_d", "object": "refund", "charge": "ch_a"}
    sf = row("a0A", "ch_a", "100.00", "USD", "Acme", refunded="30.00")
    report = reconcile([], {None: [b]}, [sf])
    assert report.lines[0].status == "matched" and report.lines[0].charge == "ch_a"


def test_zero_decimal_and_three_decimal_currencies(shapes: dict) -> None:
    report = reconcile([], {None: [bt(shapes, "txn_j", "charge", 5000, 0, "ch_j", "jpy"),
                                   bt(shapes, "txn_k", "charge", 12345, 0, "ch_k", "kwd")]},
                       [row("a0J", "ch_j", "5000", "JPY", "A"),
                        row("a0K", "ch_k", "12.345", "KWD", "B")])
    assert [line.status for line in report.lines] == ["matched", "matched"]


def test_json_shape(period: dict) -> None:
    data = run(period).to_dict()
    assert data["summary"]["missing_in_salesforce"] == 1
    assert data["by_currency"]["USD"]["fees"] == "5.98"
    assert {"account", "currency", "matched"} <= set(data["by_account"][0])


@pytest.mark.parametrize(("args", "message"), [
    (("x", {}, []), "payouts must be a list"),
    (([], {}, [1]), "sf_payments must hold objects"),
    (([], {None: [{"type": "charge"}]}, []), "without an id"),
    (([], [], []), "balance_transactions must map"),
])
def test_bad_input_is_named(args: tuple, message: str) -> None:
    with pytest.raises(ReconcileError, match=message):
        reconcile(*args)


def test_to_major_errors() -> None:
    assert to_major(1999, "usd") == Decimal("19.99")
    with pytest.raises(ReconcileError, match="unknown currency"):
        to_major(1, "xyz")
    with pytest.raises(ReconcileError, match="minor units"):
        to_major(1.5, "usd")


@pytest.mark.parametrize(("charge", "etype"), [
    ({"id": "ch_1", "status": "succeeded", "refunded": False, "amount_refunded": 0},
     "charge.succeeded"),
    ({"id": "ch_1", "status": "succeeded", "refunded": False, "amount_refunded": 100},
     "charge.refunded"),
    ({"id": "ch_1", "status": "failed"}, "charge.failed"),
])
def test_resync_event_type(charge: dict, etype: str) -> None:
    event = resync_event(charge, now=42)
    assert event["type"] == etype and event["data"]["object"]["id"] == "ch_1"
    assert event["id"] == "evt_reconcile_ch_1_42" and event["created"] == 42
