"""The one-folder ``fieldbridge-studio`` build: it renders the same window as the source tree.

Marked slow (PyInstaller takes about a minute); CI runs it. Set FIELDBRIDGE_DIST to test an
app built in an earlier step instead of building here.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from app.main import SCREENSHOT_SIZE
from tests.packaging.procs import read_line

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

TEMPLATE = "charges-payments"


def _env(home: Path) -> dict[str, str]:
    return dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(home),
                XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
                PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")


def _screenshot(command: list[str], out: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command, "--screenshot", str(out), "--template", TEMPLATE,
         "--settings", str(home / "studio.ini")],
        capture_output=True, text=True, timeout=180, cwd=home, env=_env(home))


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    return width, height


def _different_pixels(a: Path, b: Path) -> float:
    from PySide6.QtGui import QImage

    first, second = QImage(str(a)), QImage(str(b))
    assert first.size() == second.size()
    step = 3
    total = differ = 0
    for y in range(0, first.height(), step):
        for x in range(0, first.width(), step):
            total += 1
            differ += first.pixel(x, y) != second.pixel(x, y)
    return differ / total


def test_screenshot_is_written_and_matches_the_source_tree(studio_binary: Path,
                                                           tmp_path: Path) -> None:
    frozen_png = tmp_path / "frozen.png"
    proc = _screenshot([str(studio_binary)], frozen_png, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert frozen_png.stat().st_size > 20_000  # a drawn window, not a blank canvas
    assert _png_size(frozen_png) == SCREENSHOT_SIZE

    # The same window from source: a panel missing from the build (an import the analysis
    # did not see, a data file left out) would show as a different picture.
    source_png = tmp_path / "source.png"
    source = _screenshot([sys.executable, "-c", "import sys; from app.main import main; "
                          "sys.exit(main())"], source_png, tmp_path)
    assert source.returncode == 0, source.stderr[-3000:]
    assert _different_pixels(frozen_png, source_png) < 0.01


def test_screenshot_to_a_non_png_is_refused_with_the_reason(studio_binary: Path,
                                                            tmp_path: Path) -> None:
    proc = _screenshot([str(studio_binary)], tmp_path / "out.txt", tmp_path)
    assert proc.returncode == 1
    assert "must name a .png file" in proc.stderr
    assert not (tmp_path / "out.txt").exists()


def test_the_app_folder_holds_its_resources_and_no_unused_qt(studio_binary: Path) -> None:
    internal = studio_binary.parent / "_internal"
    for relative in ("resources/icons/app.svg", "resources/styles/light.qss",
                     "mappings/templates/charges-payments.yaml",
                     "mappings/data/salesforce/Payment__c.describe.json",
                     "mappings/document/mapping.schema.json",
                     "runner/state/migrations/env.py", "stripe/_charge.py",
                     "localstripe/localstripe-v3.js"):
        assert (internal / relative).is_file(), relative
    names = {p.name for p in internal.rglob("*")}
    assert not [n for n in names if "WebEngine" in n or n.startswith("libQt6Qml")]


@pytest.mark.skipif(sys.platform != "linux", reason="POSIX signals")
def test_the_studio_binary_can_start_the_stripe_sandbox(studio_binary: Path,
                                                        tmp_path: Path) -> None:
    # The "Local sandbox" starts localstripe as sys.executable ...: frozen, that is this app.
    proc = subprocess.Popen(
        [str(studio_binary), "__run_module__", "runner.sandbox.localstripe_launcher",
         "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=tmp_path, env=_env(tmp_path))
    try:
        line = read_line(proc)
        assert line.startswith("LISTENING "), line
        import requests

        session = requests.Session()
        session.trust_env = False
        resp = session.get(f"http://127.0.0.1:{int(line.split()[1])}/v1/balance",
                           auth=("sk_test_fieldbridge", ""), timeout=10)
        assert resp.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)



@pytest.mark.skipif(sys.platform != "linux", reason="POSIX signals")
def test_the_studio_binary_can_start_both_sandboxes_as_its_child(studio_binary: Path,
                                                                 tmp_path: Path) -> None:
    # The studio runs the "Local sandbox" pair as `sandbox up --json` in a child of itself
    # (runner.sandbox.child): frozen, that is this app again, which starts localstripe.
    proc = subprocess.Popen(
        [str(studio_binary), "__run_module__", "runner.cli", "sandbox", "up", "--json",
         "--state-dir", str(tmp_path / "sandbox"), "--parent-pid", str(os.getpid())],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env=_env(tmp_path))
    try:
        config = json.loads(read_line(proc))
        import requests

        session = requests.Session()
        session.trust_env = False
        resp = session.get(config["stripe"]["api_base"] + "/v1/balance",
                           auth=(config["stripe"]["api_key"], ""), timeout=10)
        assert resp.status_code == 200
        session.verify = config["salesforce"]["ca_file"]
        resp = session.get(config["salesforce"]["instance_url"] + "/services/data", timeout=10)
        assert resp.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
