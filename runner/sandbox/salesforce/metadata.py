"""The org's metadata as the emulator uses it: describes, fields, key prefixes, rules.

Describes come from the mapping core (``mappings.schema.org_metadata``): the shipped real
describes plus our objects, customised by overlays given at start.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from mappings.schema import org_metadata
from runner.sandbox.salesforce import ids
from runner.sandbox.salesforce.compound import COMPOUND_TYPES, Parts, compound_parts
from runner.sandbox.salesforce.errors import api_error
from runner.sandbox.salesforce.formula import Formula, FormulaError, compile_formula

log = logging.getLogger(__name__)

# Text-like types: stored as strings, length-checked.
TEXT_TYPES = frozenset(
    {"string", "textarea", "phone", "url", "email", "picklist", "multipicklist", "combobox",
     "encryptedstring"}
)
_VERSION_IN_URL = re.compile(r"/services/data/v\d+\.\d+/")
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int", "long"})


@dataclass(frozen=True)
class Rule:
    name: str
    formula: Formula
    message: str
    display_field: str | None


@dataclass
class ObjectMeta:
    name: str
    describe: dict
    key_prefix: str
    fields: dict[str, dict]  # lower-case name -> field describe
    relationships: dict[str, dict] = field(default_factory=dict)  # lower rel name -> field
    rules: list[Rule] = field(default_factory=list)
    compounds: dict[str, Parts] = field(default_factory=dict)  # address name -> components

    def field(self, name: str) -> dict | None:
        return self.fields.get(name.lower())

    @cached_property
    def indexed_fields(self) -> list[dict]:
        """Fields kept in the lookup index: external ids, idLookup and unique fields.

        ``Id`` is left out: records are already keyed by it.
        """
        return [f for f in self.fields.values() if f["name"] != "Id" and (
            f.get("externalId") or f.get("idLookup") or f.get("unique"))]

    def upsert_key(self, name: str) -> dict | None:
        """The field ``name`` if records can be matched on it: Id, an external id, or a
        field whose describe says ``idLookup`` (Contact.Email), as Salesforce allows."""
        found = self.field(name)
        if found is None or not (found["name"] == "Id" or found.get("externalId")
                                 or found.get("idLookup")):
            return None
        return found

    @property
    def name_field(self) -> dict | None:
        for f in self.fields.values():
            if f.get("nameField"):
                return f
        return self.fields.get("name")


class OrgMetadata:
    def __init__(self, describes: Mapping[str, dict], rules: Iterable[Mapping] = ()) -> None:
        self.objects: dict[str, ObjectMeta] = {}
        self.by_prefix: dict[str, ObjectMeta] = {}
        for name, describe in describes.items():
            prefix = describe.get("keyPrefix") or ids.STANDARD_KEY_PREFIXES.get(name)
            if not prefix:
                log.warning("object %s has no key prefix; skipped", name)
                continue
            fields = {f["name"].lower(): f for f in describe.get("fields", [])}
            rels = {
                f["relationshipName"].lower(): f
                for f in fields.values()
                if f.get("type") == "reference" and f.get("relationshipName")
            }
            compounds = {f["name"]: compound_parts(fields.values(), f)
                         for f in fields.values() if f.get("type") in COMPOUND_TYPES}
            meta = ObjectMeta(name, describe, prefix, fields, rels, compounds=compounds)
            self.objects[name.lower()] = meta
            self.by_prefix[prefix] = meta
        for rule in rules:
            self._add_rule(rule)
        self._global: str | None = None

    def _add_rule(self, rule: Mapping) -> None:
        if not rule.get("active", True):
            return
        meta = self.objects.get(str(rule.get("object", "")).lower())
        if meta is None:
            log.warning("validation rule %s names an unknown object", rule.get("name"))
            return
        try:
            formula = compile_formula(str(rule.get("errorConditionFormula", "")))
        except FormulaError as exc:
            log.warning("validation rule %s skipped: %s", rule.get("name"), exc)
            return
        meta.rules.append(
            Rule(
                str(rule.get("name", "")),
                formula,
                str(rule.get("errorMessage") or "Validation rule failed"),
                rule.get("errorDisplayField") or None,
            )
        )

    def get(self, name: str) -> ObjectMeta:
        """The object named ``name`` (any case) in a body or query, else INVALID_TYPE."""
        meta = self.objects.get(str(name).lower())
        if meta is None:
            raise api_error(400, "INVALID_TYPE", f"sObject type '{name}' is not supported.")
        return meta

    def from_path(self, name: str) -> ObjectMeta:
        """The object named in a URL; an unknown one is a missing resource (404)."""
        meta = self.objects.get(name.lower())
        if meta is None:
            raise api_error(404, "NOT_FOUND", "The requested resource does not exist")
        return meta

    def find(self, name: str) -> ObjectMeta | None:
        return self.objects.get(name.lower())

    def global_describe(self, api_version: str) -> dict:
        """``GET /sobjects`` in the real format, its urls in the caller's API version."""
        if self._global is None:
            describes = {m.name: m.describe for m in self.objects.values()}
            self._global = json.dumps(org_metadata.global_describe(describes))
        return json.loads(_VERSION_IN_URL.sub(f"/services/data/v{api_version}/", self._global))


def object_urls(name: str, version: str) -> dict:
    base = f"/services/data/v{version}/sobjects/{name}"
    return {
        "compactLayouts": f"{base}/describe/compactLayouts",
        "rowTemplate": f"{base}/{{ID}}",
        "describe": f"{base}/describe",
        "sobject": base,
    }


def load_metadata(overlays: Sequence[Path | Mapping] = ()) -> OrgMetadata:
    """The shipped org's describes and validation rules, customised by ``overlays``.

    Overlays are org metadata files (JSON or YAML) or dicts in the format of
    :mod:`mappings.schema.org_metadata`; a malformed one raises its ``OrgMetadataError``.
    """
    org = org_metadata.load_org(list(overlays))
    return OrgMetadata(org.describes, [dict(rule) for rule in org.validation_rules])
