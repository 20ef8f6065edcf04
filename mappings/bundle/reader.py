"""Reading and verifying ``.fbz`` bundles.

A bundle comes from elsewhere, so nothing in it is trusted until checked: the zip is read
from memory with limits on size, member count and compression ratio; member names must be
plain relative paths; the manifest must list exactly the members present with matching
SHA-256; a signature, when present and a key is given, must verify. Each refusal is one
:class:`BundleError` sentence that names the problem.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mappings.bundle.manifest import (
    MANIFEST,
    MAPPINGS_DIR,
    SALESFORCE_SCHEMAS,
    SIGNATURE,
    STRIPE_SCHEMAS,
    check_manifest,
    flow_contract,
    sha256_hex,
)
from mappings.bundle.signing import check_signature, public_key_fingerprint
from mappings.document.model import Flow, MappingDocument
from mappings.document.yamlio import loads_document
from mappings.errors import BundleError, DocumentError, SchemaError
from mappings.limits import TooDeepError, TooLargeError, loads_json
from mappings.schema.model import Catalog, ObjectSchema, System
from mappings.schema.serialize import catalog_from_dict

MAX_BUNDLE_BYTES = 64 * 1024 * 1024
MAX_MEMBER_BYTES = 32 * 1024 * 1024
MAX_TOTAL_BYTES = 128 * 1024 * 1024
MAX_MEMBERS = 1000
# Text and JSON compress well, but not a thousand-fold: beyond that it is a zip bomb.
MAX_RATIO = 200


@dataclass(slots=True)
class Bundle:
    path: Path
    manifest: dict[str, Any]
    documents: list[MappingDocument]
    stripe_schemas: Catalog
    salesforce_schemas: Catalog
    signed: bool  # a signature was present and verified with the given public key
    signature_present: bool = False
    signer_fingerprint: str | None = None

    def flows(self) -> list[tuple[MappingDocument, Flow]]:
        return [(doc, flow) for doc in self.documents for flow in doc.flows]

    def flow(self, name: str) -> tuple[MappingDocument, Flow] | None:
        return next(((d, f) for d, f in self.flows() if f.name == name), None)

    def catalog(self, system: System) -> Catalog:
        return self.stripe_schemas if system is System.STRIPE else self.salesforce_schemas

    def schemas_by_name(self) -> dict[str, ObjectSchema]:
        """Every snapshot object keyed ``system:Name`` (what the fixture runner takes)."""
        out: dict[str, ObjectSchema] = {}
        for catalog in (self.stripe_schemas, self.salesforce_schemas):
            for obj in catalog.objects.values():
                out[f"{obj.system.value}:{obj.name}"] = obj
        return out


@dataclass(slots=True)
class VerifyReport:
    path: Path
    format_version: int
    app_version: str
    created_at: str
    members: int
    flows: list[str]
    signature_present: bool
    signature_verified: bool
    signer_fingerprint: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "ok": True,
            "format_version": self.format_version,
            "app_version": self.app_version,
            "created_at": self.created_at,
            "members": self.members,
            "flows": self.flows,
            "signature_present": self.signature_present,
            "signature_verified": self.signature_verified,
            "signer_fingerprint": self.signer_fingerprint,
            "notes": self.notes,
        }


def load_bundle(
    path: str | Path,
    *,
    public_key: Ed25519PublicKey | None = None,
    require_signature: bool = False,
) -> Bundle:
    path = Path(path)
    name = path.name
    members = _read_members(path)
    if MANIFEST not in members:
        raise BundleError(f"{name} has no manifest.json, so it is not a Fieldbridge bundle")
    manifest = check_manifest(_parse_json(members[MANIFEST], MANIFEST, name), name)

    signature_present = SIGNATURE in members
    signed = False
    signer: str | None = None
    if signature_present:
        signature = _parse_json(members[SIGNATURE], SIGNATURE, name)
        if isinstance(signature, dict):
            signer = signature.get("public_key_fingerprint")
        if public_key is not None:
            check_signature(manifest, signature, public_key, name)
            signed = True
        elif require_signature:
            raise BundleError(
                f"{name}: a signature is required, but no public key was given to check it"
            )
    elif require_signature or public_key is not None:
        raise BundleError(f"{name} is not signed, but a signature is required")

    listed: dict[str, str] = manifest["members"]
    present = set(members) - {MANIFEST, SIGNATURE}
    for member in sorted(listed):
        if member not in present:
            raise BundleError(f"{name} is missing {member!r}, which its manifest lists")
    for member in sorted(present):
        if member not in listed:
            raise BundleError(f"{name} contains {member!r}, which its manifest does not list")
    for member in sorted(listed):
        if sha256_hex(members[member]) != listed[member].lower():
            raise BundleError(
                f"{name}: {member!r} does not match its SHA-256 in the manifest; it was "
                "changed or damaged"
            )

    documents: list[MappingDocument] = []
    for member in sorted(listed):
        if member.startswith(MAPPINGS_DIR) and member.endswith((".yaml", ".yml")):
            documents.append(_parse_document(members[member], member, name))
    stripe = _parse_catalog(members, STRIPE_SCHEMAS, System.STRIPE, name)
    salesforce = _parse_catalog(members, SALESFORCE_SCHEMAS, System.SALESFORCE, name)
    _check_flow_contract(manifest, documents, name)
    return Bundle(
        path=path,
        manifest=manifest,
        documents=documents,
        stripe_schemas=stripe,
        salesforce_schemas=salesforce,
        signed=signed,
        signature_present=signature_present,
        signer_fingerprint=signer,
    )


def verify_bundle(path: str | Path, public_key: Ed25519PublicKey | None = None) -> VerifyReport:
    """Check everything; with a public key the bundle must also carry a valid signature.

    Raises BundleError on the first problem, returns what was checked otherwise.
    """
    bundle = load_bundle(path, public_key=public_key, require_signature=public_key is not None)
    notes = []
    if bundle.signature_present and not bundle.signed:
        notes.append("signed, but the signature was not checked: give --public-key to check it")
    elif not bundle.signature_present:
        notes.append("not signed")
    m = bundle.manifest
    return VerifyReport(
        path=bundle.path,
        format_version=m["format_version"],
        app_version=m["app_version"],
        created_at=m["created_at"],
        members=len(m["members"]),
        flows=[f.name for _, f in bundle.flows()],
        signature_present=bundle.signature_present,
        signature_verified=bundle.signed,
        signer_fingerprint=public_key_fingerprint(public_key)
        if public_key
        else bundle.signer_fingerprint,
        notes=notes,
    )


# --------------------------------------------------------------------------- zip reading


def _read_members(path: Path) -> dict[str, bytes]:
    name = path.name
    try:
        size = path.stat().st_size
        if size > MAX_BUNDLE_BYTES:
            raise BundleError(
                f"{name} is {size} bytes, more than the {MAX_BUNDLE_BYTES} a bundle may have"
            )
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise BundleError(f"{path} does not exist") from exc
    except IsADirectoryError as exc:
        raise BundleError(f"{path} is a folder, not a bundle file") from exc
    except OSError as exc:
        raise BundleError(f"cannot read {path} ({exc.strerror})") from exc
    # Told apart before opening, so the message is the whole story (no cause to append).
    if not zipfile.is_zipfile(io.BytesIO(raw)):
        if raw.startswith(b"PK"):
            raise BundleError(f"{name} is a damaged or truncated zip file")
        raise BundleError(f"{name} is not a zip file, so it is not a Fieldbridge bundle")
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise BundleError(f"{name} is a damaged or truncated zip file") from exc
    with zf:
        infos = zf.infolist()
        _check_entries(infos, name)
        out: dict[str, bytes] = {}
        total = 0
        for info in infos:
            data = _read_member(zf, info, name)
            total += len(data)
            if total > MAX_TOTAL_BYTES:
                raise BundleError(
                    f"{name} unpacks to more than {MAX_TOTAL_BYTES} bytes; refusing a possible "
                    "zip bomb"
                )
            out[info.filename] = data
    return out


def _check_entries(infos: list[zipfile.ZipInfo], name: str) -> None:
    if len(infos) > MAX_MEMBERS:
        raise BundleError(f"{name} has {len(infos)} members, more than the {MAX_MEMBERS} allowed")
    seen: set[str] = set()
    for info in infos:
        member = info.filename
        if not _safe_member_name(member):
            raise BundleError(f"{name} contains the unsafe member name {member!r}; refusing it")
        if member in seen:
            raise BundleError(f"{name} contains {member!r} twice")
        seen.add(member)
        if info.flag_bits & 0x1:
            raise BundleError(f"{name}: {member!r} is encrypted, which bundles never are")
        if info.file_size > MAX_MEMBER_BYTES:
            raise BundleError(
                f"{name}: {member!r} unpacks to {info.file_size} bytes, more than the "
                f"{MAX_MEMBER_BYTES} allowed"
            )
        if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise BundleError(
                f"{name}: {member!r} is compressed more than {MAX_RATIO} to 1; refusing a "
                "possible zip bomb"
            )


def _safe_member_name(member: str) -> bool:
    if not member or member.endswith("/") or "\\" in member or "\x00" in member:
        return False
    pure = PurePosixPath(member)
    if pure.is_absolute() or ":" in pure.parts[0]:
        return False
    return all(part not in ("", ".", "..") for part in member.split("/"))


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> bytes:
    # The header's size can lie; never read more than the limit whatever it says.
    try:
        with zf.open(info) as fh:
            data = fh.read(MAX_MEMBER_BYTES + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as exc:
        raise BundleError(f"{name} is damaged: {info.filename!r} cannot be read") from exc
    if len(data) > MAX_MEMBER_BYTES:
        raise BundleError(
            f"{name}: {info.filename!r} unpacks to more than {MAX_MEMBER_BYTES} bytes; refusing "
            "a possible zip bomb"
        )
    return data


# --------------------------------------------------------------------------- members


def _parse_json(data: bytes, member: str, name: str) -> Any:
    try:
        return loads_json(data.decode("utf-8"))
    except (TooDeepError, TooLargeError) as exc:
        raise BundleError(f"{name}: {member} {exc}; refusing it") from None
    except UnicodeDecodeError as exc:
        raise BundleError(f"{name}: {member} is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        # The decoder's own text would only repeat this; the message carries all it says.
        problem = f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
    raise BundleError(f"{name}: {member} is not valid JSON ({problem})")


def _parse_document(data: bytes, member: str, name: str) -> MappingDocument:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleError(f"{name}: {member} is not UTF-8 text") from exc
    try:
        return loads_document(text, source_name=member)
    except DocumentError as exc:
        raise BundleError(f"{name}: {exc}") from exc


def _parse_catalog(members: dict[str, bytes], member: str, system: System, name: str) -> Catalog:
    if member not in members:
        return Catalog(system=system)
    try:
        catalog = catalog_from_dict(_parse_json(members[member], member, name))
    except SchemaError as exc:
        raise BundleError(f"{name}: {member} is not a valid schema snapshot ({exc})") from exc
    if catalog.system is not system:
        raise BundleError(f"{name}: {member} holds {catalog.system.value} schemas")
    return catalog


def _check_flow_contract(
    manifest: dict[str, Any], documents: list[MappingDocument], name: str
) -> None:
    seen: dict[str, str] = {}
    for doc in documents:
        for flow in doc.flows:
            if flow.name in seen:
                raise BundleError(
                    f"{name}: flow {flow.name!r} is in both {seen[flow.name]!r} and {doc.name!r}"
                )
            seen[flow.name] = doc.name
    actual = sorted(
        (flow_contract(f, d) for d in documents for f in d.flows), key=lambda c: c["name"]
    )
    listed = sorted(
        (c for c in manifest["flows"] if isinstance(c, dict)), key=lambda c: str(c.get("name"))
    )
    if actual != listed:
        raise BundleError(f"{name}: the manifest's flow list does not match its mapping documents")
