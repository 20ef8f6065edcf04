"""Standard objects every org has and clients read, though no sync writes them.

``RecordType`` and ``Organization`` are not in the shipped org (the mapping core describes
what a mapping can write); the emulator adds them as an overlay so that
``SELECT Id, DeveloperName FROM RecordType`` and ``GET /sobjects/Organization/<orgId>``
answer as in a real org. Neither can be written through the data API, as in Salesforce.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mappings.schema.salesforce_describe import describe_object
from runner.sandbox.salesforce import ids

_READ_ONLY = {"createable": False, "updateable": False}


def _audit_fields() -> list[dict[str, Any]]:
    return [
        {"name": "CreatedById", "type": "reference", "referenceTo": ["User"],
         "relationshipName": "CreatedBy", **_READ_ONLY},
        {"name": "CreatedDate", "type": "datetime", **_READ_ONLY},
        {"name": "LastModifiedById", "type": "reference", "referenceTo": ["User"],
         "relationshipName": "LastModifiedBy", **_READ_ONLY},
        {"name": "LastModifiedDate", "type": "datetime", **_READ_ONLY},
        {"name": "SystemModstamp", "type": "datetime", **_READ_ONLY},
    ]


def _record_type() -> dict[str, Any]:
    fields: list[dict[str, Any]] = [
        {"name": "Id", "type": "id", "idLookup": True, **_READ_ONLY},
        {"name": "Name", "type": "string", "length": 80, "nameField": True, **_READ_ONLY},
        {"name": "DeveloperName", "type": "string", "length": 80, **_READ_ONLY},
        {"name": "NamespacePrefix", "type": "string", "length": 15, **_READ_ONLY},
        {"name": "Description", "type": "string", "length": 255, **_READ_ONLY},
        {"name": "BusinessProcessId", "type": "reference", "referenceTo": ["BusinessProcess"],
         **_READ_ONLY},
        {"name": "SobjectType", "type": "picklist", "length": 40, **_READ_ONLY},
        {"name": "IsActive", "type": "boolean", **_READ_ONLY},
        {"name": "IsPersonType", "type": "boolean", **_READ_ONLY},
        *_audit_fields(),
    ]
    return describe_object("RecordType", label="Record Type", label_plural="Record Types",
                           key_prefix="012", fields=fields, owned=False, custom=False,
                           createable=False, updateable=False, deletable=False,
                           undeletable=False, layoutable=False, triggerable=False,
                           feedEnabled=False)


def _organization() -> dict[str, Any]:
    text = [("Name", 80), ("Division", 80), ("Street", 255), ("City", 40), ("State", 80),
            ("PostalCode", 20), ("Country", 80), ("Phone", 40), ("PrimaryContact", 80),
            ("DefaultLocaleSidKey", 40), ("LanguageLocaleKey", 40), ("TimeZoneSidKey", 40),
            ("OrganizationType", 40), ("InstanceName", 5), ("NamespacePrefix", 15)]
    fields: list[dict[str, Any]] = [
        {"name": "Id", "type": "id", "idLookup": True, **_READ_ONLY},
        *({"name": name, "type": "string", "length": length, **_READ_ONLY}
          for name, length in text),
        {"name": "IsSandbox", "type": "boolean", **_READ_ONLY},
        {"name": "TrialExpirationDate", "type": "datetime", **_READ_ONLY},
        *_audit_fields(),
    ]
    return describe_object("Organization", label="Organization",
                           label_plural="Organizations", key_prefix="00D", fields=fields,
                           owned=False, custom=False, createable=False, updateable=False,
                           deletable=False, undeletable=False, layoutable=False,
                           triggerable=False, feedEnabled=False, mruEnabled=False,
                           searchable=False, recordTypeInfos=[])


def standard_overlay() -> dict[str, Any]:
    """The overlay adding RecordType and Organization (applied before the caller's own)."""
    return {"objects": [_record_type(), _organization()]}


def organization_record(org_id: str, user_id: str, now: str) -> dict[str, Any]:
    return {"Id": org_id, "IsDeleted": False, "Name": "Fieldbridge Emulator",
            "OrganizationType": "Developer Edition", "InstanceName": "EMU",
            "IsSandbox": True, "DefaultLocaleSidKey": "en_US", "LanguageLocaleKey": "en_US",
            "TimeZoneSidKey": "GMT", "Country": "US", "CreatedById": user_id,
            "CreatedDate": now, "LastModifiedById": user_id, "LastModifiedDate": now,
            "SystemModstamp": now}


def record_type_record(number: int, spec: Mapping[str, Any], user_id: str,
                       now: str) -> dict[str, Any]:
    """A RecordType row from ``{"SobjectType", "DeveloperName", "Name"?, ...}``."""
    developer_name = str(spec["DeveloperName"])
    return {"Id": ids.make_id("012", number), "IsDeleted": False,
            "Name": str(spec.get("Name") or developer_name),
            "DeveloperName": developer_name, "SobjectType": str(spec["SobjectType"]),
            "Description": spec.get("Description"), "IsActive": bool(spec.get("IsActive", True)),
            "IsPersonType": False, "NamespacePrefix": None, "CreatedById": user_id,
            "CreatedDate": now, "LastModifiedById": user_id, "LastModifiedDate": now,
            "SystemModstamp": now}


def standard_price_book_record(user_id: str, now: str) -> dict[str, Any]:
    """The org's standard price book: every org has one (``IsStandard = true``), and the API
    cannot create another, so the emulator seeds it as Salesforce does."""
    return {"Id": ids.make_id("01s", 1), "IsDeleted": False, "Name": "Standard Price Book",
            "IsActive": True, "IsArchived": False, "IsStandard": True, "Description": None,
            "CreatedById": user_id, "CreatedDate": now, "LastModifiedById": user_id,
            "LastModifiedDate": now, "SystemModstamp": now}
