"""``fieldbridge-runner bundle ...`` end to end through ``runner.cli.main``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mappings.bundle import build
from mappings.schema.model import Catalog, FieldKind, FieldSchema, ObjectSchema, System
from runner.cli import main
from tests.mappings.test_bundle import (
    BROKEN,
    CREATED,
    DOC,
    PAYOUTS,
    _build,
    _replace_doc,
    _rewrite,
)

PAYMENTS = """\
format: 1
name: payments
flows:
  - name: charge-to-payment
    trigger: {stripe_events: [charge.succeeded]}
    source: {system: stripe, object: charge}
    target: {system: salesforce, object: Payment__c}
    operation: {action: insert}
    fields:
      - {target: Name, source: id}
      - {target: Status__c, source: status}
    defaults: {Source__c: Stripe}
    fixtures:
      - name: paid
        input: {id: ch_1, status: succeeded}
        expected: {Name: ch_1, Status__c: succeeded, Source__c: Stripe}
"""


def _catalog(system: System) -> Catalog:
    catalog = Catalog(system, api_version="62.0" if system is System.SALESFORCE else "2026-01-28")
    names = ["charge", "payout"] if system is System.STRIPE else ["Payment__c", "Payout__c"]
    for name in names:
        catalog.add(
            ObjectSchema(
                system,
                name,
                fields={
                    p: FieldSchema(p, FieldKind.STRING)
                    for p in ("id", "status", "Name", "Status__c", "Source__c")
                },
            )
        )
    return catalog


@pytest.fixture(autouse=True)
def small_catalogs(monkeypatch: pytest.MonkeyPatch) -> None:
    # The shipped catalogs are introspected from the SDK; these tests need only two objects.
    monkeypatch.setattr(build, "default_catalog", _catalog)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "payments.yaml").write_text(PAYMENTS)
    (docs / "payouts.yaml").write_text(PAYOUTS)
    return docs


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["bundle", *map(str, args)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def _keys(tmp_path: Path, capsys: pytest.CaptureFixture[str], stem: str = "k") -> tuple[Path, Path]:
    private, public = tmp_path / f"{stem}.pem", tmp_path / f"{stem}.pub"
    code, out, _ = _run(capsys, "keygen", "--private", private, "--public", public)
    assert code == 0 and "fingerprint: sha256:" in out
    return private, public


def test_build_inspect_verify_a_signed_folder(
    tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private, public = _keys(tmp_path, capsys)
    out_path = tmp_path / "all.fbz"
    code, out, _ = _run(
        capsys, "build", folder, "-o", out_path, "--sign-key", private, "--created-at", CREATED
    )
    assert code == 0
    assert out.startswith(f"built {out_path}: 2 flows from 2 documents, signed by sha256:")

    code, out, _ = _run(capsys, "inspect", out_path)
    assert code == 0
    assert "charge-to-payment  (payments)" in out
    assert "trigger: Stripe events charge.succeeded" in out
    assert "stripe:charge -> salesforce:Payment__c  (insert)" in out
    assert "fields: Name, Status__c, Source__c" in out

    code, out, _ = _run(capsys, "inspect", out_path, "--json")
    data = json.loads(out)
    assert data["created_at"] == CREATED
    assert data["flows"][1] == {
        "name": "payout-to-record",
        "document": "payouts",
        "trigger": {"stripe_events": ["payout.paid"]},
        "source": "stripe:payout",
        "target": "salesforce:Payout__c",
        "operation": {"action": "insert"},
        "fields": ["Name"],
    }

    code, out, _ = _run(capsys, "verify", out_path, "--public-key", public)
    assert code == 0
    assert out.startswith("all.fbz: OK, 4 members match their hashes, 2 flows, signature valid")
    code, out, _ = _run(capsys, "verify", out_path, "--json")
    assert json.loads(out)["signature_verified"] is False

    _, other = _keys(tmp_path, capsys, "other")
    code, _, err = _run(capsys, "verify", out_path, "--public-key", other)
    assert code == 1
    assert err.startswith("error: all.fbz was signed by key sha256:")


def test_build_one_file_and_diff_against_the_bundle(
    tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    single = tmp_path / "one.fbz"
    assert _run(capsys, "build", folder / "payments.yaml", "-o", single)[0] == 0
    changed = tmp_path / "payments.yaml"
    changed.write_text(PAYMENTS.replace("source: status}", "source: outcome.type}"))

    code, out, _ = _run(capsys, "diff", single, changed)
    assert code == 0
    assert out.splitlines() == [
        "flow charge-to-payment:",
        "  ~ field Status__c sources: status -> outcome.type",
        "1 change: 0 added, 0 removed, 1 changed",
    ]
    code, out, _ = _run(capsys, "diff", single, folder, "--json")
    changes = json.loads(out)["changes"]
    assert [(c["kind"], c["path"]) for c in changes] == [("added", "document payouts")]
    assert _run(capsys, "diff", folder, folder)[1] == "no differences\n"


def test_duplicate_flow_names_across_files_are_refused(
    tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "zz-copy.yaml").write_text(PAYMENTS.replace("name: payments", "name: copy"))
    code, _, err = _run(capsys, "build", folder, "-o", tmp_path / "x.fbz")
    assert code == 1
    assert err == (
        "error: flow 'charge-to-payment' is defined in both payments.yaml and zz-copy.yaml; "
        "flow names must be unique in a bundle\n"
    )
    assert not (tmp_path / "x.fbz").exists()


def test_a_broken_document_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(PAYMENTS.replace("{target: Name, source: id}", "{source: id}"))
    code, _, err = _run(capsys, "build", bad, "-o", tmp_path / "x.fbz")
    assert code == 1
    assert err == "error: bad.yaml: flow 'charge-to-payment', fields[0]: 'target' is required\n"


def test_a_secret_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    leaky = tmp_path / "leaky.yaml"
    leaky.write_text(PAYMENTS.replace("status: succeeded}", "key: sk_test_abcdefghijklmnop}"))
    code, _, err = _run(capsys, "build", leaky, "-o", tmp_path / "x.fbz")
    assert code == 1
    assert err == (
        "error: refusing to build the bundle: document 'payments', flow 'charge-to-payment', "
        "fixtures[0].input.key looks like a Stripe secret key; bundles carry connection names "
        "only, never secrets\n"
    )
    assert "sk_test_abcdefghijklmnop" not in err


def test_bundle_test_passes_and_fails(
    tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.fbz"
    _run(capsys, "build", folder / "payments.yaml", "-o", good)
    code, out, _ = _run(capsys, "test", good)
    assert (code, out.splitlines()[-1]) == (0, "1 fixture: 1 passed, 0 failed")

    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(PAYMENTS.replace("Status__c: succeeded,", "Status__c: Completed,"))
    bad = tmp_path / "bad.fbz"
    _run(capsys, "build", wrong, "-o", bad)
    code, out, _ = _run(capsys, "test", bad)
    assert code == 1
    assert "FAIL  charge-to-payment / paid" in out
    assert 'Status__c: expected "Completed", got "succeeded"' in out
    code, out, _ = _run(capsys, "test", bad, "--json")
    assert code == 1 and json.loads(out)["passed"] is False
    code, _, err = _run(capsys, "test", bad, "--flow", "nope")
    assert (code, err) == (
        1,
        "error: bad.fbz has no flow named 'nope' (flows: charge-to-payment)\n",
    )


def test_keygen_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    private, public = _keys(tmp_path, capsys)
    before = private.read_bytes()
    code, _, err = _run(capsys, "keygen", "--private", private, "--public", tmp_path / "new.pub")
    assert code == 1
    assert err == f"error: {private} already exists; refusing to overwrite a key file\n"
    assert private.read_bytes() == before and not (tmp_path / "new.pub").exists()


@pytest.mark.parametrize(
    ("breaker", "message"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
@pytest.mark.parametrize("command", ["verify", "inspect", "test"])
def test_every_broken_bundle_exits_1_without_a_traceback(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    breaker: Callable[[Path], None],
    message: str,
) -> None:
    path = _build(tmp_path / "x.fbz")
    breaker(path)
    code, out, err = _run(capsys, command, path)
    assert code == 1
    assert err == f"error: {message}\n" or err.startswith(f"error: {message}: ")
    assert err.count("\n") == 1 and out == ""


def test_signature_problems_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private, public = _keys(tmp_path, capsys)
    unsigned = _build(tmp_path / "x.fbz")
    code, _, err = _run(capsys, "verify", unsigned, "--public-key", public)
    assert (code, err) == (1, "error: x.fbz is not signed, but a signature is required\n")

    from mappings.bundle import load_private_key

    signed = _build(tmp_path / "s.fbz", signing_key=load_private_key(private))
    _rewrite(signed, _replace_doc(DOC.replace("ch_1", "ch_9")), rehash=True)
    code, _, err = _run(capsys, "verify", signed, "--public-key", public)
    assert (code, err) == (
        1,
        "error: s.fbz has a bad signature: its manifest was changed after signing\n",
    )
