"""Light and dark themes: the Fusion style, a matching palette and ``resources/styles/*.qss``.

The palette matters as much as the stylesheet: widgets the stylesheet does not reach (the
canvas, item delegates, custom-painted badges) read their colours from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from app import icons

THEMES = ("light", "dark")
DEFAULT_THEME = "light"


@dataclass(frozen=True, slots=True)
class Colours:
    window: str
    base: str
    alternate: str
    text: str
    muted: str
    line: str
    accent: str
    accent_text: str
    error_bg: str  # cells with an issue (preview), for the other panels to share
    warning_bg: str
    ok_text: str  # "matched", "no issues": readable on ``base`` in both themes
    bad_text: str
    # The mapping canvas paints its own items, so it needs roles the palette lacks.
    canvas: str  # the scene's background
    field_fill: str
    field_mapped: str  # a field that takes part in a mapping
    field_border: str
    field_text: str
    canvas_accent: str  # selection and hover outlines, the "+ metadata key" pill
    link: str
    link_transformed: str  # a link with a transform chain
    lookup: str
    drop_ok: str
    drop_bad: str
    pill_fill: str  # badges on links and the canvas buttons
    pill_hover: str


COLOURS: dict[str, Colours] = {
    "light": Colours(
        window="#f4f6f9",
        base="#ffffff",
        alternate="#f8fafc",
        text="#1e293b",
        muted="#56657a",
        line="#d8dde5",
        accent="#4f46e5",
        accent_text="#ffffff",
        error_bg="#fde2e2",
        warning_bg="#fef3c7",
        ok_text="#15803d",
        bad_text="#b91c1c",
        canvas="#f8fafc",
        field_fill="#ffffff",
        field_mapped="#eff6ff",
        field_border="#cbd5e1",
        field_text="#0f172a",
        canvas_accent="#2563eb",
        link="#94a3b8",
        link_transformed="#4f46e5",
        lookup="#0369a1",
        drop_ok="#dcfce7",
        drop_bad="#fee2e2",
        pill_fill="#ffffff",
        pill_hover="#dbeafe",
    ),
    "dark": Colours(
        window="#1d2027",
        base="#262a33",
        alternate="#2b303a",
        text="#e2e8f0",
        muted="#94a3b8",
        line="#3a404c",
        accent="#4f46e5",
        accent_text="#ffffff",
        error_bg="#5a2626",
        warning_bg="#4a3a12",
        ok_text="#4ade80",
        bad_text="#fca5a5",
        canvas="#1a1d23",
        field_fill="#262a33",
        field_mapped="#25304a",
        field_border="#3f4654",
        field_text="#e2e8f0",
        canvas_accent="#60a5fa",
        link="#5b6677",
        link_transformed="#818cf8",
        lookup="#38bdf8",
        drop_ok="#1d4a30",
        drop_bad="#5a2626",
        pill_fill="#262a33",
        pill_hover="#1e3a5f",
    ),
}

_current = DEFAULT_THEME


class ThemeNotifier(QObject):
    """Tells what paints its own colours (the canvas) that the theme switched."""

    changed = Signal(str)


notifier = ThemeNotifier()


def check_theme(name: str) -> str:
    if name not in THEMES:
        raise ValueError(f"unknown theme {name!r}: choose one of {', '.join(THEMES)}")
    return name


def current_theme() -> str:
    return _current


def colours(name: str | None = None) -> Colours:
    return COLOURS[check_theme(name or _current)]


def qcolor(role: str, name: str | None = None) -> QColor:
    """One role of the current (or the named) theme as a QColor, e.g. ``qcolor("link")``."""
    return QColor(getattr(colours(name), role))


def palette(name: str) -> QPalette:
    c = COLOURS[check_theme(name)]
    p = QPalette()
    role = QPalette.ColorRole
    p.setColor(role.Window, QColor(c.window))
    p.setColor(role.WindowText, QColor(c.text))
    p.setColor(role.Base, QColor(c.base))
    p.setColor(role.AlternateBase, QColor(c.alternate))
    p.setColor(role.Text, QColor(c.text))
    p.setColor(role.Button, QColor(c.base))
    p.setColor(role.ButtonText, QColor(c.text))
    p.setColor(role.ToolTipBase, QColor(c.base))
    p.setColor(role.ToolTipText, QColor(c.text))
    p.setColor(role.PlaceholderText, QColor(c.muted))
    p.setColor(role.Highlight, QColor(c.accent))
    p.setColor(role.HighlightedText, QColor(c.accent_text))
    p.setColor(role.Link, QColor(c.accent))
    p.setColor(role.Mid, QColor(c.line))
    p.setColor(role.Midlight, QColor(c.alternate))
    p.setColor(role.Dark, QColor(c.line))
    p.setColor(role.BrightText, QColor("#ef4444"))
    for r in (role.Text, role.WindowText, role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, r, QColor(c.muted))
    return p


TEXT_ROLES = ("muted", "error")


def set_text_role(label: QWidget, role: str) -> None:
    """Colour a label's text by the theme (``QLabel[role="muted"]`` in the stylesheets), so
    it follows a theme switch and keeps AA contrast; "" clears it."""
    if role and role not in TEXT_ROLES:
        raise ValueError(f"unknown text role {role!r}: one of {', '.join(TEXT_ROLES)}")
    label.setProperty("role", role)
    label.style().unpolish(label)
    label.style().polish(label)


def stylesheet(name: str) -> str:
    """The theme's QSS, with ``@ICONS@`` made the absolute icons folder (QSS urls need it)."""
    path = icons.resource_path("styles", f"{check_theme(name)}.qss")
    return path.read_text(encoding="utf-8").replace(
        "@ICONS@", icons.resource_path("icons").as_posix()
    )


def apply_theme(app: QApplication, name: str) -> None:
    """Switch the whole application to ``name`` ("light" or "dark")."""
    global _current
    check_theme(name)
    qss = stylesheet(name)
    app.setStyle("Fusion")
    app.setPalette(palette(name))
    icons.set_ink(COLOURS[name].text if name == "dark" else "#334155")
    app.setStyleSheet(qss)
    _current = name
    notifier.changed.emit(name)
