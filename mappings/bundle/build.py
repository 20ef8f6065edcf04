"""Building ``.fbz`` bundles: mapping documents, schema snapshot, manifest, signature.

A build is reproducible: members are written in name order with a fixed timestamp, so
the same inputs and ``created_at`` give the same bytes (Ed25519 signatures are
deterministic too).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import mappings
from mappings.bundle.manifest import (
    BUNDLE_FORMAT_VERSION,
    MANIFEST,
    MAPPINGS_DIR,
    SALESFORCE_SCHEMAS,
    SIGNATURE,
    STRIPE_SCHEMAS,
    flow_contract,
    manifest_bytes,
    sha256_hex,
)
from mappings.bundle.secrets import check_no_secrets
from mappings.bundle.signing import sign_manifest
from mappings.document.model import MappingDocument
from mappings.document.yamlio import document_to_data, dump_document, flow_to_data, loads_document
from mappings.errors import BundleError, DocumentError, SchemaError
from mappings.schema.model import Catalog, System
from mappings.schema.org_metadata import load_salesforce_catalog
from mappings.schema.serialize import catalog_to_dict
from mappings.schema.stripe_catalog import load_stripe_catalog

DEFAULT_CONNECTIONS = {"stripe": "default", "salesforce": "default"}
_CONNECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def build_bundle(
    documents: Sequence[MappingDocument],
    out_path: str | Path,
    *,
    stripe_catalog: Catalog | None = None,
    salesforce_catalog: Catalog | None = None,
    signing_key: Ed25519PrivateKey | None = None,
    created_at: str | datetime | None = None,
    connections: Mapping[str, str] | None = None,
    stripe_api_version: str | None = None,
    salesforce_api_version: str | None = None,
) -> Path:
    """Write a bundle of ``documents`` to ``out_path``.

    Catalogs left as None are loaded from the shipped schemas when that code is present,
    else the snapshot is empty. Refuses (BundleError) invalid documents, flow names used
    twice, anything that looks like a secret and connection values that are not names.
    """
    if not documents:
        raise BundleError("cannot build a bundle without mapping documents")
    members: dict[str, bytes] = {}
    flows: list[dict[str, Any]] = []
    flow_owner: dict[str, str] = {}
    for doc in documents:
        member = MAPPINGS_DIR + _member_stem(doc.name) + ".yaml"
        if member in members:
            raise BundleError(
                f"cannot build the bundle: two documents would both be stored as {member}; "
                "give them distinct names"
            )
        _check_secrets(doc)
        text = dump_document(doc)
        try:
            loads_document(text, source_name=member)  # what the loader will see, checked now
        except DocumentError as exc:
            raise BundleError(f"cannot build the bundle: {exc}") from exc
        members[member] = text.encode("utf-8")
        for flow in doc.flows:
            if flow.name in flow_owner:
                raise BundleError(
                    f"cannot build the bundle: flow {flow.name!r} is in both "
                    f"{flow_owner[flow.name]!r} and {doc.name!r}; flow names must be unique"
                )
            flow_owner[flow.name] = doc.name
            flows.append(flow_contract(flow, doc))

    stripe = _snapshot(System.STRIPE, stripe_catalog, documents)
    salesforce = _snapshot(System.SALESFORCE, salesforce_catalog, documents)
    members[STRIPE_SCHEMAS] = _json_bytes(catalog_to_dict(stripe))
    members[SALESFORCE_SCHEMAS] = _json_bytes(catalog_to_dict(salesforce))

    manifest: dict[str, Any] = {
        "format_version": BUNDLE_FORMAT_VERSION,
        "app_version": mappings.__version__,
        "created_at": _created_at(created_at),
        "stripe_api_version": stripe_api_version or stripe.api_version,
        "salesforce_api_version": salesforce_api_version or salesforce.api_version,
        "connections": _connections(connections),
        "members": {name: sha256_hex(data) for name, data in sorted(members.items())},
        "flows": flows,
    }
    members[MANIFEST] = manifest_bytes(manifest)
    if signing_key is not None:
        members[SIGNATURE] = _json_bytes(sign_manifest(manifest, signing_key))
    return _write_zip(Path(out_path), members)


def _member_stem(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")
    return stem or "document"


def _check_secrets(doc: MappingDocument) -> None:
    top = document_to_data(doc)
    top.pop("flows", None)
    check_no_secrets(top, f"document {doc.name!r}")
    for flow in doc.flows:
        check_no_secrets(flow_to_data(flow), f"document {doc.name!r}, flow {flow.name!r}")


def _connections(connections: Mapping[str, str] | None) -> dict[str, str]:
    chosen = dict(DEFAULT_CONNECTIONS if connections is None else connections)
    for system, name in chosen.items():
        if not isinstance(name, str) or not _CONNECTION_NAME.match(name):
            raise BundleError(
                f"cannot build the bundle: the {system} connection must be a name such as "
                "'default' (letters, digits, '.', '_', '-'), never a credential"
            )
    check_no_secrets(chosen, "connections")
    return chosen


def _created_at(value: str | datetime | None) -> str:
    if value is None:
        moment = datetime.now(UTC)
    elif isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise BundleError(
                f"created-at {value!r} is not an ISO date-time such as 2026-01-01T00:00:00Z"
            ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _used_objects(system: System, documents: Sequence[MappingDocument]) -> list[str]:
    names: dict[str, None] = {}
    for doc in documents:
        for flow in doc.flows:
            for ref in (flow.source, flow.target):
                if ref.system is system:
                    names[ref.object] = None
            for child in flow.children:
                # A child's element (line_item) and its target (OrderItem) are checked too.
                if flow.source.system is system:
                    names[child.object] = None
                if flow.target.system is system:
                    names[child.target] = None
            if system is System.SALESFORCE:
                for lk in [*flow.lookups, *(lk for c in flow.children for lk in c.lookups)]:
                    names[lk.object] = None
                if flow.trigger.salesforce_change is not None:
                    names[flow.trigger.salesforce_change.object] = None
    return list(names)


def _snapshot(
    system: System, catalog: Catalog | None, documents: Sequence[MappingDocument]
) -> Catalog:
    """Only the objects the flows use, from ``catalog`` or the shipped one."""
    source = catalog if catalog is not None else default_catalog(system)
    snapshot = Catalog(system=system, api_version=source.api_version)
    # Of a parent's child relationships (Account has dozens), only those a flow writes
    # children through, or of a child object it writes: what the runner checks them by.
    used: dict[str, set[str]] = {}
    for doc in documents:
        for flow in doc.flows:
            if flow.target.system is system:
                names = used.setdefault(flow.target.object.lower(), set())
                names.update(n.lower() for c in flow.children for n in (c.relationship, c.target))
    for name in _used_objects(system, documents):
        obj = source.get(name)
        if obj is not None:
            wanted = used.get(obj.name.lower(), set())
            kept = tuple(
                r for r in obj.child_relationships
                if r.name.lower() in wanted or r.child.lower() in wanted
            )
            if kept != obj.child_relationships:
                obj = dataclasses.replace(obj, child_relationships=kept)
            snapshot.add(obj)
    return snapshot


def default_catalog(system: System) -> Catalog:
    """The shipped catalog of ``system``: the installed Stripe SDK's types, or the shipped
    Salesforce org. Raises :class:`BundleError` when it cannot be read, rather than snapshot
    no schemas into a bundle that the runner would then check nothing against."""
    try:
        if system is System.STRIPE:
            return load_stripe_catalog()
        return load_salesforce_catalog()
    except (ImportError, OSError, ValueError, SchemaError) as exc:
        raise BundleError(
            f"cannot snapshot the {system.value} schemas into the bundle: the shipped "
            f"{system.value} catalog could not be read ({exc})"
        ) from exc


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _write_zip(out: Path, members: dict[str, bytes]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        # The manifest first so `unzip -l` shows it at the top; the rest in name order.
        for name in sorted(members, key=lambda n: (n != MANIFEST, n)):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, members[name])
    out.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a crash never leaves half a bundle.
    fd, tmp = tempfile.mkstemp(prefix=".fbz-", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buffer.getvalue())
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; a bundle is meant to be shared
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
