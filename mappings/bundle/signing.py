"""Ed25519 keys and manifest signatures.

The signature covers the canonical bytes of the manifest, and the manifest holds the
SHA-256 of every other member, so one signature vouches for the whole bundle.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mappings.bundle.manifest import canonical_manifest_bytes
from mappings.errors import BundleError

ALGORITHM = "ed25519"


def generate_signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_key_fingerprint(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """``sha256:<hex>`` of the raw 32-byte public key."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8) or OpenSSH format, unencrypted."""
    data = _read_key_file(path, "private key")
    loaders = (serialization.load_pem_private_key, serialization.load_ssh_private_key)
    key: Any = None
    for loader in loaders:
        try:
            key = loader(data, password=None)
            break
        except TypeError as exc:  # encrypted
            raise BundleError(
                f"{Path(path).name} is an encrypted private key; use an unencrypted Ed25519 key"
            ) from exc
        except (ValueError, UnsupportedAlgorithm):
            continue
    if key is None:
        raise BundleError(f"{Path(path).name} is not a PEM or OpenSSH private key")
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(
            f"{Path(path).name} is not an Ed25519 key; bundles are signed with Ed25519"
        )
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM or an OpenSSH ``ssh-ed25519 AAAA...`` line."""
    data = _read_key_file(path, "public key")
    key: Any = None
    for loader in (serialization.load_pem_public_key, serialization.load_ssh_public_key):
        try:
            key = loader(data)
            break
        except (ValueError, UnsupportedAlgorithm):
            continue
    if key is None:
        raise BundleError(f"{Path(path).name} is not a PEM or OpenSSH public key")
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(f"{Path(path).name} is not an Ed25519 public key")
    return key


def save_private_key(key: Ed25519PrivateKey, path: str | Path) -> None:
    """Write PEM (PKCS#8) readable by the owner only; never overwrites a file."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_new(Path(path), pem, mode=0o600)


def save_public_key(key: Ed25519PublicKey | Ed25519PrivateKey, path: str | Path) -> None:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_new(Path(path), pem, mode=0o644)


def sign_manifest(manifest: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, str]:
    """The ``signature.json`` content for ``manifest``."""
    signature = key.sign(canonical_manifest_bytes(manifest))
    return {
        "algorithm": ALGORITHM,
        "public_key_fingerprint": public_key_fingerprint(key),
        "signature": base64.b64encode(signature).decode("ascii"),
    }


def check_signature(
    manifest: dict[str, Any], signature: Any, public_key: Ed25519PublicKey, bundle_name: str
) -> None:
    """Raise BundleError unless ``signature`` is a valid signature of ``manifest`` by the key."""
    if not isinstance(signature, dict) or not isinstance(signature.get("signature"), str):
        raise BundleError(f"{bundle_name}: signature.json is not a Fieldbridge signature")
    if signature.get("algorithm") != ALGORITHM:
        raise BundleError(
            f"{bundle_name} is signed with {signature.get('algorithm')!r}, but only "
            f"{ALGORITHM} is supported"
        )
    expected = public_key_fingerprint(public_key)
    signed_by = signature.get("public_key_fingerprint")
    if signed_by != expected:
        raise BundleError(
            f"{bundle_name} was signed by key {signed_by}, not by the given public key {expected}"
        )
    try:
        raw = base64.b64decode(signature["signature"], validate=True)
        public_key.verify(raw, canonical_manifest_bytes(manifest))
        return
    except (InvalidSignature, ValueError):
        pass  # InvalidSignature carries no text; the sentence below says it all
    raise BundleError(f"{bundle_name} has a bad signature: its manifest was changed after signing")


def _read_key_file(path: str | Path, what: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read the {what} {path} ({exc.strerror})") from exc
    if len(data) > 64 * 1024:
        raise BundleError(f"{Path(path).name} is too large to be a {what}")
    return data


def _write_new(path: Path, data: bytes, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as exc:
        raise BundleError(f"{path} already exists; refusing to overwrite a key file") from exc
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
