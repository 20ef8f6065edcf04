"""Issue 13, scenario 4: the studio speaks the user's language, not API names.

Salesforce labels are the main text in the trees, the canvas and the preview headers, with
the API names as secondary text behind View ▸ Show API names; transforms and their
parameters are named in words; the gallery has titles, full descriptions and pictures.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt

from app import asyncloop
from app.canvas.fielditem import FieldItem
from app.document.document import StudioDocument
from app.models.naming import field_naming, field_title
from app.models.preview_model import FIRST_FIELD_COLUMN
from app.models.transform_models import TransformChainModel, describe_step
from app.services import Services
from app.views.main_window import MainWindow
from app.views.templates_gallery import TemplatesGallery
from app.workspace import TUTORIAL_TEMPLATE, list_templates, studio_settings
from mappings.document.model import TransformStep
from mappings.schema.model import System
from mappings.transforms import all_transforms

FLOW = "charge-to-payment"


@pytest.fixture(autouse=True)
def labels_first() -> Iterator[None]:
    """The naming switch is process-wide: every test starts and ends with labels only."""
    field_naming().set_show_api_names(False)
    yield
    field_naming().set_show_api_names(False)


@pytest.fixture
def window(qtbot, tmp_path, catalogs) -> Iterator[MainWindow]:
    services = Services(config_path=tmp_path / "c.json", sandbox_dir=tmp_path / "sandbox")
    win = MainWindow(
        StudioDocument(catalogs=catalogs),
        settings=studio_settings(tmp_path / "settings.ini"),
        ask_unsaved=lambda _parent, _name: "discard",
        services=services,
    )
    qtbot.addWidget(win)
    win.open_template("charges-payments")
    yield win
    asyncloop.set_error_sink(None)


def _tree_texts(window: MainWindow) -> list[str]:
    model = window.target_panel.model
    return [model.data(model.index(r, 0)) for r in range(model.rowCount())]


def _headers(window: MainWindow) -> list[str]:
    model = window.preview_panel.model
    return [
        model.headerData(c, Qt.Orientation.Horizontal)
        for c in range(FIRST_FIELD_COLUMN, model.columnCount())
    ]


def _canvas_texts(window: MainWindow) -> dict[str, str]:
    """What each canvas field item paints as its name (the same call the paint makes)."""
    items = [i for i in window.canvas.scene().items() if isinstance(i, FieldItem)]
    return {
        i.path: field_title(i.field, i.path) if i.path and i.field else i.label for i in items
    }


def test_labels_are_the_main_text_and_api_names_are_a_toggle(qtbot, window):
    window.fill_preview_from_fixtures()
    texts = _tree_texts(window)
    assert "Amount Refunded" in texts and "Amount_Refunded__c" not in texts
    assert "Stripe Balance Transaction ID" in texts
    headers = _headers(window)
    assert "Amount Refunded" in headers and "Amount_Refunded__c" not in headers
    assert _canvas_texts(window)["Amount_Refunded__c"] == "Amount Refunded"
    # Stripe paths stay as Stripe names them, with Stripe's documentation as the tooltip.
    source = window.source_panel.model
    amount = source.index_of("amount")
    assert source.data(amount) == "amount"
    assert "smallest currency unit" in source.data(amount, Qt.ItemDataRole.ToolTipRole)

    toggle = window.actions_by_name["show_api_names"]
    assert toggle.isCheckable() and not toggle.isChecked()
    assert toggle in window.menuBar().actions()[4].menu().actions()  # View
    with qtbot.waitSignal(window.preview_panel.model.headerDataChanged):
        toggle.setChecked(True)
    assert "Amount Refunded (Amount_Refunded__c)" in _tree_texts(window)
    assert "Amount Refunded (Amount_Refunded__c)" in _headers(window)
    assert window.settings.value("view/show_api_names") == "true"
    toggle.setChecked(False)
    assert "Amount Refunded" in _tree_texts(window)


def test_the_preview_header_tooltip_gives_the_api_name(window):
    window.fill_preview_from_fixtures()
    model = window.preview_panel.model
    column = model.column_of("Amount_Refunded__c")
    tip = model.headerData(column, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("Amount Refunded — Amount_Refunded__c")


def test_transform_steps_and_parameters_are_named_in_words(window, catalogs):
    charge = catalogs[System.STRIPE].get("charge")
    step = TransformStep("minor_to_decimal", {"currency_path": "currency"})
    assert describe_step(step, charge) == "Convert cents to amount — currency from: Currency"
    chain = TransformChainModel()
    chain.source_schema = charge
    chain.set_steps([step])
    assert chain.data(chain.index(0, 0)) == "1. Convert cents to amount — currency from: Currency"
    assert "minor_to_decimal" in chain.data(chain.index(0, 0), Qt.ItemDataRole.ToolTipRole)

    # The form labels the parameters in words, not currency_path / strict / expr.
    panel = window.transform_panel
    panel.show_mapping("Amount__c")
    panel.select_row(0)
    labels = [
        panel.form.itemAt(r, panel.form.ItemRole.LabelRole).widget().text()
        for r in range(panel.form.rowCount())
    ]
    assert "Currency from" in labels and "currency_path" not in labels
    # Every parameter of every transform has words a person reads.
    for spec in all_transforms():
        for param in spec.params:
            assert param.title and "_" not in param.title, (spec.name, param.name)


def test_gallery_titles_full_descriptions_pictures_and_the_tutorial_first(qtbot, window):
    gallery = TemplatesGallery(window)
    qtbot.addWidget(gallery)
    templates = {t.name: t for t in list_templates()}
    # the README's tutorial template is preselected, not the opposite direction
    assert gallery.current_name() == TUTORIAL_TEMPLATE == "charges-payments"
    info = templates["charges-payments"]
    assert info.title == "Stripe payments into Salesforce"
    assert info.picture_text == "Stripe Charge → Salesforce Payment"
    assert gallery.description.text() == info.description  # in full, never cut
    assert "…" not in gallery.description.text()
    assert not gallery.picture.pixmap().isNull()
    icons = {gallery.list.item(r).icon().cacheKey() for r in range(gallery.list.count())}
    assert len(icons) >= 2  # the two directions do not share one picture
    for name, t in templates.items():
        assert t.title != name and " " in t.title  # words, not slugs
        assert "salesforceid" not in t.description and "__c" not in t.description, name
    gallery.select("account-to-stripe-customer")
    assert gallery.direction.text() == "<b>Salesforce Account → Stripe Customer</b>"
