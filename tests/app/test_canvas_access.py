"""Issue 13, scenarios 6, 7 and 14: a keyboard-usable canvas, badges on their own links, new
links shown, shortcuts in tooltips, and empty states that do not shout."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QGraphicsItem

from app import asyncloop
from app.canvas.fielditem import FieldItem
from app.canvas.linkitem import LinkItem
from app.canvas.scene import MappingScene
from app.canvas.view import MappingView
from app.document.document import StudioDocument
from app.services import Services
from app.views.main_window import MainWindow
from app.workspace import studio_settings
from mappings.document.model import Action, Flow, ObjectRef, Operation, Trigger
from mappings.schema.model import System

FLOW = "charge-to-payment"


@pytest.fixture
def view(doc, qtbot):
    view = MappingView(MappingScene(doc))
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    view.setFocus()
    return view


def _key(widget, key, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    QApplication.sendEvent(widget, QKeyEvent(QKeyEvent.Type.KeyPress, key, modifiers))


# -- scenario 6: the keyboard --------------------------------------------------------------


def test_fields_and_links_are_focusable(view):
    scene = view.mapping_scene()
    items = [i for i in scene.items() if isinstance(i, FieldItem | LinkItem)]
    assert items and all(i.flags() & QGraphicsItem.GraphicsItemFlag.ItemIsFocusable for i in items)


def test_tab_and_arrows_move_and_ctrl_m_maps(doc, view):
    scene = view.mapping_scene()
    doc.unmap_field(FLOW, "Amount__c")
    scene.set_show_all_sources(True)
    _key(view, Qt.Key.Key_Tab)
    first = scene.focusItem()
    assert isinstance(first, FieldItem) and first.side == "source" and first.isSelected()
    _key(view, Qt.Key.Key_Down)
    column = sorted(scene.source_items.values(), key=lambda item: item.y())
    assert scene.focusItem() is column[1]
    # walk down to ``amount``, cross to the targets, down to Net__c, map
    while scene.focusItem().path != "amount":
        _key(view, Qt.Key.Key_Down)
    _key(view, Qt.Key.Key_Right)
    assert scene.focusItem().side == "target"
    net = scene.target_items["Net__c"]
    while scene.focusItem().path != "Net__c":
        down = scene.focusItem().y() < net.y()
        _key(view, Qt.Key.Key_Down if down else Qt.Key.Key_Up)
    assert scene.selected_sources() == ["amount"] and scene.selected_target() == "Net__c"
    _key(view, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    assert doc.mapping(FLOW, "Net__c").sources == ["amount"]
    # Delete unmaps the focused mapping
    _key(view, Qt.Key.Key_Delete)
    assert doc.mapping(FLOW, "Net__c") is None


def test_enter_on_a_link_asks_to_edit_its_transforms(doc, view, qtbot):
    scene = view.mapping_scene()
    link = scene.links[("Amount__c", "amount")]
    link.setFocus()
    with qtbot.waitSignal(scene.editRequested) as signal:
        _key(view, Qt.Key.Key_Return)
    assert signal.args == ["Amount__c"]
    assert scene.selected_mapping == "Amount__c"


@pytest.fixture
def window(qtbot, tmp_path, catalogs):
    win = MainWindow(
        StudioDocument(catalogs=catalogs),
        settings=studio_settings(tmp_path / "settings.ini"),
        ask_unsaved=lambda _parent, _name: "discard",
        services=Services(config_path=tmp_path / "c.json", sandbox_dir=tmp_path / "sandbox"),
    )
    qtbot.addWidget(win)
    yield win
    asyncloop.set_error_sink(None)


def test_every_main_action_has_a_shortcut_named_in_its_tooltip(window):
    for name in ("preview", "test_run", "export", "automap", "map", "save"):
        action = window.actions_by_name[name]
        keys = action.shortcut().toString()
        assert keys, name
        assert keys.replace("Ctrl", "Ctrl") in action.toolTip() or keys in action.toolTip(), name


def test_enter_on_the_canvas_opens_the_transform_tab(window):
    window.open_template("charges-payments")
    window.canvas.mapping_scene().edit_requested("Amount__c")
    assert window.bottom_tabs.currentWidget() is window.transform_panel


# -- scenario 14: empty states ---------------------------------------------------------------


def test_no_flow_disables_automap_preview_and_test_run(window):
    window.document.new_workspace()
    for name in ("automap", "preview", "test_run"):
        assert not window.actions_by_name[name].isEnabled(), name
    window.open_template("charges-payments")
    for name in ("automap", "preview", "test_run"):
        assert window.actions_by_name[name].isEnabled(), name


def test_a_new_flow_shows_a_to_do_not_red_errors(window):
    window.document.new_workspace()
    window.document.add_flow(
        Flow(
            name="new-flow",
            trigger=Trigger(stripe_events=["charge.succeeded"]),
            source=ObjectRef(System.STRIPE, "charge"),
            target=ObjectRef(System.SALESFORCE, "Payment__c"),
            operation=Operation(Action.UPSERT, external_id="StripeChargeID__c"),
        )
    )
    issues = window._update_issue_count()
    assert issues  # required fields are still missing ...
    label = window.issue_label
    assert label.text().startswith("To do:")  # ... but said as a to-do list
    assert label.property("severity") == "todo"
    window.document.map_field("new-flow", "id", "StripeChargeID__c")
    window._update_issue_count()
    assert label.property("severity") == "warn"


# -- scenario 7: badges and new links ---------------------------------------------------------


def test_badges_sit_on_their_own_link_without_collisions(doc, view):
    scene = view.mapping_scene()
    links = [*scene.links.values(), *scene.lookup_links.values()]
    badges = [(link, link.badge_rect()) for link in links if link.badge_rect() is not None]
    assert any(link.kind == "lookup" for link, _ in badges)
    for link, rect in badges:
        # on its own link's path, on its own target's row
        assert link.path().intersects(rect)
        assert abs(rect.center().y() - link.target_item.anchor().y()) < 1
    for i, (_, a) in enumerate(badges):
        for _, b in badges[i + 1 :]:
            assert not a.intersects(b)


def test_a_new_link_is_placed_near_its_source_scrolled_to_and_flashed(doc, view, prompts):
    scene = view.mapping_scene()
    view.resize(900, 300)
    scene.drop_field({"system": "stripe", "object": "charge", "paths": ["amount"]}, "Net__c")
    link = scene.links[("Net__c", "amount")]
    assert link.flashing
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.intersects(link.target_item.sceneBoundingRect())
    # right after Amount__c (which reads amount too), not at the bottom across the canvas
    rows = scene.target_items
    assert rows["Net__c"].y() == rows["Amount_Refunded__c"].y() - (rows["Net__c"].y() - rows["Amount__c"].y())
    assert 0 < rows["Net__c"].y() - rows["Amount__c"].y() < 2 * rows["Amount__c"].boundingRect().height()
