"""The readable and HTML reconciliation reports: tables, flagged reasons, escaping."""

from __future__ import annotations

from decimal import Decimal

from runner.finance.reconcile import ReconLine, reconcile
from runner.finance.reconcile_report import render_html, render_text


def sample():
    bts = {None: [
        {"id": "txn_1", "type": "charge", "amount": 1000, "fee": 59, "net": 941,
         "currency": "usd", "source": "ch_1"},
        {"id": "txn_2", "type": "charge", "amount": 500, "fee": 0, "net": 500,
         "currency": "usd", "source": "ch_<script>"},
    ]}
    sf = [{"Id": "a0A", "StripeChargeID__c": "ch_1", "Amount__c": 10.0, "Currency__c": "USD",
           "Status__c": "Completed", "Account__r": {"Name": "O'Brien & <Sons>"}}]
    return reconcile([], bts, sf, since=1_767_225_600, until=1_767_312_000)


def test_text_report_has_the_tables_and_reasons() -> None:
    text = render_text(sample())
    # until is the exclusive midnight after the period: a one-day period reads as one day.
    assert text.startswith("Reconciliation 2026-01-01 .. 2026-01-01: problems found")
    assert "Per currency" in text and "Per Account" in text
    assert "O'Brien & <Sons>" in text
    assert "charge ch_<script> (5.00 USD) has no Payment__c in Salesforce" in text


def test_html_is_self_contained_and_escaped() -> None:
    page = render_html(sample())
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "ch_&lt;script&gt;" in page
    assert "O&#x27;Brien &amp; &lt;Sons&gt;" in page
    assert "http://" not in page and "https://" not in page  # nothing fetched from outside
    assert "Flagged lines (1)" in page


def test_clean_period_reads_as_reconciled() -> None:
    report = reconcile([], {}, [])
    assert "everything reconciles" in render_text(report)
    assert "None." in render_html(report)
    line = ReconLine("matched", "USD", "A", "ch_1", "txn_1", None, "charge", Decimal("1"))
    assert line.to_dict()["stripe_amount"] == "1"
