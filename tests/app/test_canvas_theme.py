"""The canvas paints with the theme's colours and follows a switch (View ▸ Dark Theme)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsSimpleTextItem

from app import theme
from app.canvas.scene import MappingScene
from app.canvas.view import MappingView
from app.document.document import StudioDocument, default_catalogs


@pytest.fixture
def light_after(qapp):
    """Each test may switch themes; the next test starts from light again."""
    yield qapp
    theme.apply_theme(qapp, "light")


@pytest.fixture
def scene(qtbot, light_after) -> MappingScene:
    document = StudioDocument(catalogs=default_catalogs())
    document.open_template("charges-payments")
    view = MappingView(MappingScene(document))
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    return view.mapping_scene()


def _render(scene: MappingScene, rect: QRectF) -> QImage:
    image = QImage(int(rect.width()), int(rect.height()), QImage.Format.Format_ARGB32)
    image.fill(QColor("magenta"))  # anything the scene leaves unpainted shows up
    painter = QPainter(image)
    scene.render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
    painter.end()
    return image


def _field_fill_at(scene: MappingScene, path: str, side: str = "target") -> QColor:
    items = scene.target_items if side == "target" else scene.source_items
    item = items[path]
    # the middle of the box, right of the kind badge and clear of the label text
    point = item.mapToScene(QPointF(item.boundingRect().width() - 6, 4))
    image = _render(scene, QRectF(point.x() - 1, point.y() - 1, 3, 3))
    return image.pixelColor(1, 1)


def _close(a: QColor, b: QColor, slack: int = 12) -> bool:
    return all(abs(x - y) <= slack for x, y in zip(a.getRgb()[:3], b.getRgb()[:3], strict=True))


@pytest.mark.parametrize("name", theme.THEMES)
def test_every_theme_defines_the_canvas_roles(name):
    colours = theme.colours(name)
    for role in ("canvas", "field_fill", "field_mapped", "field_border", "field_text",
                 "canvas_accent", "link", "link_transformed", "lookup", "drop_ok", "drop_bad",
                 "pill_fill", "pill_hover", "ok_text", "bad_text"):
        assert QColor(getattr(colours, role)).isValid(), (name, role)
    # text must stand out from the fields it sits on
    text, fill = QColor(colours.field_text), QColor(colours.field_fill)
    assert abs(text.lightness() - fill.lightness()) > 120


def test_unknown_theme_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown theme 'sepia'"):
        theme.qcolor("canvas", "sepia")


def test_scene_follows_a_theme_switch(scene, light_after, tmp_path):
    light, dark = theme.colours("light"), theme.colours("dark")
    assert scene.backgroundBrush().color() == QColor(light.canvas)
    assert _close(_field_fill_at(scene, "Fee__c"), QColor(light.field_fill))
    assert _close(_field_fill_at(scene, "Amount__c"), QColor(light.field_mapped))

    theme.apply_theme(light_after, "dark")
    assert scene.backgroundBrush().color() == QColor(dark.canvas)
    headers = [i for i in scene.items() if isinstance(i, QGraphicsSimpleTextItem)]
    assert headers and all(h.brush().color() == QColor(dark.field_text) for h in headers)
    assert _close(_field_fill_at(scene, "Fee__c"), QColor(dark.field_fill))
    assert _close(_field_fill_at(scene, "Amount__c"), QColor(dark.field_mapped))
    # the whole canvas, for a person to look at
    view = scene.views()[0]
    assert view.grab().save(str(tmp_path / "canvas-dark.png"))

    theme.apply_theme(light_after, "light")
    assert scene.backgroundBrush().color() == QColor(light.canvas)
    assert _close(_field_fill_at(scene, "Fee__c"), QColor(light.field_fill))


def test_new_scenes_start_in_the_current_theme(qtbot, light_after):
    theme.apply_theme(light_after, "dark")
    document = StudioDocument(catalogs=default_catalogs())
    document.open_template("charges-payments")
    scene = MappingScene(document)
    assert scene.backgroundBrush().color() == QColor(theme.colours("dark").canvas)
