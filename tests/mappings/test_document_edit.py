"""Checked edits: refused before anything changes, removals remember their position."""

from __future__ import annotations

import copy

import pytest

from mappings.document.edit import (
    DocumentEditor,
    FieldMappingAdded,
    FieldMappingMoved,
    FieldMappingRemoved,
    FlowAdded,
    FlowRemoved,
    FlowRenamed,
    SourcesChanged,
    TransformsChanged,
)
from mappings.document.model import (
    Action,
    FieldMapping,
    Flow,
    Lookup,
    MappingDocument,
    ObjectRef,
    Operation,
    TransformStep,
    Trigger,
)
from mappings.errors import (
    EditError,
    IncompatibleTypeError,
    TargetAlreadyMappedError,
    UnknownFieldError,
)
from mappings.schema.model import Catalog, FieldKind, FieldSchema, ObjectSchema, System

FLOW = "charge-to-payment"


def _catalogs() -> dict[System, Catalog]:
    stripe = Catalog(System.STRIPE)
    stripe.add(
        ObjectSchema(
            System.STRIPE,
            "charge",
            fields={
                f.path: f
                for f in [
                    FieldSchema("id", FieldKind.ID),
                    FieldSchema("amount", FieldKind.INTEGER),
                    FieldSchema("created", FieldKind.TIMESTAMP),
                    FieldSchema("paid", FieldKind.BOOLEAN),
                    FieldSchema("metadata", FieldKind.MAP, free_keys=True),
                    FieldSchema("billing_details", FieldKind.OBJECT),
                ]
            },
        )
    )
    salesforce = Catalog(System.SALESFORCE)
    salesforce.add(
        ObjectSchema(
            System.SALESFORCE,
            "Payment__c",
            fields={
                f.path: f
                for f in [
                    FieldSchema("Name", FieldKind.STRING),
                    FieldSchema("Amount__c", FieldKind.CURRENCY),
                    FieldSchema("Paid_At__c", FieldKind.DATETIME),
                    FieldSchema("Paid__c", FieldKind.BOOLEAN),
                    FieldSchema("Account__c", FieldKind.REFERENCE),
                ]
            },
        )
    )
    return {System.STRIPE: stripe, System.SALESFORCE: salesforce}


def _doc() -> MappingDocument:
    return MappingDocument(
        name="charges",
        flows=[
            Flow(
                name=FLOW,
                trigger=Trigger(stripe_events=["charge.succeeded"]),
                source=ObjectRef(System.STRIPE, "charge"),
                target=ObjectRef(System.SALESFORCE, "Payment__c"),
                operation=Operation(Action.INSERT),
                fields=[
                    FieldMapping("Name", ["id"]),
                    FieldMapping("Amount__c", ["amount"], [TransformStep("minor_to_decimal")]),
                    FieldMapping("Paid__c", ["paid"]),
                ],
                lookups=[Lookup("Account__c", "Account", "StripeCustomerID__c", "customer")],
            )
        ],
    )


@pytest.fixture
def editor() -> DocumentEditor:
    return DocumentEditor(_doc(), catalogs=_catalogs())


def _targets(editor: DocumentEditor) -> list[str]:
    return [m.target for m in editor.flow(FLOW).fields]


def test_add_then_remove_restores_the_position(editor: DocumentEditor) -> None:
    events: list[object] = []
    editor.subscribe(events.append)
    mapping = FieldMapping("Paid_At__c", ["created"], [TransformStep("unix_to_datetime")])
    index = editor.add_field_mapping(FLOW, mapping, index=1)
    assert index == 1
    assert _targets(editor) == ["Name", "Paid_At__c", "Amount__c", "Paid__c"]
    assert events == [FieldMappingAdded(FLOW, 1, mapping)]

    # Undo of the add, then undo of a removal puts the mapping back at its old place.
    assert editor.remove_field_mapping(FLOW, "Paid_At__c") == (1, mapping)
    removed_at, removed = editor.remove_field_mapping(FLOW, "Amount__c")
    assert removed_at == 1
    assert _targets(editor) == ["Name", "Paid__c"]
    editor.add_field_mapping(FLOW, removed, index=removed_at)
    assert editor.document == _doc()
    assert events[1:] == [
        FieldMappingRemoved(FLOW, 1, mapping),
        FieldMappingRemoved(FLOW, 1, removed),
        FieldMappingAdded(FLOW, 1, removed),
    ]


@pytest.mark.parametrize(
    ("mapping", "error", "message"),
    [
        (
            FieldMapping("Name", ["id"]),
            TargetAlreadyMappedError,
            "Name is already mapped in flow 'charge-to-payment'; remove that mapping first",
        ),
        (
            FieldMapping("Account__c", ["customer"]),
            TargetAlreadyMappedError,
            "Account__c is already mapped in flow 'charge-to-payment'; remove that mapping first",
        ),
        (
            FieldMapping("Nope__c", ["id"]),
            UnknownFieldError,
            "salesforce:Payment__c has no field 'Nope__c'",
        ),
        (
            FieldMapping("Paid_At__c", ["created_at"]),
            UnknownFieldError,
            "stripe:charge has no field 'created_at'",
        ),
        (
            FieldMapping("Paid_At__c", ["created"]),
            IncompatibleTypeError,
            "charge.created is timestamp but Payment__c.Paid_At__c is datetime; add a "
            "transform that converts it",
        ),
    ],
)
def test_refused_adds_change_nothing(
    editor: DocumentEditor, mapping: FieldMapping, error: type[Exception], message: str
) -> None:
    events: list[object] = []
    editor.subscribe(events.append)
    before = copy.deepcopy(editor.document)
    with pytest.raises(error) as err:
        editor.add_field_mapping(FLOW, mapping)
    assert str(err.value) == message
    assert editor.document == before
    assert events == []


def test_unknown_flow_and_bad_position_are_refused(editor: DocumentEditor) -> None:
    before = copy.deepcopy(editor.document)
    with pytest.raises(EditError, match=r"no flow named 'nope' in 'charges' \(flows: 'charge-to"):
        editor.add_field_mapping("nope", FieldMapping("Paid_At__c"))
    with pytest.raises(EditError, match="cannot insert a field mapping at position 9: there are 3"):
        editor.add_field_mapping(FLOW, FieldMapping("Paid_At__c"), index=9)
    with pytest.raises(EditError, match="has no mapping for target field 'Paid_At__c'"):
        editor.remove_field_mapping(FLOW, "Paid_At__c")
    assert editor.document == before


def test_free_keys_and_transforms_pass_the_checks(editor: DocumentEditor) -> None:
    editor.add_field_mapping(FLOW, FieldMapping("Paid_At__c", ["metadata.paid_at"]))
    assert _targets(editor)[-1] == "Paid_At__c"


def test_set_transforms_returns_the_previous_chain(editor: DocumentEditor) -> None:
    events: list[object] = []
    editor.subscribe(events.append)
    new = [TransformStep("minor_to_decimal", {"currency_path": "currency"})]
    previous = editor.set_transforms(FLOW, "Amount__c", new)
    assert previous == [TransformStep("minor_to_decimal")]
    assert editor.flow(FLOW).fields[1].transforms == new
    assert events == [TransformsChanged(FLOW, "Amount__c", previous, new)]
    editor.set_transforms(FLOW, "Amount__c", previous)
    assert editor.document == _doc()


def test_removing_the_transform_of_an_incompatible_pair_is_refused() -> None:
    editor = DocumentEditor(_doc(), catalogs=_catalogs())
    editor.add_field_mapping(
        FLOW, FieldMapping("Paid_At__c", ["created"], [TransformStep("unix_to_datetime")])
    )
    before = copy.deepcopy(editor.document)
    with pytest.raises(IncompatibleTypeError):
        editor.set_transforms(FLOW, "Paid_At__c", [])
    assert editor.document == before


def test_set_sources_is_checked_and_undoable(editor: DocumentEditor) -> None:
    before = copy.deepcopy(editor.document)
    with pytest.raises(UnknownFieldError):
        editor.set_sources(FLOW, "Name", ["nope"])
    with pytest.raises(IncompatibleTypeError):
        editor.set_sources(FLOW, "Paid__c", ["amount"])
    assert editor.document == before
    events: list[object] = []
    editor.subscribe(events.append)
    previous = editor.set_sources(FLOW, "Name", ["amount"])
    assert previous == ["id"]
    assert events == [SourcesChanged(FLOW, "Name", ["id"], ["amount"])]
    editor.set_sources(FLOW, "Name", previous)
    assert editor.document == before


def test_move_field_mapping(editor: DocumentEditor) -> None:
    events: list[object] = []
    editor.subscribe(events.append)
    old = editor.move_field_mapping(FLOW, "Name", 2)
    assert (old, _targets(editor)) == (0, ["Amount__c", "Paid__c", "Name"])
    assert events == [FieldMappingMoved(FLOW, 0, 2, editor.flow(FLOW).fields[2])]
    editor.move_field_mapping(FLOW, "Name", old)
    assert editor.document == _doc()
    with pytest.raises(EditError, match="position 3 is outside"):
        editor.move_field_mapping(FLOW, "Name", 3)


def test_flows_add_remove_rename(editor: DocumentEditor) -> None:
    events: list[object] = []
    unsubscribe = editor.subscribe(events.append)
    extra = copy.deepcopy(editor.flow(FLOW))
    extra.name = "second"
    assert editor.add_flow(extra, index=0) == 0
    assert [f.name for f in editor.document.flows] == ["second", FLOW]
    with pytest.raises(EditError, match="a flow named 'second' already exists"):
        editor.add_flow(copy.deepcopy(extra))
    with pytest.raises(EditError, match="a flow named 'charge-to-payment' already exists"):
        editor.rename_flow("second", FLOW)
    with pytest.raises(EditError, match="is not a valid flow name"):
        editor.rename_flow("second", "a/b")
    editor.rename_flow("second", "third")
    assert editor.remove_flow("third") == (0, extra)
    assert events == [FlowAdded(0, extra), FlowRenamed("second", "third"), FlowRemoved(0, extra)]
    unsubscribe()
    editor.add_flow(copy.deepcopy(extra))
    assert len(events) == 3  # no longer listening
    with pytest.raises(EditError, match="no flow named 'gone'"):
        editor.remove_flow("gone")


def test_without_catalogs_only_structure_is_checked() -> None:
    editor = DocumentEditor(_doc())
    editor.add_field_mapping(FLOW, FieldMapping("Anything__c", ["whatever"]))
    with pytest.raises(TargetAlreadyMappedError):
        editor.add_field_mapping(FLOW, FieldMapping("Anything__c", ["x"]))
