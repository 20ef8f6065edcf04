"""The transform engine: compile a flow into a plan, apply it, validate against the target.

``compile_flow(flow, document, target_schema)`` returns a :class:`FlowPlan`;
``plan.apply(data, resolver)`` returns a :class:`MappingResult` (record + issues, and for a
flow with child collections ``result.children`` by relationship; pass ``schemas=`` to
``compile_flow`` so that children are checked against their own objects).
``run_fixtures`` checks a document's fixtures and ``format_fixture_report`` prints the diff.
"""

from __future__ import annotations

from mappings.engine.fixtures import (
    FieldDifference,
    FixtureResult,
    format_fixture_report,
    run_fixtures,
)
from mappings.engine.plan import FlowPlan, SchemaSource, compile_flow
from mappings.engine.result import Issue, LookupResolver, MappingResult, json_safe

__all__ = [
    "FieldDifference",
    "FixtureResult",
    "FlowPlan",
    "Issue",
    "LookupResolver",
    "MappingResult",
    "SchemaSource",
    "compile_flow",
    "format_fixture_report",
    "json_safe",
    "run_fixtures",
]
