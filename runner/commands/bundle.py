"""``fieldbridge-runner bundle ...``: build, inspect, verify, diff, test and promote ``.fbz``
bundles.

Readable text for people by default, ``--json`` for machines. Every expected failure is a
MappingError (usually BundleError or DocumentError) left to the top-level handler, which
prints ``error: ...`` and exits 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mappings.bundle import (
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
from mappings.document.diff import diff_document_sets, format_diff
from mappings.document.model import MappingDocument
from mappings.document.yamlio import load_documents
from mappings.errors import BundleError
from runner.commands.common import print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bundle", help="build, inspect, verify, diff and test mapping bundles (.fbz)"
    )
    sub = parser.add_subparsers(dest="bundle_command", metavar="ACTION")
    sub.required = True

    build = sub.add_parser("build", help="build a bundle from a mapping file or a folder of them")
    build.add_argument("path", type=Path, help="a mapping document (.yaml) or a folder of them")
    build.add_argument("-o", "--output", type=Path, required=True, help="the .fbz to write")
    build.add_argument("--sign-key", type=Path, help="Ed25519 private key (PEM) to sign with")
    build.add_argument("--created-at", help="fixed ISO UTC time, for reproducible builds")
    build.add_argument("--json", action="store_true", help="machine-readable output")
    build.set_defaults(handler=_build)

    inspect = sub.add_parser("inspect", help="show a bundle's flows and versions")
    inspect.add_argument("bundle", type=Path)
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    inspect.set_defaults(handler=_inspect)

    verify = sub.add_parser("verify", help="check hashes, documents and (with a key) the signature")
    verify.add_argument("bundle", type=Path)
    verify.add_argument(
        "--public-key", type=Path, help="Ed25519 public key the bundle must be signed with"
    )
    verify.add_argument("--json", action="store_true", help="machine-readable output")
    verify.set_defaults(handler=_verify)

    diff = sub.add_parser("diff", help="semantic diff of two mapping files, folders or bundles")
    diff.add_argument("a", type=Path)
    diff.add_argument("b", type=Path)
    diff.add_argument("--json", action="store_true", help="machine-readable output")
    diff.set_defaults(handler=_diff)

    test = sub.add_parser("test", help="run the fixtures carried in a bundle")
    test.add_argument("bundle", type=Path)
    test.add_argument("--flow", help="only this flow's fixtures")
    test.add_argument("--json", action="store_true", help="machine-readable output")
    test.set_defaults(handler=_test)

    promote = sub.add_parser(
        "promote", help="verify, test, check and deploy a bundle into a workspace environment")
    promote.add_argument("bundle", type=Path, nargs="?", help="the .fbz to promote")
    promote.add_argument("--to", help="the environment to promote into (environments.toml)")
    promote.add_argument("--workspace", type=Path, default=Path("."),
                         help="the workspace folder holding environments.toml (default: .)")
    promote.add_argument("--sign-key", type=Path,
                         help="Ed25519 private key (PEM); default: the keyring's "
                              "signing:<env>:private_key")
    promote.add_argument("--history", action="store_true",
                         help="show the workspace's promotions instead")
    promote.add_argument("--json", action="store_true", help="machine-readable output")
    promote.set_defaults(handler=_promote)

    keygen = sub.add_parser("keygen", help="create an Ed25519 key pair for signing bundles")
    keygen.add_argument("--private", type=Path, required=True, help="private key file to write")
    keygen.add_argument("--public", type=Path, required=True, help="public key file to write")
    keygen.set_defaults(handler=_keygen)


# --------------------------------------------------------------------------- handlers


def _build(args: argparse.Namespace) -> int:
    loaded = load_documents(args.path)
    seen: dict[str, Path] = {}
    for path, doc in loaded:
        for flow in doc.flows:
            if flow.name in seen:
                raise BundleError(
                    f"flow {flow.name!r} is defined in both {seen[flow.name].name} and "
                    f"{path.name}; flow names must be unique in a bundle"
                )
            seen[flow.name] = path
    key = load_private_key(args.sign_key) if args.sign_key else None
    documents = [doc for _, doc in loaded]
    out = build_bundle(documents, args.output, signing_key=key, created_at=args.created_at)
    flows = sum(len(d.flows) for d in documents)
    if args.json:
        print_json(
            {
                "bundle": str(out),
                "documents": [d.name for d in documents],
                "flows": [f.name for d in documents for f in d.flows],
                "signed_by": public_key_fingerprint(key) if key else None,
            }
        )
    else:
        signed = f", signed by {public_key_fingerprint(key)}" if key else ", not signed"
        print(
            f"built {out}: {flows} flow{'s' if flows != 1 else ''} from {len(documents)} "
            f"document{'s' if len(documents) != 1 else ''}{signed}"
        )
    return 0


def _inspect(args: argparse.Namespace) -> int:
    bundle = load_bundle(args.bundle)
    m = bundle.manifest
    flows = [
        {
            "name": c.get("name"),
            "document": c.get("document"),
            "trigger": c.get("trigger"),
            "source": c.get("source"),
            "target": c.get("target"),
            "operation": c.get("operation"),
            "fields": c.get("writes", []),
        }
        for c in m["flows"]
    ]
    if args.json:
        print_json(
            {
                "bundle": str(bundle.path),
                "format_version": m["format_version"],
                "app_version": m["app_version"],
                "created_at": m["created_at"],
                "stripe_api_version": m["stripe_api_version"],
                "salesforce_api_version": m["salesforce_api_version"],
                "connections": m["connections"],
                "signature_present": bundle.signature_present,
                "signer_fingerprint": bundle.signer_fingerprint,
                "documents": [d.name for d in bundle.documents],
                "flows": flows,
            }
        )
        return 0
    print(
        f"{bundle.path.name}: bundle format {m['format_version']}, Fieldbridge "
        f"{m['app_version']}, created {m['created_at']}"
    )
    print(
        f"Stripe API {m['stripe_api_version'] or '?'}, Salesforce API "
        f"{m['salesforce_api_version'] or '?'}; connections: "
        + ", ".join(f"{k}={v}" for k, v in m["connections"].items())
    )
    if bundle.signature_present:
        print(f"signed by {bundle.signer_fingerprint} (not checked here: use 'bundle verify')")
    else:
        print("not signed")
    print(f"{len(flows)} flow{'s' if len(flows) != 1 else ''}:")
    for f in flows:
        op = f["operation"] or {}
        on = f" on {op['external_id']}" if op.get("external_id") else ""
        print(f"  {f['name']}  ({f['document']})")
        print(f"    trigger: {_trigger_text(f['trigger'])}")
        print(f"    {f['source']} -> {f['target']}  ({op.get('action', '?')}{on})")
        print(f"    fields: {', '.join(f['fields']) or '(none)'}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    key = load_public_key(args.public_key) if args.public_key else None
    report = verify_bundle(args.bundle, public_key=key)
    if args.json:
        print_json(report.to_dict())
        return 0
    flows = len(report.flows)
    text = (
        f"{report.path.name}: OK, {report.members} members match their hashes, "
        f"{flows} flow{'s' if flows != 1 else ''}"
    )
    if report.signature_verified:
        text += f", signature valid ({report.signer_fingerprint})"
    print(text)
    for note in report.notes:
        print(f"note: {note}")
    return 0


def _diff(args: argparse.Namespace) -> int:
    changes = diff_document_sets(_documents_of(args.a), _documents_of(args.b))
    if args.json:
        print_json({"changes": [c.to_dict() for c in changes]})
    else:
        print(format_diff(changes))
    return 0


def _test(args: argparse.Namespace) -> int:
    # Loaded when the command runs, not for --help (see runner.cli: start-up time).
    from mappings.engine.fixtures import format_fixture_report
    from runner.promote import run_bundle_fixtures

    bundle = load_bundle(args.bundle)
    if args.flow is not None and bundle.flow(args.flow) is None:
        names = ", ".join(f.name for _, f in bundle.flows()) or "none"
        raise BundleError(f"{bundle.path.name} has no flow named {args.flow!r} (flows: {names})")
    results = run_bundle_fixtures(bundle, args.flow)
    failed = [r for r in results if not r.passed]
    if args.json:
        print_json({"passed": not failed, "results": [r.to_dict() for r in results]})
    else:
        print(format_fixture_report(results))
    return 1 if failed else 0


def _promote(args: argparse.Namespace) -> int:
    # Loaded when the command runs: the writer, the connectors and the admin client.
    from runner.promote import STEPS, format_history, promote, read_history

    if args.history:
        entries = read_history(args.workspace)
        if args.json:
            print_json({"promotions": entries})
        else:
            print(format_history(entries))
        return 0
    if args.bundle is None or not args.to:
        raise BundleError("give the bundle and the environment: bundle promote X.fbz --to qa "
                          "(or --history)")

    def progress(index: int, step: str, result: Any) -> None:
        if result is None or args.json:
            return
        mark = "ok" if result.ok else "FAILED"
        print(f"[{index + 1}/{len(STEPS)}] {step}: {mark}, {result.summary}")
        for line in result.detail[:40]:
            print(f"      {line}")

    done = promote(args.bundle, args.workspace, args.to, sign_key=args.sign_key,
                   progress=progress)
    if args.json:
        print_json(done.to_dict())
    elif done.deployed:
        print(f"promoted {done.bundle} to {done.environment}")
    else:
        print(f"not promoted: {done.result}")
    return 0 if done.deployed else 1


def _keygen(args: argparse.Namespace) -> int:
    for path in (args.private, args.public):
        if path.exists():
            raise BundleError(f"{path} already exists; refusing to overwrite a key file")
    key = generate_signing_key()
    save_private_key(key, args.private)
    save_public_key(key, args.public)
    print(f"wrote private key {args.private} (keep it secret) and public key {args.public}")
    print(f"fingerprint: {public_key_fingerprint(key)}")
    return 0


# --------------------------------------------------------------------------- helpers


def _documents_of(path: Path) -> list[MappingDocument]:
    """A .fbz bundle's documents, or a mapping file's, or a folder's."""
    if path.is_file() and (path.suffix == ".fbz" or _is_zip(path)):
        return load_bundle(path).documents
    return [doc for _, doc in load_documents(path)]


def _is_zip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def _trigger_text(trigger: Any) -> str:
    if not isinstance(trigger, dict):
        return "?"
    if "stripe_events" in trigger:
        return "Stripe events " + ", ".join(trigger["stripe_events"])
    event = trigger.get("salesforce_event")
    if isinstance(event, dict) and "salesforce_change" not in trigger:
        return f"Salesforce platform event {event.get('event', '?')}"
    change = trigger.get("salesforce_change") or {}
    text = f"Salesforce {change.get('object', '?')} changed"
    if change.get("field"):
        text += f", {change['field']}"
        if change.get("becomes") is not None:
            text += f" becomes {change['becomes']!r}"
    return text
