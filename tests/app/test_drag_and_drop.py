"""Creating mappings by drag and drop (through mime data and drop handlers) and by keyboard."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from app.canvas.scene import MappingScene
from app.canvas.view import MappingView
from app.models.schema_model import encode_fields
from app.views.schema_panel import SchemaPanel, make_map_action
from mappings.document.model import TransformStep

FLOW = "charge-to-payment"


@pytest.fixture
def panels(doc, qtbot):
    source, target = SchemaPanel(doc, "source"), SchemaPanel(doc, "target")
    qtbot.addWidget(source)
    qtbot.addWidget(target)
    return source, target


def _drag_from(panel: SchemaPanel, path: str) -> QMimeData:
    index = panel.proxy.mapFromSource(panel.model.index_of(path))
    return panel.proxy.mimeData([index])


def _drop_on(panel: SchemaPanel, mime: QMimeData, path: str) -> bool:
    index = panel.proxy.mapFromSource(panel.model.index_of(path))
    action = Qt.DropAction.LinkAction
    if not panel.proxy.canDropMimeData(mime, action, -1, -1, index):
        return False
    return panel.proxy.dropMimeData(mime, action, -1, -1, index)


def test_drag_from_stripe_tree_drop_on_salesforce_tree(doc, panels):
    source, target = panels
    mime = _drag_from(source, "amount_captured")
    assert _drop_on(target, mime, "Fee__c")
    mapping = doc.mapping(FLOW, "Fee__c")
    assert mapping.sources == ["amount_captured"]
    # undo / redo of the drop, asserted on the core model
    doc.undo_stack.undo()
    assert doc.mapping(FLOW, "Fee__c") is None
    doc.undo_stack.redo()
    assert doc.mapping(FLOW, "Fee__c").sources == ["amount_captured"]
    # the trees follow: both ends are now shown bold
    assert target.model.data(target.model.index_of("Fee__c"), Qt.ItemDataRole.FontRole).bold()
    assert source.model.data(
        source.model.index_of("amount_captured"), Qt.ItemDataRole.FontRole
    ).bold()


def test_dropping_on_a_mapped_field_replaces_its_sources(doc, panels, prompts):
    source, target = panels
    before = list(doc.mapping(FLOW, "Amount__c").transforms)
    assert _drop_on(target, _drag_from(source, "amount_captured"), "Amount__c")
    assert doc.mapping(FLOW, "Amount__c").sources == ["amount_captured"]
    assert doc.mapping(FLOW, "Amount__c").transforms == before
    doc.undo_stack.undo()
    assert doc.mapping(FLOW, "Amount__c").sources == ["amount"]


def test_a_conversion_is_added_when_the_types_need_one(doc, panels):
    source, target = panels
    doc.unmap_field(FLOW, "Paid_At__c")
    assert _drop_on(target, _drag_from(source, "created"), "Paid_At__c")
    assert doc.mapping(FLOW, "Paid_At__c").transforms == [TransformStep("unix_to_datetime")]


def test_an_impossible_drop_is_refused_with_the_reason(doc, panels, qtbot, prompts):
    source, target = panels
    prompts.conversion = None  # the user picks none of the offered conversions
    count = doc.undo_stack.count()
    with qtbot.waitSignal(doc.editRefused) as sig:
        assert not _drop_on(target, _drag_from(source, "description"), "Fee__c")
    assert "description is string" in sig.args[0]
    assert doc.undo_stack.count() == count


def test_a_field_of_another_object_is_refused(doc, qtbot, panels):
    _, target = panels
    mime = encode_fields("stripe", "customer", ["email"])
    with qtbot.waitSignal(doc.editRefused) as sig:
        dropped = target.model.dropMimeData(
            mime, Qt.DropAction.LinkAction, -1, -1, target.model.index_of("Fee__c")
        )
    assert not dropped
    assert "not this flow's source" in sig.args[0]
    assert doc.mapping(FLOW, "Fee__c") is None


def _send_drag(view: MappingView, mime: QMimeData, item) -> tuple[bool, bool]:
    """Drive a real drag over the view: enter, move onto ``item``, drop. Returns whether
    the move and the drop were accepted."""
    pos = view.mapFromScene(item.sceneBoundingRect().center())
    actions = Qt.DropAction.LinkAction | Qt.DropAction.CopyAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(pos, actions, mime, buttons, mods)
    QApplication.sendEvent(view.viewport(), enter)
    move = QDragMoveEvent(pos, actions, mime, buttons, mods)
    QApplication.sendEvent(view.viewport(), move)
    drop = QDropEvent(QPointF(pos), actions, mime, buttons, mods)
    QApplication.sendEvent(view.viewport(), drop)
    return move.isAccepted(), drop.isAccepted()


@pytest.mark.filterwarnings("ignore:Function.*is marked as deprecated:DeprecationWarning")
def test_drop_on_a_canvas_field_item(doc, panels, qtbot):
    source, _ = panels
    view = MappingView(MappingScene(doc))
    qtbot.addWidget(view)
    view.resize(900, 1400)
    view.show()
    scene = view.mapping_scene()
    view.reset_zoom()
    item = scene.target_items["Fee__c"]
    view.ensureVisible(item)
    moved, dropped = _send_drag(view, _drag_from(source, "amount_captured"), item)
    assert moved and dropped
    assert doc.mapping(FLOW, "Fee__c").sources == ["amount_captured"]
    assert ("Fee__c", "amount_captured") in scene.links
    doc.undo_stack.undo()
    assert ("Fee__c", "amount_captured") not in scene.links
    # a foreign payload is refused while hovering: the cursor shows it cannot drop
    moved, _ = _send_drag(view, encode_fields("stripe", "customer", ["email"]), item)
    assert not moved
    assert doc.mapping(FLOW, "Fee__c") is None


def test_keyboard_path_select_select_ctrl_m(doc, panels, qtbot):
    source, target = panels
    window = QWidget()
    qtbot.addWidget(window)
    action = make_map_action(doc, source, target, window)
    assert action.shortcut().toString() == "Ctrl+M"
    assert not action.isEnabled()  # nothing selected yet
    assert source.select_path("amount_captured")
    assert target.select_path("Fee__c")
    assert action.isEnabled()
    action.trigger()
    assert doc.mapping(FLOW, "Fee__c").sources == ["amount_captured"]
    doc.undo_stack.undo()
    assert doc.mapping(FLOW, "Fee__c") is None


def test_search_then_select_reveals_the_field(panels):
    source, _ = panels
    source.search.setText("zzz-nothing")
    source._apply_search()
    assert source.proxy.rowCount() == 0
    assert source.select_path("billing_details.address.city")
    assert source.selected_path() == "billing_details.address.city"
