"""``fieldbridge-studio --screenshot``: the main window rendered offscreen to a PNG."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from app import asyncloop, theme
from app.main import SCREENSHOT_SIZE, build_parser, main


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch, qapp):
    # The services read connections from the user's config dir: point it at tmp_path.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    yield
    theme.apply_theme(qapp, "light")  # main() themed the shared QApplication: undo that
    qapp.setStyleSheet("")
    asyncloop.set_error_sink(None)


def _args(tmp_path, *extra: str) -> list[str]:
    return [*extra, "--settings", str(tmp_path / "settings.ini")]


def _pixels(path):
    image = QImage(str(path))
    assert not image.isNull()
    return image


@pytest.mark.parametrize("theme_name", ["light", "dark"])
def test_template_screenshot(tmp_path, capsys, theme_name):
    out = tmp_path / f"studio-{theme_name}.png"
    code = main(_args(tmp_path, "--template", "charges-payments", "--theme", theme_name,
                      "--screenshot", str(out)))  # fmt: skip
    assert code == 0
    image = _pixels(out)
    assert (image.width(), image.height()) == SCREENSHOT_SIZE
    # The window background follows the theme: light is bright, dark is dark.
    brightness = image.pixelColor(image.width() // 2, image.height() - 3).lightness()
    assert brightness > 180 if theme_name == "light" else brightness < 90
    assert f"wrote {out}" in capsys.readouterr().out
    # the desktop entry's name, so desktops group the window under the installed launcher
    assert qapp_desktop_name() == "fieldbridge-studio"
    # the canvas follows the theme too (it paints itself): its background at the top right
    canvas = image.pixelColor(image.width() - 40, 100).lightness()
    assert canvas > 180 if theme_name == "light" else canvas < 90


def qapp_desktop_name() -> str:
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.desktopFileName()


def test_workspace_screenshot(tmp_path):
    from app.workspace import TEMPLATES_DIR
    from mappings.document.yamlio import load_document, save_document

    folder = tmp_path / "ws"
    folder.mkdir()
    save_document(load_document(TEMPLATES_DIR / "payouts.yaml"), folder / "payouts.yaml")
    out = tmp_path / "ws.png"
    assert main(_args(tmp_path, "--workspace", str(folder), "--screenshot", str(out))) == 0
    assert _pixels(out).width() == SCREENSHOT_SIZE[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--template", "nope", "--screenshot", "{tmp}/a.png"], "no template named 'nope'"),
        (["--workspace", "{tmp}/missing", "--screenshot", "{tmp}/a.png"], "no such folder"),
        (["--template", "payouts", "--screenshot", "{tmp}/a.jpg"], "must name a .png file"),
        (["--template", "payouts", "--screenshot", "{tmp}/no/a.png"], "does not exist"),
    ],
)
def test_bad_input_exits_1_with_the_reason(tmp_path, capsys, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(_args(tmp_path, *argv)) == 1
    err = capsys.readouterr().err
    assert err.startswith("fieldbridge-studio: ") and message in err
    assert not (tmp_path / "a.png").exists()


def test_workspace_and_template_are_exclusive(capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["--workspace", "x", "--template", "y"])
    assert info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.slow
def test_the_entry_point_renders_in_a_fresh_process(tmp_path):
    out = tmp_path / "fresh.png"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_RUNTIME_DIR": str(tmp_path),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.main",
            "--template",
            "subscriptions",
            "--screenshot",
            str(out),
            "--settings",
            str(tmp_path / "s.ini"),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    assert proc.returncode == 0, proc.stderr
    assert _pixels(out).height() == SCREENSHOT_SIZE[1]


def test_bundle_and_tab_flags(tmp_path, capsys):
    """Issue 13: ``--bundle FILE.fbz`` (verified, opened in a scratch folder for a
    screenshot) and ``--tab``; the default tab is the filled preview."""
    from app.workspace import TEMPLATES_DIR
    from mappings.bundle import build_bundle
    from mappings.document.yamlio import load_document

    bundle = build_bundle([load_document(TEMPLATES_DIR / "charges-payments.yaml")],
                          tmp_path / "payments.fbz")
    out = tmp_path / "bundle.png"
    assert main(_args(tmp_path, "--bundle", str(bundle), "--tab", "transform",
                      "--screenshot", str(out))) == 0  # fmt: skip
    assert _pixels(out).width() == SCREENSHOT_SIZE[0]
    assert not (tmp_path / "payments").exists()  # a screenshot leaves no workspace behind
    assert build_parser().parse_args(["--tab", "testrun"]).tab == "testrun"
    bad = tmp_path / "bad.fbz"
    bad.write_bytes(b"not a zip")
    assert main(_args(tmp_path, "--bundle", str(bad), "--screenshot", str(out))) == 1
    assert "Cannot open the bundle: bad.fbz" in capsys.readouterr().err
