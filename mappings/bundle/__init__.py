"""Bundles: a ``.fbz`` zip of mapping documents, schema snapshots and a signed manifest."""

from __future__ import annotations

from mappings.bundle.build import build_bundle, default_catalog
from mappings.bundle.manifest import BUNDLE_FORMAT_VERSION
from mappings.bundle.reader import Bundle, VerifyReport, load_bundle, verify_bundle
from mappings.bundle.signing import (
    generate_signing_key,
    load_private_key,
    load_public_key,
    public_key_fingerprint,
    save_private_key,
    save_public_key,
)

__all__ = [
    "BUNDLE_FORMAT_VERSION",
    "Bundle",
    "VerifyReport",
    "build_bundle",
    "default_catalog",
    "generate_signing_key",
    "load_bundle",
    "load_private_key",
    "load_public_key",
    "public_key_fingerprint",
    "save_private_key",
    "save_public_key",
    "verify_bundle",
]
