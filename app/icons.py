"""Icons from ``resources/icons``: toolbar glyphs tinted for the theme, and field-kind badges.

Toolbar SVGs are drawn in one ink colour (``#334155``); for the dark theme that colour is
swapped for a light one before rendering, so one set of files serves both themes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from mappings.schema.model import FieldKind

_INK = "#334155"
_PACKAGE_DIR = Path(__file__).resolve().parent

TOOLBAR_ICONS = (
    "new", "open", "save", "undo", "redo", "map", "automap", "preview", "run", "export",
    "connections", "compare", "errors", "templates", "theme",
)  # fmt: skip

# FieldKind -> badge file in resources/icons/types.
KIND_ICON_FILES: dict[FieldKind, str] = {
    FieldKind.STRING: "text",
    FieldKind.TEXT: "text",
    FieldKind.EMAIL: "text",
    FieldKind.PHONE: "text",
    FieldKind.URL: "text",
    FieldKind.ID: "id",
    FieldKind.REFERENCE: "reference",
    FieldKind.BOOLEAN: "boolean",
    FieldKind.INTEGER: "number",
    FieldKind.NUMBER: "number",
    FieldKind.PERCENT: "number",
    FieldKind.CURRENCY: "money",
    FieldKind.TIMESTAMP: "datetime",
    FieldKind.DATE: "datetime",
    FieldKind.DATETIME: "datetime",
    FieldKind.TIME: "datetime",
    FieldKind.PICKLIST: "picklist",
    FieldKind.MULTIPICKLIST: "picklist",
    FieldKind.OBJECT: "object",
    FieldKind.LIST: "list",
    FieldKind.MAP: "map",
    FieldKind.ANY: "any",
}

_ink = _INK


def resources_dir() -> Path:
    """``resources/``: packaged as ``app/_resources`` in a wheel, at the repo root otherwise."""
    for candidate in (_PACKAGE_DIR / "_resources", _PACKAGE_DIR.parent / "resources"):
        if (candidate / "icons").is_dir():
            return candidate
    raise FileNotFoundError(
        f"the studio's resources are missing: looked for {_PACKAGE_DIR / '_resources'} and "
        f"{_PACKAGE_DIR.parent / 'resources'}"
    )


def resource_path(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def set_ink(colour: str) -> None:
    """The colour toolbar icons are drawn in (the theme's text colour)."""
    global _ink
    if colour != _ink:
        _ink = colour
        icon.cache_clear()


def _render_svg(svg: bytes, size: int) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(svg))
    if not renderer.isValid():
        raise ValueError("not a valid SVG image")
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return pixmap


def _svg_icon(path: Path, ink: str | None) -> QIcon:
    if not path.is_file():
        raise FileNotFoundError(f"no icon file {path.name} in {path.parent}")
    svg = path.read_bytes()
    if ink is not None:
        svg = svg.replace(_INK.encode(), ink.encode())
    result = QIcon()
    for size in (16, 20, 24, 32, 48, 64):
        result.addPixmap(_render_svg(svg, size))
    return result


@lru_cache(maxsize=64)
def icon(name: str) -> QIcon:
    """A toolbar/menu icon by name (see TOOLBAR_ICONS), tinted with the current ink."""
    return _svg_icon(resource_path("icons", f"{name}.svg"), _ink)


@lru_cache(maxsize=1)
def app_icon() -> QIcon:
    return _svg_icon(resource_path("icons", "app.svg"), None)


@lru_cache(maxsize=32)
def kind_icon(kind: FieldKind) -> QIcon:
    """The badge for a field kind (text, number, money, date/time, ...)."""
    name = KIND_ICON_FILES.get(kind, "any")
    return _svg_icon(resource_path("icons", "types", f"{name}.svg"), None)
