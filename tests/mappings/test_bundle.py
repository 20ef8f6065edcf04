"""Bundles: build, load, verify, sign, and every way a bundle can be broken."""

from __future__ import annotations

import hashlib
import json
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mappings import __version__
from mappings.bundle import (
    build,
    build_bundle,
    generate_signing_key,
    load_bundle,
    load_private_key,
    load_public_key,
    public_key_fingerprint,
    save_private_key,
    save_public_key,
    verify_bundle,
)
from mappings.document.model import MappingDocument
from mappings.document.yamlio import loads_document
from mappings.errors import BundleError
from mappings.schema.model import Catalog, FieldKind, FieldSchema, ObjectSchema, System
from mappings.schema.serialize import catalog_to_dict

CREATED = "2026-01-02T03:04:05Z"
DOC = """\
format: 1
name: charges
flows:
  - name: charge-to-payment
    trigger: {stripe_events: [charge.succeeded]}
    source: {system: stripe, object: charge}
    target: {system: salesforce, object: Payment__c}
    operation: {action: upsert, external_id: StripeChargeID__c}
    fields:
      - {target: StripeChargeID__c, source: id}
      - {target: Amount__c, source: amount, transforms: [{name: minor_to_decimal}]}
    lookups:
      - {target: Account__c, object: Account, match_field: StripeCustomerID__c, source: customer}
    defaults: {Source__c: Stripe}
    fixtures:
      - name: paid
        input: {id: ch_1, amount: 1250, customer: cus_1}
        expected: {StripeChargeID__c: ch_1, Amount__c: !decimal 12.50}
"""
PAYOUTS = """\
format: 1
name: payouts
flows:
  - name: payout-to-record
    trigger: {stripe_events: [payout.paid]}
    source: {system: stripe, object: payout}
    target: {system: salesforce, object: Payout__c}
    operation: {action: insert}
    fields:
      - {target: Name, source: id}
"""


def _catalogs() -> tuple[Catalog, Catalog]:
    stripe = Catalog(System.STRIPE, api_version="2026-01-28.clover")
    for name, paths in {
        "charge": ["id", "amount", "customer"],
        "payout": ["id"],
        "refund": ["id"],
    }.items():
        stripe.add(
            ObjectSchema(
                System.STRIPE, name, fields={p: FieldSchema(p, FieldKind.STRING) for p in paths}
            )
        )
    salesforce = Catalog(System.SALESFORCE, api_version="62.0")
    for name in ("Payment__c", "Account", "Payout__c", "Lead"):
        salesforce.add(
            ObjectSchema(
                System.SALESFORCE,
                name,
                fields={"Name": FieldSchema("Name", FieldKind.STRING, length=80)},
                key_prefix="a00",
            )
        )
    return stripe, salesforce


def _doc(text: str = DOC) -> MappingDocument:
    return loads_document(text)


def _build(path: Path, docs: list[MappingDocument] | None = None, **kwargs: object) -> Path:
    stripe, salesforce = _catalogs()
    kwargs.setdefault("created_at", CREATED)
    return build_bundle(
        docs if docs is not None else [_doc()],
        path,
        stripe_catalog=stripe,
        salesforce_catalog=salesforce,
        **kwargs,  # type: ignore[arg-type]
    )


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _write(path: Path, members: dict[str, bytes]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names on purpose
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members.items():
                zf.writestr(name, data)


def _rewrite(path: Path, edit: Callable[[dict[str, bytes]], None], *, rehash: bool = False) -> None:
    """Change the members; with ``rehash`` the manifest is updated to match (a forger)."""
    members = _members(path)
    edit(members)
    if rehash:
        manifest = json.loads(members["manifest.json"])
        for name in manifest["members"]:
            if name in members:
                manifest["members"][name] = hashlib.sha256(members[name]).hexdigest()
        members["manifest.json"] = json.dumps(manifest).encode()
    _write(path, members)


def _edit_manifest(change: Callable[[dict], None]) -> Callable[[dict[str, bytes]], None]:
    def edit(members: dict[str, bytes]) -> None:
        manifest = json.loads(members["manifest.json"])
        change(manifest)
        members["manifest.json"] = json.dumps(manifest).encode()

    return edit


# --------------------------------------------------------------------------- good bundles


def test_build_and_load(tmp_path: Path) -> None:
    out = _build(tmp_path / "out" / "charges.fbz", [_doc(), _doc(PAYOUTS)])
    bundle = load_bundle(out)
    assert bundle.documents == [_doc(), _doc(PAYOUTS)]
    assert bundle.signed is False and bundle.signature_present is False
    # Only the objects the flows use, lookups included; losslessly.
    stripe, salesforce = _catalogs()
    assert bundle.stripe_schemas.names() == ["charge", "payout"]
    assert bundle.salesforce_schemas.names() == ["Account", "Payment__c", "Payout__c"]
    assert bundle.stripe_schemas.objects["charge"] == stripe.objects["charge"]
    assert bundle.salesforce_schemas.api_version == "62.0"

    m = bundle.manifest
    assert set(m) == {
        "format_version", "app_version", "created_at", "stripe_api_version",
        "salesforce_api_version", "members", "flows", "connections",
    }  # fmt: skip
    assert m["format_version"] == 1
    assert m["app_version"] == __version__
    assert m["created_at"] == CREATED
    assert (m["stripe_api_version"], m["salesforce_api_version"]) == ("2026-01-28.clover", "62.0")
    assert m["connections"] == {"stripe": "default", "salesforce": "default"}
    members = _members(out)
    assert sorted(members) == [
        "manifest.json", "mappings/charges.yaml", "mappings/payouts.yaml",
        "schemas/salesforce.json", "schemas/stripe.json",
    ]  # fmt: skip
    for name, digest in m["members"].items():
        assert hashlib.sha256(members[name]).hexdigest() == digest
    assert m["flows"][0] == {
        "name": "charge-to-payment",
        "document": "charges",
        "trigger": {"stripe_events": ["charge.succeeded"]},
        "source": "stripe:charge",
        "target": "salesforce:Payment__c",
        "operation": {"action": "upsert", "external_id": "StripeChargeID__c"},
        "writes": ["StripeChargeID__c", "Amount__c", "Account__c", "Source__c"],
    }
    assert bundle.schemas_by_name()["salesforce:Payment__c"].name == "Payment__c"
    assert bundle.flow("payout-to-record") is not None


def test_builds_are_reproducible(tmp_path: Path) -> None:
    key = generate_signing_key()
    a = _build(tmp_path / "a.fbz", signing_key=key).read_bytes()
    b = _build(tmp_path / "b.fbz", signing_key=key).read_bytes()
    assert a == b


def test_created_at_is_normalised_to_utc(tmp_path: Path) -> None:
    out = _build(tmp_path / "a.fbz", created_at="2026-01-02T05:04:05+02:00")
    assert load_bundle(out).manifest["created_at"] == CREATED
    with pytest.raises(BundleError, match="created-at 'yesterday' is not an ISO date-time"):
        _build(tmp_path / "b.fbz", created_at="yesterday")


def test_signed_bundle_verifies_with_its_key(tmp_path: Path) -> None:
    key = generate_signing_key()
    out = _build(tmp_path / "signed.fbz", signing_key=key)
    signature = json.loads(_members(out)["signature.json"])
    assert signature["algorithm"] == "ed25519"
    assert signature["public_key_fingerprint"] == public_key_fingerprint(key)
    assert "signature.json" not in json.loads(_members(out)["manifest.json"])["members"]

    bundle = load_bundle(out, public_key=key.public_key(), require_signature=True)
    assert bundle.signed is True
    report = verify_bundle(out, public_key=key.public_key())
    assert report.signature_verified and report.flows == ["charge-to-payment"]
    assert report.members == 3
    unchecked = verify_bundle(out)
    assert unchecked.signature_present and not unchecked.signature_verified
    assert unchecked.notes == [
        "signed, but the signature was not checked: give --public-key to check it"
    ]


def test_snapshot_omits_objects_the_catalog_lacks(tmp_path: Path) -> None:
    out = build_bundle(
        [_doc()],
        tmp_path / "a.fbz",
        stripe_catalog=Catalog(System.STRIPE),
        salesforce_catalog=Catalog(System.SALESFORCE),
        created_at=CREATED,
        salesforce_api_version="61.0",
    )
    bundle = load_bundle(out)
    assert bundle.stripe_schemas.objects == {} and bundle.salesforce_schemas.objects == {}
    assert bundle.manifest["salesforce_api_version"] == "61.0"


def test_default_catalogs_are_used_when_none_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stripe, salesforce = _catalogs()
    asked: list[System] = []

    def fake(system: System) -> Catalog:
        asked.append(system)
        return stripe if system is System.STRIPE else salesforce

    monkeypatch.setattr(build, "default_catalog", fake)
    out = build_bundle([_doc()], tmp_path / "a.fbz", created_at=CREATED)
    assert asked == [System.STRIPE, System.SALESFORCE]
    assert load_bundle(out).stripe_schemas.names() == ["charge"]


@pytest.mark.parametrize(
    ("system", "loader", "failure"),
    [
        (System.STRIPE, "load_stripe_catalog", ImportError("No module named 'stripe'")),
        (System.SALESFORCE, "load_salesforce_catalog", OSError("org.json: no such file")),
    ],
)
def test_a_shipped_catalog_that_cannot_be_read_is_an_error_not_an_empty_snapshot(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    system: System,
    loader: str,
    failure: Exception,
) -> None:
    def broken() -> Catalog:
        raise failure

    monkeypatch.setattr(build, loader, broken)
    with pytest.raises(BundleError, match=f"cannot snapshot the {system.value} schemas") as err:
        build_bundle([_doc()], tmp_path / "a.fbz", created_at=CREATED)
    assert err.value.__cause__ is failure
    assert not (tmp_path / "a.fbz").exists()


# --------------------------------------------------------------------------- refused builds


@pytest.mark.parametrize(
    ("old", "new", "place", "kind"),
    [
        (
            "customer: cus_1}",
            "customer: cus_1, api_key: sk_live_51Habcdefghijklmnop}",
            "document 'charges', flow 'charge-to-payment', fixtures[0].input.api_key",
            "a Stripe secret key",
        ),
        (
            "Source__c: Stripe}",
            "Source__c: Stripe, Hook__c: whsec_abcdefghijklmnop}",
            "document 'charges', flow 'charge-to-payment', defaults.Hook__c",
            "a Stripe webhook signing secret",
        ),
        (
            "name: charges\n",
            "name: charges\nvalue_maps: {keys: {rk_test_abcdefghijklmnop: x}}\n",
            "document 'charges', value_maps.keys.rk_test_abcdefghijklmnop (the key)",
            "a Stripe restricted key",
        ),
        (
            "name: charges\n",
            "name: charges\ndescription: '-----BEGIN OPENSSH PRIVATE KEY-----'\n",
            "document 'charges', description",
            "a private key",
        ),
        (
            "    defaults:",
            "    conditions:\n      - {path: sid, op: ne, value: "
            "'00D5g000004ABCD!AQ0AQFakeSessionIdabcdefghij.kl'}\n    defaults:",
            "document 'charges', flow 'charge-to-payment', conditions[0].value",
            "a Salesforce session id",
        ),
    ],
)
def test_secrets_are_refused(tmp_path: Path, old: str, new: str, place: str, kind: str) -> None:
    assert old in DOC
    doc = _doc(DOC.replace(old, new, 1))
    out = tmp_path / "a.fbz"
    with pytest.raises(BundleError) as err:
        _build(out, [doc])
    assert str(err.value) == (
        f"refusing to build the bundle: {place} looks like {kind}; bundles carry connection "
        "names only, never secrets"
    )
    assert "abcdefghij" not in str(err.value).split(" looks like")[0] or "(the key)" in place
    assert not out.exists()


def test_lookalikes_are_not_secrets(tmp_path: Path) -> None:
    doc = _doc(DOC.replace("Source__c: Stripe}", "Source__c: task_test_abcdefghijk, X: sk_}"))
    assert load_bundle(_build(tmp_path / "a.fbz", [doc])).documents == [doc]


def test_a_credential_as_connection_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="connections, stripe looks like a Stripe secret key"):
        _build(tmp_path / "a.fbz", connections={"stripe": "sk_live_abcdefghijklmnop"})
    with pytest.raises(BundleError, match="the salesforce connection must be a name such as"):
        _build(tmp_path / "a.fbz", connections={"salesforce": "admin:hunter2@login"})
    assert not (tmp_path / "a.fbz").exists()
    out = _build(tmp_path / "b.fbz", connections={"stripe": "prod", "salesforce": "prod-org"})
    assert load_bundle(out).manifest["connections"] == {"stripe": "prod", "salesforce": "prod-org"}


def test_duplicate_flows_and_documents_are_refused(tmp_path: Path) -> None:
    twin = _doc()
    twin.name = "charges-2"
    with pytest.raises(BundleError) as err:
        _build(tmp_path / "a.fbz", [_doc(), twin])
    assert str(err.value) == (
        "cannot build the bundle: flow 'charge-to-payment' is in both 'charges' and "
        "'charges-2'; flow names must be unique"
    )
    same_name = _doc(PAYOUTS)
    same_name.name = "charges"
    with pytest.raises(BundleError, match="two documents would both be stored as mappings/charges"):
        _build(tmp_path / "b.fbz", [_doc(), same_name])
    with pytest.raises(BundleError, match="cannot build a bundle without mapping documents"):
        _build(tmp_path / "c.fbz", [])


def test_an_invalid_document_is_refused_at_build(tmp_path: Path) -> None:
    doc = _doc()
    doc.flows[0].operation.external_id = None
    with pytest.raises(BundleError) as err:
        _build(tmp_path / "a.fbz", [doc])
    assert str(err.value) == (
        "cannot build the bundle: mappings/charges.yaml: flow 'charge-to-payment', operation: "
        "an upsert needs 'external_id' (the target field it matches on)"
    )


# --------------------------------------------------------------------------- broken bundles


def _flip_member_byte(path: Path, member: str) -> None:
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    header = info.header_offset
    name_len = int.from_bytes(data[header + 26 : header + 28], "little")
    extra_len = int.from_bytes(data[header + 28 : header + 30], "little")
    start = header + 30 + name_len + extra_len
    data[start + info.compress_size // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _replace_doc(text: str) -> Callable[[dict[str, bytes]], None]:
    def edit(members: dict[str, bytes]) -> None:
        members["mappings/charges.yaml"] = text.encode()

    return edit


BROKEN: list[tuple[str, Callable[[Path], None], str]] = [
    (
        "not-a-zip",
        lambda p: p.write_bytes(b"format: 1\nname: not a zip\n"),
        "x.fbz is not a zip file, so it is not a Fieldbridge bundle",
    ),
    (
        "truncated",
        lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
        "x.fbz is a damaged or truncated zip file",
    ),
    (
        "flipped-byte",
        lambda p: _flip_member_byte(p, "mappings/charges.yaml"),
        "x.fbz is damaged: 'mappings/charges.yaml' cannot be read",
    ),
    (
        "member-removed",
        lambda p: _rewrite(p, lambda m: m.pop("schemas/stripe.json")),
        "x.fbz is missing 'schemas/stripe.json', which its manifest lists",
    ),
    (
        "member-added",
        lambda p: _rewrite(p, lambda m: m.update({"notes.txt": b"hello"})),
        "x.fbz contains 'notes.txt', which its manifest does not list",
    ),
    (
        "hash-mismatch",
        lambda p: _rewrite(p, _replace_doc(DOC.replace("ch_1", "ch_2"))),
        "x.fbz: 'mappings/charges.yaml' does not match its SHA-256 in the manifest; it was "
        "changed or damaged",
    ),
    (
        "manifest-missing",
        lambda p: _rewrite(p, lambda m: m.pop("manifest.json")),
        "x.fbz has no manifest.json, so it is not a Fieldbridge bundle",
    ),
    (
        "manifest-not-json",
        lambda p: _rewrite(p, lambda m: m.update({"manifest.json": b"{format_version: 1"})),
        "x.fbz: manifest.json is not valid JSON (line 1, column 2: Expecting property name "
        "enclosed in double quotes)",
    ),
    (
        "manifest-not-an-object",
        lambda p: _rewrite(p, lambda m: m.update({"manifest.json": b"[1, 2]"})),
        "x.fbz: manifest.json is not a JSON object",
    ),
    (
        "manifest-without-members",
        lambda p: _rewrite(p, _edit_manifest(lambda m: m.pop("members"))),
        "x.fbz: manifest.json is missing 'members'",
    ),
    (
        "newer-format",
        lambda p: _rewrite(p, _edit_manifest(lambda m: m.update(format_version=2))),
        "x.fbz has bundle format 2, newer than this Fieldbridge understands (1)",
    ),
    (
        "format-zero",
        lambda p: _rewrite(p, _edit_manifest(lambda m: m.update(format_version=0))),
        "x.fbz has unknown bundle format 0",
    ),
    (
        "path-traversal",
        lambda p: _rewrite(p, lambda m: m.update({"../evil.yaml": b"x"})),
        "x.fbz contains the unsafe member name '../evil.yaml'; refusing it",
    ),
    (
        "absolute-path",
        lambda p: _rewrite(p, lambda m: m.update({"/etc/cron.d/evil": b"x"})),
        "x.fbz contains the unsafe member name '/etc/cron.d/evil'; refusing it",
    ),
    (
        "backslash-path",
        lambda p: _rewrite(p, lambda m: m.update({"mappings\\..\\..\\evil": b"x"})),
        "x.fbz contains the unsafe member name 'mappings\\\\..\\\\..\\\\evil'; refusing it",
    ),
    (
        "zip-bomb",
        lambda p: _rewrite(p, lambda m: m.update({"mappings/big.yaml": b"\0" * (8 << 20)})),
        "x.fbz: 'mappings/big.yaml' is compressed more than 200 to 1; refusing a possible zip bomb",
    ),
    (
        "schema-invalid-mapping",
        lambda p: _rewrite(
            p,
            _replace_doc(DOC.replace("{target: StripeChargeID__c, source: id}", "{source: id}")),
            rehash=True,
        ),
        "x.fbz: mappings/charges.yaml: flow 'charge-to-payment', fields[0]: 'target' is required",
    ),
    (
        "flow-contract-mismatch",
        lambda p: _rewrite(p, _edit_manifest(lambda m: m["flows"][0].update(writes=["Name"]))),
        "x.fbz: the manifest's flow list does not match its mapping documents",
    ),
]


@pytest.mark.parametrize(
    ("breaker", "message"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_each_broken_bundle_gets_one_clear_sentence(
    tmp_path: Path, breaker: Callable[[Path], None], message: str
) -> None:
    path = _build(tmp_path / "x.fbz")
    breaker(path)
    with pytest.raises(BundleError) as err:
        load_bundle(path)
    assert str(err.value) == message
    with pytest.raises(BundleError):
        verify_bundle(path)


def test_duplicate_member_names_are_refused(tmp_path: Path) -> None:
    path = _build(tmp_path / "x.fbz")
    members = list(_members(path).items())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr(members[1][0], b"second copy")
    with pytest.raises(BundleError, match=r"x\.fbz contains 'mappings/charges\.yaml' twice"):
        load_bundle(path)


def test_a_missing_bundle_file(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"nope\.fbz does not exist"):
        load_bundle(tmp_path / "nope.fbz")


# --------------------------------------------------------------------------- signatures


def test_tampering_after_signing_is_caught(tmp_path: Path) -> None:
    key = generate_signing_key()
    path = _build(tmp_path / "x.fbz", signing_key=key)
    # A forger changes a document and fixes the manifest hash, but cannot re-sign.
    _rewrite(path, _replace_doc(DOC.replace("Source__c: Stripe", "Source__c: Evil")), rehash=True)
    assert load_bundle(path).documents[0].flows[0].defaults == {"Source__c": "Evil"}
    with pytest.raises(BundleError) as err:
        load_bundle(path, public_key=key.public_key())
    assert str(err.value) == "x.fbz has a bad signature: its manifest was changed after signing"


def test_a_damaged_signature_is_caught(tmp_path: Path) -> None:
    key = generate_signing_key()
    path = _build(tmp_path / "x.fbz", signing_key=key)

    def damage(members: dict[str, bytes]) -> None:
        sig = json.loads(members["signature.json"])
        sig["signature"] = "AAAA" + sig["signature"][4:]
        members["signature.json"] = json.dumps(sig).encode()

    _rewrite(path, damage)
    with pytest.raises(BundleError, match="x.fbz has a bad signature"):
        verify_bundle(path, public_key=key.public_key())


def test_the_wrong_public_key_is_named(tmp_path: Path) -> None:
    key, other = generate_signing_key(), generate_signing_key()
    path = _build(tmp_path / "x.fbz", signing_key=key)
    with pytest.raises(BundleError) as err:
        load_bundle(path, public_key=other.public_key())
    assert str(err.value) == (
        f"x.fbz was signed by key {public_key_fingerprint(key)}, not by the given public key "
        f"{public_key_fingerprint(other)}"
    )


def test_a_required_signature_must_be_present(tmp_path: Path) -> None:
    path = _build(tmp_path / "x.fbz")
    key = generate_signing_key()
    for call in (
        lambda: load_bundle(path, require_signature=True),
        lambda: load_bundle(path, public_key=key.public_key()),
        lambda: verify_bundle(path, public_key=key.public_key()),
    ):
        with pytest.raises(BundleError) as err:
            call()
        assert str(err.value) == "x.fbz is not signed, but a signature is required"
    signed = _build(tmp_path / "s.fbz", signing_key=key)
    with pytest.raises(BundleError, match="no public key was given to check it"):
        load_bundle(signed, require_signature=True)


# --------------------------------------------------------------------------- keys


def test_key_files_round_trip(tmp_path: Path) -> None:
    key = generate_signing_key()
    save_private_key(key, tmp_path / "k.pem")
    save_public_key(key, tmp_path / "k.pub")
    assert (tmp_path / "k.pem").stat().st_mode & 0o077 == 0
    assert public_key_fingerprint(load_private_key(tmp_path / "k.pem")) == public_key_fingerprint(
        key
    )
    assert public_key_fingerprint(load_public_key(tmp_path / "k.pub")) == public_key_fingerprint(
        key
    )
    with pytest.raises(BundleError, match="already exists; refusing to overwrite a key file"):
        save_private_key(key, tmp_path / "k.pem")


def test_openssh_keys_are_accepted(tmp_path: Path) -> None:
    key = generate_signing_key()
    (tmp_path / "id").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "id.pub").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
    )
    assert public_key_fingerprint(load_private_key(tmp_path / "id")) == public_key_fingerprint(key)
    assert public_key_fingerprint(load_public_key(tmp_path / "id.pub")) == public_key_fingerprint(
        key
    )


def test_bad_key_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(BundleError, match=r"junk\.pem is not a PEM or OpenSSH private key"):
        load_private_key(tmp_path / "junk.pem")
    with pytest.raises(BundleError, match=r"junk\.pem is not a PEM or OpenSSH public key"):
        load_public_key(tmp_path / "junk.pem")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "ec.pem").write_bytes(
        ec_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(BundleError, match=r"ec\.pem is not an Ed25519 key"):
        load_private_key(tmp_path / "ec.pem")
    encrypted = generate_signing_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    (tmp_path / "enc.pem").write_bytes(encrypted)
    with pytest.raises(BundleError, match=r"enc\.pem is an encrypted private key"):
        load_private_key(tmp_path / "enc.pem")
    with pytest.raises(BundleError, match="cannot read the private key"):
        load_private_key(tmp_path / "missing.pem")


def test_snapshot_members_are_the_serialised_catalogs(tmp_path: Path) -> None:
    stripe, _ = _catalogs()
    path = _build(tmp_path / "x.fbz")
    data = json.loads(_members(path)["schemas/stripe.json"])
    expected = catalog_to_dict(stripe)
    expected["objects"] = [o for o in expected["objects"] if o["name"] == "charge"]
    assert data == expected
