"""Run the fixtures that travel with each flow and report differences field by field."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from mappings.document.model import Fixture, MappingDocument, ObjectRef
from mappings.engine.deletion import deletion_result
from mappings.engine.plan import FlowPlan, compile_flow
from mappings.engine.result import Issue, LookupResolver, MappingResult, json_safe
from mappings.errors import DocumentError
from mappings.schema.model import ObjectSchema, System

_ABSENT = object()


@dataclass(slots=True)
class FieldDifference:
    field: str
    expected: Any
    actual: Any
    note: str = ""  # for differences that are not about one value (skip, issues)

    def __str__(self) -> str:
        if self.note:
            return f"  {self.field}: {self.note}"
        return f"  {self.field}: expected {_show(self.expected)}, got {_show(self.actual)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "expected": None if self.expected is _ABSENT else json_safe(self.expected),
            "actual": None if self.actual is _ABSENT else json_safe(self.actual),
            "note": self.note or None,
        }


@dataclass(slots=True)
class FixtureResult:
    flow: str
    fixture: str
    passed: bool
    differences: list[FieldDifference] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    result: MappingResult | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "fixture": self.fixture,
            "passed": self.passed,
            "differences": [d.to_dict() for d in self.differences],
            "issues": [i.to_dict() for i in self.issues],
        }


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    return json.dumps(json_safe(value), sort_keys=True, ensure_ascii=False)


def values_equal(expected: Any, actual: Any) -> bool:
    """Equality with numbers compared by value across int, float and Decimal."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int | float | Decimal) and isinstance(actual, int | float | Decimal):
        try:
            return Decimal(str(expected)) == Decimal(str(actual))
        except InvalidOperation:
            return False
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return not _compare(expected, actual, "")
    if isinstance(expected, list | tuple) and isinstance(actual, list | tuple):
        return len(expected) == len(actual) and all(
            values_equal(e, a) for e, a in zip(expected, actual, strict=True)
        )
    return bool(expected == actual)


def _compare(
    expected: Mapping[str, Any], actual: Mapping[str, Any], prefix: str
) -> list[FieldDifference]:
    """Differences between two records; ``None`` and absent count as the same."""
    diffs: list[FieldDifference] = []
    for key in list(expected) + [k for k in actual if k not in expected]:
        exp = expected.get(key, _ABSENT)
        act = actual.get(key, _ABSENT)
        name = f"{prefix}{key}"
        if exp in (None, _ABSENT) and act in (None, _ABSENT):
            continue
        if isinstance(exp, Mapping) and isinstance(act, Mapping):
            diffs.extend(_compare(exp, act, name + "."))
        elif exp is _ABSENT or act is _ABSENT or not values_equal(exp, act):
            diffs.append(FieldDifference(name, exp, act))
    return diffs


def fixture_resolver(lookups: Mapping[str, str]) -> LookupResolver | None:
    """A resolver answering from ``{"Account.StripeCustomerID__c=cus_1": "001..."}``."""
    if not lookups:
        return None
    table = dict(lookups)

    def resolve(obj: str, match_field: str, value: Any) -> str | None:
        return table.get(f"{obj}.{match_field}={value}")

    return resolve


def run_fixture(plan: FlowPlan, fixture: Fixture) -> FixtureResult:
    # A deletion input (customer.deleted, a record with IsDeleted) is not mapped: its
    # expected record is the target as the flow's on_delete leaves it.
    resolver = fixture_resolver(fixture.lookups)
    deleted = deletion_result(plan.flow, fixture.input, plan, resolver)
    result = deleted[1] if deleted is not None else plan.apply(fixture.input, resolver)
    diffs: list[FieldDifference] = []
    if fixture.expect_skip and not result.skipped:
        diffs.append(
            FieldDifference(
                "(flow)",
                None,
                None,
                "expected the flow to skip this input, but it produced a record",
            )
        )
    elif result.skipped and not fixture.expect_skip:
        diffs.append(
            FieldDifference(
                "(flow)", None, None, f"the flow skipped this input: {result.skip_reason}"
            )
        )
    elif fixture.expected is not None and not result.skipped:
        diffs.extend(_compare(fixture.expected, result.record, ""))

    codes = {i.code for i in result.issues}
    expected_codes = set(fixture.expected_issues)
    for code in fixture.expected_issues:
        if code not in codes:
            diffs.append(
                FieldDifference("(issues)", None, None, f"expected issue {code}, none raised")
            )
    for issue in result.issues:
        if issue.severity == "error" and issue.code not in expected_codes:
            where = issue.field or "(record)"
            diffs.append(
                FieldDifference(where, None, None, f"unexpected {issue.code}: {issue.message}")
            )
    return FixtureResult(
        plan.flow.name, fixture.name, not diffs, diffs, list(result.issues), result
    )


def _schema_for(
    ref: ObjectRef, schemas: Mapping[str, ObjectSchema] | None
) -> ObjectSchema | None:
    if not schemas:
        return None
    return schemas.get(str(ref)) or schemas.get(ref.object)


def run_fixtures(
    document: MappingDocument,
    target_schemas: Mapping[str, ObjectSchema] | None = None,
    flow: str | None = None,
) -> list[FixtureResult]:
    """Every fixture of every flow (or of the flow named ``flow``), in document order.

    ``target_schemas`` maps an object name (``Payment__c``, or ``salesforce:Payment__c``) to
    its schema; flows whose target has none are run without schema validation. A flow's
    source schema, when the mapping has it, lets the engine check the meaning of amounts.

    A child collection's fixtures run against the child's own plan, one element each, and
    report under ``<flow>/<relationship>``; a parent fixture's ``expected`` is the parent
    record only.
    """
    flows = document.flows
    if flow is not None:
        chosen = document.flow(flow)
        if chosen is None:
            names = ", ".join(f.name for f in document.flows) or "none"
            raise DocumentError(f"no flow named {flow!r} in {document.name!r} (flows: {names})")
        flows = [chosen]
    results: list[FixtureResult] = []

    def schema_of(system: System, name: str) -> ObjectSchema | None:
        found = _schema_for(ObjectRef(system, name), target_schemas)
        # A bare name that belongs to the other system is not this object's schema.
        return found if found is not None and found.system is system else None

    for fl in flows:
        if not fl.fixtures and not any(c.fixtures for c in fl.children):
            continue
        # The source schema too, when given: amounts in minor units are known by it.
        source = schema_of(fl.source.system, fl.source.object)
        plan = compile_flow(
            fl,
            document,
            _schema_for(fl.target, target_schemas),
            source_schema=source,
            schemas=schema_of,
        )
        results.extend(run_fixture(plan, fx) for fx in fl.fixtures)
        for child in fl.children:
            child_plan = plan.children[child.relationship]
            results.extend(run_fixture(child_plan, fx) for fx in child.fixtures)
    return results


def format_fixture_report(results: list[FixtureResult]) -> str:
    """A readable report: one line per passing fixture, a diff block per failing one."""
    lines: list[str] = []
    for r in results:
        if r.passed:
            lines.append(f"ok    {r.flow} / {r.fixture}")
            continue
        lines.append(f"FAIL  {r.flow} / {r.fixture}")
        lines.extend(str(d) for d in r.differences)
    failed = sum(1 for r in results if not r.passed)
    total = len(results)
    if total == 0:
        lines.append("no fixtures to run")
    else:
        noun = "fixture" if total == 1 else "fixtures"
        lines.append(f"{total} {noun}: {total - failed} passed, {failed} failed")
    return "\n".join(lines)
