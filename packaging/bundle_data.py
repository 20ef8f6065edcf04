"""What both PyInstaller builds carry besides code: data files, hidden imports, exclusions.

Imported by ``studio.spec`` and ``runner.spec`` (PyInstaller executes a spec with its folder
as ``SPECPATH``; the specs put this folder on ``sys.path``). Kept out of the specs so the two
builds cannot disagree about the shared data, and so a test can check the lists against the
tree without running PyInstaller.

Data files keep their repository layout inside the build (``mappings/templates/...``,
``runner/state/migrations/...``, ``resources/...``) because the code finds them relative to
its own ``__file__``, which in a frozen build points into the same tree:

- ``mappings/schema/org_metadata.py``  ``DATA_DIR`` = ``mappings/data/salesforce``
- ``mappings/document/yamlio.py``  ``schema_path()`` = ``mappings/document/mapping.schema.json``
- ``app/workspace.py``, ``app/document/document.py``, ``runner/demo.py``  ``mappings/templates``
- ``runner/sandbox/stripe_events.py``  ``importlib.resources`` ``mappings/data/stripe``
- ``runner/state/migrate.py``  ``runner/state/migrations`` (Alembic loads ``env.py`` and the
  version scripts from files, so they ship as source)
- ``app/icons.py``  ``resources/`` next to the ``app`` package
- ``mappings/schema/stripe_source.py`` reads the stripe SDK's *source* files (found with
  ``importlib.util.find_spec(...).origin``) and parses them with :mod:`ast`: the SDK's ``.py``
  files must be present beside its frozen bytecode.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Source trees copied as data, relative to ROOT: (folder, glob patterns).
SHARED_TREES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("mappings/templates", ("*.yaml",)),
    ("mappings/data", ("**/*.json", "**/LICENSE", "**/README.md")),
    ("mappings/document", ("mapping.schema.json",)),
    ("runner/state/migrations", ("*.py", "*.mako", "versions/*.py")),
    # The org emulator's declared platform events and automations (pubsub/producer.py).
    ("runner/sandbox/salesforce/pubsub", ("*.json",)),
)
STUDIO_TREES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("resources", ("icons/**/*.svg", "styles/*.qss", "README.md")),
)

# Modules loaded by name at run time, which PyInstaller's import scan cannot see.
DYNAMIC_PACKAGES = ("runner", "mappings", "alembic", "localstripe")
# The studio's main window imports its panels with importlib (a missing one shows a notice).
STUDIO_DYNAMIC_PACKAGES = (*DYNAMIC_PACKAGES, "app")
HIDDEN_IMPORTS = (
    # runner.cli imports its subcommands with importlib.import_module.
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.postgresql",
    "sqlalchemy.dialects.postgresql.psycopg",
    "psycopg",
    "psycopg_binary",
    "keyring.backends",
    "aiohttp",
)

# Third-party packages whose data must travel: (package, include .py sources).
PACKAGE_DATA = (
    ("stripe", True),  # source parsed by mappings.schema.stripe_source
    ("localstripe", False),  # localstripe-v3.js
    ("jsonschema_specifications", False),
    ("certifi", False),
)
# Packages read through importlib.metadata (versions, entry points).
METADATA = ("keyring", "stripe", "simple-salesforce", "jsonschema", "alembic", "SQLAlchemy")

# Never in either build: test and developer tools, other GUI toolkits.
COMMON_EXCLUDES = (
    "tkinter", "_tkinter", "pytest", "_pytest", "hypothesis", "mypy", "ruff", "IPython",
    "matplotlib", "numpy", "pandas", "importlinter", "grimp", "hatchling", "PyInstaller",
    "setuptools", "pip", "rich", "pygments", "PyQt5", "PyQt6", "PySide2",
)
# The runner never imports Qt or the studio.
RUNNER_EXCLUDES = (*COMMON_EXCLUDES, "PySide6", "shiboken6", "qasync", "app")
# Qt modules the studio does not use (it needs QtCore, QtGui, QtWidgets and QtSvg).
QT_UNUSED = (
    "QtWebEngineCore", "QtWebEngineWidgets", "QtWebEngineQuick", "QtWebChannel",
    "QtWebSockets", "QtQml", "QtQuick", "QtQuickWidgets", "QtQuick3D", "QtMultimedia",
    "QtMultimediaWidgets", "QtNetwork", "QtOpenGL", "QtOpenGLWidgets", "Qt3DCore",
    "QtCharts", "QtDataVisualization", "QtGraphs", "QtPdf", "QtPdfWidgets", "QtSql",
    "QtTest", "QtDesigner", "QtHelp", "QtUiTools", "QtXml", "QtConcurrent", "QtDBus",
    "QtPrintSupport", "QtBluetooth", "QtPositioning", "QtLocation", "QtSensors",
    "QtSerialPort", "QtRemoteObjects", "QtScxml", "QtStateMachine", "QtSpatialAudio",
    "QtTextToSpeech", "QtHttpServer", "QtNfc",
)
STUDIO_EXCLUDES = (*COMMON_EXCLUDES, *(f"PySide6.{m}" for m in QT_UNUSED))


def tree_files(trees: tuple[tuple[str, tuple[str, ...]], ...],
               root: Path = ROOT) -> list[tuple[str, str]]:
    """``(source file, destination folder)`` pairs, the shape PyInstaller's ``datas`` takes."""
    out: list[tuple[str, str]] = []
    for folder, patterns in trees:
        base = root / folder
        if not base.is_dir():
            raise FileNotFoundError(f"packaging: data folder {base} is missing")
        found = sorted({p for pattern in patterns for p in base.glob(pattern)
                        if p.is_file() and "__pycache__" not in p.parts})
        if not found:
            raise FileNotFoundError(f"packaging: no files match {patterns} under {base}")
        for path in found:
            out.append((str(path), str(path.parent.relative_to(root))))
    return out


def shared_analysis(trees: tuple[tuple[str, tuple[str, ...]], ...],
                    packages: tuple[str, ...] = DYNAMIC_PACKAGES) -> dict[str, list]:
    """``datas`` and ``hiddenimports`` for ``Analysis``; needs PyInstaller (spec time only)."""
    from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

    datas = tree_files(trees)
    for package, with_py in PACKAGE_DATA:
        datas += collect_data_files(package, include_py_files=with_py)
    for dist in METADATA:
        datas += copy_metadata(dist)
    hidden = list(HIDDEN_IMPORTS)
    for package in packages:
        hidden += collect_submodules(package, filter=_not_tools)
    return {"datas": datas, "hiddenimports": hidden}


def _not_tools(name: str) -> bool:
    # Developer scripts (mappings/*/tools) and alembic's test suite are not the product.
    return ".tools" not in name and not name.startswith("alembic.testing")


# Parts of a Qt installation the studio never loads, matched against the destination path
# of each collected binary or data file.
_QT_DROP = ("Qt6WebEngine", "Qt6Quick", "Qt6Qml", "Qt6Pdf", "Qt6Multimedia", "Qt63D",
            "qtwebengine", "/qml/", "/translations/qtwebengine", "Qt6VirtualKeyboard",
            "platforminputcontexts", "Qt6Designer", "/sqldrivers/", "/multimedia/")


def qt_binaries_to_drop(dest: str) -> bool:
    """True for a collected file that belongs to a Qt module the studio does not use."""
    normalized = "/" + dest.replace("\\", "/")
    return "PySide6" in normalized and any(part in normalized for part in _QT_DROP)
