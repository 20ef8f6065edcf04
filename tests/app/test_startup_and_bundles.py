"""Issue 13, scenarios 12, 13 and "Open Bundle…": start-up as the README shows it, the
Auto-map dialog on a template, layout that does not cut words, and bundles opened as
workspaces (export → open → export gives an identical semantic diff)."""

from __future__ import annotations

import copy
import zipfile
from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication

from app import asyncloop, theme
from app import main as studio_main
from app.document.document import StudioDocument
from app.models.naming import field_naming
from app.services import Services
from app.services.bundles import free_folder_for, open_bundle
from app.views.automap_dialog import AutoMapDialog, target_of
from app.views.main_window import MainWindow
from app.workspace import studio_settings
from mappings.bundle import build_bundle, load_bundle
from mappings.document.diff import diff_document_sets
from mappings.errors import BundleError


@pytest.fixture
def window(qtbot, tmp_path, catalogs) -> Iterator[MainWindow]:
    field_naming().set_show_api_names(False)
    services = Services(config_path=tmp_path / "c.json", sandbox_dir=tmp_path / "sandbox")
    win = MainWindow(
        StudioDocument(catalogs=catalogs),
        settings=studio_settings(tmp_path / "settings.ini"),
        ask_unsaved=lambda _parent, _name: "discard",
        services=services,
    )
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.open_template("charges-payments")
    yield win
    asyncloop.set_error_sink(None)


# --------------------------------------------------------------------------- scenario 13


def test_scenario_13_a_launch_opens_on_a_filled_preview(qtbot, tmp_path, monkeypatch, qapp):
    """Was: a real launch opened on an empty Transform tab (the README shows a preview)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    made: list[MainWindow] = []

    class Recording(MainWindow):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(studio_main, "MainWindow", Recording)
    monkeypatch.setattr(QApplication, "exec", lambda _self: 0)  # no event loop to sit in
    try:
        code = studio_main.main(
            ["--template", "charges-payments", "--settings", str(tmp_path / "s.ini")]
        )
        assert code == 0
        win = made[0]
        assert win.bottom_tabs.currentWidget() is win.preview_panel
        assert win.preview_panel.model.rowCount() == 3  # the flow's fixtures
        assert studio_main.build_parser().parse_args([]).tab == "preview"
    finally:
        for win in made:
            win.document.undo_stack.setClean()
            win.close()
        theme.apply_theme(qapp, "light")
        qapp.setStyleSheet("")
        asyncloop.set_error_sink(None)


def test_scenario_13_automap_on_a_template_hides_what_is_mapped(qtbot, window):
    """Was: 17 greyed "(already mapped)" rows. Now they sit behind a toggle."""
    dialog = AutoMapDialog(window.document, parent=window)
    qtbot.addWidget(dialog)
    taken = set(window.document.flow("charge-to-payment").target_fields())
    model = dialog.model
    assert all(target_of(s) not in taken for s in model.suggestions)
    texts = [model.data(model.index(r, 1)) for r in range(model.rowCount())]
    assert not any("already mapped" in t for t in texts)
    assert not dialog.show_mapped_box.isHidden()
    dialog.show_mapped_box.setChecked(True)
    assert any(target_of(s) in taken for s in dialog.model.suggestions)
    dialog.show_mapped_box.setChecked(False)
    assert all(target_of(s) not in taken for s in dialog.model.suggestions)


# --------------------------------------------------------------------------- scenario 12


def test_scenario_12_type_column_object_picker_and_automap_columns_fit(qtbot, window):
    window.show()
    qtbot.waitExposed(window)
    for panel in (window.source_panel, window.target_panel):
        tree = panel.tree
        metrics = tree.fontMetrics()
        model = tree.model()
        width = tree.header().sectionSize(1)
        for row in range(model.rowCount()):
            text = model.data(model.index(row, 1)) or ""
            # the cell's text plus its margins fits: no "string · requi…"
            assert metrics.horizontalAdvance(text) <= width, (panel.side, text, width)
        combo = panel.object_combo
        assert combo.width() >= combo.fontMetrics().horizontalAdvance(combo.currentText()) + 16
    window.document.set_current_flow(window.document.flows()[0][1].name)
    window.open_template("subscriptions")
    QApplication.processEvents()
    combo = window.source_panel.object_combo
    assert combo.currentText() == "subscription"
    assert combo.width() >= combo.fontMetrics().horizontalAdvance("subscription") + 16

    window.open_template("charges-payments")
    dialog = AutoMapDialog(window.document, parent=window)
    qtbot.addWidget(dialog)
    dialog.show_mapped_box.setChecked(True)  # the longest rows too
    dialog.show()
    qtbot.waitExposed(dialog)
    header = dialog.table.horizontalHeader()
    last = header.count() - 1
    right_edge = header.sectionViewportPosition(last) + header.sectionSize(last)
    assert right_edge <= dialog.table.viewport().width()  # the last column is not clipped
    assert header.sectionSize(last) >= 120


# --------------------------------------------------------------------------- Open Bundle…


def test_open_bundle_then_export_gives_an_identical_semantic_diff(window, tmp_path):
    first = build_bundle(copy.deepcopy(window.document.documents), tmp_path / "payments.fbz")
    assert free_folder_for(first) == tmp_path / "payments"
    assert window.open_bundle(first)
    assert window.document.workspace == tmp_path / "payments"
    assert not window.document.is_dirty
    assert window.document.find_flow("charge-to-payment") is not None
    assert "verified" in window.statusBar().currentMessage()
    again = build_bundle(copy.deepcopy(window.document.documents), tmp_path / "again.fbz")
    assert diff_document_sets(load_bundle(first).documents, load_bundle(again).documents) == []
    # a second open does not write over the first folder
    assert open_bundle(first).folder == tmp_path / "payments-2"


def test_a_tampered_bundle_is_refused_before_anything_is_written(window, tmp_path):
    good = build_bundle(copy.deepcopy(window.document.documents), tmp_path / "good.fbz")
    bad = tmp_path / "bad.fbz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("mappings/"):
                data = data.replace(b"charge-to-payment", b"charge-to-paymenX")
            dst.writestr(info, data)
    with pytest.raises(BundleError, match="SHA-256"):
        open_bundle(bad)
    assert not (tmp_path / "bad").exists()
    assert not window.open_bundle(bad)
    entry = window.errors.model.entries[-1]
    assert entry.summary.startswith("Cannot open the bundle: bad.fbz")
    assert window.document.workspace is None  # the template stays open


def test_file_menu_has_open_bundle(window):
    file_menu = window.menuBar().actions()[0].menu()
    assert window.actions_by_name["open_bundle"] in file_menu.actions()
    assert window.actions_by_name["open_bundle"].text() == "Open &Bundle…"
