"""Semantic diff of mapping documents: what a reviewer cares about, not which lines moved.

Flows are matched by name, child collections by relationship and field mappings by target
field, so reordering any of them is not a change. ``before``/``after`` hold plain JSON-like data (the YAML shape), ready for
``--json`` output.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from mappings.document.model import (
    ChildCollection,
    FieldMapping,
    Flow,
    MappingDocument,
    TransformStep,
)
from mappings.document.yamlio import (
    child_to_data,
    condition_to_data,
    field_mapping_to_data,
    fixture_to_data,
    flow_to_data,
    lookup_to_data,
    operation_to_data,
    step_to_data,
    trigger_to_data,
)

ChangeKind = Literal["added", "removed", "changed"]
SEP = " / "
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    path: str  # "flow charge-to-payment / field Amount__c / transforms"
    before: Any
    after: Any
    summary: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "before": self.before,
            "after": self.after,
            "summary": self.summary,
        }


def diff_documents(a: MappingDocument, b: MappingDocument) -> list[Change]:
    """Changes that turn ``a`` into ``b``, in a stable order (b's order for what both hold)."""
    out: list[Change] = []
    for attr in ("name", "description"):
        before, after = getattr(a, attr), getattr(b, attr)
        if before != after:
            out.append(_changed(attr, before, after, f"{attr} {before!r} -> {after!r}"))
    out += _diff_keyed(
        "value map",
        a.value_maps,
        b.value_maps,
        describe=lambda name, v: f"{len(v)} entries",
        nested=_diff_value_map,
    )
    if a.rates != b.rates:
        before = _rates_data(a)
        after = _rates_data(b)
        if before is None and after is not None:
            out.append(
                Change("added", "rates", None, after, f"rates table added (base {after['base']})")
            )
        elif after is None:
            out.append(Change("removed", "rates", before, None, "rates table removed"))
        elif before is not None:
            out.append(_changed("rates", before, after, _rates_summary(before, after)))
    out += _match(
        a.flows,
        b.flows,
        key=lambda f: f.name,
        removed=lambda f: Change(
            "removed",
            f"flow {f.name}",
            flow_to_data(f),
            None,
            f"flow {f.name!r} removed ({_flow_line(f)})",
        ),
        added=lambda f: Change(
            "added",
            f"flow {f.name}",
            None,
            flow_to_data(f),
            f"flow {f.name!r} added ({_flow_line(f)})",
        ),
        both=diff_flows,
    )
    return out


def diff_document_sets(a: Sequence[MappingDocument], b: Sequence[MappingDocument]) -> list[Change]:
    """Diff two sets of documents (folders, bundles). One document each: a plain diff."""
    if len(a) == 1 and len(b) == 1:
        return diff_documents(a[0], b[0])

    def inside(old: MappingDocument, doc: MappingDocument) -> list[Change]:
        return [
            Change(
                change.kind,
                f"document {doc.name}{SEP}{change.path}",
                change.before,
                change.after,
                change.summary,
            )
            for change in diff_documents(old, doc)
        ]

    return _match(
        a,
        b,
        key=lambda d: d.name,
        removed=lambda d: Change(
            "removed",
            f"document {d.name}",
            d.name,
            None,
            f"document {d.name!r} removed ({len(d.flows)} flows)",
        ),
        added=lambda d: Change(
            "added",
            f"document {d.name}",
            None,
            d.name,
            f"document {d.name!r} added ({len(d.flows)} flows)",
        ),
        both=inside,
    )


def diff_flows(a: Flow, b: Flow) -> list[Change]:
    base = f"flow {b.name}"
    out: list[Change] = []

    def compare(label: str, before: Any, after: Any, summary: str | None = None) -> None:
        if before != after:
            text = summary or f"{label}: {_short(before)} -> {_short(after)}"
            out.append(_changed(f"{base}{SEP}{label}", before, after, text))

    compare("description", a.description, b.description)
    compare(
        "trigger",
        trigger_to_data(a.trigger),
        trigger_to_data(b.trigger),
        f"trigger: {_trigger_text(a)} -> {_trigger_text(b)}",
    )
    compare("source", str(a.source), str(b.source))
    compare("target", str(a.target), str(b.target))
    compare("operation", operation_to_data(a), operation_to_data(b))
    compare("on_delete", a.on_delete.value, b.on_delete.value)
    out += _diff_parts(base, a, b)
    out += _match(
        a.children,
        b.children,
        key=lambda c: c.relationship,
        removed=lambda c: Change(
            "removed",
            f"{base}{SEP}child {c.relationship}",
            child_to_data(c),
            None,
            f"child collection {c.relationship} removed ({_child_line(c)})",
        ),
        added=lambda c: Change(
            "added",
            f"{base}{SEP}child {c.relationship}",
            None,
            child_to_data(c),
            f"child collection {c.relationship} added ({_child_line(c)})",
        ),
        both=lambda before, c: _diff_child(f"{base}{SEP}child {c.relationship}", before, c),
    )
    return out


def _diff_child(path: str, a: ChildCollection, b: ChildCollection) -> list[Change]:
    """A child collection's changes, each summary led by its relationship ("OrderItems: ...")
    so that it reads on its own under the flow's heading."""
    inner: list[Change] = []
    for label in ("source", "object", "target", "parent_field", "external_id", "description"):
        before, after = getattr(a, label), getattr(b, label)
        if before != after:
            inner.append(
                _changed(
                    f"{path}{SEP}{label}", before, after,
                    f"{label}: {_short(before)} -> {_short(after)}",
                )
            )
    if a.on_removed != b.on_removed:
        inner.append(
            _changed(
                f"{path}{SEP}on_removed", a.on_removed.value, b.on_removed.value,
                f"on_removed: {a.on_removed.value!r} -> {b.on_removed.value!r}",
            )
        )
    inner += _diff_parts(path, a, b)
    return [
        Change(c.kind, c.path, c.before, c.after, f"{b.relationship}: {c.summary}") for c in inner
    ]


def _diff_parts(
    base: str, a: Flow | ChildCollection, b: Flow | ChildCollection
) -> list[Change]:
    """What flows and child collections both hold: conditions, fields, lookups, defaults and
    fixtures."""
    out: list[Change] = []
    before = [condition_to_data(c) for c in a.conditions]
    after = [condition_to_data(c) for c in b.conditions]
    if before != after:
        out.append(
            _changed(
                f"{base}{SEP}conditions",
                before,
                after,
                f"conditions: {len(a.conditions)} -> {len(b.conditions)} "
                f"({_conditions_text(a)} -> {_conditions_text(b)})",
            )
        )
    out += _diff_fields(base, a, b)
    out += _diff_keyed(
        f"{base}{SEP}lookup",
        {lk.target: lookup_to_data(lk) for lk in a.lookups},
        {lk.target: lookup_to_data(lk) for lk in b.lookups},
        describe=lambda name, v: f"{v['object']}.{v['match_field']} = {_lookup_value(v)}"
        + ("" if v.get("required", True) else " (optional)"),
        changed_in_words=True,
    )
    out += _diff_keyed(
        f"{base}{SEP}default",
        a.defaults,
        b.defaults,
        describe=lambda name, v: _short(v),
    )
    out += _diff_keyed(
        f"{base}{SEP}fixture",
        {fx.name: fixture_to_data(fx) for fx in a.fixtures},
        {fx.name: fixture_to_data(fx) for fx in b.fixtures},
        describe=lambda name, v: "expects skip" if v.get("expect_skip") else "",
    )
    return out


def _diff_fields(base: str, a: Flow | ChildCollection, b: Flow | ChildCollection) -> list[Change]:
    return _match(
        a.fields,
        b.fields,
        key=lambda m: m.target,
        removed=lambda m: Change(
            "removed",
            f"{base}{SEP}field {m.target}",
            field_mapping_to_data(m),
            None,
            f"field {m.target} removed (was {_mapping_text(m)})",
        ),
        added=lambda m: Change(
            "added",
            f"{base}{SEP}field {m.target}",
            None,
            field_mapping_to_data(m),
            f"field {m.target} added: {_mapping_text(m)}",
        ),
        both=lambda before, m: _diff_field(f"{base}{SEP}field {m.target}", before, m),
    )


def _diff_field(path: str, before: FieldMapping, m: FieldMapping) -> list[Change]:
    out: list[Change] = []
    if before.sources != m.sources:
        out.append(
            _changed(
                f"{path}{SEP}sources",
                list(before.sources),
                list(m.sources),
                f"field {m.target} sources: {_sources_text(before)} -> {_sources_text(m)}",
            )
        )
    if before.transforms != m.transforms:
        out.append(
            _changed(
                f"{path}{SEP}transforms",
                [step_to_data(s) for s in before.transforms],
                [step_to_data(s) for s in m.transforms],
                f"field {m.target} transforms: {_steps_text(before.transforms)} -> "
                f"{_steps_text(m.transforms)}",
            )
        )
    if before.description != m.description:
        out.append(
            _changed(
                f"{path}{SEP}description",
                before.description,
                m.description,
                f"field {m.target} description changed",
            )
        )
    return out


def _diff_value_map(prefix: str, before: dict, after: dict) -> list[Change]:
    return _diff_keyed(prefix, before, after, describe=lambda k, v: _short(v))


def _diff_keyed(
    prefix: str,
    before: dict[Any, Any],
    after: dict[Any, Any],
    *,
    describe: Any,
    nested: Any = None,
    changed_in_words: bool = False,
) -> list[Change]:
    """Added/removed/changed entries of two dicts keyed by name; a changed entry is shown
    by ``describe`` when ``changed_in_words`` (a lookup's dict cut to 80 characters hid the
    part that changed), else by its value."""
    label = prefix.rsplit(SEP, 1)[-1]

    def removed(entry: tuple[Any, Any]) -> Change:
        key, value = entry
        detail = describe(key, value)
        return Change(
            "removed",
            f"{prefix} {key}",
            value,
            None,
            f"{label} {key} removed" + (f" (was {detail})" if detail else ""),
        )

    def added(entry: tuple[Any, Any]) -> Change:
        key, value = entry
        detail = describe(key, value)
        return Change(
            "added",
            f"{prefix} {key}",
            None,
            value,
            f"{label} {key} added" + (f": {detail}" if detail else ""),
        )

    def both(old: tuple[Any, Any], new: tuple[Any, Any]) -> list[Change]:
        (key, was), (_, value) = old, new
        if was == value:
            return []
        if nested is not None:
            return list(nested(f"{prefix} {key}{SEP}entry", was, value))
        show = (lambda v: describe(key, v)) if changed_in_words else _short
        return [
            _changed(
                f"{prefix} {key}", was, value, f"{label} {key}: {show(was)} -> {show(value)}"
            )
        ]

    return _match(
        list(before.items()), list(after.items()), key=lambda e: e[0],
        removed=removed, added=added, both=both,
    )


def _match(
    before: Sequence[T],
    after: Sequence[T],
    *,
    key: Callable[[T], Hashable],
    removed: Callable[[T], Change],
    added: Callable[[T], Change],
    both: Callable[[T, T], list[Change]],
) -> list[Change]:
    """Pair two lists by ``key``: what only ``before`` holds is removed (in its order), then in
    ``after``'s order what only it holds is added and what both hold is compared by ``both``."""
    old = {key(item): item for item in before}
    kept = {key(item) for item in after}
    out = [removed(item) for item in before if key(item) not in kept]
    for item in after:
        was = old.get(key(item))
        if was is None:
            out.append(added(item))
        else:
            out += both(was, item)
    return out


def format_diff(changes: Sequence[Change]) -> str:
    """Readable text: changes inside a flow grouped under it; '+' added, '-' removed, '~' changed."""
    if not changes:
        return "no differences"
    marks = {"added": "+", "removed": "-", "changed": "~"}
    lines: list[str] = []
    current_group: str | None = None
    for c in changes:
        group = _flow_group(c.path)
        if group is None:
            current_group = None
            lines.append(f"{marks[c.kind]} {c.summary}")
            continue
        if group != current_group:
            lines.append(f"{group}:")
            current_group = group
        lines.append(f"  {marks[c.kind]} {c.summary}")
    counts = {k: sum(1 for c in changes if c.kind == k) for k in marks}
    lines.append(
        f"{len(changes)} change{'s' if len(changes) != 1 else ''}: {counts['added']} added, "
        f"{counts['removed']} removed, {counts['changed']} changed"
    )
    return "\n".join(lines)


def _flow_group(path: str) -> str | None:
    """'flow x' (or 'document d / flow x') when the change is inside a flow."""
    parts = path.split(SEP)
    for i, part in enumerate(parts):
        if part.startswith("flow ") and i < len(parts) - 1:
            return SEP.join(parts[: i + 1])
    return None


# --------------------------------------------------------------------------- wording


def _changed(path: str, before: Any, after: Any, summary: str) -> Change:
    return Change("changed", path, before, after, summary)


def _rates_data(doc: MappingDocument) -> dict[str, Any] | None:
    r = doc.rates
    return None if r is None else {"base": r.base, "rates": dict(r.rates), "as_of": r.as_of}


def _rates_summary(before: dict[str, Any], after: dict[str, Any]) -> str:
    parts = []
    if before["base"] != after["base"]:
        parts.append(f"base {before['base']} -> {after['base']}")
    changed = sorted(
        k
        for k in set(before["rates"]) | set(after["rates"])
        if before["rates"].get(k) != after["rates"].get(k)
    )
    if changed:
        parts.append("rates for " + ", ".join(changed))
    if before["as_of"] != after["as_of"]:
        parts.append(f"as of {before['as_of'] or '?'} -> {after['as_of'] or '?'}")
    return "rates: " + "; ".join(parts)


def _flow_line(flow: Flow) -> str:
    return (
        f"{flow.source} -> {flow.target}, {flow.operation.action.value}, {len(flow.fields)} fields"
    )


def _lookup_value(data: dict[str, Any]) -> str:
    """A lookup's source path, its expression (``computed: ...``) or its constant
    (``IsStandard = True``)."""
    if data.get("expr"):
        return f"computed: {_short(data['expr'])}"
    return str(data["source"]) if data.get("source") else _short(data.get("value"))


def _child_line(child: ChildCollection) -> str:
    return (
        f"{child.source} -> {child.target} by {child.parent_field}, {len(child.fields)} fields, "
        f"on_removed {child.on_removed.value}"
    )


def _trigger_text(flow: Flow) -> str:
    change, event = flow.trigger.salesforce_change, flow.trigger.salesforce_event
    if change is None and event is None:
        return ", ".join(flow.trigger.stripe_events)
    parts = []
    if event is not None:
        parts.append(f"platform event {event.event}")
    if change is not None:
        text = f"{change.object} changed"
        if change.field:
            text += f" ({change.field}" + (
                f" becomes {change.becomes!r})" if change.becomes is not None else ")"
            )
        parts.append(text)
    return ", or ".join(parts)


def _conditions_text(flow: Flow | ChildCollection) -> str:
    parts = [
        c.expr
        if c.expr
        else f"{c.path} {c.op.value}" + (f" {c.value!r}" if c.value is not None else "")
        for c in flow.conditions
    ]
    return "; ".join(parts) or "none"


def _sources_text(m: FieldMapping) -> str:
    return ", ".join(m.sources) or "(no source)"


def _steps_text(steps: Sequence[TransformStep]) -> str:
    if not steps:
        return "(none)"
    return " | ".join(
        s.name + (f"({', '.join(f'{k}={v!r}' for k, v in s.args.items())})" if s.args else "")
        for s in steps
    )


def _mapping_text(m: FieldMapping) -> str:
    text = _sources_text(m)
    if m.transforms:
        text += f" | {_steps_text(m.transforms)}"
    return text


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
