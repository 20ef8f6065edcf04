"""Issue 13, scenario 12 (value-map editor): opening a value map's table does not shrink
the canvas (it went from about 450 to 340 px): the step editor scrolls instead."""

from __future__ import annotations

from app import asyncloop
from app.document.document import StudioDocument
from app.services import Services
from app.views.main_window import MainWindow
from app.workspace import studio_settings
from mappings.document.model import TransformStep

FLOW = "charge-to-payment"


def test_the_value_map_editor_keeps_the_canvas_height(qtbot, tmp_path, catalogs):
    win = MainWindow(
        StudioDocument(catalogs=catalogs),
        settings=studio_settings(tmp_path / "settings.ini"),
        ask_unsaved=lambda _parent, _name: "discard",
        services=Services(config_path=tmp_path / "c.json", sandbox_dir=tmp_path / "sandbox"),
    )
    qtbot.addWidget(win)
    try:
        win.open_template("charges-payments")
        doc = win.document
        table = {"succeeded": "Completed", "failed": "Failed", "pending": "Pending"}
        doc.set_transforms(FLOW, "Status__c", [TransformStep("map", {"values": table})])
        win.show()
        win.transform_panel.show_mapping("Currency__c")
        qtbot.wait(50)
        before = win.canvas.height()
        assert before >= 400
        panel = win.transform_panel
        panel.show_mapping("Status__c")
        panel.chain_view.setCurrentIndex(panel.chain_view.model().index(0, 0))
        qtbot.wait(50)
        assert panel.value_map_editor is not None and panel.value_map_editor.isVisible()
        assert abs(win.canvas.height() - before) <= 2
    finally:
        asyncloop.set_error_sink(None)
