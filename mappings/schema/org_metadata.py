"""The Salesforce org we ship and the overlay files that customise it.

An org is a set of describe dicts by object name. The shipped org is the recorded describes
(Account, Contact, Opportunity, Lead, Case) plus the written ones (Order, Product2, User, ...),
customised by ``mappings/data/salesforce/fieldbridge.metadata.json``: that overlay adds our
custom objects, the custom fields on standard objects, picklist values and validation rules.
The recorded describes stay byte-for-byte as recorded; everything we add lives in overlays.

Overlay format (JSON or YAML), every key optional::

    {
      "formatVersion": 1,
      "objects": [{"file": "Payment__c.describe.json"}, {<full describe>},
                  {"name": "X__c", "keyPrefix": "a0Z", "label": "X", "fields": [<specs>]}],
      "fields": {"Account": [{"name": "StripeCustomerID__c", "type": "string", "length": 255,
                              "externalId": true, "unique": true}]},
      "changeFields": {"Payment__c": [{"name": "Amount__c", "precision": 10}]},
      "picklistValues": {"Case": {"Origin": ["Stripe"]}},
      "removeFields": {"Account": ["Fax"]},
      "validationRules": [{"object": "Payment__c", "name": "Amount_Not_Negative",
                           "errorConditionFormula": "Amount__c < 0",
                           "errorMessage": "Amount must not be negative",
                           "errorDisplayField": "Amount__c", "active": true}]
    }

Field specs are full describe field dicts or the short form of
:func:`~mappings.schema.salesforce_describe.describe_field`. Operations apply in the order
above. Validation rules are carried as data; the Salesforce emulator evaluates them.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mappings.errors import SchemaError
from mappings.limits import (
    BoundedYamlLoader,
    TooDeepError,
    TooLargeError,
    check_yaml_size,
    loads_json,
)
from mappings.schema.model import Catalog
from mappings.schema.salesforce_describe import (
    API_VERSION,
    child_relationship,
    describe_field,
    describe_object,
    parse_describe,
    parse_describes,
    picklist_entry,
)

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "salesforce"
SHIPPED_OVERLAY = DATA_DIR / "fieldbridge.metadata.json"
GLOBAL_DESCRIBE = DATA_DIR / "global.describe.json"
# The standard objects of the shipped org: recorded (first five) and written describes.
STANDARD_OBJECTS: tuple[str, ...] = (
    "Account", "Contact", "Opportunity", "Lead", "Case",
    "Order", "OrderItem", "Product2", "Pricebook2", "PricebookEntry", "OpportunityLineItem",
    "User",
)
FORMAT_VERSION = 1
OVERLAY_KEYS = ("formatVersion", "description", "objects", "fields", "changeFields",
                "picklistValues", "removeFields", "validationRules")
_PICKLIST_TYPES = frozenset({"picklist", "multipicklist", "combobox"})
# What a global describe entry carries (the recorded global.describe.json).
_GLOBAL_ENTRY_KEYS = (
    "activateable", "associateEntityType", "associateParentEntity", "createable", "custom",
    "customSetting", "deepCloneable", "deletable", "deprecatedAndHidden", "feedEnabled",
    "hasSubtypes", "isInterface", "isSubtype", "keyPrefix", "label", "labelPlural",
    "layoutable", "mergeable", "mruEnabled", "name", "queryable", "replicateable",
    "retrieveable", "searchable", "triggerable", "undeletable", "updateable", "urls",
)
_GLOBAL_URL_KEYS = ("approvalLayouts", "compactLayouts", "describe", "layouts", "listviews",
                    "quickActions", "rowTemplate", "sobject")

Overlay = Mapping[str, Any]
OverlaySource = Path | str | Mapping[str, Any]


class OrgMetadataError(SchemaError):
    """An org metadata overlay is malformed or does not fit the org it is applied to."""


@dataclass(frozen=True, slots=True)
class ValidationRule(Mapping[str, Any]):
    """A Salesforce validation rule: the record is refused when the formula is true.

    Also a read-only mapping with Salesforce's key names (``rule["errorConditionFormula"]``),
    so consumers that treat rules as plain data (the emulator) can read it as a dict.
    """

    object: str
    name: str
    error_condition_formula: str
    error_message: str
    error_display_field: str | None = None
    active: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The rule in the overlay's (Salesforce metadata) key names."""
        return {
            "object": self.object,
            "name": self.name,
            "errorConditionFormula": self.error_condition_formula,
            "errorMessage": self.error_message,
            "errorDisplayField": self.error_display_field,
            "active": self.active,
        }

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return 6


@dataclass(frozen=True, slots=True)
class OrgMetadata:
    """One org: its describes by object name and its validation rules."""

    describes: dict[str, dict[str, Any]]
    validation_rules: tuple[ValidationRule, ...]

    def global_describe(self) -> dict[str, Any]:
        return global_describe(self.describes)

    def catalog(self) -> Catalog:
        return parse_describes(self.describes.values(), api_version=API_VERSION)

    def rules_for(self, object_name: str) -> list[ValidationRule]:
        lowered = object_name.lower()
        return [r for r in self.validation_rules if r.object.lower() == lowered]


# --------------------------------------------------------------------------- loading


def load_overlay(path: Path | str) -> dict[str, Any]:
    """Read an overlay file (JSON, or YAML for .yaml/.yml), resolve its file references
    relative to the file, and check its structure. Raises OrgMetadataError naming the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OrgMetadataError(f"cannot read org metadata file {path}: {exc.strerror}") from exc
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            check_yaml_size(text)
            data = yaml.load(text, Loader=BoundedYamlLoader)  # noqa: S506 - a SafeLoader
        except (TooDeepError, TooLargeError) as exc:
            raise OrgMetadataError(f"org metadata file {path} {exc}; refusing it") from None
        except yaml.YAMLError as exc:
            raise OrgMetadataError(f"org metadata file {path} is not valid YAML: {exc}") from exc
    else:
        try:
            data = loads_json(text)
        except (TooDeepError, TooLargeError) as exc:
            raise OrgMetadataError(f"org metadata file {path} {exc}; refusing it") from None
        except json.JSONDecodeError as exc:
            raise OrgMetadataError(
                f"org metadata file {path} is not valid JSON: {exc.msg} "
                f"at line {exc.lineno} column {exc.colno}"
            ) from exc
    return normalize_overlay(data, base_dir=path.parent, source=str(path))


def normalize_overlay(overlay: Any, *, base_dir: Path | None = None,
                      source: str = "org metadata overlay") -> dict[str, Any]:
    """Check an overlay's structure and inline its ``{"file": ...}`` object references.

    Relative file references resolve against ``base_dir`` (default: the shipped data folder,
    so an overlay can reuse the shipped describes by name). The input is not modified.
    """
    if not isinstance(overlay, Mapping):
        raise OrgMetadataError(f"{source}: must be a JSON object, not {type(overlay).__name__}")
    unknown = [k for k in overlay if k not in OVERLAY_KEYS]
    if unknown:
        raise OrgMetadataError(
            f"{source}: unknown key(s) {', '.join(map(repr, unknown))} "
            f"(expected {', '.join(OVERLAY_KEYS)})"
        )
    version = overlay.get("formatVersion", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise OrgMetadataError(
            f"{source}: unsupported formatVersion {version!r} (this version reads {FORMAT_VERSION})"
        )
    result: dict[str, Any] = {"formatVersion": FORMAT_VERSION}
    if "description" in overlay:
        result["description"] = overlay["description"]
    base = base_dir if base_dir is not None else DATA_DIR

    objects = _expect(overlay, "objects", list, source)
    result["objects"] = [_inline_object(entry, i, base, source) for i, entry in enumerate(objects)]
    for key in ("fields", "changeFields"):
        by_object = _expect(overlay, key, dict, source)
        result[key] = {}
        for obj, specs in by_object.items():
            if not isinstance(specs, list) or not all(isinstance(s, Mapping) for s in specs):
                raise OrgMetadataError(f"{source}: {key}.{obj} must be a list of field objects")
            result[key][obj] = copy.deepcopy(specs)
    picklists = _expect(overlay, "picklistValues", dict, source)
    result["picklistValues"] = {}
    for obj, by_field in picklists.items():
        if not isinstance(by_field, Mapping):
            raise OrgMetadataError(f"{source}: picklistValues.{obj} must map field names to lists")
        for field_name, values in by_field.items():
            if not isinstance(values, list):
                raise OrgMetadataError(
                    f"{source}: picklistValues.{obj}.{field_name} must be a list of values"
                )
        result["picklistValues"][obj] = copy.deepcopy(dict(by_field))
    removals = _expect(overlay, "removeFields", dict, source)
    for obj, names in removals.items():
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise OrgMetadataError(f"{source}: removeFields.{obj} must be a list of field names")
    result["removeFields"] = {obj: list(names) for obj, names in removals.items()}
    rules = _expect(overlay, "validationRules", list, source)
    result["validationRules"] = [
        _parse_rule(rule, i, source).to_dict() for i, rule in enumerate(rules)
    ]
    return result


def _expect(overlay: Mapping[str, Any], key: str, kind: type, source: str) -> Any:
    value = overlay.get(key, kind())
    if not isinstance(value, kind):
        noun = "a list" if kind is list else "an object"
        raise OrgMetadataError(f"{source}: {key!r} must be {noun}, not {type(value).__name__}")
    return value


def _inline_object(entry: Any, index: int, base: Path, source: str) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise OrgMetadataError(f"{source}: objects[{index}] must be an object")
    if set(entry) == {"file"}:
        path = base / str(entry["file"])
        try:
            describe = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise OrgMetadataError(
                f"{source}: objects[{index}] refers to {path}, which cannot be read: "
                f"{exc.strerror}"
            ) from exc
        except json.JSONDecodeError as exc:
            raise OrgMetadataError(
                f"{source}: objects[{index}] refers to {path}, which is not valid JSON: "
                f"{exc.msg} at line {exc.lineno}"
            ) from exc
        if not isinstance(describe, dict):
            raise OrgMetadataError(f"{source}: {path} does not hold a describe object")
        return describe
    if "name" not in entry or not isinstance(entry.get("fields"), list):
        raise OrgMetadataError(
            f"{source}: objects[{index}] needs a 'name' and a 'fields' list, or a 'file'"
        )
    return copy.deepcopy(dict(entry))


def _parse_rule(rule: Any, index: int, source: str) -> ValidationRule:
    where = f"{source}: validationRules[{index}]"
    if not isinstance(rule, Mapping):
        raise OrgMetadataError(f"{where} must be an object")
    allowed = {"object", "name", "errorConditionFormula", "errorMessage", "errorDisplayField",
               "active", "description"}
    unknown = sorted(set(rule) - allowed)
    if unknown:
        raise OrgMetadataError(f"{where}: unknown key(s) {', '.join(unknown)}")
    for key in ("object", "name", "errorConditionFormula", "errorMessage"):
        if not isinstance(rule.get(key), str) or not rule[key].strip():
            raise OrgMetadataError(f"{where}: {key!r} must be a non-empty string")
    display = rule.get("errorDisplayField")
    if display is not None and not isinstance(display, str):
        raise OrgMetadataError(f"{where}: 'errorDisplayField' must be a field name")
    active = rule.get("active", True)
    if not isinstance(active, bool):
        raise OrgMetadataError(f"{where}: 'active' must be true or false")
    return ValidationRule(
        object=rule["object"],
        name=rule["name"],
        error_condition_formula=rule["errorConditionFormula"],
        error_message=rule["errorMessage"],
        error_display_field=display or None,
        active=active,
    )


# --------------------------------------------------------------------------- applying


def apply_overlay(describes: Mapping[str, Mapping[str, Any]], overlay: Overlay,
                  ) -> dict[str, dict[str, Any]]:
    """New describes with the overlay applied; the inputs are left untouched.

    Raises OrgMetadataError for an unknown object or field, a field or object that already
    exists, a bad field type, a picklist value on a non-picklist field, and the like.
    """
    overlay = normalize_overlay(overlay)
    org = {name: copy.deepcopy(dict(d)) for name, d in describes.items()}
    added_refs: list[tuple[str, dict[str, Any]]] = []

    for index, entry in enumerate(overlay["objects"]):
        describe = _object_from_entry(entry, index)
        name = describe["name"]
        if _find(org, name) is not None:
            raise OrgMetadataError(f"overlay adds object {name!r}, which already exists")
        prefix = describe.get("keyPrefix")
        clash = next((o for o, d in org.items() if prefix and d.get("keyPrefix") == prefix), None)
        if clash is not None:
            raise OrgMetadataError(
                f"overlay object {name!r} uses key prefix {prefix!r}, already used by {clash!r}"
            )
        org[name] = describe
        added_refs += [(name, f) for f in describe["fields"] if f.get("type") == "reference"]

    for obj_name, specs in overlay["fields"].items():
        describe = _object(org, obj_name, "add fields to")
        for spec in specs:
            field = _build_field(spec, describe["name"])
            if _field_index(describe, field["name"]) is not None:
                raise OrgMetadataError(
                    f"overlay adds field {describe['name']}.{field['name']}, which already exists"
                )
            describe["fields"].append(field)
            if field["type"] == "reference":
                added_refs.append((describe["name"], field))

    for obj_name, changes in overlay["changeFields"].items():
        describe = _object(org, obj_name, "change fields of")
        for change in changes:
            name = change.get("name")
            position = _field_index(describe, name) if isinstance(name, str) else None
            if position is None:
                raise OrgMetadataError(
                    f"overlay changes field {describe['name']}.{name}, which does not exist"
                )
            current = describe["fields"][position]
            merged = {**current, **change, "name": current["name"]}
            if "required" in change:
                merged["nillable"] = not change["required"]
            describe["fields"][position] = _build_field(merged, describe["name"])

    for obj_name, by_field in overlay["picklistValues"].items():
        describe = _object(org, obj_name, "add picklist values to")
        for field_name, values in by_field.items():
            _add_picklist_values(describe, field_name, values)

    for obj_name, names in overlay["removeFields"].items():
        describe = _object(org, obj_name, "remove fields from")
        for name in names:
            position = _field_index(describe, name)
            if position is None:
                raise OrgMetadataError(
                    f"overlay removes field {describe['name']}.{name}, which does not exist"
                )
            if describe["fields"][position]["type"] == "id":
                raise OrgMetadataError(f"overlay cannot remove {describe['name']}.Id")
            removed = describe["fields"].pop(position)
            _drop_child_relationships(org, describe["name"], removed)

    for child, field in added_refs:
        _add_child_relationships(org, child, field)
    for rule in overlay["validationRules"]:
        _check_rule(org, ValidationRule(**_rule_kwargs(rule)))
    return org


def _object_from_entry(entry: Mapping[str, Any], index: int) -> dict[str, Any]:
    """A full describe from an overlay object entry (full describe or short form)."""
    try:
        if "urls" in entry and "keyPrefix" in entry:
            describe = copy.deepcopy(dict(entry))
        else:
            name = str(entry["name"])
            if not isinstance(entry.get("keyPrefix"), str) or len(entry["keyPrefix"]) != 3:
                # Record ids start with it; the emulator cannot mint ids without one.
                raise SchemaError(f"object {name!r} needs a 3-character 'keyPrefix'")
            label = str(entry.get("label") or name.removesuffix("__c").replace("_", " "))
            extra = {k: v for k, v in entry.items()
                     if k not in ("name", "label", "labelPlural", "keyPrefix", "fields")}
            describe = describe_object(
                name, label=label, label_plural=str(entry.get("labelPlural") or label + "s"),
                key_prefix=str(entry["keyPrefix"]), fields=entry["fields"], **extra,
            )
        parse_describe(describe)  # the same checks any consumer will run
    except SchemaError as exc:
        raise OrgMetadataError(f"overlay objects[{index}]: {exc}") from exc
    return describe


def _build_field(spec: Mapping[str, Any], owner: str) -> dict[str, Any]:
    try:
        return describe_field(spec)
    except SchemaError as exc:
        raise OrgMetadataError(f"overlay field on {owner}: {exc}") from exc


def _find(org: Mapping[str, Any], name: str) -> str | None:
    if name in org:
        return name
    lowered = name.lower()
    return next((n for n in org if n.lower() == lowered), None)


def _object(org: dict[str, dict[str, Any]], name: str, action: str) -> dict[str, Any]:
    found = _find(org, name)
    if found is None:
        close = difflib.get_close_matches(name, list(org), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise OrgMetadataError(f"overlay cannot {action} unknown object {name!r}{hint}")
    return org[found]


def _field_index(describe: Mapping[str, Any], name: str) -> int | None:
    lowered = name.lower()
    return next((i for i, f in enumerate(describe["fields"]) if f["name"].lower() == lowered),
                None)


def _add_picklist_values(describe: dict[str, Any], field_name: str, values: list[Any]) -> None:
    index = _field_index(describe, field_name)
    where = f"{describe['name']}.{field_name}"
    if index is None:
        raise OrgMetadataError(f"overlay adds picklist values to {where}, which does not exist")
    field = describe["fields"][index]
    if field["type"] not in _PICKLIST_TYPES:
        raise OrgMetadataError(
            f"overlay adds picklist values to {where}, a {field['type']} field, not a picklist"
        )
    existing = {p["value"]: p for p in field["picklistValues"]}
    for value in values:
        try:
            entry = picklist_entry(value)
        except SchemaError as exc:
            raise OrgMetadataError(f"overlay picklist value for {where}: {exc}") from exc
        if entry["value"] in existing:
            existing[entry["value"]]["active"] = True  # re-activating a retired value
        else:
            field["picklistValues"].append(entry)
            existing[entry["value"]] = entry


def _child_relationship_name(org: Mapping[str, Any], child: str, field: Mapping[str, Any]) -> str:
    # Salesforce names a custom lookup's child relationship after the child's plural label.
    if not field["name"].endswith("__c"):
        return child + "s"
    plural = org[child].get("labelPlural") or child
    return plural.replace(" ", "_") + "__r"


def _add_child_relationships(org: dict[str, dict[str, Any]], child: str,
                             field: Mapping[str, Any]) -> None:
    for parent_name in field.get("referenceTo") or []:
        parent = org.get(_find(org, parent_name) or "")
        if parent is None:
            continue  # a lookup to an object this org does not describe (Group, Contract...)
        relations = parent.setdefault("childRelationships", [])
        if any(r.get("childSObject") == child and r.get("field") == field["name"]
               for r in relations):
            continue
        relations.append(child_relationship(
            child, field["name"], _child_relationship_name(org, child, field),
            cascade_delete=bool(field.get("cascadeDelete")),
        ))


def _drop_child_relationships(org: dict[str, dict[str, Any]], child: str,
                              field: Mapping[str, Any]) -> None:
    for parent_name in field.get("referenceTo") or []:
        parent = org.get(_find(org, parent_name) or "")
        if parent is not None:
            parent["childRelationships"] = [
                r for r in parent.get("childRelationships", [])
                if not (r.get("childSObject") == child and r.get("field") == field["name"])
            ]


def _rule_kwargs(rule: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "object": rule["object"],
        "name": rule["name"],
        "error_condition_formula": rule["errorConditionFormula"],
        "error_message": rule["errorMessage"],
        "error_display_field": rule.get("errorDisplayField"),
        "active": rule.get("active", True),
    }


def _check_rule(org: dict[str, dict[str, Any]], rule: ValidationRule) -> None:
    describe = _object(org, rule.object, f"attach validation rule {rule.name!r} to")
    display = rule.error_display_field
    if display and _field_index(describe, display) is None:
        raise OrgMetadataError(
            f"validation rule {rule.object}.{rule.name}: errorDisplayField {display!r} is not a "
            f"field of {describe['name']}"
        )


# --------------------------------------------------------------------------- the shipped org


@functools.lru_cache(maxsize=1)
def _shipped() -> tuple[str, tuple[ValidationRule, ...]]:
    """The shipped org as JSON text (cheap to copy) and its validation rules."""
    base: dict[str, dict[str, Any]] = {}
    for name in STANDARD_OBJECTS:
        path = DATA_DIR / f"{name}.describe.json"
        base[name] = json.loads(path.read_text(encoding="utf-8"))
    overlay = load_overlay(SHIPPED_OVERLAY)
    org = apply_overlay(base, overlay)
    rules = _merge_rules((), overlay)
    return json.dumps(org), rules


def _merge_rules(rules: Iterable[ValidationRule], overlay: Overlay) -> tuple[ValidationRule, ...]:
    # A later rule with the same object and name replaces the earlier one, as a deploy does.
    merged = {(r.object.lower(), r.name.lower()): r for r in rules}
    for raw in overlay.get("validationRules", []):
        rule = ValidationRule(**_rule_kwargs(raw))
        merged[(rule.object.lower(), rule.name.lower())] = rule
    return tuple(merged.values())


def _as_overlay(source: OverlaySource) -> dict[str, Any]:
    if isinstance(source, Mapping):
        return normalize_overlay(source)
    return load_overlay(source)


def load_org(overlays: Sequence[OverlaySource] = ()) -> OrgMetadata:
    """The shipped org with extra overlays (paths or dicts) applied in order."""
    text, rules = _shipped()
    describes: dict[str, dict[str, Any]] = json.loads(text)
    for source in overlays:
        overlay = _as_overlay(source)
        describes = apply_overlay(describes, overlay)
        rules = _merge_rules(rules, overlay)
    return OrgMetadata(describes=describes, validation_rules=rules)


def load_org_describes(overlays: Sequence[OverlaySource] = ()) -> dict[str, dict[str, Any]]:
    """Every describe of the shipped org (plus extra overlays), by object name. Fresh dicts."""
    return load_org(overlays).describes


def validation_rules(overlays: Sequence[OverlaySource] = ()) -> list[ValidationRule]:
    """The org's validation rules (shipped plus extra overlays), active or not."""
    return list(load_org(overlays).validation_rules)


@functools.lru_cache(maxsize=1)
def _global_template() -> str:
    return GLOBAL_DESCRIBE.read_text(encoding="utf-8")


def global_describe(describes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The global ``GET /sobjects`` describe in its real format, listing every object.

    Starts from the recorded global describe (which lists objects we do not describe in
    detail, as a real org does), corrects the entries of described objects from their
    describe, and appends the objects it lacks.
    """
    result = json.loads(_global_template())
    listed: dict[str, dict[str, Any]] = {e["name"]: e for e in result["sobjects"]}
    for name in sorted(describes):
        describe = describes[name]
        entry = listed.get(describe.get("name", name))
        if entry is None:
            entry = _global_entry(describe)
            result["sobjects"].append(entry)
        else:
            for key in ("keyPrefix", "label", "labelPlural", "custom"):
                if key in describe:
                    entry[key] = describe[key]
    return result


def _global_entry(describe: Mapping[str, Any]) -> dict[str, Any]:
    entry = {key: copy.deepcopy(describe.get(key)) for key in _GLOBAL_ENTRY_KEYS}
    urls = describe.get("urls") or {}
    entry["urls"] = {k: urls[k] for k in _GLOBAL_URL_KEYS if k in urls}
    return entry


@functools.lru_cache(maxsize=1)
def _default_catalog() -> Catalog:
    return load_org().catalog()


def load_salesforce_catalog(overlays: Sequence[OverlaySource] = ()) -> Catalog:
    """The parsed Salesforce catalog of the shipped org (plus overlays).

    The default case is parsed once; callers get their own Catalog (the object schemas are
    shared and must be treated as read-only).
    """
    if overlays:
        return load_org(overlays).catalog()
    cached = _default_catalog()
    return Catalog(system=cached.system, objects=dict(cached.objects),
                   api_version=cached.api_version)
