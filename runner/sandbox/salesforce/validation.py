"""Field-level checks with Salesforce's error codes and message forms.

Each check raises :class:`RecordError` carrying the ``SfError`` Salesforce would report
for the record: the code, the message text and the fields it names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from runner.sandbox.salesforce import ids
from runner.sandbox.salesforce.errors import RecordError, SfError
from runner.sandbox.salesforce.formula import FormulaError
from runner.sandbox.salesforce.metadata import NUMBER_TYPES, TEXT_TYPES, ObjectMeta
from runner.sandbox.salesforce.values import (
    ValueFormatError,
    java_number_text,
    normalize_date,
    normalize_datetime,
    to_boolean,
    to_number,
)

_SYSTEM_FIELDS = frozenset({"Id", "IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate",
                            "LastModifiedById", "SystemModstamp"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TYPE_NAMES = {"int": "int", "long": "long", "double": "double", "currency": "currency",
               "percent": "double", "boolean": "boolean", "date": "date", "datetime": "datetime"}


def unknown_field(meta: ObjectMeta, name: str) -> RecordError:
    return RecordError(
        SfError("INVALID_FIELD", f"No such column '{name}' on sobject of type {meta.name}", ())
    )


def not_writable(names: list[str]) -> RecordError:
    joined = ", ".join(names)
    return RecordError(
        SfError(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {joined}. Please check the security settings "
            "of this field and verify that it is read/write for your profile or permission set.",
            tuple(names),
        )
    )


def required_missing(names: list[str]) -> RecordError:
    return RecordError(
        SfError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(names)}]",
                tuple(names))
    )


def _parse_error(field: Mapping, value: object) -> RecordError:
    sf_type = _TYPE_NAMES.get(field["type"], field["type"])
    token = "VALUE_STRING" if isinstance(value, str) else (
        "VALUE_TRUE" if value is True else "VALUE_FALSE" if value is False else
        "START_OBJECT" if isinstance(value, dict) else
        "START_ARRAY" if isinstance(value, list) else "VALUE_NUMBER")
    return RecordError(
        SfError(
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of {sf_type} from {token} value {value} or request "
            f"may be missing a required field",
            (field["name"],),
        )
    )


def coerce(field: Mapping, value: object) -> object:
    """The stored form of ``value`` for ``field``, or the error Salesforce reports."""
    if value is None:
        return None
    sf_type = field["type"]
    name = field["name"]
    try:
        if sf_type in TEXT_TYPES:
            if isinstance(value, dict | list):
                raise ValueFormatError(value)
            text = value if isinstance(value, str) else _scalar_text(value)
            return _check_text(field, text)
        if sf_type in NUMBER_TYPES:
            number = to_number(value, integer=sf_type in ("int", "long"))
            _check_range(field, number)
            return number
        if sf_type == "boolean":
            return to_boolean(value)
        if sf_type == "date":
            return normalize_date(value)  # type: ignore[arg-type]
        if sf_type == "datetime":
            return normalize_datetime(value)  # type: ignore[arg-type]
        if sf_type in ("reference", "id"):
            if not isinstance(value, str):
                raise ValueFormatError(value)
            if value == "":
                return None
            try:
                return ids.to_18(value)
            except ids.MalformedIdError:
                raise RecordError(
                    SfError("MALFORMED_ID",
                            f"{field.get('label') or name}: id value of incorrect type: {value}",
                            (name,))
                ) from None
    except ValueFormatError:
        raise _parse_error(field, value) from None
    if isinstance(value, dict | list):
        raise _parse_error(field, value)
    return value


def _check_range(field: Mapping, number: float | int) -> None:
    """NUMBER_OUTSIDE_VALID_RANGE for more integer digits than the field holds.

    Only the integer part is checked: through the API, Salesforce stores extra decimals as
    given and rounds them only for display (knowledge article 000212661, "Data type number
    field can store more decimal places than defined"), so neither do we round.
    """
    if field["type"] in ("int", "long"):
        digits = int(field.get("digits") or 0)
    else:
        digits = int(field.get("precision") or 0) - int(field.get("scale") or 0)
    if digits <= 0 or abs(number) < 10 ** digits:
        return
    name = field["name"]
    # A double field's value is shown as the double Salesforce parsed it into.
    shown = number if field["type"] in ("int", "long") else float(number)
    raise RecordError(
        SfError("NUMBER_OUTSIDE_VALID_RANGE",
                f"{field.get('label') or name}: value outside of valid range on numeric "
                f"field: {java_number_text(shown)}", (name,))
    )


def _scalar_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _check_text(field: Mapping, text: str) -> str | None:
    name = field["name"]
    if text == "" and field["type"] not in ("textarea",):
        return None  # Salesforce stores an empty string as null
    length = field.get("length") or 0
    if length and len(text) > length:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise RecordError(
            SfError("STRING_TOO_LONG",
                    f"{field.get('label') or name}: data value too large: {shown} "
                    f"(max length={length})", (name,))
        )
    if field["type"] == "email" and not _EMAIL.match(text):
        raise RecordError(
            SfError("INVALID_EMAIL_ADDRESS", f"{field.get('label') or name}: invalid email "
                    f"address: {text}", (name,))
        )
    if field["type"] in ("picklist", "multipicklist") and field.get("restrictedPicklist"):
        allowed = {p["value"] for p in field.get("picklistValues", []) if p.get("active", True)}
        chosen = text.split(";") if field["type"] == "multipicklist" else [text]
        for item in chosen:
            if item not in allowed:
                raise RecordError(
                    SfError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                            f"{field.get('label') or name}: bad value for restricted picklist "
                            f"field: {item}", (name,))
                )
    return text


def defaults_for_create(meta: ObjectMeta) -> dict[str, object]:
    """The values Salesforce fills in on create when the body does not set them.

    Checkboxes are never null, so every stored boolean starts at its default (false unless
    the describe says otherwise), read-only ones included (Opportunity.IsClosed, IsWon).
    Other fields take the describe's default value or default picklist entry.
    """
    out: dict[str, object] = {}
    for field in meta.fields.values():
        if field.get("calculated") or field["name"] in _SYSTEM_FIELDS:
            continue
        if field["type"] == "boolean":
            default = field.get("defaultValue")
            out[field["name"]] = bool(default) if isinstance(default, bool) else (
                str(field.get("defaultValueFormula") or "").strip().lower() == "true"
            )
            continue
        if not (field.get("createable") or field.get("defaultedOnCreate")):
            continue
        if field["type"] in ("picklist", "multipicklist"):
            for entry in field.get("picklistValues", []):
                if entry.get("defaultValue") and entry.get("active", True):
                    out[field["name"]] = entry["value"]
                    break
        elif field.get("defaultValue") is not None and not isinstance(
            field.get("defaultValue"), dict
        ):
            out[field["name"]] = field["defaultValue"]
    return out


def missing_required(meta: ObjectMeta, record: Mapping[str, object], *, creating: bool,
                     touched: set[str]) -> list[str]:
    """Required fields left empty: checked on create, and on update only if set to null."""
    missing = []
    for field in meta.fields.values():
        if field.get("nillable") or field["type"] == "boolean":
            continue
        if creating:
            if not field.get("createable") or field.get("defaultedOnCreate"):
                continue
        elif field["name"] not in touched or not field.get("updateable"):
            continue
        if record.get(field["name"]) in (None, ""):
            missing.append(field["name"])
    return missing


def check_rules(meta: ObjectMeta, get) -> None:  # noqa: ANN001 - a field getter
    """Every failing validation rule, reported together.

    Salesforce evaluates all of an object's active rules and reports each one that fails
    ("When one validation rule fails, Salesforce continues to check any additional
    validation rules ... and displays all appropriate error messages at once").
    """
    errors = []
    for rule in meta.rules:
        try:
            failed = rule.formula.evaluate(get)
        except FormulaError:
            continue  # a rule that cannot evaluate on this record does not block it
        if failed is True:
            fields = (rule.display_field,) if rule.display_field else ()
            errors.append(SfError("FIELD_CUSTOM_VALIDATION_EXCEPTION", rule.message, fields))
    if errors:
        raise RecordError(*errors)
