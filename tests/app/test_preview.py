"""Preview: values, highlighting, live re-computation on edits, pinning fixtures, the panel."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.document.document import StudioDocument
from app.models.preview_model import (
    ERROR_BACKGROUND,
    FIRST_FIELD_COLUMN,
    STATUS_COLUMN,
    IssuesRole,
    PreviewModel,
)
from app.services import SOURCE_FILE, SOURCE_FIXTURES, Services
from app.views.preview_panel import PreviewPanel
from mappings.document.model import TransformStep
from mappings.engine.fixtures import run_fixtures

FLOW = "charge-to-payment"


@pytest.fixture
def charge(doc) -> dict:
    """The charge inside the template's first fixture (a charge.succeeded event)."""
    return copy.deepcopy(doc.flow(FLOW).fixtures[0].input["data"]["object"])


@pytest.fixture
def services(tmp_path) -> Services:
    svc = Services(config_path=tmp_path / "connections.json", sandbox_dir=tmp_path / "sandbox")
    yield svc
    svc.close()


def _cell(model: PreviewModel, row: int, field: str, role=Qt.ItemDataRole.DisplayRole):
    return model.data(model.index(row, model.column_of(field)), role)


def test_model_passes_qtmodeltester(qtmodeltester, doc, charge):
    model = PreviewModel(doc)
    bad = dict(charge, currency="usdx")
    model.set_flow(FLOW, [charge, bad, {"object": "event", "type": "customer.created",
                                        "data": {"object": {"id": "cus_1"}}}])
    qtmodeltester.check(model, force_py=True)


def test_values_are_the_transformed_ones(doc, charge):
    model = PreviewModel(doc)
    model.set_flow(FLOW, [charge])
    flow = doc.flow(FLOW)
    assert model.columnCount() == FIRST_FIELD_COLUMN + len(flow.target_fields())
    assert _cell(model, 0, "StripeChargeID__c") == charge["id"]
    assert _cell(model, 0, "Currency__c") == charge["currency"].upper()
    # minor units -> decimal: 2000 cents of USD read 20.00
    assert _cell(model, 0, "Amount__c") == f"{charge['amount'] / 100:.2f}"
    assert model.data(model.index(0, STATUS_COLUMN)) == "ok"
    assert _cell(model, 0, "Currency__c", Qt.ItemDataRole.BackgroundRole) is None


def test_value_too_long_is_highlighted_with_the_reason(doc, charge):
    model = PreviewModel(doc)
    charge["payment_method_details"]["card"]["last4"] = "424242"
    model.set_flow(FLOW, [charge])
    background = _cell(model, 0, "Card_Last4__c", Qt.ItemDataRole.BackgroundRole)
    assert background is not None and background.color() == ERROR_BACKGROUND
    tooltip = _cell(model, 0, "Card_Last4__c", Qt.ItemDataRole.ToolTipRole)
    assert "424242" in tooltip and "4" in tooltip  # the value and the field's limit
    assert not _cell(model, 0, "Card_Last4__c", Qt.ItemDataRole.DecorationRole).isNull()
    issues = _cell(model, 0, "Card_Last4__c", IssuesRole)
    assert [i.code for i in issues] == ["STRING_TOO_LONG"]
    assert model.data(model.index(0, STATUS_COLUMN)) == "1 error"
    # the neighbouring cells are untouched
    assert _cell(model, 0, "Card_Brand__c", Qt.ItemDataRole.BackgroundRole) is None


def test_restricted_picklist_miss_is_highlighted(doc, charge):
    doc.set_transforms(FLOW, "Status__c", [TransformStep("jsonata", {"expr": "'Bounced'"})])
    model = PreviewModel(doc)
    model.set_flow(FLOW, [charge])
    assert _cell(model, 0, "Status__c") == "Bounced"
    assert _cell(model, 0, "Status__c", Qt.ItemDataRole.BackgroundRole) is not None
    tooltip = _cell(model, 0, "Status__c", Qt.ItemDataRole.ToolTipRole)
    assert "Bounced" in tooltip and "Completed" in tooltip  # the miss and the allowed values


def test_skipped_record_shows_its_reason(doc, charge):
    model = PreviewModel(doc)
    event = {"id": "evt_1", "object": "event", "type": "customer.created",
             "data": {"object": charge}}
    model.set_flow(FLOW, [event])
    status = model.data(model.index(0, STATUS_COLUMN))
    assert status.startswith("skipped:") and "customer.created" in status
    assert _cell(model, 0, "Amount__c") == "—"


def test_editing_a_transform_changes_the_preview(qtbot, doc, charge):
    model = PreviewModel(doc)
    model.set_flow(FLOW, [charge])
    assert _cell(model, 0, "Currency__c") == "USD"
    with qtbot.waitSignal(model.dataChanged):
        doc.set_transforms(FLOW, "Currency__c", [TransformStep("lower")])
    assert _cell(model, 0, "Currency__c") == "usd"
    doc.undo_stack.undo()
    assert _cell(model, 0, "Currency__c") == "USD"
    # mapping a new field adds its column
    doc.unmap_field(FLOW, "Card_Brand__c")
    assert "Card_Brand__c" not in [model.column_field(c) for c in range(model.columnCount())]
    doc.undo_stack.undo()
    assert _cell(model, 0, "Card_Brand__c") == charge["payment_method_details"]["card"]["brand"]


def test_a_flow_that_does_not_compile_says_why(qtbot, doc, charge):
    model = PreviewModel(doc)
    model.set_flow(FLOW, [charge])
    with qtbot.waitSignal(model.planErrorChanged) as signal:
        doc.set_transforms(FLOW, "Currency__c", [TransformStep("jsonata", {"expr": "$$$("})])
    assert "cannot be applied" in signal.args[0]
    assert "cannot be applied" in model.data(model.index(0, STATUS_COLUMN))


def test_other_flows_edits_do_not_recompute(qtbot, catalogs, charge):
    document = StudioDocument(catalogs=catalogs)
    document.open_template("customer-account")
    model = PreviewModel(document)
    model.set_flow("customer-to-account", [{"id": "cus_1", "object": "customer", "name": "A"}])
    with qtbot.assertNotEmitted(model.resultsChanged):
        document.mappingsChanged.emit("some-other-flow")


# -- the panel --------------------------------------------------------------------------


def test_panel_loads_fixtures_and_shows_detail(qtbot, doc, services, tmp_path):
    panel = PreviewPanel(doc, services)
    qtbot.addWidget(panel)
    panel.resize(1100, 600)
    panel.load_fixtures_of_current_flow()
    flow = doc.flow(FLOW)
    assert panel.model.rowCount() == len(flow.fixtures)
    assert services.samples_for(flow) == [f.input for f in flow.fixtures]
    assert panel.selected_row() == 0
    assert json.loads(panel.source_view.toPlainText())["object"] == "charge"
    assert "StripeChargeID__c" in panel.target_view.toPlainText()
    panel.grab().save(str(tmp_path / "preview_panel.png"))


def test_columns_fit_their_content_and_a_refit_keeps_them(qtbot, doc, services):
    """Every column, the stretched last one too, is its content's width plus a margin
    (80-260 px), and loading the samples again gives the same widths (the fit sets the
    columns with the last section's stretch off, then stretches it again)."""
    panel = PreviewPanel(doc, services)
    qtbot.addWidget(panel)
    panel.resize(500, 400)  # narrower than the columns: the last one is not stretched
    panel.show()
    qtbot.waitExposed(panel)
    panel.load_fixtures_of_current_flow()
    header = panel.table.horizontalHeader()
    columns = range(panel.model.columnCount())
    widths = [header.sectionSize(c) for c in columns]
    content = [
        max(panel.table.sizeHintForColumn(c), header.sectionSizeHint(c)) for c in columns
    ]
    assert widths == [max(80, min(w + 8, 260)) for w in content]
    assert header.stretchLastSection()
    panel.refresh()
    panel.refresh()
    assert [header.sectionSize(c) for c in columns] == widths


def test_panel_reads_a_json_file_and_reports_a_bad_one(qtbot, doc, services, charge, tmp_path):
    panel = PreviewPanel(doc, services)
    qtbot.addWidget(panel)
    good = tmp_path / "charges.json"
    good.write_text(json.dumps({"object": "list", "data": [charge, dict(charge, id="ch_2")]}))
    panel.load_file(good)
    assert panel.model.rowCount() == 2
    assert panel.source() == (SOURCE_FILE, None)
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with qtbot.waitSignal(panel.errorRaised) as signal:
        panel.load_file(bad)
    assert "item 1 is a int, not a JSON object" in signal.args[0]
    assert "not a JSON object" in panel.status_label.text()


def test_pin_as_fixture_and_undo(qtbot, doc, services, charge, tmp_path):
    panel = PreviewPanel(doc, services)
    qtbot.addWidget(panel)
    path = tmp_path / "one.json"
    path.write_text(json.dumps(charge))
    panel.load_file(path)
    before = len(doc.flow(FLOW).fixtures)
    fixture = panel.pin_selected()
    flow = doc.flow(FLOW)
    assert len(flow.fixtures) == before + 1
    pinned = flow.fixtures[-1]
    assert pinned is fixture and pinned.input == charge
    assert pinned.expected["StripeChargeID__c"] == charge["id"]
    # The pinned fixture passes as pinned: the output it expects is the current output.
    results = run_fixtures(doc.document_of(FLOW), {"Payment__c": doc.target_schema(FLOW)}, FLOW)
    mine = [r for r in results if r.fixture == pinned.name]
    assert len(mine) == 1 and mine[0].passed
    # pinning the same record again gets a new name
    assert panel.pin_selected().name == f"{pinned.name} (2)"
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert len(doc.flow(FLOW).fixtures) == before
    doc.undo_stack.redo()
    assert doc.flow(FLOW).fixtures[-1].name == pinned.name


def test_current_flow_change_reloads_fixtures(qtbot, catalogs, services):
    document = StudioDocument(catalogs=catalogs)
    document.open_template("subscriptions")
    panel = PreviewPanel(document, services)
    qtbot.addWidget(panel)
    assert panel.source() == (SOURCE_FIXTURES, None)
    flows = [f.name for _, f in document.flows()]
    document.set_current_flow(flows[-1])
    assert panel.model.flow_name == flows[-1]
    assert panel.model.rowCount() == len(document.flow(flows[-1]).fixtures)


def test_file_without_path_is_a_clear_error(doc, services):
    with pytest.raises(Exception, match="choose a JSON file"):
        services.load_samples(doc.flow(FLOW), SOURCE_FILE)


def test_missing_file_is_named(doc, services, tmp_path):
    with pytest.raises(Exception, match=r"nope\.json does not exist"):
        services.load_samples(doc.flow(FLOW), SOURCE_FILE, path=Path(tmp_path / "nope.json"))


def test_plan_is_compiled_once_per_change_and_rows_applied_once(doc, charge, monkeypatch):
    import app.models.preview_model as preview_model

    compiled = []
    real_compile = preview_model.compile_flow

    def counting(*args, **kwargs):
        compiled.append(args[0].name)
        return real_compile(*args, **kwargs)

    monkeypatch.setattr(preview_model, "compile_flow", counting)
    model = PreviewModel(doc)
    samples = [dict(charge, id=f"ch_{i}") for i in range(200)]
    model.set_flow(FLOW, samples)
    rows = model.compute_all()
    assert [r.result.record["StripeChargeID__c"] for r in rows[:2]] == ["ch_0", "ch_1"]
    assert model.row_result(199) is rows[199]  # applied once, then cached
    doc.set_transforms(FLOW, "Currency__c", [TransformStep("lower")])
    assert {r.result.record["Currency__c"] for r in model.compute_all()} == {"usd"}
    assert compiled == [FLOW, FLOW]


# --------------------------------------------------------------------------- issue 13, scenario 8


def test_scenario_8_preview_is_readable(qtbot, doc, services):
    """A required field nothing fills has its own column; the reason comes before the JSON,
    which folds away; an edit keeps the selected record; lookups read as words; the three
    fixtures are told apart by event type and the values that differ."""
    panel = PreviewPanel(doc, services)
    qtbot.addWidget(panel)
    panel.load_fixtures_of_current_flow()
    model = panel.model
    labels = [model.data(model.index(r, 0)) for r in range(model.rowCount())]
    assert len(set(labels)) == len(labels) == 3, labels
    assert all(label.startswith("charge.") for label in labels)

    account = model.data(model.index(0, model.column_of("Account__c")))
    assert account.startswith("Account whose Stripe Customer ID is cus_"), account
    assert "{" not in account

    panel.table.selectRow(2)
    doc.unmap_field(FLOW, "Currency__c")  # required: the column stays, now with the error
    assert panel.selected_row() == 2
    column = model.column_of("Currency__c")
    issues = model.data(model.index(2, column), IssuesRole)
    assert [i.code for i in issues] == ["REQUIRED_FIELD_MISSING"]
    assert model.headerData(column, Qt.Orientation.Horizontal) == "Currency *"
    reason = panel.reason_label.text()
    assert reason.startswith("✗ Currency:") and "required" in reason
    assert panel.reason_label.isVisibleTo(panel)
    panel.json_toggle.setChecked(False)
    assert not panel.json_detail.isVisibleTo(panel)
    panel.json_toggle.setChecked(True)
    assert panel.json_detail.isVisibleTo(panel)


def test_a_deletion_sample_shows_what_the_flow_does_to_its_target(open_template):
    """A voided invoice is no Order to map: the row says the Order is marked, as the runner
    and ``map preview`` do (mappings.engine.deletion), not "condition not met"."""
    invoices = open_template("invoices-orders")
    flow = invoices.flows()[0][1]
    voided = next(fx.input for fx in flow.fixtures if "voided" in fx.name)
    model = PreviewModel(invoices)
    model.set_flow(flow.name, [voided])
    status = model.data(model.index(0, STATUS_COLUMN))
    assert status.startswith("invoice.voided") and "would mark the Order" in status
    assert "StripeDeletedAt__c" in status
