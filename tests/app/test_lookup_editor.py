"""The lookup editor: choices from the catalogs, checked edits, one undo step each."""

from __future__ import annotations

import copy

import pytest

from app.canvas.scene import MappingScene
from app.document.document import StudioDocument
from app.views.editor_common import FieldPicker
from app.views.lookup_editor import LookupEditor, is_match_field
from mappings.document.model import Lookup
from mappings.schema.model import System

FLOW = "charge-to-payment"
ORIGINAL = Lookup("Account__c", "Account", "StripeCustomerID__c", "customer", required=False)
PAYOUT = Lookup("Payout__c", "Payout__c", "StripePayoutID__c", "balance_transaction")


@pytest.fixture
def editor(doc, qtbot) -> LookupEditor:
    widget = LookupEditor(doc)
    qtbot.addWidget(widget)
    widget.resize(1000, 360)
    widget.show()
    return widget


def combo_data(combo) -> list[str]:
    return [combo.itemData(i) for i in range(combo.count())]


def test_table_shows_the_flow_lookups(editor):
    assert editor.table.rowCount() == 1
    cells = [editor.table.item(0, c).text() for c in range(4)]
    assert cells == ["Account__c", "Account", "StripeCustomerID__c", "customer"]
    assert editor.table.item(0, 4).text() == "no"


def test_form_offers_only_what_can_work(editor, catalogs):
    payment = catalogs[System.SALESFORCE].get("Payment__c")
    writable_refs = [
        f.path for f in payment if f.reference_to and (f.createable or f.updateable)
        and f.kind.value == "reference"
    ]
    # issue 13, scenario 10: a "Choose…" placeholder comes first (nothing preselected)
    assert combo_data(editor.target_combo) == ["", *writable_refs]
    assert "CreatedById" not in writable_refs  # read-only references are not offered
    editor.target_combo.setCurrentIndex(editor.target_combo.findData("Payout__c"))
    assert combo_data(editor.object_combo) == list(payment.find("Payout__c").reference_to)
    payout = catalogs[System.SALESFORCE].get("Payout__c")
    offered = combo_data(editor.match_combo)
    assert set(offered) == {f.path for f in payout if is_match_field(f)}
    assert offered[0] == "StripePayoutID__c"  # external ids first


def test_add_through_the_form_then_undo_redo(editor, doc):
    editor.target_combo.setCurrentIndex(editor.target_combo.findData("Payout__c"))
    editor.match_combo.setCurrentIndex(editor.match_combo.findData("StripePayoutID__c"))
    editor.source_picker.set_path("balance_transaction")
    editor.add_button.click()
    assert doc.flow(FLOW).lookups == [ORIGINAL, PAYOUT]
    assert editor.table.rowCount() == 2 and editor.selected_row() == 1
    doc.undo_stack.undo()
    assert doc.flow(FLOW).lookups == [ORIGINAL]
    assert editor.table.rowCount() == 1  # the table followed the undo
    doc.undo_stack.redo()
    assert doc.flow(FLOW).lookups == [ORIGINAL, PAYOUT]


def test_edit_and_remove_are_single_undo_steps(editor, doc):
    assert editor.add_lookup(PAYOUT)
    count = doc.undo_stack.count()
    editor.table.selectRow(0)
    assert editor.draft() == ORIGINAL  # selecting a row loads it into the form
    editor.required_box.setChecked(True)
    editor.apply_button.click()
    assert doc.flow(FLOW).lookups[0].required is True
    assert doc.undo_stack.count() == count + 1
    assert editor.remove_lookup(0)
    assert doc.flow(FLOW).lookups == [PAYOUT]
    doc.undo_stack.undo()
    assert [lk.target for lk in doc.flow(FLOW).lookups] == ["Account__c", "Payout__c"]
    doc.undo_stack.undo()
    assert doc.flow(FLOW).lookups == [ORIGINAL, PAYOUT]
    doc.undo_stack.redo()
    doc.undo_stack.redo()
    assert doc.flow(FLOW).lookups == [PAYOUT]


@pytest.mark.parametrize(
    ("lookup", "words"),
    [
        (Lookup("Amount__c", "Account", "StripeCustomerID__c", "customer"), "reference field"),
        (Lookup("Payout__c", "Account", "StripeCustomerID__c", "customer"), "points to Payout__c"),
        (Lookup("Payout__c", "Payout__c", "Name__nope", "customer"), "has no field"),
        (Lookup("Payout__c", "Payout__c", "Amount__c", "customer"), "not an external id"),
        (Lookup("Payout__c", "Payout__c", "StripePayoutID__c", "no.such.path"), "has no field"),
        (Lookup("Payout__c", "Payout__c", "StripePayoutID__c", ""), "choose a source field"),
        (Lookup("Nope__c", "Account", "StripeCustomerID__c", "customer"), "has no field"),
        (Lookup("Account__c", "Account", "StripeCustomerID__c", "id"), "two lookups write"),
    ],
)
def test_invalid_combinations_are_refused_before_anything_changes(editor, doc, lookup, words):
    before = copy.deepcopy(doc.flow(FLOW).lookups)
    count = doc.undo_stack.count()
    assert not editor.add_lookup(lookup)
    assert words in editor.error.text()
    assert doc.flow(FLOW).lookups == before
    assert doc.undo_stack.count() == count


def test_a_target_with_a_field_mapping_is_refused(editor, doc):
    doc.unmap_field(FLOW, "Name")  # free a field, then map a reference field directly
    doc.map_field(FLOW, "balance_transaction", "Payout__c")
    count = doc.undo_stack.count()
    assert not editor.add_lookup(PAYOUT)
    assert "already mapped" in editor.error.text()
    assert doc.undo_stack.count() == count


def test_a_stripe_target_has_no_lookups(qtbot, catalogs):
    doc = StudioDocument(catalogs=catalogs)
    doc.open_template("account-to-stripe-customer")
    editor = LookupEditor(doc)
    qtbot.addWidget(editor)
    assert "writes to stripe:customer" in editor.hint.text()
    assert not editor.add_button.isEnabled()
    assert not editor.add_lookup(Lookup("customer", "Account", "Id", "Id"))
    assert "only flows into Salesforce" in editor.error.text()
    assert doc.flow("account-to-customer").lookups == []


def test_the_canvas_shows_lookups_added_here(editor, doc):
    scene = MappingScene(doc)
    assert set(scene.lookup_links) == {"Account__c"}
    editor.add_lookup(PAYOUT)
    link = scene.lookup_links["Payout__c"]
    assert link.source == "balance_transaction" and link.kind == "lookup"
    doc.undo_stack.undo()
    assert set(scene.lookup_links) == {"Account__c"}


def test_field_picker_searches_anywhere_in_a_path(qtbot, catalogs):
    picker = FieldPicker()
    qtbot.addWidget(picker)
    charge = catalogs[System.STRIPE].get("charge")
    picker.set_schema(charge)
    completer = picker.completer()
    completer.setCompletionPrefix("city")
    found = [completer.completionModel().index(i, 0).data()
             for i in range(completer.completionModel().rowCount())]
    assert found and all("city" in p for p in found)
    assert "billing_details.address.city" in found
    picker.set_path("billing_details.address.city")
    assert picker.field() is charge.find("billing_details.address.city")


def test_following_the_current_flow(qtbot, catalogs):
    doc = StudioDocument(catalogs=catalogs)
    doc.open_template("subscriptions")
    editor = LookupEditor(doc)
    qtbot.addWidget(editor)
    for _, flow in doc.flows():
        doc.set_current_flow(flow.name)
        shown = [editor.table.item(r, 0).text() for r in range(editor.table.rowCount())]
        assert shown == [lk.target for lk in flow.lookups]
        target = doc.target_schema(flow.name)
        assert all(target.find(t).reference_to for t in combo_data(editor.target_combo)[1:])


def test_scenario_10_the_form_shows_the_flow_lookup_or_says_it_is_new(editor):
    """Issue 13, scenario 10: beside the one lookup, the form showed an unrelated
    "OwnerId → Group, User (not in the catalog)" with Required ticked, which looked like the
    lookup being edited. Now it is a blank, titled "New lookup", or the selected one, named."""
    assert editor.selected_row() == -1
    assert editor.form_title.text().startswith("<b>New lookup</b>")
    assert editor.target_combo.currentData() == ""  # nothing preselected
    assert editor.target_combo.currentText() == "Choose a reference field…"
    assert editor.object_combo.count() == 0 and editor.match_combo.count() == 0

    editor.table.selectRow(0)
    assert editor.form_title.text() == "<b>Editing the lookup of Account</b>"
    assert editor.target_combo.currentData() == "Account__c"
    assert editor.target_combo.currentText().startswith("Account (Account__c)")
    assert editor.object_combo.currentData() == "Account"
    assert not editor.required_box.isChecked()  # the lookup's own setting
    texts = [editor.object_combo.itemText(i) for i in range(editor.object_combo.count())]
    assert not any("not in the catalog" in t for t in texts)

    editor.table.clearSelection()
    assert editor.form_title.text().startswith("<b>New lookup</b>")
    assert editor.target_combo.currentData() == "" and editor.required_box.isChecked()


def test_a_constant_lookup_is_shown_and_kept_when_edited(open_template, qtbot):
    """products-prices names the standard price book by Pricebook2.IsStandard = true."""
    document = open_template("products-prices")
    document.set_current_flow("price-to-pricebook-entry")
    widget = LookupEditor(document)
    qtbot.addWidget(widget)
    row = next(r for r in range(widget.table.rowCount())
               if widget.table.item(r, 0).text() == "Pricebook2Id")
    assert [widget.table.item(row, c).text() for c in range(4)] == [
        "Pricebook2Id", "Pricebook2", "IsStandard", "true (constant)"]
    widget.table.selectRow(row)
    assert widget.draft().value is True
    widget.required_box.setChecked(False)
    assert widget.replace_lookup(row, widget.draft()), widget.error.text()
    changed = document.flow("price-to-pricebook-entry").lookups[row]
    assert (changed.value, changed.source, changed.required) == (True, "", False)


COMPUTED = Lookup("Account__c", "Account", "StripeCustomerID__c", "", expr="$trim(customer)")


def test_a_computed_lookup_is_shown_in_words_and_kept_when_edited(editor, doc):
    assert editor.replace_lookup(0, COMPUTED), editor.error.text()
    assert [editor.table.item(0, c).text() for c in range(4)] == [
        "Account__c", "Account", "StripeCustomerID__c", "computed: $trim(customer)"]
    editor.table.selectRow(0)
    assert "matches on computed: $trim(customer)" in editor.form_title.text()
    assert editor.draft() == COMPUTED  # no widget edits the expression; the form keeps it
    editor.required_box.setChecked(False)
    assert editor.replace_lookup(0, editor.draft()), editor.error.text()
    changed = doc.flow(FLOW).lookups[0]
    assert (changed.expr, changed.source, changed.required) == ("$trim(customer)", "", False)
    # Picking a source field replaces the expression.
    editor.source_picker.set_path("customer")
    assert editor.replace_lookup(0, editor.draft()), editor.error.text()
    assert doc.flow(FLOW).lookups[0].expr is None
    assert doc.flow(FLOW).lookups[0].source == "customer"
    # A new lookup does not inherit the expression of the one selected before.
    editor.table.clearSelection()
    assert editor.draft().expr is None


def test_a_computed_lookup_that_does_not_compile_is_refused(editor, doc):
    before = copy.deepcopy(doc.flow(FLOW).lookups)
    broken = Lookup("Account__c", "Account", "StripeCustomerID__c", "", expr="customer & (")
    assert not editor.replace_lookup(0, broken)
    assert "the lookup's computed match value: invalid JSONata expression" in editor.error.text()
    assert doc.flow(FLOW).lookups == before
