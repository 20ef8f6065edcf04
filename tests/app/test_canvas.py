"""The mapping canvas follows the document: items, links, selection, Delete, rendering."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QKeyEvent

from app.canvas.linkitem import LinkItem
from app.canvas.scene import EXPRESSION_SOURCE, MappingScene
from app.canvas.view import MappingView
from app.document.document import StudioDocument, default_catalogs

FLOW = "charge-to-payment"


@pytest.fixture
def view(doc, qtbot) -> MappingView:
    widget = MappingView(MappingScene(doc))
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.show()
    return widget


def test_items_and_links_mirror_the_flow(doc, view):
    scene = view.mapping_scene()
    flow = doc.flow(FLOW)
    expected = {(m.target, p) for m in flow.fields for p in (m.sources or [EXPRESSION_SOURCE])}
    assert set(scene.links) == expected
    assert set(scene.lookup_links) == {"Account__c"}
    # mapped targets come first, in the flow's order
    assert list(scene.target_items)[: len(flow.fields)] == [m.target for m in flow.fields]
    # read-only system fields are not drop targets
    assert "CreatedDate" not in scene.target_items
    assert "Fee__c" in scene.target_items
    # every link joins the two items of its dictionary key
    for (target, source), link in scene.links.items():
        assert link.target_item is scene.target_items[target]
        assert link.source_item is scene.source_items[source]


def test_scene_follows_edits_undo_and_redo(doc, view):
    scene = view.mapping_scene()
    doc.map_field(FLOW, "amount_captured", "Fee__c")
    assert ("Fee__c", "amount_captured") in scene.links
    assert scene.target_items["Fee__c"].mapped
    doc.undo_stack.undo()
    assert ("Fee__c", "amount_captured") not in scene.links
    assert "amount_captured" not in scene.source_items
    assert not scene.target_items["Fee__c"].mapped
    doc.undo_stack.redo()
    assert ("Fee__c", "amount_captured") in scene.links


def test_links_follow_their_anchors(view):
    scene = view.mapping_scene()
    link = scene.links[("Amount__c", "amount")]
    target = scene.target_items["Amount__c"]
    target.move_to(target.pos() + QPointF(40, 120))  # items move only through move_to
    end = link.path().pointAtPercent(1.0)
    assert (end - target.anchor()).manhattanLength() < 0.01
    start = link.path().pointAtPercent(0.0)
    assert (start - scene.source_items["amount"].anchor()).manhattanLength() < 0.01


def test_selecting_a_link_selects_its_mapping(view, qtbot):
    scene = view.mapping_scene()
    with qtbot.waitSignal(scene.mappingSelected) as sig:
        scene.links[("Currency__c", "currency")].setSelected(True)
    assert sig.args == ["Currency__c"]
    with qtbot.waitSignal(scene.mappingSelected) as sig:
        scene.clearSelection()
    assert sig.args == [""]


def test_delete_key_unmaps_the_selection_as_one_step(doc, view, qtbot):
    scene = view.mapping_scene()
    scene.links[("Currency__c", "currency")].setSelected(True)
    scene.target_items["Card_Brand__c"].setSelected(True)
    count = doc.undo_stack.count()
    view.setFocus()
    qtbot.keyClick(view.viewport(), Qt.Key.Key_Delete)
    assert doc.mapping(FLOW, "Currency__c") is None
    assert doc.mapping(FLOW, "Card_Brand__c") is None
    assert doc.undo_stack.count() == count + 1
    doc.undo_stack.undo()
    assert doc.mapping(FLOW, "Currency__c") is not None
    assert doc.mapping(FLOW, "Card_Brand__c") is not None


def test_deleting_a_lookup_link(doc, view):
    scene = view.mapping_scene()
    scene.lookup_links["Account__c"].setSelected(True)
    assert scene.delete_selected() == 1
    assert doc.flow(FLOW).lookups == []
    assert "Account__c" not in scene.lookup_links


def test_select_mapping_from_outside(view):
    scene = view.mapping_scene()
    scene.select_mapping("Name")
    selected = [i for i in scene.selectedItems() if isinstance(i, LinkItem)]
    assert {link.source for link in selected} == {"description", "id"}
    assert scene.selected_mapping == "Name"


def test_removing_the_flow_empties_the_canvas(doc, view):
    scene = view.mapping_scene()
    doc.remove_flow(FLOW)
    assert scene.links == {} and scene.target_items == {}
    doc.undo_stack.undo()
    assert scene.links


def test_show_all_sources(view, doc):
    scene = view.mapping_scene()
    scene.set_show_all_sources(True)
    assert "billing_details.address.city" in scene.source_items
    assert len(scene.source_items) > 200


def test_canvas_renders(view, tmp_path):
    image = view.grab().toImage()
    assert image.width() == 900
    # something other than the background was drawn: links, boxes, text
    colours = {image.pixel(x, y) for x in range(0, 900, 7) for y in range(0, 700, 7)}
    assert len(colours) > 10


# --------------------------------------------------------------------------- metadata keys

STRIPE_FLOW = "account-to-customer"


@pytest.fixture
def stripe_view(qtbot) -> MappingView:
    document = StudioDocument(catalogs=default_catalogs())
    document.open_template("account-to-stripe-customer")
    widget = MappingView(MappingScene(document))
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.show()
    return widget


def test_new_metadata_key_then_drop_maps_onto_it(stripe_view):
    from app.models.schema_model import decode_fields, encode_fields

    scene = stripe_view.mapping_scene()
    doc = scene.document
    assert set(scene.key_buttons) == {"metadata"}
    scene.ask_key = lambda owner: "sf_owner"
    assert scene.key_buttons["metadata"].on_click() == "metadata.sf_owner"
    item = scene.target_items["metadata.sf_owner"]
    assert item.isSelected() and item.field.kind.value == "string"
    assert doc.mapping(STRIPE_FLOW, "metadata.sf_owner") is None  # shown, not yet in the model
    payload = decode_fields(encode_fields("salesforce", "Account", ["OwnerId"]))
    assert scene.drop_field(payload, "metadata.sf_owner")
    assert doc.mapping(STRIPE_FLOW, "metadata.sf_owner").sources == ["OwnerId"]
    assert ("metadata.sf_owner", "OwnerId") in scene.links
    doc.undo_stack.undo()
    assert doc.mapping(STRIPE_FLOW, "metadata.sf_owner") is None
    assert "metadata.sf_owner" in scene.target_items  # the key stays offered
    doc.undo_stack.redo()
    assert ("metadata.sf_owner", "OwnerId") in scene.links


def test_keyboard_map_onto_a_new_key(stripe_view):
    scene = stripe_view.mapping_scene()
    doc = scene.document
    scene.set_show_all_sources(True)
    scene.add_free_key_target("region")
    scene.source_items["BillingCountry"].setSelected(True)
    assert scene.selected_sources() == ["BillingCountry"]
    assert scene.selected_target() == "metadata.region"
    # Synthetic events, not qtbot.keyClick: QTest would leave Ctrl in the application's
    # modifier state and later item views would toggle their selections.
    ctrl_m = (Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier, "m")
    override = QKeyEvent(QEvent.Type.ShortcutOverride, *ctrl_m)
    assert stripe_view.event(override) and override.isAccepted()  # the canvas takes Ctrl+M
    stripe_view.keyPressEvent(QKeyEvent(QEvent.Type.KeyPress, *ctrl_m))
    assert doc.mapping(STRIPE_FLOW, "metadata.region").sources == ["BillingCountry"]
    scene.clearSelection()  # nothing selected: the window's Map action keeps the shortcut
    override = QKeyEvent(QEvent.Type.ShortcutOverride, *ctrl_m)
    override.ignore()
    stripe_view.event(override)
    assert not override.isAccepted()


@pytest.mark.parametrize(
    ("key", "words"),
    [("", "1 to 40 characters"), ("a.b", "without dots"), ("x[0]", "square brackets"),
     ("k" * 41, "1 to 40")],
)
def test_bad_metadata_keys_are_refused(stripe_view, key, words):
    from mappings.errors import EditError

    scene = stripe_view.mapping_scene()
    before = list(scene.target_items)
    with pytest.raises(EditError, match=words.replace("[", r"\[")):
        scene.add_free_key_target(key)
    assert list(scene.target_items) == before


def test_a_refused_key_from_the_dialog_is_reported(stripe_view, qtbot):
    scene = stripe_view.mapping_scene()
    scene.ask_key = lambda owner: "bad.key"
    with qtbot.waitSignal(scene.document.editRefused) as sig:
        assert scene.request_free_key() is None
    assert "bad.key" in sig.args[0]


def test_salesforce_targets_have_no_metadata_button(view):
    from mappings.errors import EditError

    scene = view.mapping_scene()
    assert scene.key_buttons == {} and scene.free_key_owners() == []
    with pytest.raises(EditError, match="new keys are for Stripe metadata"):
        scene.add_free_key_target("x")


def test_stripe_canvas_renders_with_the_button(stripe_view, tmp_path):
    scene = stripe_view.mapping_scene()
    scene.add_free_key_target("sf_owner")
    path = tmp_path / "stripe-canvas.png"
    assert stripe_view.grab().save(str(path))
    button = scene.key_buttons["metadata"]
    header = scene._headers[1]
    # the button sits beside the target header, not over it
    assert button.sceneBoundingRect().left() > header.sceneBoundingRect().right()


def test_opening_a_template_lays_the_canvas_out_once(catalogs, qtbot, monkeypatch):
    """Opening sends flowsChanged then currentFlowChanged; the first rebuild already shows
    the new current flow, so the second signal does not rebuild again (issue 12). Picking
    another flow still does."""
    rebuilds: list[str | None] = []
    rebuild = MappingScene._rebuild

    def counting(scene: MappingScene, *args: object) -> None:
        rebuild(scene, *args)
        rebuilds.append(scene._flow_name)

    monkeypatch.setattr(MappingScene, "_rebuild", counting)
    document = StudioDocument(catalogs=catalogs)
    scene = MappingScene(document)
    rebuilds.clear()
    document.open_template("customer-account")
    assert rebuilds == [document.current_flow] and scene.flow is not None
    assert set(scene.target_items) >= {m.target for m in scene.flow.fields}
    other = [f.name for _, f in document.flows() if f.name != document.current_flow][0]
    rebuilds.clear()
    document.set_current_flow(other)
    assert rebuilds == [other]
