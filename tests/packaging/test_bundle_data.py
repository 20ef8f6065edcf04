"""packaging/bundle_data.py: the data files both builds carry match what the code reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT, load_packaging_module

bundle_data = load_packaging_module("bundle_data")


def _destinations(trees) -> set[str]:
    return {f"{dest}/{Path(src).name}" for src, dest in bundle_data.tree_files(trees)}


def test_every_template_schema_and_describe_file_is_carried() -> None:
    carried = _destinations(bundle_data.SHARED_TREES)
    expected = [p for p in (ROOT / "mappings" / "templates").glob("*.yaml")]
    expected += (ROOT / "mappings" / "data").rglob("*.json")
    expected.append(ROOT / "mappings" / "document" / "mapping.schema.json")
    assert expected
    missing = [str(p.relative_to(ROOT)) for p in expected
               if str(p.relative_to(ROOT)) not in carried]
    assert missing == []


def test_every_json_file_of_the_runner_is_carried() -> None:
    # The runner reads its JSON files at run time (the emulator's org events, say); a new one
    # missing here fails only inside the frozen build, as the Pub/Sub one once did.
    carried = _destinations(bundle_data.SHARED_TREES)
    missing = [str(p.relative_to(ROOT)) for p in (ROOT / "runner").rglob("*.json")
               if "__pycache__" not in p.parts and str(p.relative_to(ROOT)) not in carried]
    assert missing == []


def test_data_keeps_the_layout_the_code_looks_in() -> None:
    from mappings.document import yamlio
    from mappings.schema import org_metadata
    from runner.state import migrate

    carried = _destinations(bundle_data.SHARED_TREES)
    for path in (yamlio.schema_path(), *org_metadata.DATA_DIR.glob("*.json"),
                 migrate.MIGRATIONS / "env.py"):
        assert str(Path(path).relative_to(ROOT)) in carried, path


def test_every_migration_script_ships_as_source() -> None:
    from runner.state import migrate

    carried = _destinations(bundle_data.SHARED_TREES)
    versions = list((migrate.MIGRATIONS / "versions").glob("*.py"))
    assert versions
    for path in versions:
        assert str(path.relative_to(ROOT)) in carried


def test_the_studio_carries_its_icons_and_stylesheets_and_the_runner_does_not() -> None:
    studio = _destinations(bundle_data.STUDIO_TREES)
    for path in (ROOT / "resources").rglob("*"):
        if path.suffix in (".svg", ".qss") and "screenshots" not in path.parts:
            assert str(path.relative_to(ROOT)) in studio, path
    assert not any(d.startswith("resources/") for d in _destinations(bundle_data.SHARED_TREES))


def test_developer_tools_and_caches_are_left_out() -> None:
    carried = _destinations(bundle_data.SHARED_TREES + bundle_data.STUDIO_TREES)
    assert not [d for d in carried if "/tools/" in d or "__pycache__" in d]
    assert not bundle_data._not_tools("mappings.templates.tools.write_fixtures")
    assert not bundle_data._not_tools("alembic.testing.suite")
    assert bundle_data._not_tools("runner.sandbox.salesforce.__main__")


def test_a_missing_data_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        bundle_data.tree_files((("nowhere", ("*.yaml",)),), root=tmp_path)


def test_a_folder_without_matching_files_is_named(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no files match .*empty"):
        bundle_data.tree_files((("empty", ("*.yaml",)),), root=tmp_path)


def test_the_runner_excludes_qt_and_the_studio() -> None:
    assert {"PySide6", "shiboken6", "qasync", "app"} <= set(bundle_data.RUNNER_EXCLUDES)


def test_the_studio_keeps_the_qt_modules_it_imports() -> None:
    import re

    used = set()
    for path in (ROOT / "app").rglob("*.py"):
        used |= set(re.findall(r"PySide6\.(Qt\w+)", path.read_text(encoding="utf-8")))
    assert used
    assert not used & set(bundle_data.QT_UNUSED)


@pytest.mark.parametrize(("dest", "dropped"), [
    ("PySide6/Qt/lib/libQt6WebEngineCore.so.6", True),
    ("PySide6/Qt/qml/QtQuick/Controls/qmldir", True),
    ("PySide6/Qt/lib/libQt6Qml.so.6", True),
    ("PySide6/Qt/lib/libQt6Widgets.so.6", False),
    ("PySide6/Qt/plugins/iconengines/libqsvgicon.so", False),
    ("PySide6\\Qt6Svg.dll", False),
    ("libQt6Quick.so.6", False),  # not under PySide6: not ours to drop
])
def test_qt_parts_the_studio_never_loads_are_dropped(dest: str, dropped: bool) -> None:
    assert bundle_data.qt_binaries_to_drop(dest) is dropped
