"""The mapping canvas follows the document: items, links, selection, Delete, rendering."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt

from app.canvas.linkitem import LinkItem
from app.canvas.scene import EXPRESSION_SOURCE, MappingScene
from app.canvas.view import MappingView
from app.document.document import StudioDocument, default_catalogs

FLOW = "charge-to-payment"


@pytest.fixture
def doc(qtbot) -> StudioDocument:
    document = StudioDocument(catalogs=default_catalogs())
    document.open_template("charges-payments")
    return document


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
    target.setPos(target.pos() + QPointF(40, 120))
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
