"""The editor and the compiler agree on every direct link (issue 10).

Whatever :class:`DocumentEditor` lets a user link with no transform, compiling the flow gives
no ``INVALID_TYPE`` issue for it; whatever it refuses as an incompatible type, the compiler
flags. Both sides are exercised for real (the editor's checked edit, ``compile_flow``), on
synthetic fields of every kind and on the shipped Stripe and Salesforce catalogs.
"""

from __future__ import annotations

import functools

from hypothesis import given, settings
from hypothesis import strategies as st

from mappings.document.edit import DocumentEditor
from mappings.document.model import (
    Action,
    FieldMapping,
    Flow,
    MappingDocument,
    ObjectRef,
    Operation,
    Trigger,
)
from mappings.engine.plan import compile_flow
from mappings.errors import IncompatibleTypeError
from mappings.schema.model import Catalog, FieldKind, FieldSchema, ObjectSchema, System
from mappings.schema.org_metadata import load_salesforce_catalog
from mappings.schema.stripe_catalog import load_stripe_catalog

KINDS = list(FieldKind)


def _agree(source: ObjectSchema, target: ObjectSchema, source_path: str, target_path: str) -> None:
    """Link ``source_path`` to ``target_path`` in the editor, compile, and compare verdicts."""
    flow = Flow(
        name="f",
        trigger=Trigger(),
        source=ObjectRef(source.system, source.name),
        target=ObjectRef(target.system, target.name),
        operation=Operation(Action.INSERT),
    )
    document = MappingDocument("property", [flow])
    catalogs = {source.system: Catalog(source.system), target.system: Catalog(target.system)}
    catalogs[source.system].add(source)
    catalogs[target.system].add(target)
    editor = DocumentEditor(document, catalogs)
    try:
        editor.add_field_mapping("f", FieldMapping(target_path, [source_path]))
        editor_ok = True
    except IncompatibleTypeError:
        editor_ok = False
        flow.fields.append(FieldMapping(target_path, [source_path]))  # what a file could hold
    plan = compile_flow(flow, document, target, source_schema=source)
    flagged = [i for i in plan.static_issues if i.code == "INVALID_TYPE" and i.field == target_path]
    compiler_ok = not flagged
    assert editor_ok == compiler_ok, (
        f"{source.name}.{source_path} -> {target.name}.{target_path}: "
        f"editor {'accepts' if editor_ok else 'refuses'}, compiler "
        f"{'accepts' if compiler_ok else 'flags ' + flagged[0].message}"
    )


# -- synthetic fields: every kind against every kind, plus Stripe's free metadata keys


def _object(system: System, name: str, fields: list[FieldSchema]) -> ObjectSchema:
    return ObjectSchema(system, name, fields={f.path: f for f in fields})


@st.composite
def _synthetic_link(draw: st.DrawFn) -> tuple[ObjectSchema, ObjectSchema, str, str]:
    source_kind = draw(st.sampled_from(KINDS))
    target_kind = draw(st.sampled_from(KINDS))
    to_stripe = draw(st.booleans())
    metadata = FieldSchema("metadata", FieldKind.MAP, free_keys=True)
    stripe_fields = [metadata]
    # A Stripe side may read or write a metadata key instead of its typed field.
    use_key = draw(st.booleans())
    if to_stripe:
        source = _object(System.SALESFORCE, "Src__c", [FieldSchema("Src__c", source_kind)])
        target = _object(
            System.STRIPE, "customer", [FieldSchema("dst", target_kind), *stripe_fields]
        )
        return source, target, "Src__c", ("metadata.key" if use_key else "dst")
    source = _object(System.STRIPE, "charge", [FieldSchema("src", source_kind), *stripe_fields])
    target = _object(System.SALESFORCE, "Dst__c", [FieldSchema("Dst__c", target_kind)])
    return source, target, ("metadata.key" if use_key else "src"), "Dst__c"


@settings(max_examples=400, deadline=None)
@given(_synthetic_link())
def test_editor_and_compiler_agree_on_synthetic_fields(
    link: tuple[ObjectSchema, ObjectSchema, str, str],
) -> None:
    _agree(*link)


def test_every_pair_of_kinds_agrees() -> None:
    """The exhaustive version of the property above for the 22 x 22 kinds, field to field."""
    for source_kind in KINDS:
        for target_kind in KINDS:
            _agree(
                _object(System.STRIPE, "charge", [FieldSchema("src", source_kind)]),
                _object(System.SALESFORCE, "Dst__c", [FieldSchema("Dst__c", target_kind)]),
                "src",
                "Dst__c",
            )


# -- the shipped catalogs


@functools.cache
def _real_fields(system: System) -> tuple[tuple[ObjectSchema, str], ...]:
    if system is System.STRIPE:
        stripe = load_stripe_catalog()
        names = ("charge", "customer", "invoice", "subscription", "payout", "refund")
        objects = [stripe[n] for n in names]
    else:
        salesforce = load_salesforce_catalog()
        objects = [salesforce[n] for n in sorted(salesforce.objects)]
    return tuple((obj, f.path) for obj in objects for f in obj)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(System)), st.data())
def test_editor_and_compiler_agree_on_shipped_schemas(
    source_system: System, data: st.DataObject
) -> None:
    target_system = System.SALESFORCE if source_system is System.STRIPE else System.STRIPE
    source_obj, source_path = data.draw(st.sampled_from(_real_fields(source_system)))
    target_obj, target_path = data.draw(st.sampled_from(_real_fields(target_system)))
    _agree(source_obj, target_obj, source_path, target_path)
