"""A flow compiled once into a plan of small closures, then applied to many records.

Compiling does everything that does not depend on the record: paths are split, transform
chains are built through the transform registry, conditions are compiled (JSONata once),
per-field validators are specialised on the target schema, and the problems that every
record would have (unknown or read-only target fields, required fields nothing fills) are
found once and kept as :attr:`FlowPlan.static_issues`.

Applying is pure and deterministic: no clock, no I/O except through the optional lookup
resolver the caller passes in.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mappings.document.model import (
    Action,
    ChildCollection,
    FieldMapping,
    Flow,
    Lookup,
    MappingDocument,
)
from mappings.engine.children import CompiledChild, child_flow, compile_child, located, map_children
from mappings.engine.conditions import CompiledCondition, ConditionEvalError, compile_condition
from mappings.engine.paths import MISSING_ERRORS, Getter, compile_path, set_path, split_path
from mappings.engine.result import Issue, LookupResolver, MappingResult
from mappings.engine.validate import TEXT_KINDS, Validator, build_validator, show
from mappings.errors import DocumentError, ExpressionBudgetError, MappingError, TransformError
from mappings.schema.compat import (
    conversion_hint,
    kinds_compatible,
    source_kind,
    target_field,
    units_conversion,
    units_handled,
)
from mappings.schema.model import FieldKind, FieldSchema, ObjectSchema, System
from mappings.schema.stripe_events import reference_id, split_event
from mappings.transforms import CompileEnv, build_step, get_transform
from mappings.transforms.expression import compile_evaluator

EVENT_PREFIX = "$event"

# (record, event) -> value
Reader = Callable[[Any, Any], Any]
# (system, object name) -> its schema or None: where a flow's children find theirs
SchemaSource = Callable[[System, str], "ObjectSchema | None"]
# (record, event, ctx) -> value: a source read followed by the transform chain
FieldFn = Callable[[Any, Any, "_Context"], Any]


def _split_reader(path: str) -> tuple[Getter, bool]:
    """A getter for ``path`` and whether it reads the event envelope rather than the record."""
    if path == EVENT_PREFIX:
        return (lambda ev: ev), True
    if path.startswith(EVENT_PREFIX + "."):
        return compile_path(path[len(EVENT_PREFIX) + 1 :]), True
    return compile_path(path), False


def _reader(path: str) -> Reader:
    """Read ``path`` from the source record, or from the event envelope for ``$event.x``."""
    if path == EVENT_PREFIX:
        return lambda rec, ev: ev
    if path.startswith(EVENT_PREFIX + "."):
        get = compile_path(path[len(EVENT_PREFIX) + 1 :])
        return lambda rec, ev: get(ev)
    get = compile_path(path)
    return lambda rec, ev: get(rec)


def _constant(value: Any) -> Reader:
    """A lookup's constant (``IsStandard = true``), whatever the record."""
    return lambda rec, ev: value


def lookup_reader(lookup: Lookup) -> Reader:
    """What a lookup matches on: its constant, its JSONata ``expr`` over the source record
    (compiled now; a syntax error raises ExpressionError) or its source path."""
    if lookup.constant:
        return _constant(lookup.value)
    if lookup.expr is not None:
        evaluate = compile_evaluator(lookup.expr)
        return lambda rec, ev: evaluate(rec, None, ev)
    return _reader(lookup.source)


class _Context:
    """The :class:`~mappings.transforms.StepContext` for one record; one is made per apply."""

    __slots__ = ("record", "event", "field", "warnings", "_readers")

    def __init__(self, record: Any, event: Any, readers: dict[str, tuple[Getter, bool]]) -> None:
        self.record = record
        self.event = event
        self.field: str | None = None
        self.warnings: list[tuple[str | None, str]] | None = None
        self._readers = readers

    def get(self, path: str) -> Any:
        try:
            getter, on_event = self._readers[path]
        except KeyError:
            getter, on_event = self._readers[path] = _split_reader(path)
        return getter(self.event if on_event else self.record)

    def warn(self, message: str) -> None:
        if self.warnings is None:
            self.warnings = []
        self.warnings.append((self.field, str(message)))


def _chain(sources: list[str], steps: list[Callable[[Any, Any], Any]]) -> FieldFn:
    """One closure reading the sources and running the steps (specialised for short chains)."""
    if len(sources) == 1 and not sources[0].startswith(EVENT_PREFIX):
        parts = split_path(sources[0])
        if len(parts) == 1 and not parts[0].isdigit() and 1 <= len(steps) <= 2:
            # The most common shape, a top-level field and one or two steps, read inline.
            key = parts[0]
            if len(steps) == 1:
                (s0,) = steps

                def one_step(rec: Any, ev: Any, ctx: _Context) -> Any:
                    try:
                        value = rec[key]
                    except MISSING_ERRORS:
                        value = None
                    return s0(value, ctx)

                return one_step
            s0, s1 = steps

            def two_steps(rec: Any, ev: Any, ctx: _Context) -> Any:
                try:
                    value = rec[key]
                except MISSING_ERRORS:
                    value = None
                return s1(s0(value, ctx), ctx)

            return two_steps
        get = compile_path(sources[0])
        if len(steps) == 1:
            (s0,) = steps
            return lambda rec, ev, ctx: s0(get(rec), ctx)
        read: Reader = lambda rec, ev: get(rec)  # noqa: E731
    elif len(sources) == 1:
        read = _reader(sources[0])
    elif sources and not any(s.startswith(EVENT_PREFIX) for s in sources):
        getters = tuple(compile_path(s) for s in sources)
        if len(getters) == 2 and len(steps) == 1:
            (g0, g1), (s0,) = getters, steps
            return lambda rec, ev, ctx: s0([g0(rec), g1(rec)], ctx)
        if len(getters) == 2 and len(steps) == 2:
            # Two sources then two steps (coalesce then truncate): no loop per record.
            (g0, g1), (s0, s1) = getters, steps
            return lambda rec, ev, ctx: s1(s0([g0(rec), g1(rec)], ctx), ctx)
        read = lambda rec, ev: [g(rec) for g in getters]  # noqa: E731
    elif sources:
        readers = tuple(_reader(s) for s in sources)
        read = lambda rec, ev: [r(rec, ev) for r in readers]  # noqa: E731
    elif len(steps) == 1:
        # No source, one step (a JSONata expression over the record): called directly.
        (s0,) = steps
        return lambda rec, ev, ctx: s0(None, ctx)
    else:
        read = lambda rec, ev: None  # noqa: E731
    chain = tuple(steps)

    def run(rec: Any, ev: Any, ctx: _Context) -> Any:
        value = read(rec, ev)
        for step in chain:
            value = step(value, ctx)
        return value

    return run


# One compiled field mapping, a plain tuple so that the apply loop unpacks it in one step:
# (target, nested write path or None, top-level key and its single step when the field is just
# that, the general function, validator or None, fast type, limit): a plain tuple so that the
# apply loop unpacks it in one step. A value of the fast type (no longer than the limit for
# text) needs no validator call: see _fast_path.
_FieldPlan = tuple[
    str, "tuple[str, ...] | None", "str | None", Any, FieldFn, "Validator | None", Any, int
]


# A bare read into a flat field: (target, top-level key or None, getter, validator, fast type,
# limit).
_PlainField = tuple[str, "str | None", Getter, "Validator | None", Any, int]


@dataclass(frozen=True, slots=True)
class _LookupPlan:
    lookup: Lookup
    read: Reader
    relationship: str
    parts: tuple[str, ...] | None


def relationship_name(lookup_field: str, schema_field: FieldSchema | None) -> str:
    """``Account__c`` -> ``Account__r``, ``AccountId`` -> ``Account`` (Salesforce's rule)."""
    if schema_field is not None and schema_field.relationship_name:
        return schema_field.relationship_name
    if lookup_field.endswith("__c"):
        return lookup_field[:-3] + "__r"
    if lookup_field.endswith("Id") and len(lookup_field) > 2:
        return lookup_field[:-2]
    return lookup_field


def _warning_code(message: str) -> str:
    return "TRUNCATED" if "truncat" in message.lower() else "TRANSFORM_WARNING"


class FlowPlan:
    """A compiled flow. Build with :func:`compile_flow`; call :meth:`apply` per record."""

    def __init__(self, flow: Flow, static_issues: list[Issue]) -> None:
        self.flow = flow
        self.static_issues = static_issues
        self.target_schema: ObjectSchema | None = None
        self._nested = flow.target.system is System.STRIPE
        self._event_types: frozenset[str] = frozenset(flow.trigger.stripe_events)
        # False only for a flow over Stripe events themselves, whose record is the envelope.
        self._maps_objects = not (
            flow.source.system is System.STRIPE and flow.source.object == "event"
        )
        self._conditions: tuple[CompiledCondition, ...] = ()
        self._plain_fields: tuple[_PlainField, ...] = ()
        self._step_fields: tuple[_FieldPlan, ...] = ()
        self._lookups: tuple[_LookupPlan, ...] = ()
        # (relationship, match field, getter) when every lookup reads a record path into a flat
        # field; any value but a non-empty string falls back to the general path.
        self._simple_lookups: tuple[tuple[str, str, Getter], ...] | None = None
        self._defaults: tuple[tuple[str, tuple[str, ...] | None, Getter, Any], ...] = ()
        self._required: tuple[str, ...] = ()  # flat Salesforce fields a mapping must fill
        self._readers: dict[str, tuple[Getter, bool]] = {}
        # The plan of each child collection, by relationship (fixtures and the studio run
        # them on one element); the compiled collections themselves, in document order.
        self.children: dict[str, FlowPlan] = {}
        self._children: tuple[CompiledChild, ...] = ()

    # -- applying -----------------------------------------------------------------------

    def apply(
        self,
        data: Mapping[str, Any],
        resolver: LookupResolver | None = None,
        previous: Mapping[str, Any] | None = None,
    ) -> MappingResult:
        """Map one input (a Stripe event envelope, a Stripe object or a Salesforce record).

        Bad data never raises: it becomes issues on the result. ``previous`` is the record's
        prior state, for ``changed_to`` conditions on Salesforce changes. Only an exception
        raised by ``resolver`` itself (e.g. the network) propagates.
        """
        try:
            result = self._apply(data, resolver, previous)
        except RecursionError:
            # A hostile input (nested past Python's limit) or a runaway transform outside
            # the per-field guard: the record's issue, never a crash of the caller.
            issue = Issue(
                "INPUT_TOO_DEEP",
                None,
                "the input could not be mapped: it is nested deeper than Python allows",
            )
            result = MappingResult({}, [*self.static_issues, issue])
        if self._children and not result.children:
            # Skipped or refused before mapping: no children, but every relationship is named.
            result.children = {c.relationship: [] for c in self._children}
        return result

    def _apply(
        self,
        data: Mapping[str, Any],
        resolver: LookupResolver | None,
        previous: Mapping[str, Any] | None,
    ) -> MappingResult:
        if type(data) is not dict and not isinstance(data, Mapping):
            what = type(data).__name__
            return MappingResult(
                {}, [Issue("INVALID_INPUT", None, f"the input must be a JSON object, got {what}")]
            )
        rec: Any
        ev: Any
        rec, ev = split_event(data)
        source_id = rec.get("id") or rec.get("Id")
        if type(source_id) is not str:
            source_id = None
        if ev is None and rec.get("object") == "event" and self._maps_objects:
            # An event with no object inside: mapping the envelope itself would write the
            # event's id and type as if they were the object's, past the trigger filter.
            which = f"the Stripe event {source_id}" if source_id else "the Stripe event"
            issue = Issue("INVALID_INPUT", None, f"{which} carries no data.object to map")
            return MappingResult({}, [*self.static_issues, issue], False, None, source_id)

        if ev is not None and self._event_types and ev.get("type") not in self._event_types:
            reason = f"event type {ev.get('type')!r} does not trigger flow {self.flow.name!r}"
            return MappingResult({}, [], True, reason, source_id)
        for cond in self._conditions:
            try:
                held = cond.test(rec, ev, previous)
            except ConditionEvalError as exc:
                issue = Issue(exc.code, None, str(exc))
                return MappingResult({}, [*self.static_issues, issue], False, None, source_id)
            if not held:
                return MappingResult(
                    {}, [], True, f"condition not met: {cond.description}", source_id
                )

        issues: list[Issue] | None = None
        # Keys come in a fixed order: bare reads, computed fields, lookups, then defaults.
        record: dict[str, Any] = {}
        # Bare path reads into flat fields: the bulk of most flows, in the tightest loop.
        for target, key, get, validate, fast_type, text_ok in self._plain_fields:
            # A top-level key is one C-level dict lookup; deeper paths go through the getter.
            value = rec.get(key) if key is not None else get(rec)
            if (
                value is not None
                and validate is not None
                and (type(value) is not fast_type or (fast_type is str and len(value) > text_ok))
            ):
                problem = validate(value)
                if problem is not None:
                    value, problem = _as_reference(value, validate, problem)
                if problem is not None:
                    if issues is None:
                        issues = []
                    issues.append(problem)
            record[target] = value
        ctx = _Context(rec, ev, self._readers)
        for target, parts, key, step, fn, validate, fast_type, text_ok in self._step_fields:
            ctx.field = target
            try:
                # One step over a top-level key (most computed fields) is called directly.
                value = step(rec.get(key), ctx) if key is not None else fn(rec, ev, ctx)
            except Exception as exc:  # any failure on bad data is the record's issue
                if issues is None:
                    issues = []
                issues.append(_transform_failed(target, exc))
                if parts is None:
                    record.pop(target, None)  # left out, not sent as null
                continue
            if (
                value is not None
                and validate is not None
                and (type(value) is not fast_type or (fast_type is str and len(value) > text_ok))
            ):
                problem = validate(value)
                if problem is not None:
                    value, problem = _as_reference(value, validate, problem)
                if problem is not None:
                    if issues is None:
                        issues = []
                    issues.append(problem)
            if parts is None:
                record[target] = value
            else:
                set_path(record, parts, value)

        if self._lookups:
            if resolver is None and self._simple_lookups is not None:
                # The common case: references by external id, which Salesforce resolves itself.
                for relationship, match_field, get in self._simple_lookups:
                    value = get(rec)
                    if type(value) is str and value:
                        record[relationship] = {match_field: value}
                    else:
                        issues = self._apply_lookups(rec, ev, record, None, issues)
                        break
            else:
                issues = self._apply_lookups(rec, ev, record, resolver, issues)
        for name, parts, current, value in self._defaults:
            if parts is None:
                if record.get(name) is None:
                    record[name] = value
            elif current(record) is None:
                set_path(record, parts, value)
        for name in self._required:
            if record.get(name) is None:
                if issues is None:
                    issues = []
                elif any(i.field == name for i in issues):
                    continue  # already explained (e.g. its transform failed)
                issues.append(
                    Issue("REQUIRED_FIELD_MISSING", name, f"{name} is required but has no value")
                )

        if ctx.warnings:
            if issues is None:
                issues = []
            for where, message in ctx.warnings:
                text = f"{where}: {message}" if where else message
                issues.append(Issue(_warning_code(message), where, text, "warning"))
        if self.static_issues:
            issues = [*self.static_issues, *(issues or ())]
        result = MappingResult(record, issues if issues is not None else [], False, None, source_id)
        if self._children:
            map_children(
                self._children,
                rec,
                resolver,
                result,
                self.flow.source.object,
                self.flow.target.object,
            )
        return result

    def field_value(self, data: Mapping[str, Any], target: str) -> Any:
        """What the flow writes into ``target`` for ``data``, its conditions aside: a
        deletion finds the record its key names whatever state the deleted object was left
        in (an archived price's entry). None when the field is not mapped or fails."""
        rec, ev = split_event(data)
        if not isinstance(rec, Mapping):
            return None
        for name, _key, get, *_ in self._plain_fields:
            if name == target:
                return get(rec)
        for name, _parts, _key, _step, fn, *_ in self._step_fields:
            if name == target:
                ctx = _Context(rec, ev, self._readers)
                ctx.field = target
                try:
                    return fn(rec, ev, ctx)
                except Exception:  # bad data: no value, as apply leaves the field out
                    return None
        return None

    def _apply_lookups(
        self,
        rec: Any,
        ev: Any,
        record: dict[str, Any],
        resolver: LookupResolver | None,
        issues: list[Issue] | None,
    ) -> list[Issue] | None:
        for lp in self._lookups:
            lk = lp.lookup
            try:
                value = lp.read(rec, ev)
            except Exception as exc:  # a computed match value (expr) failed on this record
                issues = issues if issues is not None else []
                issues.append(_transform_failed(lk.target, exc))
                continue
            if type(value) is not str and isinstance(value, Mapping):
                value = reference_id(value)  # an expanded Stripe object: match on its id
            if value is None or value == "":
                if lk.required:
                    issues = issues if issues is not None else []
                    issues.append(
                        Issue(
                            "LOOKUP_UNRESOLVED",
                            lk.target,
                            f"no {_match_source(lk)} on the source record to find the "
                            f"{lk.object} for {lk.target} by {lk.match_field}",
                        )
                    )
                continue
            if resolver is None:
                # Salesforce resolves a relationship given by external id itself on upsert.
                record[lp.relationship] = {lk.match_field: value}
                continue
            found = resolver(lk.object, lk.match_field, value)
            if found is None:
                if lk.required:
                    issues = issues if issues is not None else []
                    issues.append(
                        Issue(
                            "LOOKUP_UNRESOLVED",
                            lk.target,
                            f"no {lk.object} with {lk.match_field} = {show(value)}",
                        )
                    )
                continue
            if lp.parts is None:
                record[lk.target] = found
            else:
                set_path(record, lp.parts, found)
        return issues


def _match_source(lk: Lookup) -> str:
    """What a lookup reads, for a message: its source path or its expression."""
    return f"value of {lk.expr!r}" if lk.expr is not None else lk.source


def _as_reference(value: Any, validate: Validator, problem: Issue) -> tuple[Any, Issue | None]:
    """An expanded Stripe object where the target takes its id (older API versions and
    ``expand[]`` give ``{"id": "cus_1", ...}`` for ``"cus_1"``): the id, if the target takes
    it; otherwise the value and the validator's issue unchanged."""
    if type(value) is str or not isinstance(value, Mapping):
        return value, problem
    ref = reference_id(value)
    if ref is None or validate(ref) is not None:
        return value, problem
    return ref, None


def _transform_failed(target: str, exc: Exception) -> Issue:
    if isinstance(exc, ExpressionBudgetError):
        return Issue(exc.code, target, f"{target} could not be computed: {exc}")
    if isinstance(exc, RecursionError) or isinstance(exc.__cause__, RecursionError):
        return Issue(
            "EXPRESSION_TOO_DEEP",
            target,
            f"{target} could not be computed: its transform recursed deeper than Python allows",
        )
    cause = str(exc) or type(exc).__name__
    if not isinstance(exc, MappingError):
        cause = f"{type(exc).__name__}: {cause}"
    return Issue("TRANSFORM_FAILED", target, f"{target} could not be computed: {cause}")


# -- compiling ------------------------------------------------------------------------------


def compile_flow(
    flow: Flow,
    document: MappingDocument,
    target_schema: ObjectSchema | None = None,
    *,
    source_schema: ObjectSchema | None = None,
    schemas: SchemaSource | None = None,
) -> FlowPlan:
    """Compile ``flow``. Raises :class:`MappingError` for a misconfigured flow (unknown
    transform, bad arguments, bad JSONata); problems with the target fields are reported as
    :attr:`FlowPlan.static_issues` instead, so a preview can still show the record.

    Each child collection is compiled through the same path as a flow of its own
    (:func:`~mappings.engine.children.child_flow`), against the schemas ``schemas`` gives
    for its element (``stripe``, ``line_item``) and its target (``salesforce``,
    ``OrderItem``); without ``schemas`` children are mapped unchecked. Their static issues
    are also the parent's, named by relationship (``OrderItems: UnitPrice ...``).
    """
    plan = _compile(flow, document, target_schema, source_schema, ())
    compiled: list[CompiledChild] = []
    for child in flow.children:
        sub = child_flow(flow, child)
        child_target = schemas(sub.target.system, sub.target.object) if schemas else None
        child_source = schemas(sub.source.system, sub.source.object) if schemas else None
        # The parent reference is the writer's to fill: not "required but unmapped".
        child_plan = _compile(sub, document, child_target, child_source, (child.parent_field,))
        if schemas is not None and child_target is None and sub.target.system is System.SALESFORCE:
            child_plan.static_issues.append(
                Issue(
                    "UNKNOWN_OBJECT",
                    None,
                    f"no schema of {child.target} is known, so its fields are not checked",
                    "warning",
                )
            )
        if source_schema is not None:
            child_plan.static_issues.extend(_check_child_source(child.source, source_schema))
        if target_schema is not None and sub.target.system is System.SALESFORCE:
            child_plan.static_issues.extend(_check_relationship(child, target_schema))
        plan.static_issues.extend(located(child_plan.static_issues, child.relationship))
        plan.children[child.relationship] = child_plan
        compiled.append(compile_child(child, child_plan))
    plan._children = tuple(compiled)
    return plan


def _check_child_source(path: str, source_schema: ObjectSchema) -> list[Issue]:
    """A child collection's array must be a list field of the parent's source object."""
    fs = source_schema.find(path)
    if fs is None:
        return [
            Issue(
                "UNKNOWN_FIELD",
                None,
                f"{source_schema.name} has no field {path} (the array of the child records)",
                "warning",
            )
        ]
    if fs.kind not in (FieldKind.LIST, FieldKind.ANY):
        return [
            Issue(
                "INVALID_TYPE",
                None,
                f"{source_schema.name}.{path} is a {fs.kind.value} field, not a list of child "
                "records",
                "warning",
            )
        ]
    return []


def _check_relationship(child: ChildCollection, parent: ObjectSchema) -> list[Issue]:
    """The child relationship as the parent's describe names it (``childRelationships``):
    Salesforce writes children under that name, so it must hold the child object through
    the parent field the collection names. A schema that lists none is not checked."""
    if not parent.child_relationships:
        return []
    wanted = child.relationship.lower()
    found = next((r for r in parent.child_relationships if r.name.lower() == wanted), None)
    if found is None:
        same = [r.name for r in parent.child_relationships if r.child.lower() == child.target.lower()]
        hint = f" ({child.target} records hang from it as {', '.join(same)})" if same else ""
        return [
            Issue(
                "INVALID_RELATIONSHIP",
                None,
                f"{parent.name} has no child relationship {child.relationship}{hint}",
            )
        ]
    if found.child.lower() != child.target.lower():
        return [
            Issue(
                "INVALID_RELATIONSHIP",
                None,
                f"{parent.name}.{found.name} holds {found.child} records, not {child.target}",
            )
        ]
    if found.field.lower() != child.parent_field.lower():
        return [
            Issue(
                "INVALID_RELATIONSHIP",
                child.parent_field,
                f"{found.child} records hang from {parent.name} by {found.field}, not "
                f"{child.parent_field}",
            )
        ]
    return []


def _compile(
    flow: Flow,
    document: MappingDocument,
    target_schema: ObjectSchema | None,
    source_schema: ObjectSchema | None,
    writer_fills: tuple[str, ...],
) -> FlowPlan:
    """Compile one flow, a child's included; ``writer_fills`` names target fields the
    writer sets itself (a child's parent reference), exempt from the required-field rule."""
    static: list[Issue] = []
    plan = FlowPlan(flow, static)
    plan.target_schema = target_schema
    nested = flow.target.system is System.STRIPE
    action = flow.operation.action
    creates = action in (Action.INSERT, Action.UPSERT, Action.CREATE)
    salesforce = flow.target.system is System.SALESFORCE

    def schema_field(name: str, role: str) -> FieldSchema | None:
        if target_schema is None:
            return None
        fs = target_field(target_schema, name)
        if fs is None and not salesforce and _stripe_list_field(target_schema, name):
            return None  # items.0.price: a create parameter for a list the object holds
        if fs is None:
            # Stripe's create/update parameters are not all fields of the object it returns,
            # so an unknown Stripe field is a warning; Salesforce refuses unknown fields.
            static.append(
                Issue(
                    "UNKNOWN_FIELD",
                    name,
                    f"{target_schema.name} has no field {name} (used by {role})",
                    "error" if salesforce else "warning",
                )
            )
            return None
        if salesforce:
            _check_writable(fs, name, action, target_schema.name, static)
        return fs

    def parts_of(name: str) -> tuple[str, ...] | None:
        return split_path(name) if nested and "." in name else None

    try:
        plan._conditions = tuple(
            compile_condition(c, _reader_for_condition) for c in flow.conditions
        )
    except MappingError as exc:
        raise type(exc)(f"flow {flow.name!r}: {exc}") from exc

    fields: list[_FieldPlan] = []
    plain_fields: list[_PlainField] = []
    seen: set[str] = set()
    for fm in flow.fields:
        if fm.target in seen:
            raise DocumentError(f"flow {flow.name!r}: target field {fm.target!r} is mapped twice")
        seen.add(fm.target)
        fs = schema_field(fm.target, "a field mapping")
        env = CompileEnv(document.value_maps, document.rates, fs)
        steps = _build_steps(flow, fm, env)
        if fs is not None:
            _check_kinds(fm, fs, source_schema, static)
            _check_units(fm, fs, source_schema, static)
        validator = build_validator(fs) if fs is not None else None
        if fs is not None and validator is not None and _formats_itself(fm, fs):
            validator = None
        fast_type, text_ok = _fast_path(fs)
        parts = parts_of(fm.target)
        bare = len(fm.sources) == 1 and not steps and not fm.sources[0].startswith(EVENT_PREFIX)
        if bare and parts is None:
            getter = compile_path(fm.sources[0])
            key = fm.sources[0] if "." not in fm.sources[0] else None
            plain_fields.append((fm.target, key, getter, validator, fast_type, text_ok))
            continue
        fn = _chain(fm.sources, steps)
        direct = len(fm.sources) == 1 and "." not in fm.sources[0] and len(steps) == 1
        key, first = (fm.sources[0], steps[0]) if direct else (None, None)
        fields.append((fm.target, parts, key, first, fn, validator, fast_type, text_ok))
    plan._plain_fields = tuple(plain_fields)
    plan._step_fields = tuple(fields)

    lookups: list[_LookupPlan] = []
    for lk in flow.lookups:
        fs = schema_field(lk.target, f"the lookup of {lk.object}")
        if fs is not None and fs.kind not in (FieldKind.REFERENCE, FieldKind.ID, FieldKind.ANY):
            static.append(
                Issue(
                    "INVALID_TYPE",
                    lk.target,
                    f"{lk.target} is a {fs.kind.value} field, not a reference to {lk.object}",
                    "warning",
                )
            )
        try:
            read = lookup_reader(lk)
        except MappingError as exc:
            raise type(exc)(f"flow {flow.name!r}, lookup of {lk.target!r}: {exc}") from exc
        lookups.append(
            _LookupPlan(lk, read, relationship_name(lk.target, fs), parts_of(lk.target))
        )
    plan._lookups = tuple(lookups)
    if lookups and all(
        lp.parts is None
        and lp.lookup.reads_source
        and not lp.lookup.source.startswith(EVENT_PREFIX)
        for lp in lookups
    ):
        plan._simple_lookups = tuple(
            (lp.relationship, lp.lookup.match_field, compile_path(lp.lookup.source))
            for lp in lookups
        )

    defaults = []
    for name, value in flow.defaults.items():
        fs = schema_field(name, "a default")
        if fs is not None and value is not None:
            check = build_validator(fs)
            problem = check(value) if check is not None else None
            if problem is not None:
                problem.message = f"default value: {problem.message}"
                static.append(problem)
        parts = parts_of(name)
        defaults.append((name, parts, compile_path(name) if parts else _flat_reader(name), value))
    plan._defaults = tuple(defaults)

    # Required fields: the ones nothing writes are static issues; the ones a mapping writes
    # are checked on every record (the mapping may yield None).
    lookup_targets = {lk.target for lk in flow.lookups}
    written = {fm.target for fm in flow.fields} | lookup_targets | set(flow.defaults)
    written_lower = {w.lower() for w in written} | {w.lower() for w in writer_fills}
    required: list[str] = []
    if target_schema is not None and creates and salesforce:
        for fs in target_schema.required_fields():
            if fs.path.lower() not in written_lower:
                static.append(
                    Issue(
                        "REQUIRED_FIELD_MISSING",
                        fs.path,
                        f"{fs.path} is required to create a {target_schema.name} but no mapping, "
                        "lookup or default fills it",
                    )
                )
    ext = flow.operation.external_id if action is Action.UPSERT and salesforce else None
    if ext is not None and ext.lower() not in written_lower:
        static.append(
            Issue(
                "REQUIRED_FIELD_MISSING",
                ext,
                f"{ext} is the upsert key but no mapping fills it",
            )
        )
    if creates and target_schema is not None and salesforce:
        for fm in flow.fields:
            fs = target_schema.find(fm.target)
            if fs is not None and fs.required and fm.target not in flow.defaults:
                required.append(fm.target)
    mapped = {fm.target for fm in flow.fields}
    if ext is not None and ext in mapped and ext not in required:
        required.append(ext)
    plan._required = tuple(required)
    return plan


def _stripe_list_field(schema: ObjectSchema, path: str) -> bool:
    """``items.0.price`` names ``items.data[].price`` (or ``items[].price``) of the object."""
    parts = path.split(".")
    if not any(p.isdigit() for p in parts):
        return False
    for marker in ("data[]", "[]"):
        candidate: list[str] = []
        for p in parts:
            if p.isdigit():
                if marker == "[]" and candidate:
                    candidate[-1] += "[]"
                else:
                    candidate.append(marker)
            else:
                candidate.append(p)
        if schema.find(".".join(candidate)) is not None:
            return True
    return False


def _fast_path(fs: FieldSchema | None) -> tuple[type | None, int]:
    """The value type a field takes without calling its validator, and for text the longest
    length that needs no check: ``(str, 80)`` for a plain 80-character text field, ``(bool, 0)``
    for a checkbox, ``(None, 0)`` when every value must go through the validator."""
    if fs is None:
        return None, 0
    if fs.kind is FieldKind.BOOLEAN:
        return bool, 0
    if fs.kind not in TEXT_KINDS or fs.kind is FieldKind.MULTIPICKLIST:
        return None, 0
    if fs.restricted and fs.enum_values and fs.kind is FieldKind.PICKLIST:
        return None, 0
    return str, fs.length if fs.length else sys.maxsize


# Kinds whose text a transform declaring that output kind always formats validly itself
# (unix_to_datetime, unix_to_date: a value out of range raises instead).
_SELF_FORMATTED = frozenset({FieldKind.DATETIME, FieldKind.DATE})


def _formats_itself(fm: FieldMapping, fs: FieldSchema) -> bool:
    """Whether the field's last transform yields only valid values of the target's kind, so
    that the validator, decided once here, need not run on every record."""
    if not fm.transforms or fs.kind not in _SELF_FORMATTED:
        return False
    try:
        return get_transform(fm.transforms[-1].name).output_kind is fs.kind
    except MappingError:
        return False


def _flat_reader(name: str) -> Getter:
    return lambda record: record.get(name)


def _reader_for_condition(path: str) -> Reader:
    return _reader(path)


def _build_steps(flow: Flow, fm: FieldMapping, env: CompileEnv) -> list[Callable[[Any, Any], Any]]:
    steps = []
    for i, step in enumerate(fm.transforms, 1):
        try:
            steps.append(build_step(step, env))
        except MappingError as exc:
            raise type(exc)(
                f"flow {flow.name!r}, field {fm.target!r}, step {i} ({step.name}): {exc}"
            ) from exc
        except (TypeError, ValueError) as exc:
            raise TransformError(
                f"flow {flow.name!r}, field {fm.target!r}, step {i} ({step.name}): {exc}"
            ) from exc
    return steps


def _check_writable(
    fs: FieldSchema, name: str, action: Action, obj: str, static: list[Issue]
) -> None:
    if action is Action.UPDATE and name == "Id":
        return  # an update's Id names the record to update; it changes nothing
    if action in (Action.INSERT, Action.UPSERT, Action.CREATE) and not fs.createable:
        static.append(
            Issue("FIELD_NOT_CREATEABLE", name, f"{name} cannot be set when creating a {obj}")
        )
    if action is Action.UPDATE and not fs.updateable:
        static.append(
            Issue("FIELD_NOT_UPDATEABLE", name, f"{name} cannot be changed on an existing {obj}")
        )
    elif action is Action.UPSERT and fs.createable and not fs.updateable:
        # Upsert creates or updates: the runner sets this field only when it creates the
        # record (the update half would refuse it), so a later change does not reach it.
        static.append(
            Issue(
                "FIELD_NOT_UPDATEABLE",
                name,
                f"{name} cannot be changed on an existing {obj}; it is set when the record is "
                "created and left as it is by later updates",
                "warning",
            )
        )


def _check_kinds(
    fm: FieldMapping, fs: FieldSchema, source_schema: ObjectSchema | None, static: list[Issue]
) -> None:
    """Warn when what reaches the target is of a kind the target cannot hold."""
    produced: FieldKind | None = None
    origin = ""
    if fm.transforms:
        try:
            produced = get_transform(fm.transforms[-1].name).output_kind
        except MappingError:
            produced = None
        origin = f"transform {fm.transforms[-1].name}"
    elif len(fm.sources) == 1 and source_schema is not None:
        produced = source_kind(source_schema, fm.sources[0])
        origin = f"source {fm.sources[0]}"
    if produced is None or kinds_compatible(produced, fs.kind):
        return
    hint = conversion_hint(produced, fs.kind)
    advice = f" (add the {hint} transform)" if hint else ""
    static.append(
        Issue(
            "INVALID_TYPE",
            fm.target,
            f"{fm.target} is a {fs.kind.value} field but {origin} gives a {produced.value}{advice}",
            "warning",
        )
    )


def _check_units(
    fm: FieldMapping, fs: FieldSchema, source_schema: ObjectSchema | None, static: list[Issue]
) -> None:
    """An error when money crosses between minor units and a decimal amount unconverted:
    Stripe's ``amount`` 1999 written as 1,999.00 where 19.99 was meant (see
    :func:`~mappings.schema.compat.units_conversion`)."""
    if source_schema is None:
        return
    steps = [step.name for step in fm.transforms]
    for path in fm.sources:
        src = source_schema.find(path)
        if src is None or (src.free_keys and src.path != path):
            continue
        needed = units_conversion(src, fs)
        if needed is None or units_handled(needed, steps):
            continue
        if needed == "minor_to_decimal":
            what = (
                f"{path} is an amount in minor units (1999 means 19.99) but {fm.target} "
                f"holds a decimal {fs.kind.value}"
            )
        else:
            what = (
                f"{path} is a decimal amount but {fm.target} counts minor units "
                "(19.99 must be sent as 1999)"
            )
        static.append(
            Issue(
                "AMOUNT_IN_MINOR_UNITS",
                fm.target,
                f"{what}; add the {needed} transform",
            )
        )
        return
