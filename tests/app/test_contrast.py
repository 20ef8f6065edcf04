"""WCAG AA contrast (4.5:1 for text) in both themes, computed from the palettes and the
stylesheets (issue 13, scenario 6)."""

from __future__ import annotations

import re

import pytest

from app import theme

AA = 4.5
# Hex colours in Python sources of the views would escape this test: text colours come from
# the theme's roles and the stylesheets only.
_RULE = re.compile(r"([^{}]+)\{([^}]*)\}")
_DECL = re.compile(r"(?<![-\w])(color|background(?:-color)?)\s*:\s*(#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3})\b")


def _rgb(hex_colour: str) -> tuple[float, float, float]:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    return tuple(int(h[i : i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def luminance(hex_colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _rgb(hex_colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str) -> float:
    a, b = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def test_the_formula():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


# Text roles of the palette and the surfaces they are painted on.
TEXT_ON = {
    "text": ("window", "base", "alternate"),
    "muted": ("window", "base", "alternate", "canvas", "field_fill", "field_mapped"),
    "ok_text": ("base", "window"),
    "bad_text": ("base", "window", "error_bg"),
    "field_text": ("field_fill", "field_mapped", "canvas", "drop_ok", "drop_bad"),
    "accent_text": ("accent",),
    "link_transformed": ("pill_fill",),  # the "ƒ2" badge text
    "lookup": ("pill_fill",),  # the "lookup" badge text
}


@pytest.mark.parametrize("name", theme.THEMES)
def test_palette_text_meets_aa(name):
    c = theme.colours(name)
    low = [
        f"{fg} on {bg}: {contrast(getattr(c, fg), getattr(c, bg)):.2f}"
        for fg, bgs in TEXT_ON.items()
        for bg in bgs
        if contrast(getattr(c, fg), getattr(c, bg)) < AA
    ]
    assert low == []


@pytest.mark.parametrize("name", theme.THEMES)
def test_stylesheet_text_meets_aa(name):
    """Every enabled rule's text colour against its own background, else against every
    surface it may sit on (window and base)."""
    c = theme.colours(name)
    low = []
    for selectors, body in _RULE.findall(theme.stylesheet(name)):
        if ":disabled" in selectors:
            continue  # WCAG exempts inactive controls
        decls = dict((k.replace("-color", ""), v) for k, v in _DECL.findall(body))
        fg = decls.get("color")
        if fg is None:
            continue
        backgrounds = [decls["background"]] if "background" in decls else [c.window, c.base]
        for bg in backgrounds:
            ratio = contrast(fg, bg)
            if ratio < AA:
                low.append(f"{selectors.strip()}: {fg} on {bg} = {ratio:.2f}")
    assert low == []


def test_studio_panels_take_text_colours_from_the_theme():
    """The dark theme's 1.9:1 step descriptions and 2.5:1 errors were light-theme colours set
    in code; these panels now name a role the stylesheets colour per theme."""
    from pathlib import Path

    views = Path(theme.__file__).parent / "views"
    for name in ("transform_panel", "editor_common", "condition_editor", "flow_dialog",
                 "preview_panel"):
        source = (views / f"{name}.py").read_text()
        assert not re.search(r"setStyleSheet\([^)]*color:\s*#", source), name
        assert not re.search(r'_STYLE = "color: #', source), name
