"""Shared helpers for the packaging tests: loading packaging/*.py, building with PyInstaller.

``packaging/`` is not a Python package (a folder named ``packaging`` must not shadow the
PyPA library of that name), so its scripts are loaded from their files.

The PyInstaller builds are session fixtures: each is built once per test run into a temporary
folder, or taken from ``FIELDBRIDGE_DIST`` when CI built them in an earlier step
(``FIELDBRIDGE_DIST/fieldbridge-runner`` and ``FIELDBRIDGE_DIST/fieldbridge-studio/``).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
BUILD_TIMEOUT = 1200  # seconds; a build takes about a minute on a 2-core machine


def load_packaging_module(name: str) -> ModuleType:
    path = PACKAGING / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"fieldbridge_packaging_{name}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _need_pyinstaller() -> None:
    if importlib.util.find_spec("PyInstaller") is None:
        message = "PyInstaller is not installed (pip install pyinstaller)"
        if os.environ.get("CI"):  # CI must build, not skip
            pytest.fail(message)
        pytest.skip(message)


def _build(spec: str, dist: Path, work: Path) -> None:
    _need_pyinstaller()
    proc = subprocess.run(
        [sys.executable, "-m", "PyInstaller", str(PACKAGING / spec), "--noconfirm",
         "--distpath", str(dist), "--workpath", str(work)],
        cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    if proc.returncode != 0:
        pytest.fail(f"PyInstaller {spec} failed:\n{proc.stderr[-4000:]}")


def _prebuilt(relative: str) -> Path | None:
    dist = os.environ.get("FIELDBRIDGE_DIST")
    if not dist:
        return None
    path = Path(dist) / relative
    if not path.exists():
        pytest.fail(f"FIELDBRIDGE_DIST is set but {path} does not exist")
    return path


@pytest.fixture(scope="session")
def runner_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one-file ``fieldbridge-runner``."""
    found = _prebuilt("fieldbridge-runner")
    if found is not None:
        return found
    base = tmp_path_factory.mktemp("runner-build")
    _build("runner.spec", base / "dist", base / "work")
    return base / "dist" / "fieldbridge-runner"


@pytest.fixture(scope="session")
def studio_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``fieldbridge-studio`` inside its one-folder app."""
    found = _prebuilt("fieldbridge-studio/fieldbridge-studio")
    if found is not None:
        return found
    base = tmp_path_factory.mktemp("studio-build")
    _build("studio.spec", base / "dist", base / "work")
    return base / "dist" / "fieldbridge-studio" / "fieldbridge-studio"
