"""Compare with bundle: the semantic diff between the workspace and a .fbz, as a tree."""

from __future__ import annotations

import copy

import pytest
from PySide6.QtCore import Qt

from app.document.document import StudioDocument
from app.views.diff_view import COLUMNS, DiffView, changes_model
from mappings.bundle import build_bundle
from mappings.document.diff import diff_document_sets
from mappings.errors import BundleError


@pytest.fixture
def document(doc) -> StudioDocument:
    return doc


@pytest.fixture
def bundle_path(document, tmp_path):
    """A bundle of the template as opened (before any edit)."""
    return build_bundle(copy.deepcopy(document.documents), tmp_path / "base.fbz")


def _texts(model, parent=None, depth=0):
    from PySide6.QtCore import QModelIndex

    parent = parent or QModelIndex()
    out = []
    for row in range(model.rowCount(parent)):
        index = model.index(row, 0, parent)
        out.append((depth, model.data(index)))
        out += _texts(model, index, depth + 1)
    return out


def test_same_documents_show_no_differences(qtbot, document, bundle_path):
    view = DiffView(lambda: document.documents)
    qtbot.addWidget(view)
    assert view.compare_with(bundle_path) == []
    assert view.summary.text() == "The workspace and the bundle hold the same mappings."
    assert view.model.rowCount() == 0


def test_scenario_11_an_unmapped_field_reads_as_removed_in_your_workspace(
    qtbot, document, bundle_path
):
    """Issue 13, scenario 11 (was "+ field Receipt_Email__c added" and JSON cells): the diff
    speaks from the user's side and its cells read as words."""
    flow = document.current_flow
    document.unmap_field(flow, "Receipt_Email__c")
    view = DiffView(lambda: document.documents)
    qtbot.addWidget(view)
    changes = view.compare_with(bundle_path)
    assert changes == diff_document_sets(view_bundle_docs(bundle_path), document.documents)
    assert [c.kind for c in changes] == ["removed"]
    assert "Receipt_Email__c" in changes[0].path
    assert view.summary.text() == "Since the bundle, your workspace has 1 difference: 1 removed"
    texts = _texts(view.model)
    assert texts[0] == (0, f"flow {flow}")
    assert texts[-1][1] == "− field Receipt_Email__c removed in your workspace"
    leaf = view.model.item(0).child(view.model.item(0).rowCount() - 1, 1).text()
    assert leaf.startswith("receipt_email") and "Receipt_Email__c" in leaf
    assert "{" not in leaf and '"' not in leaf
    assert view.path_label.text() == str(bundle_path)
    assert COLUMNS[1:] == ("In the bundle", "In your workspace")


def view_bundle_docs(path):
    from mappings.bundle import load_bundle

    return load_bundle(path).documents


def test_choose_uses_the_injected_file_chooser(qtbot, document, bundle_path):
    document.unmap_field(document.current_flow, "Currency__c")
    view = DiffView(lambda: document.documents, choose_file=lambda: str(bundle_path))
    qtbot.addWidget(view)
    view.choose_button.click()
    assert len(view.changes) == 1 and view.bundle_path == bundle_path


def test_a_broken_bundle_says_why(qtbot, document, tmp_path):
    broken = tmp_path / "broken.fbz"
    broken.write_bytes(b"this is not a zip")
    view = DiffView(lambda: document.documents)
    qtbot.addWidget(view)
    with pytest.raises(BundleError) as info:
        view.compare_with(broken)
    assert view.summary.text() == f"Cannot compare: {info.value}"
    assert "broken.fbz" in view.summary.text()


def test_changes_model_passes_the_model_tester(qtmodeltester, document, bundle_path, catalogs):
    other = StudioDocument(catalogs=catalogs)
    other.open_template("charges-payments")
    flow = other.current_flow
    other.unmap_field(flow, "Amount__c")
    other.unmap_field(flow, "Currency__c")
    changes = diff_document_sets(other.documents, document.documents)
    model = changes_model(changes)
    headers = [model.headerData(i, Qt.Orientation.Horizontal) for i in range(3)]
    assert headers == list(COLUMNS)
    qtmodeltester.check(model)
    leaves = [t for d, t in _texts(model) if d > 0]
    assert len(leaves) == 2 and all(t.startswith("+ ") for t in leaves)
