"""Workspaces: recent folders in QSettings, the templates list and gallery, open and save."""

from __future__ import annotations

import pytest

from app.document.document import StudioDocument, available_templates
from app.views.main_window import MainWindow
from app.views.templates_gallery import TemplatesGallery
from app.workspace import (
    RecentWorkspaces,
    check_workspace_folder,
    list_templates,
    save_theme,
    saved_theme,
    studio_settings,
)
from mappings.document.yamlio import load_document, load_documents, save_document
from mappings.errors import DocumentError


@pytest.fixture
def settings(tmp_path):
    return studio_settings(tmp_path / "settings.ini")


@pytest.fixture
def window(qtbot, tmp_path, settings, catalogs) -> MainWindow:
    from app.services import Services

    win = MainWindow(
        StudioDocument(catalogs=catalogs),
        settings=settings,
        ask_unsaved=lambda _p, _n: "discard",
        choose_folder=lambda _title: None,
        services=Services(config_path=tmp_path / "conn.json", sandbox_dir=tmp_path / "sb"),
    )
    qtbot.addWidget(win)
    return win


def _workspace(folder, *templates: str):
    folder.mkdir(parents=True, exist_ok=True)
    for name in templates:
        doc = load_document(next(t.path for t in list_templates() if t.name == name))
        save_document(doc, folder / f"{name}.yaml")
    return folder


# --------------------------------------------------------------------------- recent


def test_recent_is_newest_first_without_duplicates(tmp_path, settings):
    recent = RecentWorkspaces(settings, limit=3)
    folders = [tmp_path / f"ws{i}" for i in range(5)]
    for f in folders:
        f.mkdir()
    for f in (folders[0], folders[1], folders[0]):
        recent.add(f)
    assert recent.paths() == [folders[0].resolve(), folders[1].resolve()]
    for f in folders[2:]:
        recent.add(f)
    assert recent.paths() == [f.resolve() for f in reversed(folders[2:])]
    assert recent.last() == folders[4].resolve()


def _recent_of(path, *names: str) -> tuple[RecentWorkspaces, list]:
    """Recent workspaces in the INI file ``path``, after opening new folders ``names`` beside
    it, in that order."""
    recent = RecentWorkspaces(studio_settings(path))
    folders = [path.parent / name for name in names]
    for folder in folders:
        folder.mkdir()
        recent.add(folder)
    return recent, folders


def test_reopening_the_newest_workspace_writes_no_settings(tmp_path):
    """The list is written (and flushed to disk) only when it changes."""
    path = tmp_path / "s.ini"
    recent, (first, second) = _recent_of(path, "first", "second")
    written = path.stat().st_mtime_ns
    syncs: list[None] = []
    sync = recent.settings.sync
    recent.settings.sync = lambda: (syncs.append(None), sync())[1]  # type: ignore[method-assign]
    recent.add(second)
    assert syncs == [] and path.stat().st_mtime_ns == written
    recent.add(first)
    assert len(syncs) == 1
    assert RecentWorkspaces(studio_settings(path)).paths() == [first.resolve(), second.resolve()]


def test_recent_survives_a_new_settings_object_and_skips_missing_folders(tmp_path):
    path = tmp_path / "s.ini"
    _, (kept, gone) = _recent_of(path, "kept", "gone")
    gone.rmdir()
    again = RecentWorkspaces(studio_settings(path))
    assert again.paths() == [kept.resolve()]
    assert again.paths(existing_only=False) == [gone.resolve(), kept.resolve()]
    again.remove(kept)
    again.clear()
    assert again.last() is None


def test_theme_setting(settings):
    assert saved_theme(settings) == "light"
    save_theme(settings, "dark")
    assert saved_theme(settings) == "dark"
    settings.setValue("view/theme", "purple")
    assert saved_theme(settings) == "light"


# --------------------------------------------------------------------------- folders


def test_check_workspace_folder_names_the_problem(tmp_path):
    with pytest.raises(DocumentError, match="no such folder"):
        check_workspace_folder(tmp_path / "missing")
    (tmp_path / "file.yaml").write_text("x")
    with pytest.raises(DocumentError, match="is a file; a workspace is a folder"):
        check_workspace_folder(tmp_path / "file.yaml")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DocumentError, match="holds no mapping documents"):
        check_workspace_folder(tmp_path / "empty")


def test_open_workspace_adds_it_to_recent_and_the_menu(window, tmp_path):
    folder = _workspace(tmp_path / "billing", "payouts", "subscriptions")
    assert window.open_workspace(folder)
    assert window.windowTitle() == "billing — Fieldbridge Studio"
    assert [d.name for d in window.document.documents] == ["payouts", "subscriptions"]
    assert window.recent.paths() == [folder.resolve()]
    window._fill_recent_menu()
    texts = [a.text() for a in window.recent_menu.actions()]
    assert str(folder.resolve()) in texts
    window.open_template("charges-payments")
    next(a for a in window.recent_menu.actions() if a.text() == str(folder.resolve())).trigger()
    assert window.document.workspace == folder.resolve()


def test_opening_a_broken_workspace_reports_the_file(window, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "bad.yaml").write_text("format: 1\nname: [unclosed\n")
    assert not window.open_workspace(folder)
    assert window.errors.count == 1
    assert "bad.yaml" in window.errors.model.entries[0].summary
    assert window.recent.paths() == []


def test_save_as_then_reopen_round_trips(window, tmp_path):
    window.open_template("customer-account")
    flow = window.document.current_flow
    target = window.document.flow(flow).fields[0].target
    window.document.unmap_field(flow, target)
    assert window.save_as(tmp_path / "mine")
    assert window.windowTitle() == "mine — Fieldbridge Studio"
    [(_path, saved)] = load_documents(tmp_path / "mine")
    assert saved.flow(flow).mapping_for(target) is None
    window.document.undo_stack.undo()
    assert window.save()  # saves in place now that the workspace has a folder
    [(_path, saved)] = load_documents(tmp_path / "mine")
    assert saved.flow(flow).mapping_for(target) is not None


def test_save_as_refuses_a_folder_that_holds_other_documents(window, tmp_path):
    other = _workspace(tmp_path / "other", "payouts")
    before = (other / "payouts.yaml").read_text()
    window.open_template("charges-payments")
    assert not window.save_as(other)
    assert "already holds mapping documents" in window.errors.model.entries[-1].summary
    assert (other / "payouts.yaml").read_text() == before
    assert sorted(p.name for p in other.iterdir()) == ["payouts.yaml"]


def test_save_of_an_untitled_workspace_asks_for_a_folder(window):
    window.open_template("payouts")
    assert not window.save()  # the folder chooser was cancelled: nothing saved
    assert window.document.workspace is None


# --------------------------------------------------------------------------- templates


def test_list_templates_matches_the_shipped_files():
    templates = list_templates()
    assert [t.name for t in templates] == available_templates()
    charges = next(t for t in templates if t.name == "charges-payments")
    assert charges.flow_count == len(charges.flows) == 1
    assert charges.description.startswith("Stripe charges become Payment records")  # issue 13: no API names


def test_gallery_lists_templates_and_opens_the_chosen_one(qtbot, window):
    gallery = TemplatesGallery(window)
    qtbot.addWidget(gallery)
    assert gallery.list.count() == len(available_templates())
    first = gallery.list.item(0).text()
    info = gallery.templates[0]
    assert info.title in first and f"{info.flow_count} flow" in first
    gallery.select("subscriptions")
    gallery.accept()
    assert gallery.chosen == "subscriptions"
    assert window.open_template(gallery.chosen)
    assert window.document.workspace is None and not window.document.is_dirty
    assert window.flow_combo.count() == 3
    with pytest.raises(ValueError, match="no template named 'nope'"):
        gallery.select("nope")


def test_unknown_template_is_reported(window):
    assert not window.open_template("no-such-template")
    assert "no template named 'no-such-template'" in window.errors.model.entries[-1].summary


def test_start_up_reopens_the_last_workspace_else_starts_untitled(window, tmp_path):
    from app.main import _open_initial, build_parser

    args = build_parser().parse_args([])
    assert _open_initial(window, args)
    assert window.windowTitle() == "Untitled — Fieldbridge Studio"
    assert window.document.flows() == []
    folder = _workspace(tmp_path / "last", "payouts")
    window.recent.add(folder)
    assert _open_initial(window, args)
    assert window.document.workspace == folder.resolve()
