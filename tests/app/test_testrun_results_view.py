"""Issue 13, scenario 14 (test runs): the results show what was written per record, and the
records a real run created can be deleted from the sandbox again."""

from __future__ import annotations

from app import asyncloop
from app.services import Services
from app.services.testrun_results import RecordResult, RunReport
from app.views.testrun_panel import TestRunPanel

FLOW = "charge-to-payment"


def _panel(qtbot, doc, tmp_path):
    services = Services(config_path=tmp_path / "c.json", sandbox_dir=tmp_path / "sandbox")
    panel = TestRunPanel(doc, services)
    qtbot.addWidget(panel)
    return panel, services


def test_written_values_per_record_and_deleting_the_created_ones(qtbot, doc, tmp_path, monkeypatch):
    panel, services = _panel(qtbot, doc, tmp_path)
    created = RecordResult(0, "ch_1", "create", "a01000000000001AAA", "",
                           record={"StripeChargeID__c": "ch_1", "Amount__c": 19.99,
                                   "Account__r": {"StripeCustomerID__c": "cus_1"}}, dry=False)
    updated = RecordResult(1, "ch_2", "update", "a01000000000002AAA", "", dry=False,
                           record={"StripeChargeID__c": "ch_2"})
    panel._samples = [{"id": "ch_1"}, {"id": "ch_2"}]
    panel._finished(RunReport(FLOW, False, [created, updated]))

    written = panel.model.data(panel.model.index(0, 3))
    assert "Amount = 19.99" in written  # the label, the value as written
    assert "cus_1 (by" in written  # a lookup in words, not JSON
    assert panel.delete_button.isEnabled()

    asked: list = []
    monkeypatch.setattr(services, "delete_records",
                        lambda ids, connection: asked.append((ids, connection)) or (1, []))
    assert panel.delete_created()
    qtbot.waitUntil(lambda: not panel.running)
    assert [ids for ids, _ in asked] == [["a01000000000001AAA"]]  # updated records stay
    assert panel.summary_label.text() == "Deleted 1 test record"
    assert not panel.delete_button.isEnabled()
    asyncloop.set_error_sink(None)


def test_a_dry_run_offers_nothing_to_delete(qtbot, doc, tmp_path):
    panel, _ = _panel(qtbot, doc, tmp_path)
    panel._samples = [{"id": "ch_1"}]
    panel._finished(RunReport(FLOW, True, [RecordResult(0, "ch_1", "create", None, "")]))
    assert not panel.delete_button.isEnabled() and panel.created_ids() == []
