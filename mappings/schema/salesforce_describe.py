"""Salesforce describe JSON: parse any org's describe into an ObjectSchema, and build new ones.

Parsing keeps what validation needs (type, length, precision/scale, nillable,
createable/updateable, externalId/idLookup/unique, active picklist values and whether the
picklist is restricted, referenceTo). Building is the other direction: a short field spec
(``{"name": "Amount__c", "type": "currency", "precision": 16, "scale": 2}``) becomes a field
dict carrying every key a real ``GET /sobjects/X/describe`` field carries, with the defaults a
real org shows for that type. The shipped describe snapshots and the org metadata overlay are
written with it, so written describes cannot drift from the real format.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mappings.errors import SchemaError
from mappings.schema.model import (
    Catalog,
    ChildRelationship,
    FieldKind,
    FieldSchema,
    ObjectSchema,
    System,
)

API_VERSION = "59.0"
# Anonymised host, as in the recorded describes (Contact, Opportunity).
ORG_HOST = "https://orgname.my.salesforce.com"

# Salesforce field type -> our FieldKind. Types not listed parse as ANY rather than fail:
# new API versions add types, and a schema browser must still open such an org.
KIND_BY_TYPE: dict[str, FieldKind] = {
    "id": FieldKind.ID,
    "reference": FieldKind.REFERENCE,
    "string": FieldKind.STRING,
    "encryptedstring": FieldKind.STRING,
    "textarea": FieldKind.TEXT,
    "email": FieldKind.EMAIL,
    "phone": FieldKind.PHONE,
    "url": FieldKind.URL,
    "boolean": FieldKind.BOOLEAN,
    "int": FieldKind.INTEGER,
    "long": FieldKind.INTEGER,
    "double": FieldKind.NUMBER,
    "currency": FieldKind.CURRENCY,
    "percent": FieldKind.PERCENT,
    "date": FieldKind.DATE,
    "datetime": FieldKind.DATETIME,
    "time": FieldKind.TIME,
    "picklist": FieldKind.PICKLIST,
    # A combobox offers picklist values but accepts any text: an unrestricted picklist.
    "combobox": FieldKind.PICKLIST,
    "multipicklist": FieldKind.MULTIPICKLIST,
    "address": FieldKind.OBJECT,
    "location": FieldKind.OBJECT,
    "base64": FieldKind.STRING,
    "anyType": FieldKind.ANY,
    "complexvalue": FieldKind.ANY,
    "json": FieldKind.ANY,
}

_SOAP_TYPE = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "long": "xsd:long",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "time": "xsd:time",
    "address": "urn:address",
    "location": "urn:location",
    "base64": "xsd:base64Binary",
    "anyType": "xsd:anyType",
    "complexvalue": "tns:ComplexValue",
    "json": "xsd:string",
}
_TEXT_TYPES = frozenset(
    {"string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox",
     "encryptedstring"}
)
_NUMBER_TYPES = frozenset({"double", "currency", "percent"})
# What a real describe field carries, in the order json.dumps(sort_keys=True) writes it.
FIELD_KEYS: tuple[str, ...] = (
    "aggregatable", "aiPredictionField", "autoNumber", "byteLength", "calculated",
    "calculatedFormula", "cascadeDelete", "caseSensitive", "compoundFieldName", "controllerName",
    "createable", "custom", "defaultValue", "defaultValueFormula", "defaultedOnCreate",
    "dependentPicklist", "deprecatedAndHidden", "digits", "displayLocationInDecimal",
    "encrypted", "externalId", "extraTypeInfo", "filterable", "filteredLookupInfo",
    "formulaTreatNullNumberAsZero", "groupable", "highScaleNumber", "htmlFormatted", "idLookup",
    "inlineHelpText", "label", "length", "mask", "maskType", "name", "nameField", "namePointing",
    "nillable", "permissionable", "picklistValues", "polymorphicForeignKey", "precision",
    "queryByDistance", "referenceTargetField", "referenceTo", "relationshipName",
    "relationshipOrder", "restrictedDelete", "restrictedPicklist", "scale",
    "searchPrefilterable", "soapType", "sortable", "type", "unique", "updateable",
    "writeRequiresMasterRead",
)
# Keys of the short form that are not describe keys.
_SHORT_ONLY_KEYS = frozenset({"required", "description"})


# --------------------------------------------------------------------------- parsing


def parse_describe(describe: Mapping[str, Any]) -> ObjectSchema:
    """An ObjectSchema (System.SALESFORCE) from one ``/sobjects/X/describe`` response."""
    if not isinstance(describe, Mapping):
        raise SchemaError(
            f"a Salesforce describe must be a JSON object, not {type(describe).__name__}"
        )
    name = describe.get("name")
    if not isinstance(name, str) or not name:
        raise SchemaError("Salesforce describe has no object 'name'")
    raw_fields = describe.get("fields")
    if not isinstance(raw_fields, list):
        raise SchemaError(f"Salesforce describe of {name!r} has no 'fields' list")
    obj = ObjectSchema(
        system=System.SALESFORCE,
        name=name,
        label=_text(describe.get("label")) or name,
        key_prefix=describe.get("keyPrefix") or None,
        custom=bool(describe.get("custom", name.endswith("__c"))),
        label_plural=_text(describe.get("labelPlural")),
        child_relationships=tuple(
            ChildRelationship(str(r["relationshipName"]), str(r["childSObject"]), str(r["field"]))
            for r in describe.get("childRelationships") or []
            if isinstance(r, Mapping)
            and r.get("relationshipName")
            and r.get("childSObject")
            and r.get("field")
            and not r.get("deprecatedAndHidden")
        ),
    )
    for index, raw in enumerate(raw_fields):
        parsed = parse_field(raw, owner=name, index=index)
        obj.fields[parsed.path] = parsed
    return obj


def parse_field(raw: Any, *, owner: str = "?", index: int = 0) -> FieldSchema:
    """One describe field dict as a FieldSchema; missing optional keys take permissive values."""
    if not isinstance(raw, Mapping):
        raise SchemaError(f"{owner}: fields[{index}] is not a JSON object")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise SchemaError(f"{owner}: fields[{index}] has no 'name'")
    sf_type = _text(raw.get("type"))
    kind = KIND_BY_TYPE.get(sf_type, FieldKind.ANY)
    nillable = bool(raw.get("nillable", True))
    createable = bool(raw.get("createable", False))
    defaulted = bool(raw.get("defaultedOnCreate", False))
    length = _int(raw.get("length"))
    precision = _int(raw.get("precision"))
    scale = _int(raw.get("scale"))
    if sf_type in ("int", "long"):
        # Integers state their size in 'digits'; precision stays 0 in real describes.
        precision = _int(raw.get("digits")) or precision
    if sf_type not in _NUMBER_TYPES:
        # Only numbers have a meaningful scale; a 0 precision means "not stated".
        precision, scale = precision or None, None
    picklist = raw.get("picklistValues") or []
    enum_values = tuple(
        str(p["value"])
        for p in picklist
        if isinstance(p, Mapping) and p.get("active", True) and p.get("value") is not None
    )
    reference_to = raw.get("referenceTo") or []
    if isinstance(reference_to, str):
        reference_to = [reference_to]
    return FieldSchema(
        path=name,
        kind=kind,
        native_type=sf_type,
        label=_text(raw.get("label")),
        description=_text(raw.get("inlineHelpText")),
        nullable=nillable,
        required=not nillable and createable and not defaulted,
        length=length or None,
        precision=precision,
        scale=scale,
        enum_values=enum_values,
        restricted=bool(raw.get("restrictedPicklist", False)) and sf_type != "combobox",
        createable=createable,
        updateable=bool(raw.get("updateable", False)),
        external_id=bool(raw.get("externalId", False)),
        id_lookup=bool(raw.get("idLookup", False)),
        unique=bool(raw.get("unique", False)),
        reference_to=tuple(str(r) for r in reference_to),
        relationship_name=raw.get("relationshipName") or None,
        calculated=bool(raw.get("calculated", False)),
        default_on_create=defaulted,
    )


def parse_describes(describes: Iterable[Mapping[str, Any]], *, api_version: str = "") -> Catalog:
    """A Salesforce Catalog from several describes (any iterable of describe dicts)."""
    catalog = Catalog(system=System.SALESFORCE, api_version=api_version)
    for describe in describes:
        catalog.add(parse_describe(describe))
    return catalog


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    # bool is an int subclass; a describe never means True as a length.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


# --------------------------------------------------------------------------- building


def describe_field(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A full describe field dict from a short spec (or a full dict, which passes through).

    The short form takes any describe key plus ``required`` (not nillable, no default on
    create) and ``description`` (inline help text). ``type`` and ``name`` are mandatory; the
    rest defaults to what a real org shows for a custom field of that type.
    """
    if not isinstance(spec, Mapping):
        raise SchemaError(f"a field spec must be a JSON object, not {type(spec).__name__}")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise SchemaError(f"field spec has no 'name': {dict(spec)!r}")
    sf_type = spec.get("type")
    if sf_type not in KIND_BY_TYPE:
        raise SchemaError(
            f"field {name!r}: unknown Salesforce field type {sf_type!r} "
            f"(expected one of {', '.join(sorted(KIND_BY_TYPE))})"
        )
    unknown = set(spec) - set(FIELD_KEYS) - _SHORT_ONLY_KEYS
    if unknown:
        raise SchemaError(f"field {name!r}: unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("length", "precision", "scale", "digits"):
        value = spec.get(key)
        if value is not None and (_int(value) is None or value < 0):
            raise SchemaError(
                f"field {name!r}: {key} must be a non-negative integer, not {value!r}"
            )

    custom = name.endswith("__c")
    is_text = sf_type in _TEXT_TYPES
    is_ref = sf_type in ("id", "reference")
    nillable = spec.get("nillable", not spec.get("required", False))
    if sf_type == "boolean":
        nillable = False  # Salesforce checkboxes are never null
    createable = spec.get("createable", sf_type not in ("id", "address", "location"))
    updateable = spec.get("updateable", createable)
    external_id = bool(spec.get("externalId", False))
    length = spec.get("length")
    if length is None:
        length = 18 if is_ref else (_DEFAULT_LENGTH.get(sf_type, 255) if is_text else 0)
    precision = spec.get("precision", 18 if sf_type in _NUMBER_TYPES else 0)
    scale = spec.get("scale", 2 if sf_type in ("currency", "percent") else 0)
    long_text = sf_type == "textarea" and length > 255
    references = spec.get("referenceTo", [])
    if isinstance(references, str):
        references = [references]

    field: dict[str, Any] = {
        "aggregatable": sf_type not in ("boolean", "address", "location") and not long_text,
        "aiPredictionField": False,
        "autoNumber": False,
        "byteLength": 18 if is_ref else (length * 3 if is_text else 0),
        "calculated": False,
        "calculatedFormula": None,
        "cascadeDelete": False,
        "caseSensitive": False,
        "compoundFieldName": None,
        "controllerName": None,
        "createable": createable,
        "custom": custom,
        "defaultValue": False if sf_type == "boolean" else None,
        "defaultValueFormula": None,
        "defaultedOnCreate": sf_type in ("boolean", "id"),
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": 0,
        "displayLocationInDecimal": False,
        "encrypted": sf_type == "encryptedstring",
        "externalId": external_id,
        "extraTypeInfo": "plaintextarea" if sf_type == "textarea" else None,
        "filterable": not long_text,
        "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False,
        "groupable": sf_type not in _NUMBER_TYPES | {"datetime", "address", "location",
                                                     "multipicklist"} and not long_text,
        "highScaleNumber": False,
        "htmlFormatted": False,
        "idLookup": sf_type == "id" or external_id,
        "inlineHelpText": spec.get("description"),
        "label": _label(name),
        "length": length,
        "mask": None,
        "maskType": None,
        "name": name,
        "nameField": name == "Name",
        "namePointing": len(references) > 1,
        "nillable": bool(nillable),
        # Field-level security applies to optional fields only; required ones are always on.
        "permissionable": bool(createable or updateable) and (bool(nillable) or sf_type ==
                                                               "boolean"),
        "picklistValues": [],
        "polymorphicForeignKey": len(references) > 1,
        "precision": precision,
        "queryByDistance": sf_type in ("address", "location"),
        "referenceTargetField": None,
        "referenceTo": list(references),
        "relationshipName": _relationship_name(name) if sf_type == "reference" else None,
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": False,
        "scale": scale,
        "searchPrefilterable": sf_type == "reference" and bool(createable)
        and not name.endswith("OwnerId"),
        "soapType": _SOAP_TYPE.get(sf_type, "xsd:string"),
        "sortable": sf_type not in ("address", "location", "multipicklist") and not long_text,
        "type": sf_type,
        "unique": False,
        "updateable": updateable,
        "writeRequiresMasterRead": False,
    }
    if sf_type in ("int", "long"):
        field["digits"] = spec.get("digits", 18 if sf_type == "long" else 9)
    for key, value in spec.items():
        if key in _SHORT_ONLY_KEYS:
            continue
        field[key] = list(value) if key == "referenceTo" else value
    field["referenceTo"] = list(references)
    field["picklistValues"] = [_picklist_entry(v) for v in spec.get("picklistValues", [])]
    return field


_DEFAULT_LENGTH = {"email": 80, "phone": 40, "picklist": 255, "multipicklist": 4099,
                   "textarea": 32000}


def picklist_entry(value: Any) -> dict[str, Any]:
    """A describe picklist entry from a plain value or a partial dict."""
    return _picklist_entry(value)


def _picklist_entry(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        if "value" not in value:
            raise SchemaError(f"picklist entry has no 'value': {dict(value)!r}")
        entry = {"active": True, "defaultValue": False, "label": str(value["value"]),
                 "validFor": None}
        entry.update(value)
        return dict(sorted(entry.items()))
    if not isinstance(value, str) or not value:
        raise SchemaError(f"picklist value must be a non-empty string, not {value!r}")
    return {"active": True, "defaultValue": False, "label": value, "validFor": None,
            "value": value}


def _label(name: str) -> str:
    base = name[:-3] if name.endswith("__c") else name
    return base.replace("_", " ")


def _relationship_name(name: str) -> str:
    if name.endswith("__c"):
        return name[:-3] + "__r"
    return name[:-2] if name.endswith("Id") else name


def describe_urls(name: str, key_prefix: str | None, *, api_version: str = API_VERSION,
                  host: str = ORG_HOST) -> dict[str, str]:
    """The ``urls`` block of an object describe, as a real org writes it."""
    base = f"/services/data/v{api_version}/sobjects/{name}"
    return {
        "approvalLayouts": f"{base}/describe/approvalLayouts",
        "compactLayouts": f"{base}/describe/compactLayouts",
        "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
        "describe": f"{base}/describe",
        "layouts": f"{base}/describe/layouts",
        "listviews": f"{base}/listviews",
        "quickActions": f"{base}/quickActions",
        "rowTemplate": f"{base}/{{ID}}",
        "sobject": base,
        "uiDetailTemplate": f"{host}/{{ID}}",
        "uiEditTemplate": f"{host}/{{ID}}/e",
        "uiNewRecord": f"{host}/{key_prefix}/e",
    }


def child_relationship(child: str, field: str, relationship_name: str | None, *,
                       cascade_delete: bool = False) -> dict[str, Any]:
    """One ``childRelationships`` entry of a parent object's describe."""
    return {
        "cascadeDelete": cascade_delete,
        "childSObject": child,
        "deprecatedAndHidden": False,
        "field": field,
        "junctionIdListNames": [],
        "junctionReferenceTo": [],
        "relationshipName": relationship_name,
        "restrictedDelete": False,
    }


def describe_object(
    name: str,
    *,
    label: str,
    label_plural: str,
    key_prefix: str,
    fields: Iterable[Mapping[str, Any]],
    child_relationships: Iterable[Mapping[str, Any]] = (),
    owned: bool = True,
    custom: bool | None = None,
    api_version: str = API_VERSION,
    **flags: Any,
) -> dict[str, Any]:
    """A full object describe in the real format; ``fields`` are short specs or full dicts.

    ``flags`` override top-level booleans (``mergeable=True``, ``feedEnabled=False``...).
    """
    custom = name.endswith("__c") if custom is None else custom
    plural = label_plural.lower()
    scopes = [{"label": f"All {plural}", "name": "everything"}]
    if owned:
        scopes += [{"label": f"My {plural}", "name": "mine"},
                   {"label": f"My team's {plural}", "name": "team"}]
    base = f"/services/data/v{api_version}/sobjects/{name}"
    describe: dict[str, Any] = {
        "actionOverrides": [],
        "activateable": False,
        "childRelationships": [dict(c) for c in child_relationships],
        "compactLayoutable": True,
        "createable": True,
        "custom": custom,
        "customSetting": False,
        "deepCloneable": False,
        "defaultImplementation": None,
        "deletable": True,
        "deprecatedAndHidden": False,
        "extendedBy": None,
        "extendsInterfaces": None,
        "feedEnabled": not custom,
        "fields": [describe_field(f) for f in fields],
        "hasSubtypes": False,
        "implementedBy": None,
        "implementsInterfaces": None,
        "isInterface": False,
        "isSubtype": False,
        "keyPrefix": key_prefix,
        "label": label,
        "labelPlural": label_plural,
        "layoutable": True,
        "listviewable": None,
        "lookupLayoutable": None,
        "mergeable": False,
        "mruEnabled": True,
        "name": name,
        "namedLayoutInfos": [],
        "networkScopeFieldName": None,
        "queryable": True,
        "recordTypeInfos": [
            {
                "active": True,
                "available": True,
                "defaultRecordTypeMapping": True,
                "developerName": "Master",
                "master": True,
                "name": "Master",
                "recordTypeId": "012000000000000AAA",
                "urls": {"layout": f"{base}/describe/layouts/012000000000000AAA"},
            }
        ],
        "replicateable": True,
        "retrieveable": True,
        "searchLayoutable": True,
        "searchable": True,
        "supportedScopes": scopes,
        "triggerable": True,
        "undeletable": True,
        "updateable": True,
        "urls": describe_urls(name, key_prefix, api_version=api_version),
    }
    unknown = set(flags) - set(describe)
    if unknown:
        raise SchemaError(f"object {name!r}: unknown describe key(s) {', '.join(sorted(unknown))}")
    describe.update(flags)
    names = [f["name"] for f in describe["fields"]]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SchemaError(f"object {name!r}: duplicate field(s) {', '.join(duplicates)}")
    return describe
