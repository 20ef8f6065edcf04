"""Child collections: a source array mapped to child records (invoice lines -> OrderItems).

The invoice and its lines are built from the real Stripe shapes in
``mappings/data/stripe/fixtures3.json``; the schemas are the shipped catalogs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from mappings.bundle import load_bundle
from mappings.bundle.build import build_bundle
from mappings.document.diff import diff_documents, format_diff
from mappings.document.edit import (
    ChildCollectionAdded,
    ChildCollectionRemoved,
    ChildFieldMapped,
    ChildFieldUnmapped,
    DocumentEditor,
)
from mappings.document.model import (
    ChildCollection,
    DeletionPolicy,
    FieldMapping,
    MappingDocument,
    TransformStep,
)
from mappings.document.yamlio import dump_document, loads_document
from mappings.engine import compile_flow, format_fixture_report, run_fixtures
from mappings.engine.plan import FlowPlan
from mappings.errors import (
    BundleError,
    EditError,
    IncompatibleTypeError,
    MappingError,
    TargetAlreadyMappedError,
    UnknownFieldError,
    UnknownObjectError,
)
from mappings.limits import CHILD_RECORDS_MAX
from mappings.schema.model import Catalog, ChildRelationship, ObjectSchema, System
from mappings.schema.org_metadata import load_salesforce_catalog
from mappings.schema.stripe_catalog import load_stripe_catalog
from runner.cli import main

FLOW = "invoice-to-order"

DOC = """\
format: 1
name: invoices
flows:
  - name: invoice-to-order
    trigger: {stripe_events: [invoice.paid]}
    source: {system: stripe, object: invoice}
    target: {system: salesforce, object: Order}
    operation: {action: upsert, external_id: StripeInvoiceID__c}
    fields:
      - {target: StripeInvoiceID__c, source: [id]}
      - target: EffectiveDate
        source: [created]
        transforms: [{name: unix_to_date}]
    lookups:
      - {target: AccountId, object: Account, match_field: StripeCustomerID__c, source: customer}
    defaults: {Status: Draft}
    children:
      - relationship: OrderItems
        source: lines.data
        object: line_item
        target: OrderItem
        parent_field: OrderId
        external_id: StripeLineItemID__c
        conditions:
          - {path: amount, op: ne, value: 0}
        fields:
          - {target: StripeLineItemID__c, source: [id]}
          - {target: Quantity, source: [quantity]}
          - target: UnitPrice
            source: [amount]
            transforms: [{name: minor_to_decimal, args: {currency_path: currency}}]
          - {target: Description, source: [description]}
        lookups:
          - target: PricebookEntryId
            object: PricebookEntry
            match_field: StripePriceID__c
            source: pricing.price_details.price
        fixtures:
          - name: one line
            input: {id: il_1, object: line_item, amount: 2500, currency: eur, quantity: 2,
                    description: Seats, pricing: {type: price_details,
                    price_details: {price: price_1, product: prod_1}}}
            expected: {StripeLineItemID__c: il_1, Quantity: 2, UnitPrice: 25, Description: Seats,
                       PricebookEntryId: 01u000000000001AAA}
            lookups: {PricebookEntry.StripePriceID__c=price_1: 01u000000000001AAA}
          - name: a free line is left out
            input: {id: il_2, object: line_item, amount: 0, currency: eur, quantity: 1}
            expect_skip: true
"""


@pytest.fixture(scope="module")
def catalogs() -> dict[System, Catalog]:
    return {System.STRIPE: load_stripe_catalog(), System.SALESFORCE: load_salesforce_catalog()}


def schema_of(catalogs: dict[System, Catalog]) -> Any:
    return lambda system, name: catalogs[system].get(name)


def compile_invoice_flow(doc: MappingDocument, catalogs: dict[System, Catalog]) -> FlowPlan:
    flow = doc.flows[0]
    return compile_flow(
        flow,
        doc,
        catalogs[System.SALESFORCE].get("Order"),
        source_schema=catalogs[System.STRIPE].get("invoice"),
        schemas=schema_of(catalogs),
    )


def make_invoice(
    stripe_fixtures: dict, lines: int = 12, *, carried: int | None = None
) -> dict[str, Any]:
    """An invoice with ``lines`` lines of the real line_item shape; with ``carried``, Stripe
    embedded only that many and says ``has_more``."""
    invoice = copy.deepcopy(stripe_fixtures["invoice"])
    data = []
    for i in range(lines):
        line = copy.deepcopy(stripe_fixtures["line_item"])
        line.update(
            id=f"il_{i + 1:02d}",
            amount=1000 + 100 * i,
            quantity=i + 1,
            description=f"Line {i + 1}",
            pricing={
                "type": "price_details",
                "price_details": {"price": f"price_{i + 1}", "product": f"prod_{i + 1}"},
                "unit_amount_decimal": None,
            },
        )
        data.append(line)
    shown = data if carried is None else data[:carried]
    invoice["lines"] = {
        "object": "list",
        "data": shown,
        "has_more": carried is not None and carried < lines,
        "total_count": lines,
        "url": f"/v1/invoices/{invoice['id']}/lines",
    }
    return invoice


@pytest.fixture()
def doc() -> MappingDocument:
    return loads_document(DOC)


# --------------------------------------------------------------------------- engine


def test_an_invoice_with_twelve_lines_maps_to_twelve_order_items(
    doc: MappingDocument, catalogs: dict[System, Catalog], stripe_fixtures: dict
) -> None:
    plan = compile_invoice_flow(doc, catalogs)
    invoice = make_invoice(stripe_fixtures)
    result = plan.apply(invoice)

    assert result.ok, [str(i) for i in result.errors]
    assert result.record["StripeInvoiceID__c"] == invoice["id"]
    items = result.children["OrderItems"]
    assert len(items) == 12
    for i, item in enumerate(items):
        line = invoice["lines"]["data"][i]
        assert item.source_id == line["id"]
        assert item.record["StripeLineItemID__c"] == line["id"]
        assert item.record["Quantity"] == line["quantity"]
        assert item.record["UnitPrice"] * 100 == line["amount"]
        # Without a resolver the entry is linked by its external id; the parent reference is
        # the writer's to set.
        assert item.record["PricebookEntry"] == {"StripePriceID__c": f"price_{i + 1}"}
        assert "OrderId" not in item.record
    assert not any(i.code == "LIST_INCOMPLETE" for i in result.issues)

    out = result.to_dict()
    assert [c["record"]["StripeLineItemID__c"] for c in out["children"]["OrderItems"]] == [
        line["id"] for line in invoice["lines"]["data"]
    ]
    json.dumps(out)  # JSON-safe: Decimals are numbers


def test_children_read_the_object_inside_an_event(
    doc: MappingDocument, catalogs: dict[System, Catalog], stripe_fixtures: dict
) -> None:
    plan = compile_invoice_flow(doc, catalogs)
    invoice = make_invoice(stripe_fixtures, 3)
    event = {"object": "event", "id": "evt_1", "type": "invoice.paid", "data": {"object": invoice}}
    assert len(plan.apply(event).children["OrderItems"]) == 3


def test_elements_the_child_conditions_refuse_are_left_out(
    doc: MappingDocument, catalogs: dict[System, Catalog], stripe_fixtures: dict
) -> None:
    plan = compile_invoice_flow(doc, catalogs)
    invoice = make_invoice(stripe_fixtures)
    for line in invoice["lines"]["data"][3:5]:
        line["amount"] = 0
    result = plan.apply(invoice)
    ids = [item.source_id for item in result.children["OrderItems"]]
    assert len(ids) == 10
    assert "il_04" not in ids and "il_05" not in ids
    assert result.ok


def test_a_child_error_fails_the_parent(
    doc: MappingDocument, catalogs: dict[System, Catalog], stripe_fixtures: dict
) -> None:
    plan = compile_invoice_flow(doc, catalogs)
    invoice = make_invoice(stripe_fixtures)
    invoice["lines"]["data"][6]["quantity"] = None  # Quantity is required on an OrderItem
    invoice["lines"]["data"][9]["quantity"] = None
    result = plan.apply(invoice)

    assert not result.ok
    bad = [item for item in result.children["OrderItems"] if not item.ok]
    assert [item.source_id for item in bad] == ["il_07", "il_10"]
    assert bad[0].errors[0].code == "REQUIRED_FIELD_MISSING"
    (summary,) = [i for i in result.issues if i.code == "CHILD_INVALID"]
    assert summary.field == "OrderItems"
    assert summary.message == (
        "OrderItems: 2 of 12 lines cannot be written, so neither can the Order (first, il_07: "
        "Quantity is required but has no value)"
    )


def test_a_truncated_list_is_a_warning_naming_what_the_payload_carries(
    doc: MappingDocument, catalogs: dict[System, Catalog], stripe_fixtures: dict
) -> None:
    plan = compile_invoice_flow(doc, catalogs)
    result = plan.apply(make_invoice(stripe_fixtures, 12, carried=10))
    (warning,) = [i for i in result.issues if i.code == "LIST_INCOMPLETE"]
    assert warning.severity == "warning"
    assert warning.message == (
        "OrderItems: the invoice carries 10 of more lines; the runner fetches the rest before "
        "writing"
    )
    assert result.ok  # a warning: the runner completes the list, then maps again
    assert len(result.children["OrderItems"]) == 10


def test_static_child_issues_name_their_collection(
    doc: MappingDocument, catalogs: dict[System, Catalog]
) -> None:
    child = doc.flows[0].children[0]
    child.fields = [m for m in child.fields if m.target != "UnitPrice"]
    child.fields.append(FieldMapping("NoSuchField__c", ["id"]))
    plan = compile_invoice_flow(doc, catalogs)
    by_field = {i.field: i for i in plan.static_issues}
    assert by_field["OrderItems.UnitPrice"].message == (
        "OrderItems: UnitPrice is required to create a OrderItem but no mapping, lookup or "
        "default fills it"
    )
    assert by_field["OrderItems.NoSuchField__c"].code == "UNKNOWN_FIELD"
    # The parent reference is filled by the writer: not reported as missing.
    assert "OrderItems.OrderId" not in by_field
    # The child plan keeps its own issues under its own field names.
    assert {i.field for i in plan.children["OrderItems"].static_issues} >= {
        "UnitPrice",
        "NoSuchField__c",
    }


def test_a_child_without_its_upsert_key_mapped_is_reported(
    doc: MappingDocument, catalogs: dict[System, Catalog]
) -> None:
    child = doc.flows[0].children[0]
    child.fields = [m for m in child.fields if m.target != "StripeLineItemID__c"]
    plan = compile_invoice_flow(doc, catalogs)
    assert any(
        i.field == "OrderItems.StripeLineItemID__c" and "upsert key" in i.message
        for i in plan.static_issues
    )


def test_a_skipped_parent_names_its_relationships_with_no_children(
    doc: MappingDocument, catalogs: dict[System, Catalog], stripe_fixtures: dict
) -> None:
    plan = compile_invoice_flow(doc, catalogs)
    invoice = make_invoice(stripe_fixtures, 2)
    event = {"object": "event", "id": "evt_1", "type": "invoice.created", "data": {"object": invoice}}
    result = plan.apply(event)
    assert result.skipped
    assert result.children == {"OrderItems": []}
    assert result.to_dict()["children"] == {"OrderItems": []}


def test_a_source_that_is_not_a_list_is_an_error(
    doc: MappingDocument, catalogs: dict[System, Catalog], stripe_fixtures: dict
) -> None:
    plan = compile_invoice_flow(doc, catalogs)
    invoice = make_invoice(stripe_fixtures, 1)
    invoice["lines"]["data"] = "il_1"
    result = plan.apply(invoice)
    assert not result.ok
    assert [i.message for i in result.errors] == [
        "OrderItems: lines.data on the invoice is a str, not a list"
    ]
    # An element that is not an object is that child's error, and so the parent's.
    invoice["lines"]["data"] = [42]
    result = plan.apply(invoice)
    assert [i.code for i in result.errors] == ["CHILD_INVALID"]
    assert "must be a JSON object" in result.errors[0].message


def test_an_array_past_the_limit_is_refused_in_one_sentence(
    doc: MappingDocument, catalogs: dict[System, Catalog], stripe_fixtures: dict
) -> None:
    plan = compile_invoice_flow(doc, catalogs)
    invoice = make_invoice(stripe_fixtures, 1)
    line = invoice["lines"]["data"][0]
    invoice["lines"]["data"] = [line] * (CHILD_RECORDS_MAX + 1)
    result = plan.apply(invoice)
    assert result.children == {"OrderItems": []}
    assert [i.message for i in result.errors] == [
        f"OrderItems: the invoice carries {CHILD_RECORDS_MAX + 1:,} lines, more than the "
        f"{CHILD_RECORDS_MAX:,} one record may have; none was mapped"
    ]


def test_a_flow_without_children_has_no_children_key(
    catalogs: dict[System, Catalog], stripe_fixtures: dict
) -> None:
    doc = loads_document(DOC.split("    children:")[0])
    plan = compile_invoice_flow(doc, catalogs)
    out = plan.apply(make_invoice(stripe_fixtures, 2)).to_dict()
    assert "children" not in out


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("lines.nope", "OrderItems: invoice has no field lines.nope (the array of the child records)"),
        ("lines", "OrderItems: invoice.lines is a object field, not a list of child records"),
    ],
)
def test_a_child_source_that_is_not_a_list_of_the_parent_is_named(
    doc: MappingDocument, catalogs: dict[System, Catalog], source: str, message: str
) -> None:
    doc.flows[0].children[0].source = source
    plan = compile_invoice_flow(doc, catalogs)
    assert message in [i.message for i in plan.static_issues]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"relationship": "Items"},
            "OrderItems: Order has no child relationship Items (OrderItem records hang from it "
            "as OrderItems)",
        ),
        (
            {"target": "Order", "parent_field": "OriginalOrderId"},
            "OrderItems: Order.OrderItems holds OrderItem records, not Order",
        ),
        (
            {"parent_field": "OriginalOrderItemId"},
            "OrderItems: OrderItem records hang from Order by OrderId, not OriginalOrderItemId",
        ),
    ],
)
def test_the_relationship_must_be_the_parents_as_its_describe_names_it(
    doc: MappingDocument, catalogs: dict[System, Catalog], change: dict[str, str], message: str
) -> None:
    child = doc.flows[0].children[0]
    for attr, value in change.items():
        setattr(child, attr, value)
    plan = compile_invoice_flow(doc, catalogs)
    errors = [i for i in plan.static_issues if i.code == "INVALID_RELATIONSHIP"]
    # The message names the relationship as the document spells it.
    message = message.replace("OrderItems:", f"{child.relationship}:", 1)
    assert [i.message for i in errors] == [message]
    assert errors[0].severity == "error"


def test_a_misconfigured_child_transform_names_the_flow_and_the_collection(
    doc: MappingDocument, catalogs: dict[System, Catalog]
) -> None:
    child = doc.flows[0].children[0]
    child.mapping_for("UnitPrice").transforms.append(  # type: ignore[union-attr]
        TransformStep("no_such_transform")
    )
    with pytest.raises(MappingError) as err:
        compile_invoice_flow(doc, catalogs)
    assert str(err.value).startswith(
        f"flow '{FLOW}/OrderItems', field 'UnitPrice', step 2 (no_such_transform): "
    )


def test_a_child_object_with_no_schema_is_named(
    doc: MappingDocument, catalogs: dict[System, Catalog]
) -> None:
    doc.flows[0].children[0].target = "NoSuchItem__c"
    plan = compile_invoice_flow(doc, catalogs)
    assert any(
        i.code == "UNKNOWN_OBJECT" and i.message.startswith("OrderItems: no schema of NoSuchItem__c")
        for i in plan.static_issues
    )


# --------------------------------------------------------------------------- fixtures


def test_child_fixtures_run_against_the_child_plan(
    doc: MappingDocument, catalogs: dict[System, Catalog]
) -> None:
    schemas: dict[str, ObjectSchema] = {}
    for catalog in catalogs.values():
        for name in ("invoice", "line_item", "Order", "OrderItem"):
            found = catalog.get(name)
            if found is not None:
                schemas[f"{found.system.value}:{found.name}"] = found
    results = run_fixtures(doc, schemas)
    assert [(r.flow, r.fixture, r.passed) for r in results] == [
        (f"{FLOW}/OrderItems", "one line", True),
        (f"{FLOW}/OrderItems", "a free line is left out", True),
    ]

    doc.flows[0].children[0].fixtures[0].expected = {"UnitPrice": 2500}
    report = format_fixture_report(run_fixtures(doc, schemas))
    assert f"FAIL  {FLOW}/OrderItems / one line" in report
    assert "UnitPrice: expected 2500, got 25" in report


# --------------------------------------------------------------------------- diff


def test_diff_reports_child_collections_and_their_parts(doc: MappingDocument) -> None:
    after = copy.deepcopy(doc)
    flow = after.flows[0]
    flow.on_delete = DeletionPolicy.DELETE
    child = flow.children[0]
    child.on_removed = DeletionPolicy.DELETE
    child.fields = [m for m in child.fields if m.target != "Description"]
    child.mapping_for("Quantity").sources = ["quantity_decimal"]  # type: ignore[union-attr]
    child.defaults["ServiceDate"] = "2026-01-01"
    child.conditions = []
    flow.children.append(
        ChildCollection("Refunds__r", "refunds.data", "refund", "Refund__c", "Order__c",
                        "StripeRefundID__c", fields=[FieldMapping("StripeRefundID__c", ["id"])])
    )
    changes = diff_documents(doc, after)
    summaries = [c.summary for c in changes]
    assert summaries == [
        "on_delete: 'mark' -> 'delete'",
        "OrderItems: on_removed: 'mark' -> 'delete'",
        "OrderItems: conditions: 1 -> 0 (amount ne 0 -> none)",
        "OrderItems: field Description removed (was description)",
        "OrderItems: field Quantity sources: quantity -> quantity_decimal",
        "OrderItems: default ServiceDate added: '2026-01-01'",
        "child collection Refunds__r added (refunds.data -> Refund__c by Order__c, 1 fields, "
        "on_removed mark)",
    ]
    assert changes[1].path == f"flow {FLOW} / child OrderItems / on_removed"
    text = format_diff(changes)
    assert text.startswith(f"flow {FLOW}:\n  ~ on_delete")
    assert "  + child collection Refunds__r added" in text

    removed = diff_documents(after, doc)
    assert [c.summary for c in removed if c.kind == "removed"][0].startswith(
        "child collection Refunds__r removed (refunds.data -> Refund__c"
    )
    assert diff_documents(doc, copy.deepcopy(doc)) == []


# --------------------------------------------------------------------------- edits


def test_child_collection_edits_check_first_and_undo_by_position(
    doc: MappingDocument, catalogs: dict[System, Catalog]
) -> None:
    editor = DocumentEditor(doc, catalogs)
    events: list[Any] = []
    editor.subscribe(events.append)
    before = copy.deepcopy(doc)
    refunds = ChildCollection("Refunds", "refunds.data", "refund", "OrderItem", "OrderId",
                              "StripeLineItemID__c")

    index = editor.add_child_collection(FLOW, refunds, 0)
    assert index == 0 and doc.flows[0].children[0] is refunds
    assert events[-1] == ChildCollectionAdded(FLOW, 0, refunds)
    # undo of add: remove
    assert editor.remove_child_collection(FLOW, "Refunds") == (0, refunds)
    assert doc == before

    # undo of remove: add back where it was
    index, removed = editor.remove_child_collection(FLOW, "OrderItems")
    assert events[-1] == ChildCollectionRemoved(FLOW, index, removed)
    assert doc.flows[0].children == []
    editor.add_child_collection(FLOW, removed, index)
    assert doc == before

    # a child field: map, then unmap (its undo); unmap, then map back at its index
    mapping = FieldMapping("ServiceDate", ["period.start"], [TransformStep("unix_to_date")])
    at = editor.map_child_field(FLOW, "OrderItems", mapping)
    assert events[-1] == ChildFieldMapped(FLOW, "OrderItems", at, mapping)
    assert editor.unmap_child_field(FLOW, "OrderItems", "ServiceDate") == (at, mapping)
    assert events[-1] == ChildFieldUnmapped(FLOW, "OrderItems", at, mapping)
    at, quantity = editor.unmap_child_field(FLOW, "OrderItems", "Quantity")
    editor.map_child_field(FLOW, "OrderItems", quantity, at)
    assert doc == before


@pytest.mark.parametrize(
    ("edit", "error", "message"),
    [
        (
            lambda e: e.map_child_field(FLOW, "OrderItems", FieldMapping("OrderId", ["invoice"])),
            EditError,
            "OrderId is the reference to the parent record, which Fieldbridge fills itself: do "
            "not map it",
        ),
        (
            lambda e: e.map_child_field(FLOW, "OrderItems", FieldMapping("Quantity", ["amount"])),
            TargetAlreadyMappedError,
            f"Quantity is already mapped in OrderItems of flow {FLOW!r}; remove that mapping first",
        ),
        (
            lambda e: e.map_child_field(FLOW, "OrderItems", FieldMapping("Nope__c", ["id"])),
            UnknownFieldError,
            "salesforce:OrderItem has no field 'Nope__c'",
        ),
        (
            lambda e: e.map_child_field(FLOW, "OrderItems", FieldMapping("ServiceDate", ["nope"])),
            UnknownFieldError,
            "stripe:line_item has no field 'nope'",
        ),
        (
            lambda e: e.map_child_field(
                FLOW, "OrderItems", FieldMapping("ServiceDate", ["discountable"])
            ),
            IncompatibleTypeError,
            "line_item.discountable is boolean but OrderItem.ServiceDate is date; add a "
            "transform that converts it",
        ),
        (
            lambda e: e.unmap_child_field(FLOW, "Nope", "Quantity"),
            EditError,
            f"flow {FLOW!r} has no child collection 'Nope' (children: 'OrderItems')",
        ),
        (
            lambda e: e.add_child_collection(
                FLOW,
                ChildCollection("OrderItems", "x.data", "line_item", "OrderItem", "OrderId",
                                "StripeLineItemID__c"),
            ),
            EditError,
            f"flow {FLOW!r} already maps the relationship OrderItems",
        ),
        (
            lambda e: e.add_child_collection(
                FLOW,
                ChildCollection("Items2", "lines.data", "line_item", "OrderItem", "OrderId",
                                "StripeLineItemID__c"),
            ),
            EditError,
            f"flow {FLOW!r} already maps lines.data to child records",
        ),
        (
            lambda e: e.add_child_collection(
                FLOW, ChildCollection("X", "x.data", "line_item", "Nope__c", "OrderId", "Id")
            ),
            UnknownObjectError,
            "no salesforce object named 'Nope__c'",
        ),
        (
            lambda e: e.add_child_collection(
                FLOW, ChildCollection("X", "x.data", "line_item", "OrderItem", "", "Id")
            ),
            EditError,
            f"child collection 'X' of flow {FLOW!r}: its parent_field is empty",
        ),
    ],
)
def test_refused_child_edits_change_nothing(
    doc: MappingDocument,
    catalogs: dict[System, Catalog],
    edit: Any,
    error: type[Exception],
    message: str,
) -> None:
    editor = DocumentEditor(doc, catalogs)
    before = copy.deepcopy(doc)
    with pytest.raises(error) as err:
        edit(editor)
    assert str(err.value) == message
    assert doc == before


# --------------------------------------------------------------------------- bundles


def test_a_bundle_with_children_builds_verifies_and_reads_back(
    tmp_path: Path, doc: MappingDocument
) -> None:
    path = build_bundle([doc], tmp_path / "invoices.fbz", created_at="2026-01-01T00:00:00Z")
    bundle = load_bundle(path)
    (back,) = bundle.documents
    assert back == doc
    assert dump_document(back) == dump_document(doc)
    # The children's element, target and lookup objects are in the schema snapshot.
    assert "line_item" in bundle.stripe_schemas
    assert {"OrderItem", "PricebookEntry"} <= set(bundle.salesforce_schemas.names())
    # Of Order's child relationships only the one the flow writes through is kept; Account
    # (a lookup's object) keeps none of its dozens.
    order = bundle.salesforce_schemas["Order"]
    assert order.child_relationships == (ChildRelationship("OrderItems", "OrderItem", "OrderId"),)
    assert bundle.salesforce_schemas["Account"].child_relationships == ()
    (contract,) = bundle.manifest["flows"]
    assert contract["children"] == [
        {
            "relationship": "OrderItems",
            "source": "lines.data",
            "target": "salesforce:OrderItem",
            "operation": {"action": "upsert", "external_id": "StripeLineItemID__c"},
            "writes": [
                "OrderId", "StripeLineItemID__c", "Quantity", "UnitPrice", "Description",
                "PricebookEntryId",
            ],
        }
    ]
    assert main(["bundle", "verify", str(path)]) == 0


def _hostile_bundle(tmp_path: Path, doc: MappingDocument, text: str) -> Path:
    path = build_bundle([doc], tmp_path / "x.fbz", created_at="2026-01-01T00:00:00Z")
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    (name,) = [m for m in members if m.startswith("mappings/")]
    members[name] = text.encode()
    # A forger's bundle: the manifest names the new text's hash, so the reader parses it.
    manifest = json.loads(members["manifest.json"])
    manifest["members"][name] = hashlib.sha256(members[name]).hexdigest()
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return path


CHILD = (
    "      - {relationship: R%d, source: a.data, object: line_item, target: OrderItem, "
    "parent_field: OrderId, external_id: X}\n"
)


@pytest.mark.parametrize(
    ("make", "ending"),
    [
        (
            # 100,000 child collections: far past the document size limit.
            lambda: DOC.split("    children:")[0]
            + "    children:\n"
            + "".join(CHILD % i for i in range(100_000)),
            "the document is larger than 4,194,304 bytes; refusing it",
        ),
        (
            # A condition's value nested 10,000 deep inside a child collection.
            lambda: DOC.replace(
                "{path: amount, op: ne, value: 0}",
                "{path: amount, op: ne, value: " + "[" * 10_000 + "]" * 10_000 + "}",
            ),
            "the document is nested deeper than 64 levels; refusing it",
        ),
    ],
    ids=["100k-children", "absurd-nesting"],
)
def test_a_hostile_bundle_with_children_gets_one_sentence(
    tmp_path: Path, doc: MappingDocument, make: Any, ending: str
) -> None:
    path = _hostile_bundle(tmp_path, doc, make())
    with pytest.raises(BundleError) as err:
        load_bundle(path)
    message = str(err.value)
    assert message.endswith(ending)
    assert "\n" not in message and "Traceback" not in message


# --------------------------------------------------------------------------- map preview


def test_map_preview_prints_the_children(
    tmp_path: Path, stripe_fixtures: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping = tmp_path / "invoices.yaml"
    mapping.write_text(DOC)
    invoice = make_invoice(stripe_fixtures)
    source = tmp_path / "invoice.json"
    source.write_text(json.dumps(invoice))
    code = main(["map", "preview", str(mapping), "--flow", FLOW, "--input", str(source)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert list(out) == ["record", "issues", "skipped", "skip_reason", "children"]
    items = out["children"]["OrderItems"]
    assert [item["StripeLineItemID__c"] for item in items] == [
        line["id"] for line in invoice["lines"]["data"]
    ]
    assert items[0]["UnitPrice"] == 10
    assert items[11]["UnitPrice"] == 21
    assert not [i for i in out["issues"] if i["severity"] == "error"]


def test_map_preview_of_the_invoice_template_prints_its_twelve_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = Path(__file__).resolve().parents[2] / "mappings" / "templates" / "invoices-orders.yaml"
    doc = loads_document(template.read_text())
    flow = next(f for f in doc.flows if f.children)
    event = next(
        fx.input
        for fx in flow.fixtures
        if len(fx.input.get("data", {}).get("object", {}).get("lines", {}).get("data", [])) == 12
    )
    source = tmp_path / "invoice.json"
    source.write_text(json.dumps(event, default=str))
    code = main(["map", "preview", str(template), "--flow", flow.name, "--input", str(source)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    (relationship,) = out["children"]
    lines = event["data"]["object"]["lines"]["data"]
    assert [item[flow.children[0].external_id] for item in out["children"][relationship]] == [
        line["id"] for line in lines
    ]
