"""The schema tree is lazy (issue 12): top-level rows reach views in batches, nested rows are
made on first read, and everything that needs the whole tree still sees all of it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, Qt

from app.models.schema_model import FieldPathRole, SchemaFilterProxy, SchemaTreeModel, build_tree
from app.views.schema_panel import SchemaPanel
from mappings.schema.model import FieldKind, FieldSchema, ObjectSchema, System

BATCH = 7


@pytest.fixture(autouse=True)
def _small_batches(qapp, monkeypatch):
    """Batches of 7, so a small object has rows the views have not been given yet."""
    monkeypatch.setattr(SchemaTreeModel, "FETCH_BATCH", BATCH)
    return qapp


@pytest.fixture
def wide() -> ObjectSchema:
    """30 flat fields, then a nested group (which only exists through its children)."""
    obj = ObjectSchema(System.STRIPE, "wide")
    for i in range(30):
        path = f"f{i:02d}"
        obj.fields[path] = FieldSchema(path, FieldKind.STRING, label=f"Field {i}")
    for path in ("address.city", "address.line1", "lines.data[].amount"):
        obj.fields[path] = FieldSchema(path, FieldKind.STRING)
    return obj


def _proxy_paths(proxy: SchemaFilterProxy, parent: QModelIndex | None = None) -> list[str]:
    parent = parent or QModelIndex()
    out: list[str] = []
    for row in range(proxy.rowCount(parent)):
        index = proxy.index(row, 0, parent)
        out.append(proxy.data(index, FieldPathRole))
        out.extend(_proxy_paths(proxy, index))
    return out


def test_lazy_model_passes_modeltester(qtmodeltester, wide):
    model = SchemaTreeModel(wide, drop_handler=lambda payload, target: True)
    assert model.rowCount() == BATCH and model.canFetchMore(QModelIndex())
    qtmodeltester.check(model)  # it calls fetchMore while it checks


def test_fetch_more_hands_out_batches_until_all(wide, qtbot):
    model = SchemaTreeModel(wide)
    total = 32  # 30 fields, "address", "lines"
    with qtbot.waitSignal(model.rowsInserted) as sig:
        model.fetchMore(QModelIndex())
    assert sig.args[1:] == [BATCH, 2 * BATCH - 1]
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    assert model.rowCount() == total
    assert not model.canFetchMore(model.index(0, 0))  # nested rows are never batched


def test_nested_rows_are_made_on_first_read(wide):
    root = build_tree(wide.fields.values())
    assert root.child_count() == 32 and root._kids is None  # nothing made yet
    address = root.child(30)
    assert address.path == "address" and address.field is None
    assert [c.path for c in address.children] == ["address.city", "address.line1"]
    data = root.child(31).child(0)
    assert data.path == "lines.data" and [c.path for c in data.children] == ["lines.data[].amount"]
    assert sum(kid is not None for kid in root._kids or []) == 2


def test_index_of_a_row_not_handed_out_yet_fetches_it(wide, qtbot):
    model = SchemaTreeModel(wide)
    assert not model.index_of("address.city", fetch=False).isValid()
    with qtbot.waitSignal(model.rowsInserted):
        index = model.index_of("address.city")
    assert index.isValid() and model.data(index, FieldPathRole) == "address.city"
    assert model.parent(index) == model.index_of("address")
    assert model.rowCount() == 31  # up to "address", not further
    assert not model.index_of("nope").isValid()


def test_marks_on_rows_not_handed_out_show_when_they_are(wide, qtbot):
    model = SchemaTreeModel(wide)
    with qtbot.assertNotEmitted(model.rowsInserted):
        model.set_mapped({"f25", "f01"})
    assert model.rowCount() == BATCH  # marking did not load anything
    assert model.data(model.index_of("f01"), Qt.ItemDataRole.FontRole).bold()
    assert model.data(model.index_of("f25"), Qt.ItemDataRole.FontRole).bold()


def test_search_sees_the_whole_tree_after_fetch_all(wide, qtmodeltester):
    model = SchemaTreeModel(wide)
    proxy = SchemaFilterProxy()
    proxy.setSourceModel(model)
    proxy.setFilterFixedString("city")
    assert _proxy_paths(proxy) == []  # not handed out yet: why the panel fetches first
    model.fetch_all()
    assert _proxy_paths(proxy) == ["address", "address.city"]
    qtmodeltester.check(proxy)


def test_panel_search_and_select_reach_past_the_first_batch(doc, qtbot):
    panel = SchemaPanel(doc, "target")
    qtbot.addWidget(panel)
    last = list(panel.model.object_schema.fields)[-1]
    assert panel.model.rowCount() == BATCH < len(panel.model.object_schema.fields)
    assert panel.select_path(last)
    assert panel.selected_path() == last
    panel.search.setText(last)
    panel._apply_search()
    assert last in _proxy_paths(panel.proxy)


def test_panel_columns_fit_the_rows_in_sight_as_the_tree_scrolls(doc, qtbot):
    """The columns are measured over the rows in sight (not all of a big object on every
    open), so a long name further down widens the column when it is scrolled to."""
    obj = ObjectSchema(System.SALESFORCE, "Long__c")
    for i in range(400):
        path = f"Long_name_of_field_number_{i:03d}_in_a_wide_org__c" if i == 350 else f"F{i}__c"
        obj.fields[path] = FieldSchema(path, FieldKind.STRING)
    panel = SchemaPanel(doc, "target")
    qtbot.addWidget(panel)
    panel.resize(300, 300)
    panel.show()
    panel.model.set_object(obj)
    panel.model.fetch_all()
    qtbot.wait(10)
    header = panel.tree.header()
    narrow = header.sectionSize(0)
    long_name = "Long_name_of_field_number_350_in_a_wide_org__c"
    long_index = panel.proxy.mapFromSource(panel.model.index_of(long_name))
    panel.tree.scrollTo(long_index)
    qtbot.wait(10)
    assert header.sectionSize(0) > narrow
    assert header.sectionSize(0) >= panel.tree.sizeHintForColumn(0)
