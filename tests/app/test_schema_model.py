"""Schema tree models: structure, roles, search, drag payloads and drops."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QMimeData, QModelIndex, Qt

from app.models.schema_model import (
    FIELD_MIME,
    FieldPathRole,
    FieldSchemaRole,
    SchemaFilterProxy,
    SchemaTreeModel,
    build_tree,
    decode_fields,
)
from mappings.schema.model import FieldKind, FieldSchema, ObjectSchema, System


@pytest.fixture(autouse=True)
def _app(qapp):
    """Icons and fonts need a QApplication."""
    return qapp


@pytest.fixture
def charge(catalogs):
    return catalogs[System.STRIPE]["charge"]


@pytest.fixture
def payment(catalogs):
    return catalogs[System.SALESFORCE]["Payment__c"]


def test_stripe_model_passes_modeltester(qtmodeltester, charge):
    model = SchemaTreeModel(charge)
    qtmodeltester.check(model)


def test_salesforce_model_passes_modeltester(qtmodeltester, payment):
    model = SchemaTreeModel(payment, drop_handler=lambda payload, target: True)
    qtmodeltester.check(model)


def test_proxy_passes_modeltester_while_filtering(qtmodeltester, charge):
    proxy = SchemaFilterProxy()
    proxy.setSourceModel(SchemaTreeModel(charge))
    proxy.setFilterFixedString("city")
    qtmodeltester.check(proxy)


def test_nesting_follows_dot_paths(charge):
    root = build_tree(charge)
    tops = {n.name: n for n in root.children}
    city = next(
        c for c in next(c for c in tops["billing_details"].children if c.name == "address").children
        if c.name == "city"
    )
    assert city.path == "billing_details.address.city"
    # list items nest under the list: level3.line_items[].product_code -> level3.line_items
    items = next(c for c in tops["level3"].children if c.name == "line_items")
    assert "level3.line_items[].product_code" in {c.path for c in items.children}
    # every field of the object appears exactly once
    seen: list[str] = []
    stack = list(root.children)
    while stack:
        node = stack.pop()
        if node.field is not None:
            seen.append(node.path)
        stack.extend(node.children)
    assert sorted(seen) == sorted(charge.fields)


def test_roles_show_type_markers_and_tooltips(payment):
    model = SchemaTreeModel(payment)
    index = model.index_of("StripeChargeID__c")
    assert index.isValid()
    # issue 13, scenario 4: the describe label is the main text (the API name was)
    assert model.data(index) == "Stripe Charge ID *"  # required
    assert "external id" in model.data(index.siblingAtColumn(1))
    assert model.data(index, FieldPathRole) == "StripeChargeID__c"
    assert model.data(index, FieldSchemaRole).external_id
    status = model.index_of("Status__c")
    tooltip = model.data(status, Qt.ItemDataRole.ToolTipRole)
    assert "Completed" in tooltip and "picklist" in tooltip
    assert model.data(index, Qt.ItemDataRole.DecorationRole) is not None


def test_mapped_fields_are_bold_and_announced(payment, qtbot):
    model = SchemaTreeModel(payment)
    index = model.index_of("Amount__c")
    with qtbot.waitSignal(model.dataChanged) as sig:
        model.set_mapped({"Amount__c"})
    assert sig.args[0] == index
    assert model.data(index, Qt.ItemDataRole.FontRole).bold()
    assert model.data(model.index_of("Name"), Qt.ItemDataRole.FontRole) is None


def test_search_keeps_ancestors(charge):
    proxy = SchemaFilterProxy()
    model = SchemaTreeModel(charge)
    proxy.setSourceModel(model)
    proxy.setFilterFixedString("ADDRESS.CITY")
    paths = []

    def walk(parent: QModelIndex) -> None:
        for row in range(proxy.rowCount(parent)):
            idx = proxy.index(row, 0, parent)
            paths.append(proxy.data(idx, FieldPathRole))
            walk(idx)

    walk(QModelIndex())
    assert "billing_details.address.city" in paths
    assert "billing_details" in paths  # ancestor kept
    assert "amount" not in paths


def test_mime_data_carries_system_object_and_path(charge):
    model = SchemaTreeModel(charge)
    index = model.index_of("billing_details.email")
    mime = model.mimeData([index, index.siblingAtColumn(1)])
    assert FIELD_MIME in mime.formats()
    payload = json.loads(bytes(mime.data(FIELD_MIME).data()))
    assert payload == {
        "system": "stripe",
        "object": "charge",
        "path": "billing_details.email",
        "paths": ["billing_details.email"],
    }


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[1, 2]", b'{"system": "stripe"}', b'{"system": 1, "object": "x", "path": "y"}'],
)
def test_malformed_payloads_are_refused(raw, payment):
    mime = QMimeData()
    mime.setData(FIELD_MIME, raw)
    assert decode_fields(mime) is None
    model = SchemaTreeModel(payment, drop_handler=lambda p, t: True)
    target = model.index_of("Fee__c")
    assert not model.canDropMimeData(mime, Qt.DropAction.CopyAction, -1, -1, target)
    assert not model.dropMimeData(mime, Qt.DropAction.CopyAction, -1, -1, target)


def test_drop_on_a_field_calls_the_handler(charge, payment):
    received = []
    target_model = SchemaTreeModel(payment, drop_handler=lambda p, t: received.append((p, t)) or 1)
    source_model = SchemaTreeModel(charge)
    mime = source_model.mimeData([source_model.index_of("amount")])
    target = target_model.index_of("Fee__c")
    assert target_model.flags(target) & Qt.ItemFlag.ItemIsDropEnabled
    assert target_model.canDropMimeData(mime, Qt.DropAction.CopyAction, -1, -1, target)
    assert target_model.dropMimeData(mime, Qt.DropAction.CopyAction, -1, -1, target)
    assert received == [
        ({"system": "stripe", "object": "charge", "path": "amount", "paths": ["amount"]}, "Fee__c")
    ]
    # a model without a handler refuses drops
    assert not (source_model.flags(source_model.index_of("amount")) & Qt.ItemFlag.ItemIsDropEnabled)


def test_flags_of_fields_groups_and_drop_targets():
    """Fields drag, a grouping node (a parent only its children name) only selects; fields
    take drops only in a model with a handler."""
    obj = ObjectSchema(System.STRIPE, "thing")
    for path in ("amount", "address.city"):
        obj.fields[path] = FieldSchema(path, FieldKind.STRING)
    shown = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
    drag, drop = Qt.ItemFlag.ItemIsDragEnabled, Qt.ItemFlag.ItemIsDropEnabled
    for handler, field_flags in ((None, shown | drag), (lambda p, t: True, shown | drag | drop)):
        model = SchemaTreeModel(obj, drop_handler=handler)
        assert model.flags(model.index_of("address")) == shown
        assert model.flags(model.index_of("address.city")) == field_flags
        assert model.flags(model.index_of("amount")) == field_flags
        assert model.flags(QModelIndex()) == Qt.ItemFlag.NoItemFlags
