"""Export bundle: built off the UI thread, optionally signed, then opened again to check."""

from __future__ import annotations

import zipfile

import pytest

from app.document.document import StudioDocument
from app.views.export_dialog import ExportDialog, check_destination, export_bundle
from mappings.bundle import (
    generate_signing_key,
    load_bundle,
    public_key_fingerprint,
    save_private_key,
)
from mappings.errors import BundleError


@pytest.fixture
def document(doc) -> StudioDocument:
    return doc


@pytest.fixture
def dialog(qtbot, document) -> ExportDialog:
    d = ExportDialog(lambda: document.documents, catalogs=lambda: document.catalogs)
    qtbot.addWidget(d)
    return d


def _key_file(tmp_path):
    key = generate_signing_key()
    path = tmp_path / "signing.pem"
    save_private_key(key, path)
    return key, path


def test_check_destination(tmp_path):
    assert check_destination(str(tmp_path / "out")) == tmp_path / "out.fbz"
    assert check_destination(f"  {tmp_path / 'b.fbz'}  ") == tmp_path / "b.fbz"
    with pytest.raises(BundleError, match="choose where to write the bundle"):
        check_destination("   ")
    with pytest.raises(BundleError, match="folder .* does not exist"):
        check_destination(str(tmp_path / "nope" / "x.fbz"))
    (tmp_path / "dir.fbz").mkdir()
    with pytest.raises(BundleError, match="is a folder"):
        check_destination(str(tmp_path / "dir.fbz"))


def test_export_bundle_unsigned_then_reopened(document, tmp_path):
    result = export_bundle(document.documents, tmp_path / "a.fbz", None, document.catalogs)
    assert result.flows == [f.name for _, f in document.flows()]
    assert not result.signed and result.fingerprint is None
    bundle = load_bundle(tmp_path / "a.fbz")
    assert [d.name for d in bundle.documents] == ["charges-payments"]


def test_export_with_a_signing_key(document, tmp_path):
    key, path = _key_file(tmp_path)
    result = export_bundle(document.documents, tmp_path / "s.fbz", path, document.catalogs)
    assert result.signed
    assert result.fingerprint == public_key_fingerprint(key)
    assert load_bundle(tmp_path / "s.fbz", public_key=key.public_key(), require_signature=True)


def test_dialog_exports_off_the_ui_thread(qtbot, dialog, document, tmp_path):
    key, path = _key_file(tmp_path)
    dialog.destination.setText(str(tmp_path / "out"))
    dialog.key_file.setText(str(path))
    with qtbot.waitSignal(dialog.exported, timeout=10000) as blocker:
        call = dialog.export()
        assert call is not None
        assert not dialog.export_button.isEnabled()  # while it runs
    result = blocker.args[0]
    assert result.path == tmp_path / "out.fbz"
    assert result.signed
    assert "opened it again" in dialog.status.text()
    assert f": 1 flow ({result.flows[0]})," in dialog.status.text()  # one flow, singular
    assert public_key_fingerprint(key) in dialog.status.text()
    assert dialog.export_button.isEnabled() and dialog.progress.isHidden()
    assert "manifest.json" in zipfile.ZipFile(result.path).namelist()


def test_dialog_exports_what_was_there_when_it_started(qtbot, dialog, document, tmp_path):
    dialog.destination.setText(str(tmp_path / "snap.fbz"))
    with qtbot.waitSignal(dialog.exported, timeout=10000):
        dialog.export()
        document.unmap_field(document.current_flow, "Amount__c")  # after the copy was taken
    bundle = load_bundle(tmp_path / "snap.fbz")
    assert bundle.documents[0].flows[0].mapping_for("Amount__c") is not None


@pytest.mark.parametrize(
    ("key_text", "message"),
    [
        ("missing.pem", "signing key file .*missing.pem does not exist"),
        ("garbage.pem", "garbage.pem is not a PEM or OpenSSH private key"),
    ],
)
def test_dialog_shows_why_a_key_is_refused(qtbot, dialog, tmp_path, key_text, message):
    (tmp_path / "garbage.pem").write_text("not a key")
    dialog.destination.setText(str(tmp_path / "x.fbz"))
    dialog.key_file.setText(str(tmp_path / key_text))
    with qtbot.waitSignal(dialog.failed, timeout=10000) as blocker:
        dialog.export()
    import re

    assert re.search(message, blocker.args[0])
    assert dialog.status.text().startswith("✗ ")
    assert not (tmp_path / "x.fbz").exists()


def test_dialog_refuses_an_empty_destination(qtbot, dialog):
    with qtbot.waitSignal(dialog.failed, timeout=1000):
        assert dialog.export() is None
    assert "choose where to write the bundle" in dialog.status.text()


def test_a_document_that_cannot_be_bundled_is_explained(qtbot, catalogs, tmp_path):
    doc = StudioDocument(catalogs=catalogs)
    doc.open_template("charges-payments")
    twin = StudioDocument(catalogs=catalogs)
    twin.open_template("charges-payments")
    both = [doc.documents[0], twin.documents[0]]
    dialog = ExportDialog(lambda: both)
    qtbot.addWidget(dialog)
    dialog.destination.setText(str(tmp_path / "dup.fbz"))
    with qtbot.waitSignal(dialog.failed, timeout=10000) as blocker:
        dialog.export()
    assert "two documents would both be stored as" in blocker.args[0]


def test_main_window_export_action_opens_the_dialog(qtbot, tmp_path, catalogs):
    from app.services import Services
    from app.views.main_window import MainWindow
    from app.workspace import studio_settings

    win = MainWindow(
        StudioDocument(catalogs=catalogs),
        settings=studio_settings(tmp_path / "s.ini"),
        services=Services(config_path=tmp_path / "c.json", sandbox_dir=tmp_path / "sb"),
    )
    qtbot.addWidget(win)
    win.open_template("payouts")
    win.save_as(tmp_path / "ws")
    dialog = win.export_bundle()
    assert dialog.destination.text() == str(tmp_path / "ws.fbz")
    with qtbot.waitSignal(dialog.exported, timeout=10000):
        dialog.export()
    assert load_bundle(tmp_path / "ws.fbz").documents[0].name == "payouts"
    dialog.close()
