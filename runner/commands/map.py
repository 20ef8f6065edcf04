"""``fieldbridge-runner map ...``: preview one record through a flow, and suggest mappings.

``map preview`` prints exactly ``{"record": {...}, "issues": [...]}`` (plus ``skipped`` and
``skip_reason``, and for a flow with child collections ``"children": {"<relationship>":
[records...]}``, the child records as mapped, without their parent reference; for a
deletion input ``"deletion": {"policy", "summary", ...}``, and ``record`` is the target as the
flow's ``on_delete`` leaves it) so scripts can read it; ``map suggest`` prints ranked candidate pairs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mappings.bundle import load_bundle
from mappings.document.model import Flow, MappingDocument
from mappings.document.yamlio import load_documents
from mappings.errors import DocumentError, MappingError, UnknownObjectError
from mappings.schema.model import Catalog, ObjectSchema, System
from runner.settings import Range, option_type

if TYPE_CHECKING:
    from mappings.engine.plan import SchemaSource


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("map", help="preview a record through a flow; suggest mappings")
    sub = parser.add_subparsers(dest="map_command", metavar="ACTION")
    sub.required = True

    preview = sub.add_parser(
        "preview", help="map one input (a Stripe event or object, a Salesforce record) through a flow"
    )
    preview.add_argument("bundle", type=Path, help="a bundle (.fbz), a mapping file or a folder")
    preview.add_argument("--flow", required=True, help="the flow's name")
    preview.add_argument("--input", required=True, type=Path, help="the input JSON file")
    preview.add_argument(
        "--lookup",
        action="append",
        default=[],
        metavar="OBJECT.FIELD=VALUE=ID",
        help="answer a lookup, e.g. Account.StripeCustomerID__c=cus_1=001...; repeatable",
    )
    preview.set_defaults(handler=_preview)

    suggest = sub.add_parser("suggest", help="ranked field pairs for a source and target object")
    suggest.add_argument("--source", required=True, metavar="SYSTEM:OBJECT", help="e.g. stripe:charge")
    suggest.add_argument(
        "--target", required=True, metavar="SYSTEM:OBJECT", help="e.g. salesforce:Payment__c"
    )
    suggest.add_argument("--limit", type=option_type(int, Range(1, 1000), "limit"), default=50,
                         help="at most this many pairs")
    suggest.add_argument("--json", action="store_true", help="machine-readable output")
    suggest.set_defaults(handler=_suggest)


def _preview(args: argparse.Namespace) -> int:
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from mappings.engine.deletion import deletion_result
    from mappings.engine.fixtures import fixture_resolver
    from mappings.engine.plan import compile_flow

    document, flow, schemas = _find_flow(args.bundle, args.flow)
    target = schemas(flow.target.system, flow.target.object)
    source = schemas(flow.source.system, flow.source.object)
    data = _read_input(args.input)
    resolver = fixture_resolver(_parse_lookups(args.lookup)) if args.lookup else None
    # The source schema too: it knows which amounts are in minor units.
    plan = compile_flow(flow, document, target, source_schema=source, schemas=schemas)
    # A deletion input is not mapped: the preview says what the flow's on_delete would do.
    deleted = deletion_result(flow, data, plan, resolver)
    result = deleted[1] if deleted is not None else plan.apply(data, resolver=resolver)
    out = result.to_dict()
    preview: dict[str, Any] = {
        "record": out["record"],
        "issues": out["issues"],
        "skipped": out["skipped"],
        "skip_reason": result.skip_reason,
    }
    if deleted is not None and deleted[0] is not None:
        preview["deletion"] = deleted[0].to_dict()
    if flow.children:
        # The records only: a child's issues are summed up on the parent (CHILD_INVALID).
        preview["children"] = {
            relationship: [child["record"] for child in results]
            for relationship, results in out.get("children", {}).items()
        }
    json.dump(
        preview,
        sys.stdout,
        indent=2,
        ensure_ascii=False,
    )
    sys.stdout.write("\n")
    return 0


def _suggest(args: argparse.Namespace) -> int:
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from mappings.suggest import suggest_lookups, suggest_mappings

    source = _object(args.source)
    target = _object(args.target)
    suggestions = suggest_mappings(source, target, limit=args.limit)
    # Reference fields (Account__c) are filled by lookups through an external id, not mapped.
    lookups = (
        suggest_lookups(source, target, _shipped_catalog(System.SALESFORCE))
        if source.system is System.STRIPE and target.system is System.SALESFORCE
        else []
    )
    if args.json:
        rows = [{"kind": "field", **s.to_dict()} for s in suggestions]
        rows += [{"kind": "lookup", **lk.to_dict()} for lk in lookups]
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    if not suggestions and not lookups:
        print(f"no suggestions for {args.source} -> {args.target}")
        return 0
    width = max((len(s.source_path) for s in suggestions), default=0)
    for s in suggestions:
        chain = " | ".join(step.name for step in s.transforms)
        via = f"  via {chain}" if chain else ""
        print(f"{s.score:4.2f}  {s.source_path:<{width}} -> {s.target_field}{via}")
        print(f"      {'; '.join(s.reasons)}")
    if lookups:
        print("lookups:")
    for lk in lookups:
        ref = lk.lookup
        print(f"{lk.score:4.2f}  {ref.target} = the {ref.object} whose {ref.match_field} "
              f"equals {ref.source}")
        print(f"      {'; '.join(lk.reasons)}")
    return 0


# --------------------------------------------------------------------------- helpers


def _find_flow(path: Path, name: str) -> tuple[MappingDocument, Flow, SchemaSource]:
    """The flow, its document and where its schemas come from (the bundle's snapshot, else
    the shipped catalogs): its target and source, and its children's."""
    if not path.exists():
        raise DocumentError(f"{path} does not exist")
    if path.is_file() and path.suffix == ".fbz":
        bundle = load_bundle(path)
        found = bundle.flow(name)
        names = [f.name for _, f in bundle.flows()]
        if found is None:
            raise DocumentError(_no_flow(path, name, names))
        document, flow = found
        return document, flow, lambda system, obj: bundle.catalog(system).get(obj)
    docs = [doc for _, doc in load_documents(path)]
    for document in docs:
        named = document.flow(name)
        if named is not None:
            return document, named, lambda system, obj: _shipped_catalog(system).get(obj)
    raise DocumentError(_no_flow(path, name, [f.name for d in docs for f in d.flows]))


def _no_flow(path: Path, name: str, names: list[str]) -> str:
    return f"{path.name} has no flow named {name!r} (flows: {', '.join(names) or 'none'})"


def _read_input(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"cannot read input {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MappingError(
            f"input {path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from exc
    if not isinstance(data, dict):
        raise MappingError(f"input {path} must be a JSON object (an event or a record)")
    return data


def _parse_lookups(items: list[str]) -> dict[str, str]:
    answers: dict[str, str] = {}
    for item in items:
        key, sep, sf_id = item.rpartition("=")
        if not sep or "=" not in key or "." not in key.split("=", 1)[0] or not sf_id:
            raise MappingError(
                f"--lookup {item!r} must look like Object.Field=value=SalesforceId"
            )
        answers[key] = sf_id
    return answers


def _object(spec: str) -> ObjectSchema:
    system_name, sep, name = spec.partition(":")
    try:
        system = System(system_name.lower())
    except ValueError:
        system = None
    if not sep or not name or system is None:
        raise MappingError(f"{spec!r} must look like stripe:OBJECT or salesforce:OBJECT")
    catalog = _shipped_catalog(system)
    found = catalog.get(name)
    if found is None:
        raise UnknownObjectError(f"no {system.value} object named {name!r}")
    return found


def _shipped_catalog(system: System) -> Catalog:
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from mappings.schema.org_metadata import load_salesforce_catalog
    from mappings.schema.stripe_catalog import load_stripe_catalog

    if system is System.STRIPE:
        return load_stripe_catalog()
    return load_salesforce_catalog()
