"""The reconciliation view (Tools ▸ Reconcile Payouts): period and connections, the run off
the UI thread with a busy state, the report per currency / Account / flagged line, HTML
export. Fast tests use a fake service over a planted report; the slow one runs the real
reconciliation against the local sandboxes."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from app import asyncloop
from app.services.reconcile import (
    ReconcileRequest,
    ReconcileService,
    ReconcileServiceError,
    period_of,
)
from app.views.reconcile_view import ReconcileView, RowsModel
from runner.finance.reconcile import reconcile

WAIT_MS = 10_000


def _ts(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def planted_report():
    """One payout in EUR with a matched charge, an amount mismatch and a Stripe fee; USD
    charges not paid out yet, one missing in Salesforce; an orphan Payment__c row."""
    payouts = [{"id": "po_1", "amount": 14_000, "currency": "eur", "created": _ts("2026-03-05"),
                "arrival_date": _ts("2026-03-07")}]
    bts = {
        "po_1": [
            {"id": "txn_1", "type": "charge", "amount": 10_000, "fee": 300, "net": 9_700,
             "currency": "eur", "source": "ch_ok"},
            {"id": "txn_2", "type": "charge", "amount": 5_000, "fee": 150, "net": 4_850,
             "currency": "eur", "source": "ch_wrong"},
            {"id": "txn_3", "type": "stripe_fee", "amount": -550, "fee": 0, "net": -550,
             "currency": "eur", "source": None},
        ],
        None: [
            {"id": "txn_4", "type": "charge", "amount": 2_500, "fee": 100, "net": 2_400,
             "currency": "usd", "source": "ch_missing"},
        ],
    }
    rows = [
        {"Id": "a01", "StripeChargeID__c": "ch_ok", "Amount__c": 100.0, "Currency__c": "EUR",
         "Account__r": {"Name": "Acme GmbH"}},
        {"Id": "a02", "StripeChargeID__c": "ch_wrong", "Amount__c": 45.0, "Currency__c": "EUR",
         "Account__r": {"Name": "Acme GmbH"}},
        {"Id": "a03", "StripeChargeID__c": "ch_gone", "Amount__c": 12.0, "Currency__c": "USD",
         "Status__c": "Completed", "Account__r": {"Name": "Globex"}},
    ]
    charges = {"ch_missing": {"id": "ch_missing", "customer": "cus_globex"}}
    return reconcile(payouts, bts, rows, [], charges=charges,
                     since=_ts("2026-03-01"), until=_ts("2026-04-01"))


class FakeService:
    """Returns the planted report; ``gate`` holds the run until the test releases it."""

    def __init__(self, report=None, error: Exception | None = None) -> None:
        self.report = report
        self.error = error
        self.requests: list[ReconcileRequest] = []
        self.gate = threading.Event()
        self.gate.set()

    def run(self, request: ReconcileRequest):
        self.requests.append(request)
        assert self.gate.wait(10)
        if self.error is not None:
            raise self.error
        return self.report

    def export_html(self, report, path):
        return ReconcileService(None).export_html(report, path)  # type: ignore[arg-type]


@pytest.fixture
def view(qtbot):
    widget = ReconcileView(FakeService(planted_report()), today=date(2026, 3, 31))
    qtbot.addWidget(widget)
    widget.resize(1000, 600)
    widget.show()
    yield widget
    asyncloop.set_error_sink(None)


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("2026-01-01", "2026-01-31", (_ts("2026-01-01"), _ts("2026-02-01"))),
        (date(2026, 2, 28), date(2026, 2, 28), (_ts("2026-02-28"), _ts("2026-03-01"))),
    ],
)
def test_period_is_whole_utc_days_both_inclusive(first, last, expected):
    assert period_of(first, last) == expected


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2026-13-01", "2026-01-31", "the first date '2026-13-01' is not a date"),
        ("2026-02-01", "yesterday", "the last date 'yesterday' is not a date"),
        ("2026-02-01", "2026-01-31", r"ends \(2026-01-31\) before it starts \(2026-02-01\)"),
        ("2024-01-01", "2026-01-31", "longer than 366 days"),
    ],
)
def test_bad_periods_are_refused_with_the_reason(first, last, message):
    with pytest.raises(ReconcileServiceError, match=message):
        period_of(first, last)


def test_defaults_to_the_last_30_days_on_the_local_sandbox(view):
    request = view.current_request()
    assert (request.first, request.last) == (date(2026, 3, 1), date(2026, 3, 31))
    assert (request.stripe, request.salesforce) == ("Local sandbox", "Local sandbox")
    assert not view.export_button.isEnabled()  # nothing to export yet


def test_runs_in_the_background_with_a_busy_state_then_shows_the_report(qtbot, view):
    view.service.gate.clear()
    assert view.start()
    assert view.running and not view.run_button.isEnabled()
    assert not view.busy_bar.isHidden() and asyncloop.busy.count >= 1
    assert not view.start()  # one run at a time
    with qtbot.waitSignal(view.finished, timeout=WAIT_MS):
        view.service.gate.set()
    assert not view.running and view.run_button.isEnabled() and view.busy_bar.isHidden()
    assert view.export_button.isEnabled()
    assert view.service.requests[0].period == (_ts("2026-03-01"), _ts("2026-04-01"))

    # the payout adds up, but Salesforce has no Payout__c for it
    assert view.status_label.text() == "Problems found: 3 flagged lines, 1 payout check failing."
    assert view.payouts.rows[0][-1] == "no Payout__c in Salesforce"
    flagged = {row[0]: row for row in view.flagged.rows}
    assert set(flagged) == {"amount mismatch", "missing in Salesforce", "orphan in Salesforce"}
    assert "ch_wrong" in flagged["amount mismatch"][4]
    assert "45.00 EUR in Salesforce, 50.00 EUR in Stripe" in flagged["amount mismatch"][4]
    assert flagged["missing in Salesforce"][2] == "cus_globex"
    assert flagged["orphan in Salesforce"][2] == "Globex"
    assert view.tabs.tabText(0) == "Flagged (3)"

    currencies = {row[0]: row for row in view.currencies.rows}
    assert set(currencies) == {"EUR", "USD"}
    header = view.currencies.headers
    eur = dict(zip(header, currencies["EUR"], strict=True))
    assert (eur["matched"], eur["amount mismatch"], eur["not synced"]) == ("1", "1", "1")
    assert eur["fees"] == "4.50"  # 3.00 + 1.50 (the stripe_fee line carries no fee itself)
    accounts = {(row[0], row[1]) for row in view.accounts.rows}
    assert ("Acme GmbH", "EUR") in accounts and ("cus_globex", "USD") in accounts
    assert [row[0] for row in view.payouts.rows] == ["po_1"]
    assert view.payouts.bad == [not view.report.payouts[0].ok]


def test_export_writes_the_html_report(view, qtbot, tmp_path):
    with qtbot.waitSignal(view.finished, timeout=WAIT_MS):
        view.start()
    written = view.export(tmp_path / "march")
    assert written == tmp_path / "march.html"
    html = written.read_text(encoding="utf-8")
    assert "amount mismatch" in html and "Acme GmbH" in html and "<script" not in html
    view.save_path = lambda: tmp_path / "chosen.html"
    assert view.export() == tmp_path / "chosen.html"
    assert f"Report written to {tmp_path / 'chosen.html'}" == view.status_label.text()


def test_export_to_a_folder_is_refused_with_the_reason(view, qtbot, tmp_path):
    with qtbot.waitSignal(view.finished, timeout=WAIT_MS):
        view.start()
    folder = tmp_path / "reports.html"
    folder.mkdir()
    with qtbot.waitSignal(view.errorRaised) as signal:
        assert view.export(folder) is None
    assert "is a folder" in signal.args[0]
    assert view.export(tmp_path / "nowhere" / "r.html") is None
    assert "does not exist" in view.status_label.text()


def test_export_before_a_run_says_so(view):
    assert view.export() is None
    assert "Reconcile first" in view.status_label.text()


def test_a_bad_period_is_shown_not_run(view):
    view.set_period(date(2026, 3, 31), date(2026, 3, 1))
    assert not view.start()
    assert "before it starts" in view.status_label.text()
    assert view.service.requests == []


def test_a_failed_run_goes_to_the_errors_signal(qtbot):
    service = FakeService(error=ReconcileServiceError("the Stripe key was refused"))
    widget = ReconcileView(service)
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.errorRaised, timeout=WAIT_MS) as signal:
        widget.start()
    assert "the Stripe key was refused" in signal.args[0]
    assert "ReconcileServiceError" in signal.args[1]  # the traceback for the errors panel
    assert not widget.running and widget.run_button.isEnabled()
    assert not widget.export_button.isEnabled()


def test_everything_reconciled_reads_as_good_news(qtbot):
    report = reconcile([], {None: [{"id": "txn_1", "type": "charge", "amount": 1000,
                                    "fee": 0, "net": 1000, "currency": "usd",
                                    "source": "ch_1"}]},
                       [{"Id": "a01", "StripeChargeID__c": "ch_1", "Amount__c": 10,
                         "Currency__c": "USD"}])
    widget = ReconcileView(FakeService(report))
    qtbot.addWidget(widget)
    widget.show_report(report)
    assert widget.status_label.text() == "Everything reconciles: 1 balance transaction checked."
    assert widget.flagged.rows == []
    assert widget.tabs.currentIndex() == 1  # the totals, since nothing is flagged


def test_rows_model_passes_qtmodeltester(qtmodeltester, view, qtbot):
    with qtbot.waitSignal(view.finished, timeout=WAIT_MS):
        view.start()
    for model in (view.flagged, view.currencies, view.accounts, view.payouts):
        qtmodeltester.check(model)
    empty = RowsModel(["a", "b"])
    qtmodeltester.check(empty)


def test_window_opens_the_view_from_the_tools_menu(qtbot, tmp_path):
    from app.document.document import StudioDocument, default_catalogs
    from app.services import Services
    from app.views.main_window import MainWindow
    from app.workspace import studio_settings

    window = MainWindow(
        StudioDocument(catalogs=default_catalogs()),
        settings=studio_settings(tmp_path / "settings.ini"),
        ask_unsaved=lambda _parent, _name: "discard",
        services=Services(config_path=tmp_path / "c.json", sandbox_dir=tmp_path / "sb"),
    )
    qtbot.addWidget(window)
    window.show()
    window.actions_by_name["reconcile"].trigger()
    view = window.reconcile_view
    assert view is not None and window.bottom_tabs.currentWidget() is view
    window.bottom_tabs.setCurrentIndex(0)
    window.actions_by_name["reconcile"].trigger()  # again: the same tab comes forward
    assert window.bottom_tabs.currentWidget() is view
    assert window.bottom_tabs.count() == 4
    assert view.connections() == ("Local sandbox", "Local sandbox")
    view.service = FakeService(error=ReconcileServiceError("no network"))
    with qtbot.waitSignal(view.errorRaised, timeout=WAIT_MS):
        view.start()
    assert window.errors.count == 1  # into the non-modal errors panel
    window.document.undo_stack.setClean()
    asyncloop.set_error_sink(None)


@pytest.mark.slow  # starts the local sandboxes
def test_reconciles_the_local_sandbox(qtbot, tmp_path):
    from app.services import Services

    services = Services(config_path=tmp_path / "c.json", sandbox_dir=tmp_path / "sandbox")
    try:
        widget = ReconcileView(ReconcileService(services), services.store)
        qtbot.addWidget(widget)
        today = datetime.now(UTC).date()
        widget.set_period(today - timedelta(days=60), today + timedelta(days=1))
        with qtbot.waitSignal(widget.finished, timeout=90_000) as signal:
            assert widget.start()
        report = signal.args[0]
        # the demo seed has charges and a refund, and the fresh org no Payment__c yet
        assert report.lines
        missing = [line for line in report.lines if line.status == "missing_in_salesforce"]
        assert missing and all("has no Payment__c" in line.reason for line in missing)
        assert len(widget.flagged.rows) == len(report.problems())
        assert {row[0] for row in widget.currencies.rows} == set(report.by_currency)
        assert sum(int(row[3]) for row in widget.accounts.rows) == len(missing)
        written = widget.export(tmp_path / "sandbox.html")
        assert written is not None and "missing in Salesforce" in written.read_text()
    finally:
        services.close()
