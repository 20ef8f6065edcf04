"""Flatten an SDK class into :class:`FieldSchema` values addressed by dot paths.

Nested objects contribute their own fields (``billing_details.address.city``); list elements
are addressed with ``[]`` (``lines.data[].amount``). The walk stops at ``max_depth`` path
segments and never re-enters a class already on the current path, so self-referencing
shapes terminate. Kinds follow the annotation, with two judgements made from names and
docstrings: which integers are Unix timestamps, and which are money amounts in minor units
(they stay INTEGER but their description says so).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from mappings.schema.model import FieldKind, FieldSchema
from mappings.schema.stripe_source import (
    Annotation,
    ClassRef,
    Enum,
    ListOf,
    MapOf,
    Nested,
    Page,
    Prim,
    Ref,
    SdkSource,
    Shape,
    Unknown,
    Var,
)

# Segments of the deepest path kept: items.data[].price.recurring.interval is 5.
DEFAULT_MAX_DEPTH = 5

LIST_ENVELOPE = ClassRef("stripe._list_object", "ListObject")

# ListObject's own fields carry no docstrings in the SDK.
_ENVELOPE_DOCS = {
    "data": "The items on this page of the list.",
    "has_more": "True if there are more items after this page.",
    "url": "The API URL for accessing this list.",
}

_SCALAR_KINDS = {
    "str": FieldKind.STRING,
    "bool": FieldKind.BOOLEAN,
    "int": FieldKind.INTEGER,
    "float": FieldKind.NUMBER,
    "Decimal": FieldKind.NUMBER,
    "Any": FieldKind.ANY,
}

# Docstrings Stripe writes for Unix-seconds fields ("Time at which the object was created.
# Measured in seconds since the Unix epoch.", "Unix timestamp of ...").
# Also docstrings that open with "Date ..." / "The time ..." ("Date after which the coupon can
# no longer be redeemed.", "The time that the payment succeeded.").
_TIMESTAMP_DOC = re.compile(
    r"seconds since (the )?(unix )?epoch|unix (epoch|timestamp)|\btime at which\b|\btimestamp\b"
    r"|^(the )?(date|time)\b",
    re.IGNORECASE,
)
# Names of Unix-seconds fields whose docstring is silent about it (``arrival_date``: "Date
# that you can expect the payout to arrive in the bank").
_TIMESTAMP_NAME = re.compile(
    r"^(created|date|start|end|available_on|due_by|billing_cycle_anchor|next_payment_attempt"
    r"|trial_start|trial_end|(current_)?period_(start|end)|redeem_by|current_deadline"
    r"|billed_until)$|_at$|_date$|_time$"
)
# Durations, counts and offsets that the rules above would otherwise catch ("The time it
# took in milliseconds ...", "The time difference between UTC time and the local time").
_NOT_TIMESTAMP_DOC = re.compile(
    r"\bnumber of (days|seconds|hours|minutes)\b|\bmilliseconds\b|\bin minutes\b"
    r"|\btime (difference|it took)\b",
    re.IGNORECASE,
)

_AMOUNT_NAME = re.compile(r"(^|_)amount(_|$)|^amount")
_MINOR_UNITS_DOC = re.compile(r"smallest currency unit|\bcents\b|minor unit", re.IGNORECASE)
MINOR_UNITS_NOTE = (
    "Amount in the currency's smallest unit (minor units: cents for USD, whole yen for JPY)."
)


def is_timestamp(name: str, doc: str) -> bool:
    """Whether an integer field holds Unix seconds, judged by its docstring then its name."""
    if _NOT_TIMESTAMP_DOC.search(doc):
        return False
    return bool(_TIMESTAMP_DOC.search(doc) or _TIMESTAMP_NAME.search(name))


def is_amount(name: str) -> bool:
    return bool(_AMOUNT_NAME.search(name)) and not name.endswith("_decimal")


def is_minor_units(name: str, doc: str) -> bool:
    """Whether an integer (not a timestamp) is money in the currency's smallest unit: the
    SDK's docstring says so ("in cents", "smallest currency unit"), or it is named an amount."""
    return bool(_MINOR_UNITS_DOC.search(doc)) or is_amount(name)


def humanize(name: str) -> str:
    words = name.replace("[]", "").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


class FieldFlattener:
    """Turns classes of one :class:`SdkSource` into flat field dictionaries."""

    def __init__(self, source: SdkSource, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self.source = source
        self.max_depth = max_depth

    def fields_of(self, ref: ClassRef) -> dict[str, FieldSchema]:
        out: dict[str, FieldSchema] = {}
        self._walk(ref, "", out, (ref,), {}, None)
        root_id = out.get("id")
        if root_id is not None and root_id.kind is FieldKind.STRING:
            out["id"] = replace(root_id, kind=FieldKind.ID)
        return out

    def _walk(
        self,
        ref: ClassRef,
        prefix: str,
        out: dict[str, FieldSchema],
        stack: tuple[ClassRef, ...],
        bindings: dict[str, Shape],
        currency: str | None,
    ) -> None:
        info = self.source.info(ref)
        # The currency an amount of this class is in: its own ``currency`` field, else the
        # nearest enclosing one (a charge's ``amount`` and its refunds' ``data[].amount``).
        if any(decl.key == "currency" for decl in info.fields):
            currency = prefix + "currency"
        # API error objects (``last_payment_error``) embed full copies of the objects involved.
        expand_resources = info.object_name is not None or not ref.name.endswith("Error")
        for decl in info.fields:
            path = prefix + decl.key
            if path in out:  # a union of classes: the first member's field wins
                continue
            shape, annotation, doc = decl.annotation.shape, decl.annotation, decl.doc
            if bindings and isinstance(shape, Var | ListOf):
                shape = _bind(shape, bindings)
                annotation = replace(annotation, text=_bind_text(annotation.text, bindings))
            if ref == LIST_ENVELOPE and not doc:
                doc = _ENVELOPE_DOCS.get(decl.key, "")
            out[path] = self._field(path, decl.key, shape, annotation, doc, currency)
            if path.count(".") + 1 >= self.max_depth:
                continue
            if isinstance(shape, Nested):
                self._walk_members(
                    shape.classes, path + ".", out, stack, expand_resources, currency
                )
            elif isinstance(shape, ListOf) and isinstance(shape.item, Nested):
                self._walk_members(
                    shape.item.classes, path + "[].", out, stack, expand_resources, currency
                )
            elif isinstance(shape, Page):
                self._walk(LIST_ENVELOPE, path + ".", out, stack, {"T": shape.item}, currency)

    def _walk_members(
        self,
        classes: tuple[ClassRef, ...],
        prefix: str,
        out: dict[str, FieldSchema],
        stack: tuple[ClassRef, ...],
        expand_resources: bool,
        currency: str | None,
    ) -> None:
        """Descend into the classes of an object field; a union merges its members' fields.

        A full API resource inside an API error object (the ``payment_intent`` of an
        invoice's ``last_finalization_error``) is left as one OBJECT field: it is described
        as an object of its own, and copying it into every error object would bury the
        fields people map under thousands they never do (invoice: 2,165 fields -> ~350).
        Other embedded resources (a subscription item's ``price``) are expanded.
        """
        members = [
            ref
            for ref in classes
            if ref not in stack and (expand_resources or not self.source.object_name(ref))
        ]
        if len(members) == 1:
            self._walk(members[0], prefix, out, (*stack, members[0]), {}, currency)
            return
        merged: dict[str, FieldSchema] = {}
        for ref in members:
            found: dict[str, FieldSchema] = {}
            self._walk(ref, prefix, found, (*stack, ref), {}, currency)
            for path, field in found.items():
                merged[path] = _merge(merged[path], field) if path in merged else field
        for path, field in merged.items():
            # A member that lacks the field sends no value: every union field may be absent.
            out.setdefault(path, replace(field, nullable=True))

    def _field(
        self,
        path: str,
        name: str,
        shape: Shape,
        annotation: Annotation,
        doc: str,
        currency: str | None,
    ) -> FieldSchema:
        kind = FieldKind.ANY  # Unknown, or an unbound type variable
        extra: dict[str, Any] = {}
        if isinstance(shape, Prim):
            kind = _SCALAR_KINDS.get(shape.name, FieldKind.ANY)
            if kind is FieldKind.INTEGER:
                if is_timestamp(name, doc):
                    kind = FieldKind.TIMESTAMP
                elif is_minor_units(name, doc):
                    if not _MINOR_UNITS_DOC.search(doc):
                        doc = f"{doc} {MINOR_UNITS_NOTE}".strip()
                    # "" when the object carries no currency: a conversion must name one.
                    extra = {"minor_units_currency": currency or ""}
        elif isinstance(shape, Enum):
            kind = FieldKind.PICKLIST
            extra = {"enum_values": shape.values, "restricted": not shape.open}
        elif isinstance(shape, Ref):
            kind = FieldKind.REFERENCE
            extra = {"expandable": True, "reference_to": self._object_names(shape.targets)}
        elif isinstance(shape, MapOf):
            kind = FieldKind.MAP
            extra = {"free_keys": True}
        elif isinstance(shape, Nested | Page):
            kind = FieldKind.OBJECT
            if not doc and isinstance(shape, Nested) and len(shape.classes) == 1:
                doc = self.source.info(shape.classes[0]).doc
        elif isinstance(shape, ListOf):
            kind = FieldKind.LIST
            item = shape.item
            if isinstance(item, Enum):
                extra = {"enum_values": item.values, "restricted": not item.open}
            elif isinstance(item, Ref):
                extra = {"expandable": True, "reference_to": self._object_names(item.targets)}
        return FieldSchema(
            path=path,
            kind=kind,
            native_type=annotation.text,
            label=humanize(name),
            description=doc,
            nullable=annotation.nullable,
            **extra,
        )

    def _object_names(self, refs: tuple[ClassRef, ...]) -> tuple[str, ...]:
        names: list[str] = []
        for ref in refs:
            name = self.source.object_name(ref)
            if name and name not in names:
                names.append(name)
        return tuple(names)


def _merge(first: FieldSchema, other: FieldSchema) -> FieldSchema:
    """One field of a union whose members both declare it (``object``: account | card ...)."""
    if first.kind is not other.kind:
        native = f"{first.native_type} | {other.native_type}"
        kinds = {first.kind, other.kind}
        if kinds == {FieldKind.REFERENCE, FieldKind.STRING}:  # an id, expandable or not
            reference = first if first.kind is FieldKind.REFERENCE else other
            return replace(reference, native_type=native)
        return replace(first, kind=FieldKind.ANY, native_type=native, enum_values=())
    values = first.enum_values + tuple(v for v in other.enum_values if v not in first.enum_values)
    if values != first.enum_values:
        first = replace(first, native_type=f"{first.native_type} | {other.native_type}")
    targets = first.reference_to + tuple(
        t for t in other.reference_to if t not in first.reference_to
    )
    return replace(
        first,
        enum_values=values,
        restricted=first.restricted and other.restricted,
        reference_to=targets,
        description=first.description or other.description,
    )


def _bind_text(text: str, bindings: dict[str, Shape]) -> str:
    for var, shape in bindings.items():
        replacement = shape_text(shape).replace("\\", "\\\\")
        text = re.sub(rf"\b{re.escape(var)}\b", replacement, text)
    return text


def shape_text(shape: Shape) -> str:
    """A short type name for a shape, used where the SDK's text has a type variable."""
    if isinstance(shape, Prim):
        return shape.name
    if isinstance(shape, Nested):
        names = [ref.name for ref in shape.classes]
        return names[0] if len(names) == 1 else f"Union[{', '.join(names)}]"
    if isinstance(shape, Ref):
        return f"ExpandableField[{', '.join(ref.name for ref in shape.targets)}]"
    if isinstance(shape, Enum):
        return f"Literal{list(shape.values)}"
    if isinstance(shape, ListOf):
        return f"List[{shape_text(shape.item)}]"
    if isinstance(shape, Page):
        return f"ListObject[{shape_text(shape.item)}]"
    if isinstance(shape, MapOf):
        return f"UntypedStripeObject[{shape_text(shape.value)}]"
    if isinstance(shape, Var):
        return shape.name
    return shape.text


def _bind(shape: Shape, bindings: dict[str, Shape]) -> Shape:
    if isinstance(shape, Var):
        return bindings.get(shape.name, Unknown(shape.name))
    if isinstance(shape, ListOf):
        return ListOf(_bind(shape.item, bindings))
    return shape
