"""The bundle manifest: what a bundle holds and what its flows write.

``members`` maps every member except ``manifest.json`` and ``signature.json`` to its
SHA-256; ``flows`` is the contract the runner checks for drift (the target fields each
flow writes). The signature covers :func:`canonical_manifest_bytes`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mappings.document.model import Flow, MappingDocument
from mappings.document.yamlio import operation_to_data, trigger_to_data
from mappings.engine.deletion import deletion_writes
from mappings.errors import BundleError

BUNDLE_FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "signature.json"
MAPPINGS_DIR = "mappings/"
STRIPE_SCHEMAS = "schemas/stripe.json"
SALESFORCE_SCHEMAS = "schemas/salesforce.json"

REQUIRED_KEYS: dict[str, type | tuple[type, ...]] = {
    "format_version": int,
    "app_version": str,
    "created_at": str,
    "stripe_api_version": str,
    "salesforce_api_version": str,
    "members": dict,
    "flows": list,
    "connections": dict,
}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """One byte string per manifest content, whatever its layout on disk."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """The readable form stored in the zip."""
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def flow_contract(flow: Flow, document: MappingDocument) -> dict[str, Any]:
    """What the flow reads and writes, as JSON data (a trigger's value may be a date)."""
    contract: dict[str, Any] = {
        "name": flow.name,
        "document": document.name,
        "trigger": trigger_to_data(flow.trigger),
        "source": str(flow.source),
        "target": str(flow.target),
        "operation": operation_to_data(flow),
        # A flow that marks deletions also writes the mark (StripeDeletedAt__c).
        "writes": flow.target_fields() + [
            f for f in deletion_writes(flow) if f not in flow.target_fields()],
    }
    if flow.children:
        # Each child collection writes its own object (its parent reference included).
        contract["children"] = [
            {
                "relationship": child.relationship,
                "source": child.source,
                "target": f"{flow.target.system.value}:{child.target}",
                "operation": {"action": "upsert", "external_id": child.external_id},
                "writes": child.target_fields(),
            }
            for child in flow.children
        ]
    data: dict[str, Any] = json.loads(json.dumps(contract, default=str))
    return data


def check_manifest(manifest: Any, bundle_name: str) -> dict[str, Any]:
    """The manifest's shape, before anything trusts it."""
    if not isinstance(manifest, dict):
        raise BundleError(f"{bundle_name}: manifest.json is not a JSON object")
    version = manifest.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool):
        if version > BUNDLE_FORMAT_VERSION:
            raise BundleError(
                f"{bundle_name} has bundle format {version}, newer than this Fieldbridge "
                f"understands ({BUNDLE_FORMAT_VERSION})"
            )
        if version != BUNDLE_FORMAT_VERSION:
            raise BundleError(f"{bundle_name} has unknown bundle format {version}")
    for key, kind in REQUIRED_KEYS.items():
        if key not in manifest:
            raise BundleError(f"{bundle_name}: manifest.json is missing {key!r}")
        value = manifest[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise BundleError(f"{bundle_name}: manifest.json has a malformed {key!r}")
    for name, digest in manifest["members"].items():
        if not isinstance(digest, str) or len(digest) != 64:
            raise BundleError(f"{bundle_name}: manifest.json has a malformed hash for {name!r}")
    return manifest
