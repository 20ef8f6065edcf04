"""Reading and writing mapping documents as YAML.

Reading goes YAML text -> plain data -> format check -> JSON Schema validation -> typed
dataclasses -> consistency checks, and every failure becomes one :class:`DocumentError`
that names the file, the flow and the place ("charges.yaml: flow 'charge-to-payment',
fields[2]: 'target' is required"). The reader is chosen by the document's ``format`` from
``_READERS`` so a later format can add its own reader beside format 1.

Writing emits a stable, human key order in block style without anchors, so a document
diffs well in version control and ``dump(load(dump(doc))) == dump(doc)``.
"""

from __future__ import annotations

import copy
import difflib
import enum
import functools
import json
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from mappings.document.model import (
    FORMAT_VERSION,
    Action,
    ChildCollection,
    Condition,
    ConditionOp,
    DeletionPolicy,
    FieldMapping,
    Fixture,
    Flow,
    Lookup,
    MappingDocument,
    ObjectRef,
    Operation,
    RatesTable,
    SalesforceChange,
    SalesforceEvent,
    TransformStep,
    Trigger,
)
from mappings.errors import DocumentError
from mappings.limits import BoundedYamlLoader, TooDeepError, TooLargeError, check_yaml_size
from mappings.schema.model import System

DECIMAL_TAG = "!decimal"
YAML_SUFFIXES = (".yaml", ".yml")


def schema_path() -> Path:
    """The published JSON Schema of format-1 mapping documents."""
    return Path(__file__).with_name("mapping.schema.json")


@functools.cache
def _validator() -> Draft202012Validator:
    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


# --------------------------------------------------------------------------- YAML dialect


class _Loader(BoundedYamlLoader):
    """Safe YAML within the document limits that refuses duplicate keys (PyYAML silently
    keeps the last one)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from exc
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=deep)
    return result


def _construct_decimal(loader: _Loader, node: yaml.Node) -> Decimal:
    text = loader.construct_scalar(node)  # type: ignore[arg-type]
    try:
        return Decimal(str(text))
    except InvalidOperation as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a decimal number", node.start_mark
        ) from exc


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(DECIMAL_TAG, _construct_decimal)


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key, never anchors or aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: _Dumper, value: str) -> yaml.Node:
    # Multi-line text (JSONata, descriptions) reads best as a literal block.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_decimal(dumper: _Dumper, value: Decimal) -> yaml.Node:
    # Money in fixtures must come back as the same Decimal, not a binary float.
    return dumper.represent_scalar(DECIMAL_TAG, str(value))


def _represent_enum(dumper: _Dumper, value: enum.Enum) -> yaml.Node:
    return dumper.represent_data(value.value)


def _represent_tuple(dumper: _Dumper, value: tuple) -> yaml.Node:
    return dumper.represent_list(list(value))


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(Decimal, _represent_decimal)
_Dumper.add_representer(tuple, _represent_tuple)
_Dumper.add_multi_representer(enum.Enum, _represent_enum)


# --------------------------------------------------------------------------- public API


def load_document(path_or_text: str | Path) -> MappingDocument:
    """Read a document from a file path, or from YAML text when given a multi-line string."""
    if _looks_like_path(path_or_text):
        path = Path(path_or_text)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise DocumentError(f"{path.name}: the file is not UTF-8 text") from exc
        except OSError as exc:
            raise DocumentError(f"{path}: cannot read the file ({exc.strerror})") from exc
        return loads_document(text, source_name=path.name)
    return loads_document(str(path_or_text))


def loads_document(text: str, source_name: str = "<string>") -> MappingDocument:
    """Parse YAML text; errors name ``source_name`` (a file or bundle member name)."""
    data = _parse_yaml(text, source_name)
    return document_from_data(data, source_name)


def document_from_data(data: Any, source_name: str = "<string>") -> MappingDocument:
    """Check and convert already-parsed plain data, dispatching on its ``format``."""
    if data is None:
        raise DocumentError(f"{source_name}: the document is empty")
    if not isinstance(data, dict):
        raise DocumentError(
            f"{source_name}: a mapping document is a mapping with 'format', 'name' and "
            f"'flows', not {_type_name(data)}"
        )
    version = _format_version(data, source_name)
    return _READERS[version](data, source_name)


def dump_document(doc: MappingDocument) -> str:
    """YAML text in the stable, human key order."""
    return yaml.dump(
        document_to_data(doc),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=4096,  # never re-wrap long expressions: a one-word edit stays a one-line diff
        indent=2,
    )


def save_document(doc: MappingDocument, path: str | Path) -> None:
    Path(path).write_text(dump_document(doc), encoding="utf-8")


def load_documents(path: str | Path) -> list[tuple[Path, MappingDocument]]:
    """One file, or every ``*.yaml``/``*.yml`` file of a folder in name order."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in YAML_SUFFIXES and p.is_file())
        if not files:
            raise DocumentError(f"{path}: the folder holds no mapping documents (*.yaml)")
        return [(p, load_document(p)) for p in files]
    if not path.exists():
        raise DocumentError(f"{path}: no such file or folder")
    return [(path, load_document(path))]


# --------------------------------------------------------------------------- reading


def _looks_like_path(value: str | Path) -> bool:
    if isinstance(value, Path):
        return True
    if "\n" in value:
        return False
    return value.endswith(YAML_SUFFIXES) or Path(value).is_file()


def _parse_yaml(text: str, source_name: str) -> Any:
    try:
        check_yaml_size(text)
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except (TooDeepError, TooLargeError) as exc:
        raise DocumentError(f"{source_name}: the document {exc}; refusing it") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "unreadable"
        raise DocumentError(f"{source_name}: {where}invalid YAML: {problem}") from exc
    except yaml.YAMLError as exc:
        raise DocumentError(f"{source_name}: invalid YAML: {exc}") from exc


def _format_version(data: dict, source_name: str) -> int:
    if "format" not in data:
        raise DocumentError(
            f"{source_name}: 'format' is required (this Fieldbridge writes format {FORMAT_VERSION})"
        )
    version = data["format"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise DocumentError(
            f"{source_name}: 'format' must be a whole number such as {FORMAT_VERSION}, "
            f"not {version!r}"
        )
    newest = max(_READERS)
    if version > newest:
        raise DocumentError(
            f"{source_name}: format {version} is newer than this Fieldbridge understands ({newest})"
        )
    if version not in _READERS:
        raise DocumentError(f"{source_name}: format {version} is not a known format version")
    return version


def _read_v1(data: dict, source_name: str) -> MappingDocument:
    errors = list(_validator().iter_errors(data))
    if errors:
        first = min(errors, key=lambda e: _document_order(data, e))
        more = len(errors) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise DocumentError(f"{source_name}: {_describe_error(data, first)}{suffix}")
    doc = MappingDocument(
        name=data["name"],
        description=data.get("description", ""),
        format=data["format"],
        value_maps={k: dict(v) for k, v in data.get("value_maps", {}).items()},
        rates=_read_rates(data["rates"]) if "rates" in data else None,
        flows=[_read_flow(f) for f in data.get("flows", [])],
    )
    _check_consistency(doc, source_name)
    return doc


def _read_rates(data: dict) -> RatesTable:
    return RatesTable(
        base=data["base"],
        rates={str(k): float(v) for k, v in data.get("rates", {}).items()},
        as_of=data.get("as_of", ""),
    )


def _read_flow(data: dict) -> Flow:
    trig = data["trigger"]
    change, event = trig.get("salesforce_change"), trig.get("salesforce_event")
    if change is not None or event is not None:
        trigger = Trigger(
            salesforce_change=None if change is None else SalesforceChange(
                object=change["object"], field=change.get("field"), becomes=change.get("becomes")
            ),
            salesforce_event=None if event is None else SalesforceEvent(
                event=event["event"], record_id=event.get("record_id")
            ),
        )
    else:
        trigger = Trigger(stripe_events=list(trig["stripe_events"]))
    op = data["operation"]
    return Flow(
        name=data["name"],
        description=data.get("description", ""),
        trigger=trigger,
        source=_read_ref(data["source"]),
        target=_read_ref(data["target"]),
        operation=Operation(
            action=Action(op["action"]),
            external_id=op.get("external_id"),
            dedup_on=list(op.get("dedup_on", [])),
            writeback=op.get("writeback"),
        ),
        conditions=_read_conditions(data),
        fields=[_read_field(m) for m in data.get("fields", [])],
        lookups=_read_lookups(data),
        defaults=dict(data.get("defaults", {})),
        fixtures=_read_fixtures(data),
        children=[_read_child(c) for c in data.get("children", [])],
        on_delete=DeletionPolicy(data.get("on_delete", DeletionPolicy.MARK.value)),
    )


def _read_child(data: dict) -> ChildCollection:
    return ChildCollection(
        relationship=data["relationship"],
        source=data["source"],
        object=data["object"],
        target=data["target"],
        parent_field=data["parent_field"],
        external_id=data["external_id"],
        description=data.get("description", ""),
        conditions=_read_conditions(data),
        fields=[_read_field(m) for m in data.get("fields", [])],
        lookups=_read_lookups(data),
        defaults=dict(data.get("defaults", {})),
        fixtures=_read_fixtures(data),
        on_removed=DeletionPolicy(data.get("on_removed", DeletionPolicy.MARK.value)),
    )


def _read_conditions(data: dict) -> list[Condition]:
    return [
        Condition(
            op=ConditionOp(c["op"]),
            path=c.get("path"),
            value=c.get("value"),
            expr=c.get("expr"),
        )
        for c in data.get("conditions", [])
    ]


def _read_lookups(data: dict) -> list[Lookup]:
    return [
        Lookup(
            target=lk["target"],
            object=lk["object"],
            match_field=lk["match_field"],
            source=lk.get("source", ""),
            required=lk.get("required", True),
            value=lk.get("value"),
            expr=lk.get("expr"),
        )
        for lk in data.get("lookups", [])
    ]


def _read_fixtures(data: dict) -> list[Fixture]:
    return [
        Fixture(
            name=fx["name"],
            input=fx["input"],
            expected=fx.get("expected"),
            expect_skip=fx.get("expect_skip", False),
            expected_issues=list(fx.get("expected_issues", [])),
            lookups=dict(fx.get("lookups", {})),
        )
        for fx in data.get("fixtures", [])
    ]


def _read_ref(data: dict) -> ObjectRef:
    return ObjectRef(system=System(data["system"]), object=data["object"])


def _read_field(data: dict) -> FieldMapping:
    source = data.get("source", [])
    steps = [
        TransformStep(name=s)
        if isinstance(s, str)
        else TransformStep(s["name"], dict(s.get("args", {})))
        for s in data.get("transforms", [])
    ]
    return FieldMapping(
        target=data["target"],
        sources=[source] if isinstance(source, str) else list(source),
        transforms=steps,
        description=data.get("description", ""),
    )


def _check_consistency(doc: MappingDocument, source_name: str) -> None:
    """What JSON Schema cannot say: names that must be unique."""
    first_flow: dict[str, int] = {}
    for i, flow in enumerate(doc.flows):
        if flow.name in first_flow:
            raise DocumentError(
                f"{source_name}: flow {flow.name!r} is defined twice "
                f"(flows[{first_flow[flow.name]}] and flows[{i}])"
            )
        first_flow[flow.name] = i
        where = f"{source_name}: flow {flow.name!r}"
        _check_parts(where, flow.fields, flow.lookups, flow.fixtures)
        relationships: dict[str, int] = {}
        for j, child in enumerate(flow.children):
            at = f"{where}, children[{j}]"
            if child.relationship in relationships:
                raise DocumentError(
                    f"{at}: relationship {child.relationship!r} is already mapped by "
                    f"children[{relationships[child.relationship]}]"
                )
            relationships[child.relationship] = j
            _check_parts(at, child.fields, child.lookups, child.fixtures)
            writers: tuple[tuple[str, Sequence[FieldMapping | Lookup]], ...] = (
                ("fields", child.fields),
                ("lookups", child.lookups),
            )
            for section, items in writers:
                for k, item in enumerate(items):
                    if item.target == child.parent_field:
                        raise DocumentError(
                            f"{at}, {section}[{k}]: {item.target!r} is the reference to the "
                            f"parent record ('parent_field'), which Fieldbridge fills itself"
                        )


def _check_parts(where: str, fields: Sequence[FieldMapping], lookups: Sequence[Lookup],
                 fixtures: Sequence[Fixture]) -> None:
    # A target is written once: by one field mapping or one lookup, never both.
    mapped: dict[str, str] = {}
    writers: tuple[tuple[str, Sequence[FieldMapping | Lookup]], ...] = (
        ("fields", fields),
        ("lookups", lookups),
    )
    for section, items in writers:
        for j, item in enumerate(items):
            if item.target in mapped:
                raise DocumentError(
                    f"{where}, {section}[{j}]: target {item.target!r} is already mapped by "
                    f"{mapped[item.target]}"
                )
            mapped[item.target] = f"{section}[{j}]"
    fixture_names: set[str] = set()
    for j, fx in enumerate(fixtures):
        if fx.name in fixture_names:
            raise DocumentError(f"{where}, fixtures[{j}]: fixture {fx.name!r} is defined twice")
        fixture_names.add(fx.name)


# --------------------------------------------------------------------------- messages


def _document_order(data: Any, error: ValidationError) -> tuple[int, ...]:
    """Where the error sits in the file: key positions, so the first problem is told first."""
    order: list[int] = []
    node = data
    for part in error.absolute_path:
        if isinstance(node, dict):
            keys = list(node)
            order.append(keys.index(part) if part in node else len(keys))
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int):
            order.append(part)
            node = node[part] if part < len(node) else None
        else:
            break
    return tuple(order)


def _describe_error(data: Any, error: ValidationError) -> str:
    error = _most_specific(error)
    where = _location(data, list(error.absolute_path))
    return f"{where}: {_message(error)}" if where else _message(error)


def _most_specific(error: ValidationError) -> ValidationError:
    """For anyOf/oneOf, the failure inside the alternative the value was evidently meant for."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        meant = [e for e in error.context if e.validator != "type"]
        if meant:
            return _most_specific(min(meant, key=lambda e: _document_order(error.instance, e)))
    return error


def _location(data: Any, path: list[Any]) -> str:
    parts: list[str] = []
    rest = path
    if len(path) >= 2 and path[0] == "flows" and isinstance(path[1], int):
        flows = data.get("flows") if isinstance(data, dict) else None
        flow = flows[path[1]] if isinstance(flows, list) and path[1] < len(flows) else None
        name = flow.get("name") if isinstance(flow, dict) else None
        parts.append(f"flow {name!r}" if isinstance(name, str) else f"flows[{path[1]}]")
        rest = path[2:]
    text = ""
    for part in rest:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    if text:
        parts.append(text)
    return ", ".join(parts)


def _message(error: ValidationError) -> str:
    custom = error.schema.get("x-messages", {}) if isinstance(error.schema, dict) else {}
    if error.validator in custom:
        return str(custom[error.validator])
    kind = error.validator
    value = error.validator_value
    instance = error.instance
    if kind == "required" and isinstance(instance, dict):
        missing = [p for p in value if p not in instance]
        return f"{missing[0]!r} is required" if missing else error.message
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = list(error.schema.get("properties", {}))
        extra = [k for k in instance if k not in known]
        if extra:
            hint = difflib.get_close_matches(str(extra[0]), known, n=1)
            did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
            allowed = ", ".join(known)
            return f"unknown key {extra[0]!r}{did_you_mean}; allowed keys: {allowed}"
    if kind == "type":
        wanted = value if isinstance(value, list) else [value]
        return f"must be {' or '.join(_article(w) for w in wanted)}, not {_type_name(instance)}"
    if kind == "enum":
        return f"{instance!r} is not one of: {', '.join(map(str, value))}"
    if kind == "const":
        return f"must be {value!r}, not {instance!r}"
    if kind == "minLength":
        return "must not be empty"
    if kind == "minItems":
        return "must list at least one item"
    if kind == "pattern":
        return f"{instance!r} does not match the pattern {value!r}"
    if kind == "exclusiveMinimum":
        return f"must be greater than {value}, not {instance!r}"
    return error.message


_ARTICLES = {
    "string": "a string",
    "array": "a list",
    "object": "a mapping",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _article(json_type: str) -> str:
    return _ARTICLES.get(json_type, json_type)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float | Decimal):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


_READERS: dict[int, Callable[[dict, str], MappingDocument]] = {1: _read_v1}


# --------------------------------------------------------------------------- writing


def document_to_data(doc: MappingDocument) -> dict[str, Any]:
    """Plain data in the on-disk key order; empty optional parts are left out."""
    data: dict[str, Any] = {"format": doc.format, "name": doc.name}
    _put(data, "description", doc.description)
    _put(data, "value_maps", copy.deepcopy(doc.value_maps))
    if doc.rates is not None:
        rates: dict[str, Any] = {"base": doc.rates.base}
        _put(rates, "rates", dict(doc.rates.rates))
        _put(rates, "as_of", doc.rates.as_of)
        data["rates"] = rates
    _put(data, "flows", [flow_to_data(f) for f in doc.flows])
    return data


def flow_to_data(flow: Flow) -> dict[str, Any]:
    data: dict[str, Any] = {"name": flow.name}
    _put(data, "description", flow.description)
    data["trigger"] = trigger_to_data(flow.trigger)
    data["source"] = _ref_to_data(flow.source)
    data["target"] = _ref_to_data(flow.target)
    data["operation"] = operation_to_data(flow)
    _put(data, "conditions", [condition_to_data(c) for c in flow.conditions])
    _put(data, "fields", [field_mapping_to_data(m) for m in flow.fields])
    _put(data, "lookups", [lookup_to_data(lk) for lk in flow.lookups])
    _put(data, "defaults", copy.deepcopy(flow.defaults))
    _put(data, "fixtures", [fixture_to_data(fx) for fx in flow.fixtures])
    _put(data, "children", [child_to_data(c) for c in flow.children])
    if flow.on_delete is not DeletionPolicy.MARK:
        data["on_delete"] = flow.on_delete.value
    return data


def child_to_data(child: ChildCollection) -> dict[str, Any]:
    data: dict[str, Any] = {
        "relationship": child.relationship,
        "source": child.source,
        "object": child.object,
        "target": child.target,
        "parent_field": child.parent_field,
        "external_id": child.external_id,
    }
    _put(data, "description", child.description)
    _put(data, "conditions", [condition_to_data(c) for c in child.conditions])
    _put(data, "fields", [field_mapping_to_data(m) for m in child.fields])
    _put(data, "lookups", [lookup_to_data(lk) for lk in child.lookups])
    _put(data, "defaults", copy.deepcopy(child.defaults))
    _put(data, "fixtures", [fixture_to_data(fx) for fx in child.fixtures])
    if child.on_removed is not DeletionPolicy.MARK:
        data["on_removed"] = child.on_removed.value
    return data


def trigger_to_data(trigger: Trigger) -> dict[str, Any]:
    change, event = trigger.salesforce_change, trigger.salesforce_event
    if change is None and event is None:
        return {"stripe_events": list(trigger.stripe_events)}
    data: dict[str, Any] = {}
    if change is not None:
        out: dict[str, Any] = {"object": change.object}
        if change.field is not None:
            out["field"] = change.field
        if change.becomes is not None:
            out["becomes"] = copy.deepcopy(change.becomes)
        data["salesforce_change"] = out
    if event is not None:
        data["salesforce_event"] = {"event": event.event}
        if event.record_id is not None:
            data["salesforce_event"]["record_id"] = event.record_id
    return data


def operation_to_data(flow: Flow) -> dict[str, Any]:
    op = flow.operation
    data: dict[str, Any] = {"action": op.action.value}
    if op.external_id is not None:
        data["external_id"] = op.external_id
    _put(data, "dedup_on", list(op.dedup_on))
    if op.writeback is not None:
        data["writeback"] = op.writeback
    return data


def condition_to_data(cond: Condition) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if cond.path is not None:
        data["path"] = cond.path
    data["op"] = cond.op.value
    if cond.value is not None:
        data["value"] = copy.deepcopy(cond.value)
    if cond.expr is not None:
        data["expr"] = cond.expr
    return data


def field_mapping_to_data(mapping: FieldMapping) -> dict[str, Any]:
    data: dict[str, Any] = {"target": mapping.target}
    if len(mapping.sources) == 1:
        data["source"] = mapping.sources[0]
    elif mapping.sources:
        data["source"] = list(mapping.sources)
    _put(data, "transforms", [step_to_data(s) for s in mapping.transforms])
    _put(data, "description", mapping.description)
    return data


def step_to_data(step: TransformStep) -> dict[str, Any]:
    data: dict[str, Any] = {"name": step.name}
    _put(data, "args", copy.deepcopy(step.args))
    return data


def lookup_to_data(lookup: Lookup) -> dict[str, Any]:
    data: dict[str, Any] = {
        "target": lookup.target,
        "object": lookup.object,
        "match_field": lookup.match_field,
    }
    if lookup.constant:
        data["value"] = lookup.value
    elif lookup.computed:
        data["expr"] = lookup.expr
    else:
        data["source"] = lookup.source
    if not lookup.required:
        data["required"] = False
    return data


def fixture_to_data(fixture: Fixture) -> dict[str, Any]:
    data: dict[str, Any] = {"name": fixture.name, "input": copy.deepcopy(fixture.input)}
    if fixture.expected is not None:
        data["expected"] = copy.deepcopy(fixture.expected)
    if fixture.expect_skip:
        data["expect_skip"] = True
    _put(data, "expected_issues", list(fixture.expected_issues))
    _put(data, "lookups", dict(fixture.lookups))
    return data


def _ref_to_data(ref: ObjectRef) -> dict[str, str]:
    return {"system": ref.system.value, "object": ref.object}


def _put(data: dict[str, Any], key: str, value: str | Iterable[Any] | dict[str, Any]) -> None:
    if value:
        data[key] = value
