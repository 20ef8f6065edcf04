"""Issue 13, scenarios 1-3, driven through the views' real drop handling: money keeps its
meaning, a mapped field is replaced only when the user agrees, and a refused drop offers
the conversions that would work, where the drop happened."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from app import asyncloop
from app.canvas.scene import MappingScene
from app.canvas.view import MappingView
from app.document.prompts import conversion_text
from app.services import Services
from app.views.main_window import MainWindow, validation_issues
from app.workspace import studio_settings
from mappings.document.model import TransformStep
from tests.app.test_drag_and_drop import _drag_from, _drop_on, _send_drag

FLOW = "charge-to-payment"
MINOR = TransformStep("minor_to_decimal", {"currency_path": "currency"})

pytestmark = pytest.mark.filterwarnings(
    "ignore:Function.*is marked as deprecated:DeprecationWarning"
)


@pytest.fixture
def panels(doc, qtbot):
    from app.views.schema_panel import SchemaPanel

    source, target = SchemaPanel(doc, "source"), SchemaPanel(doc, "target")
    qtbot.addWidget(source)
    qtbot.addWidget(target)
    return source, target


@pytest.fixture
def view(doc, qtbot):
    view = MappingView(MappingScene(doc))
    qtbot.addWidget(view)
    view.resize(900, 1600)
    view.show()
    view.reset_zoom()
    return view


def _drop_on_canvas(view, source_panel, path: str, target: str) -> tuple[bool, bool]:
    item = view.mapping_scene().target_items[target]
    view.ensureVisible(item)
    return _send_drag(view, _drag_from(source_panel, path), item)


# -- scenario 1: money 100x too large, silently ---------------------------------------------


def test_dragging_amount_onto_a_currency_field_converts_cents(doc, panels, view):
    source, _ = panels
    moved, dropped = _drop_on_canvas(view, source, "amount", "Net__c")
    assert moved and dropped
    assert doc.mapping(FLOW, "Net__c").transforms == [MINOR]
    assert not [i for i in validation_issues(doc, FLOW) if i.code == "AMOUNT_IN_MINOR_UNITS"]


def test_dropping_in_the_tree_converts_cents_too(doc, panels):
    source, target = panels
    assert _drop_on(target, _drag_from(source, "amount_refunded"), "Fee__c")
    assert doc.mapping(FLOW, "Fee__c").transforms == [MINOR]


def test_ctrl_m_on_the_canvas_converts_cents(doc, panels, view):
    scene = view.mapping_scene()
    doc.unmap_field(FLOW, "Amount__c")
    scene.set_show_all_sources(True)
    scene.clearSelection()
    scene.source_items["amount"].setSelected(True)
    scene.target_items["Net__c"].setSelected(True)
    view.setFocus()
    press = QKeyEvent(QKeyEvent.Type.KeyPress, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    QApplication.sendEvent(view, press)
    # Let go of Ctrl too, or Qt believes it is still held in the tests that follow.
    release = QKeyEvent(QKeyEvent.Type.KeyRelease, Qt.Key.Key_M, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view, release)
    assert doc.mapping(FLOW, "Net__c").transforms == [MINOR]


def test_an_unconverted_amount_is_an_error_the_studio_shows(doc):
    doc.map_field(FLOW, "amount", "Net__c")  # e.g. typed into the YAML by hand
    issues = [i for i in validation_issues(doc, FLOW) if i.code == "AMOUNT_IN_MINOR_UNITS"]
    assert issues and issues[0].field == "Net__c" and issues[0].severity == "error"


# -- scenario 2: replacing a mapping asks first ----------------------------------------------


def test_mapping_onto_a_mapped_field_asks_naming_both_sources(doc, panels, view, prompts):
    source, _ = panels
    prompts.replace = False
    before = doc.mapping(FLOW, "Card_Last4__c").sources
    _drop_on_canvas(view, source, "created", "Card_Last4__c")
    (question, where), = prompts.questions
    assert question.target == "Card Last 4"  # the label, not Card_Last4__c
    assert question.old_sources == "payment_method_details.card.last4"
    assert question.new_sources == "created"
    assert "Replace it with created?" in question.text
    assert isinstance(where, QPoint)  # asked at the drop point
    assert doc.mapping(FLOW, "Card_Last4__c").sources == before  # kept

    prompts.replace = True
    _drop_on_canvas(view, source, "created", "Card_Last4__c")
    assert doc.mapping(FLOW, "Card_Last4__c").sources == ["created"]
    doc.undo_stack.undo()  # one step back to the old mapping
    assert doc.mapping(FLOW, "Card_Last4__c").sources == before


def test_the_status_message_is_fresh_after_each_gesture(doc, qtbot, tmp_path, prompts):
    window = MainWindow(
        doc,
        settings=studio_settings(tmp_path / "settings.ini"),
        ask_unsaved=lambda _parent, _name: "discard",
        services=Services(config_path=tmp_path / "c.json", sandbox_dir=tmp_path / "sandbox"),
    )
    qtbot.addWidget(window)
    try:
        doc.editRefused.emit("description is string but Fee is currency")
        assert window.statusBar().currentMessage().startswith("✗")
        window.canvas.mapping_scene().drop_field(
            {"system": "stripe", "object": "charge", "paths": ["created"]}, "Card_Last4__c"
        )
        message = window.statusBar().currentMessage()
        assert message.startswith("✓ Replaced") and "Card Last 4" in message
    finally:
        asyncloop.set_error_sink(None)


# -- scenario 3: a refused drop offers the conversions ---------------------------------------


def test_a_refused_drop_offers_conversions_at_the_drop_point(doc, panels, view, prompts):
    source, _ = panels
    prompts.conversion = None
    _drop_on_canvas(view, source, "description", "Fee__c")
    (reason, options, where), = prompts.menus
    assert "description is string" in reason
    assert [conversion_text(o) for o in options] == ["Map with conversion: text → number"]
    item = view.mapping_scene().target_items["Fee__c"]
    drop_point = view.viewport().mapToGlobal(view.mapFromScene(item.sceneBoundingRect().center()))
    assert (where - drop_point).manhattanLength() <= 2
    assert doc.mapping(FLOW, "Fee__c") is None

    prompts.conversion = 0  # one click on the offered conversion
    _drop_on_canvas(view, source, "description", "Fee__c")
    assert doc.mapping(FLOW, "Fee__c").transforms == [TransformStep("to_number")]
