"""StudioDocument: opening, saving, current flow, signals and refused edits."""

from __future__ import annotations

import pytest

from app.document.document import StudioDocument, available_templates, default_catalogs
from mappings.document.model import (
    Action,
    Flow,
    ObjectRef,
    Operation,
    TransformStep,
    Trigger,
)
from mappings.document.yamlio import load_documents
from mappings.errors import (
    DocumentError,
    EditError,
    IncompatibleTypeError,
    TargetAlreadyMappedError,
    UnknownFieldError,
)
from mappings.schema.model import System


def _flow(name: str) -> Flow:
    return Flow(
        name=name,
        trigger=Trigger(stripe_events=["customer.created"]),
        source=ObjectRef(System.STRIPE, "customer"),
        target=ObjectRef(System.SALESFORCE, "Account"),
        operation=Operation(Action.UPSERT, external_id="StripeCustomerID__c"),
    )


def test_templates_are_listed():
    names = available_templates()
    assert "charges-payments" in names and "payouts" in names


def test_open_template_selects_first_flow(doc):
    assert doc.current_flow == "charge-to-payment"
    assert doc.workspace is None
    assert not doc.is_dirty
    assert doc.source_schema("charge-to-payment").name == "charge"
    assert doc.target_schema("charge-to-payment").name == "Payment__c"


def test_unknown_template_names_the_choices(qtbot):
    document = StudioDocument(catalogs=default_catalogs())
    with pytest.raises(DocumentError, match="no template named 'nope'.*charges-payments"):
        document.open_template("nope")


def test_unknown_flow_is_named(doc):
    with pytest.raises(EditError, match="no flow named 'ghost'.*charge-to-payment"):
        doc.flow("ghost")
    with pytest.raises(EditError):
        doc.set_current_flow("ghost")


def test_map_field_signals_and_dirty(doc, qtbot):
    flow = "charge-to-payment"
    with (
        qtbot.waitSignal(doc.mappingsChanged) as changed,
        qtbot.waitSignal(doc.dirtyChanged) as dirty,
    ):
        doc.map_field(flow, "statement_descriptor", "Description__c", replace=True)
    assert changed.args == [flow]
    assert dirty.args == [True]
    assert doc.is_dirty
    assert doc.mapping(flow, "Description__c").sources == ["statement_descriptor"]


@pytest.mark.parametrize(
    ("source", "target", "error", "message"),
    [
        ("no_such_field", "Fee__c", UnknownFieldError, "no field 'no_such_field'"),
        ("id", "No_Such__c", UnknownFieldError, "no field 'No_Such__c'"),
        ("amount", "Amount__c", TargetAlreadyMappedError, "Amount__c is already mapped"),
        ("created", "Livemode__c", TargetAlreadyMappedError, "already mapped"),
    ],
)
def test_refused_edits_never_reach_the_stack(doc, source, target, error, message):
    before = doc.undo_stack.count()
    with pytest.raises(error, match=message):
        doc.map_field("charge-to-payment", source, target)
    assert doc.undo_stack.count() == before
    assert not doc.is_dirty


def test_incompatible_direct_mapping_is_refused(doc):
    with pytest.raises(IncompatibleTypeError, match="charge.description is string"):
        doc.map_field("charge-to-payment", "description", "Fee__c")
    assert doc.undo_stack.count() == 0


def test_add_flow_becomes_selectable_and_names_are_unique(doc, qtbot):
    with qtbot.waitSignal(doc.flowsChanged):
        doc.add_flow(_flow("customer-to-account"))
    assert [f.name for _, f in doc.flows()] == ["charge-to-payment", "customer-to-account"]
    assert doc.document_of("customer-to-account") is doc.documents[0]
    with pytest.raises(EditError, match="already exists"):
        doc.add_flow(_flow("customer-to-account"))
    with pytest.raises(EditError, match="not a valid flow name"):
        doc.add_flow(_flow("a/b"))


def test_removing_the_current_flow_moves_the_selection(doc, qtbot):
    doc.add_flow(_flow("other"))
    with qtbot.waitSignal(doc.currentFlowChanged) as sig:
        doc.remove_flow("charge-to-payment")
    assert sig.args == ["other"]
    doc.undo_stack.undo()
    assert doc.find_flow("charge-to-payment") is not None
    assert [f.name for _, f in doc.flows()][0] == "charge-to-payment"


def test_edit_flow_renames_and_current_follows(doc, qtbot):
    edited = _flow("payments")
    edited.source = ObjectRef(System.STRIPE, "charge")
    edited.target = ObjectRef(System.SALESFORCE, "Payment__c")
    fields_before = list(doc.flow("charge-to-payment").fields)
    with qtbot.waitSignal(doc.currentFlowChanged) as sig:
        doc.edit_flow("charge-to-payment", edited)
    assert sig.args == ["payments"]
    flow = doc.flow("payments")
    assert flow.trigger.stripe_events == ["customer.created"]
    assert flow.fields == fields_before  # fields kept
    doc.undo_stack.undo()
    assert doc.current_flow == "charge-to-payment"
    assert doc.flow("charge-to-payment").trigger.stripe_events[0] == "charge.succeeded"


def test_save_requires_a_folder_then_round_trips(doc, tmp_path):
    with pytest.raises(DocumentError, match="Save As"):
        doc.save()
    doc.set_transforms("charge-to-payment", "Currency__c", [TransformStep("lower")])
    assert doc.is_dirty
    doc.save_as(tmp_path / "ws")
    assert not doc.is_dirty
    [(path, saved)] = load_documents(tmp_path / "ws")
    assert path.name == "charges-payments.yaml"
    assert saved.flow("charge-to-payment").mapping_for("Currency__c").transforms == [
        TransformStep("lower")
    ]
    reopened = StudioDocument(catalogs=default_catalogs())
    reopened.open_workspace(tmp_path / "ws")
    assert reopened.workspace == tmp_path / "ws"
    assert reopened.path_of(reopened.documents[0]) == path


def test_open_workspace_with_a_bad_file_names_it(tmp_path, qtbot):
    (tmp_path / "broken.yaml").write_text("format: 1\nname: x\nflows: nope\n")
    document = StudioDocument(catalogs=default_catalogs())
    with pytest.raises(DocumentError, match="broken.yaml"):
        document.open_workspace(tmp_path)


def test_new_workspace_accepts_a_first_flow(qtbot):
    document = StudioDocument(catalogs=default_catalogs())
    document.new_workspace()
    assert document.current_flow is None
    document.add_flow(_flow("first"))
    assert document.current_flow == "first"


def test_macro_is_one_undo_step(doc):
    flow = "charge-to-payment"
    doc.unmap_field(flow, "Receipt_URL__c")
    doc.unmap_field(flow, "Description__c")
    count = doc.undo_stack.count()
    with doc.macro("Auto-map"):
        doc.map_field(flow, "receipt_url", "Receipt_URL__c")
        doc.map_field(flow, "description", "Description__c")
    assert doc.undo_stack.count() == count + 1
    doc.undo_stack.undo()
    assert doc.mapping(flow, "Receipt_URL__c") is None
    assert doc.mapping(flow, "Description__c") is None


# --------------------------------------------------------------------------- the flow dialog
# (FlowDialog is the form in front of add_flow / edit_flow.)


def test_flow_dialog_creates_a_stripe_flow(doc, qtbot):
    from PySide6.QtWidgets import QDialogButtonBox

    from app.views.flow_dialog import FlowDialog

    dialog = FlowDialog(doc)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled() and "Give the flow a name" in dialog.problem.text()
    dialog.name.setText("refunds")
    dialog.source.setCurrentText("refund")
    dialog.target.setCurrentText("Payment__c")
    events = [dialog.events.item(r).text() for r in range(dialog.events.count())]
    assert "refund.created" in events  # from the catalog's event_types
    assert "Tick at least one" in dialog.problem.text()
    dialog.set_events(["refund.created"])
    # The Payment object's external ids, as the shipped describe has them.
    expected = [f.path for f in doc.catalogs[System.SALESFORCE]["Payment__c"].external_id_fields()]
    shown = [dialog.external_id.itemText(i) for i in range(dialog.external_id.count())]
    assert sorted(shown) == sorted(expected) and "StripeChargeID__c" in shown
    dialog.external_id.setCurrentText("StripeChargeID__c")
    assert ok.isEnabled(), dialog.problem.text()
    assert dialog.apply()
    flow = doc.flow("refunds")
    assert flow.trigger.stripe_events == ["refund.created"]
    assert flow.operation == Operation(Action.UPSERT, external_id="StripeChargeID__c")
    assert doc.current_flow == "refunds"
    doc.undo_stack.undo()
    assert doc.find_flow("refunds") is None


def test_flow_dialog_salesforce_change_trigger(doc, qtbot):
    from app.views.flow_dialog import FlowDialog

    dialog = FlowDialog(doc)
    qtbot.addWidget(dialog)
    dialog.direction.setCurrentIndex(1)  # Salesforce -> Stripe
    dialog.name.setText("won-deals")
    dialog.source.setCurrentText("Opportunity")
    dialog.target.setCurrentText("customer")
    dialog.change_field.setCurrentIndex(dialog.change_field.findData("StageName"))
    dialog.change_becomes.setText("Closed Won")
    assert dialog.validate(), dialog.problem.text()
    flow = dialog.flow()
    assert flow.trigger.salesforce_change.field == "StageName"
    assert flow.trigger.salesforce_change.becomes == "Closed Won"
    assert flow.operation.action is Action.CREATE


def test_flow_dialog_edits_and_refuses_a_taken_name(doc, qtbot):
    from app.views.flow_dialog import FlowDialog

    doc.add_flow(_flow("other"))
    dialog = FlowDialog(doc, "charge-to-payment")
    qtbot.addWidget(dialog)
    assert dialog.checked_events() == ["charge.failed", "charge.refunded", "charge.succeeded"]
    assert dialog.external_id.isEnabled()
    dialog.name.setText("other")
    assert not dialog.validate()
    assert "already exists" in dialog.problem.text()
    dialog.name.setText("payments")
    dialog.set_events(["charge.succeeded"])
    assert dialog.apply()
    flow = doc.flow("payments")
    assert flow.trigger.stripe_events == ["charge.succeeded"]
    assert len(flow.fields) == 17  # the mappings are kept
