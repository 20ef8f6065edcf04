"""Promote a bundle into one of the workspace's environments, as one guided step.

Seven steps, each the project's own check, stopping at the first that fails with its reason:

1. **verify**: hashes, documents and, when the bundle is signed and the environment names a
   public key, the signature (:func:`mappings.bundle.verify_bundle`);
2. **fixtures**: the bundle's fixtures (:func:`run_bundle_fixtures`, as ``bundle test``);
3. **contract**: the bundle's contract against the target org's describes
   (:func:`runner.contract.check_org`, as the runner at start-up);
4. **dry run**: the fixtures' inputs through the runner's writer against the target org,
   reading only (:meth:`runner.pipeline.writer.SalesforceWriter.predict`);
5. **diff**: the semantic diff against the bundle running there now
   (:func:`mappings.document.diff.diff_document_sets`), for the record; never a failure;
6. **sign**: with the environment's key (a file, or the keyring's ``signing:<env>``);
   required when the environment requires signatures;
7. **deploy**: ``PUT /api/v1/bundle`` on the environment's runner, which verifies and checks
   the contract again and keeps the old bundle when it refuses.

Nothing is written to the target before step 7. Every attempt, deployed or stopped, is a
line of the workspace's ``promotions.jsonl`` (who, when, the bundle's SHA-256, the
environment, the result).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import keyring

from mappings.bundle import (
    Bundle,
    build_bundle,
    load_bundle,
    load_private_key,
    load_public_key,
    public_key_fingerprint,
    verify_bundle,
)
from mappings.document.diff import diff_document_sets, format_diff
from mappings.engine.fixtures import FixtureResult, format_fixture_report, run_fixtures
from mappings.environments import Environment, load_environments
from mappings.errors import MappingError
from mappings.schema.model import System
from runner.admin.client import (
    TOKEN_ENV,
    AdminClient,
    AdminClientError,
    keyring_name,
    token_for,
)
from runner.config import load_config
from runner.connectors.salesforce import SalesforceConnector
from runner.contract import check_org
from runner.errors import RunnerError
from runner.pipeline.bundle_runtime import LoadedBundle
from runner.pipeline.deletion import write_with_deletions
from runner.pipeline.outcomes import TaskOutcome
from runner.pipeline.writer import MemoryLedger, SalesforceWriter, WriteItem
from runner.secrets import KEYRING_SERVICE

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


HISTORY_FILE = "promotions.jsonl"
STEPS = ("verify", "fixtures", "contract", "dry run", "diff", "sign", "deploy")


def signing_key_name(environment: str) -> str:
    """The keyring username of an environment's signing key (PEM text), service
    ``fieldbridge``."""
    return f"signing:{environment}:private_key"


@dataclass(slots=True)
class StepResult:
    step: str
    ok: bool
    summary: str  # one sentence
    detail: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Promotion:
    bundle: str
    sha256: str
    environment: str
    steps: list[StepResult] = field(default_factory=list)
    deployed: bool = False
    deployed_sha256: str | None = None  # of the signed bundle, when step 6 signed it

    @property
    def failed(self) -> StepResult | None:
        return next((s for s in self.steps if not s.ok), None)

    @property
    def result(self) -> str:
        failed = self.failed
        if failed is not None:
            return f"stopped at {failed.step}: {failed.summary}"
        return "deployed" if self.deployed else "not finished"

    def to_dict(self) -> dict[str, Any]:
        return {"bundle": self.bundle, "sha256": self.sha256, "environment": self.environment,
                "deployed": self.deployed, "deployed_sha256": self.deployed_sha256,
                "result": self.result, "steps": [s.to_dict() for s in self.steps]}


class RunnerAdmin(Protocol):
    """The part of :class:`runner.admin.client.AdminClient` a promotion uses."""

    def running_bundle(self) -> bytes: ...

    def deploy(self, bundle: Path | bytes) -> dict[str, Any]: ...


class StepFailed(Exception):
    def __init__(self, summary: str, detail: list[str] | None = None) -> None:
        super().__init__(summary)
        self.detail = detail or []


Progress = Callable[[int, str, StepResult | None], None]  # (index, step, result or None)


# --------------------------------------------------------------------------- connecting


def connect_target_org(env: Environment) -> SalesforceConnector:
    """The environment's Salesforce connection, from its runner config (or sandbox file)
    and the keyring, connected."""
    config = load_config(env.config, sandbox_json=env.sandbox)
    # A sandbox file describes one pair of connections, named "default".
    name = None if env.sandbox is not None else env.salesforce
    connector = SalesforceConnector(config.salesforce_connection(name))
    connector.connect()
    return connector


def runner_admin(env: Environment) -> AdminClient:
    token = token_for(env.runner)
    if not token:
        raise RunnerError(f"no admin token for {env.name}'s runner {env.runner}: set "
                          f"{TOKEN_ENV} or keep it in the OS keyring (service "
                          f"'{KEYRING_SERVICE}', name '{keyring_name(env.runner)}'; the "
                          "studio's Operate workspace stores it there when you connect)")
    return AdminClient(env.runner, token)


def signing_key(env: Environment, path: Path | None) -> Ed25519PrivateKey | None:
    """The key from ``path``, else the keyring's entry for the environment (None: none)."""
    if path is not None:
        return load_private_key(path)
    try:
        pem = keyring.get_password(KEYRING_SERVICE, signing_key_name(env.name))
    except Exception:  # no keyring backend: no key from it
        return None
    if not pem:
        return None
    with _scratch() as folder:
        key_file = folder / "key.pem"
        key_file.write_text(pem, encoding="utf-8")
        key_file.chmod(0o600)
        return load_private_key(key_file)


# --------------------------------------------------------------------------- the steps


def run_bundle_fixtures(bundle: Bundle, flow: str | None = None) -> list[FixtureResult]:
    """Every fixture the bundle carries (of one flow), run against its own schema snapshot."""
    schemas = bundle.schemas_by_name()
    results: list[FixtureResult] = []
    for doc in bundle.documents:
        if flow is not None and doc.flow(flow) is None:
            continue
        results.extend(run_fixtures(doc, schemas, flow=flow))
    return results


def dry_run_fixtures(loaded: LoadedBundle, salesforce: SalesforceConnector) -> StepResult:
    """The fixtures' inputs through the runner's writer against the org, writing nothing."""
    counts = {"create": 0, "update": 0, "skip": 0}
    failures: list[str] = []
    for compiled in loaded.flows.values():
        if compiled.flow.target.system is not System.SALESFORCE or not compiled.flow.fixtures:
            continue
        items = [WriteItem(data=fx.input, payload=fx.input) for fx in compiled.flow.fixtures]
        writer = SalesforceWriter(salesforce, MemoryLedger())
        try:
            # A deletion fixture (customer.deleted) is planned by the flow's on_delete.
            write_with_deletions(writer, compiled.flow, compiled.plan, items, dry=True)
        except RunnerError as exc:
            failures.append(f"{compiled.name}: {exc}")
            continue
        for fixture, item in zip(compiled.flow.fixtures, items, strict=True):
            if item.outcome is TaskOutcome.SKIPPED:
                counts["skip"] += 1
            elif item.outcome in (None, TaskOutcome.WRITTEN):
                # A planned mark updates its record; a planned delete counts as "delete".
                kind = item.write.kind if item.write is not None else "update"
                if kind == "delete":
                    counts["delete"] = counts.get("delete", 0) + 1
                    continue
                counts["create" if kind == "insert" or (kind == "upsert" and not item.sf_id)
                       else "update"] += 1
            elif item.outcome is TaskOutcome.REVIEW:
                counts["update"] += 1  # a person would choose; nothing is refused
            else:
                failures.append(f"{compiled.name} / {fixture.name}: {item.error or 'refused'}")
    summary = (f"would create {counts['create']}, update {counts['update']}, skip "
               f"{counts['skip']}" + (f", delete {counts['delete']}" if "delete" in counts
                                      else ""))
    if failures:
        raise StepFailed(f"{len(failures)} fixture input(s) would fail against the target "
                         f"org ({summary})", failures)
    return StepResult("dry run", True, summary)


def promote(bundle_path: Path | str, workspace: Path | str, to: str, *,
            sign_key: Path | None = None, progress: Progress | None = None,
            org: Callable[[Environment], SalesforceConnector] | None = None,
            admin: Callable[[Environment], RunnerAdmin] | None = None,
            who: str | None = None) -> Promotion:
    """Run the seven steps for ``bundle_path`` into environment ``to``; the promotion (with
    each step's result) is returned and appended to the history, whatever the outcome.

    ``org`` and ``admin`` make the target's connector and admin client (tests give their
    own); by default they come from the environment's config, the keyring and its runner.
    """
    workspace = Path(workspace)
    bundle_path = Path(bundle_path)
    env = load_environments(workspace).get(to)
    try:
        data = bundle_path.read_bytes()
    except OSError as exc:
        raise RunnerError(f"{bundle_path} cannot be read: {exc.strerror or exc}") from None
    promotion = Promotion(bundle_path.name, hashlib.sha256(data).hexdigest(), env.name)
    state: dict[str, Any] = {}
    connect_org = org or connect_target_org
    connect_admin = admin or runner_admin

    def verify() -> StepResult:
        key = load_public_key(env.public_key) if env.public_key is not None else None
        bundle = load_bundle(bundle_path)
        check = key if bundle.signature_present and key is not None else None
        report = verify_bundle(bundle_path, public_key=check)
        state["bundle"] = bundle
        flows = len(report.flows)
        signed = f", signature valid ({report.signer_fingerprint})" \
            if report.signature_verified else ""
        return StepResult("verify", True, f"{report.members} members match their hashes, "
                                          f"{flows} flow{'s' if flows != 1 else ''}{signed}",
                          list(report.notes))

    def fixtures() -> StepResult:
        results = run_bundle_fixtures(state["bundle"])
        failed = [r for r in results if not r.passed]
        if failed:
            raise StepFailed(f"{len(failed)} of {len(results)} fixture(s) fail",
                             format_fixture_report(results).splitlines())
        return StepResult("fixtures", True, f"{len(results)} fixture(s) pass")

    def contract() -> StepResult:
        state["loaded"] = loaded = LoadedBundle.from_bundle(state["bundle"])
        state["org"] = target = connect_org(env)
        findings = check_org(loaded, target)
        if findings:
            raise StepFailed(f"the {env.name} org does not accept the bundle: "
                             f"{findings[0].reason}"
                             + (f" (and {len(findings) - 1} more)" if len(findings) > 1
                                else ""), [f.reason for f in findings])
        return StepResult("contract", True, f"the {env.name} org accepts every flow's "
                                            "contract")

    def dry_run() -> StepResult:
        return dry_run_fixtures(state["loaded"], state["org"])

    def diff() -> StepResult:
        state["admin"] = client = connect_admin(env)
        try:
            running = client.running_bundle()
        except AdminClientError as exc:
            if exc.status != 404:
                raise
            return StepResult("diff", True, f"{env.name} runs no bundle file yet: {exc}")
        with _scratch() as folder:
            (folder / "running.fbz").write_bytes(running)
            before = load_bundle(folder / "running.fbz").documents
        changes = diff_document_sets(before, state["bundle"].documents)
        if not changes:
            return StepResult("diff", True, f"the same mappings as {env.name} runs now")
        return StepResult("diff", True, f"{len(changes)} change(s) from what {env.name} runs "
                                        "now", format_diff(changes).splitlines())

    def sign() -> StepResult:
        key = signing_key(env, sign_key)
        if key is None:
            if env.require_signature:
                raise StepFailed(f"{env.name} requires a signed bundle and no signing key "
                                 f"was given (--sign-key, or the keyring's "
                                 f"{signing_key_name(env.name)})")
            state["deploy"] = data
            return StepResult("sign", True, f"not signed: {env.name} does not require it")
        state["deploy"] = signed = sign_bundle(state["bundle"], key)
        if env.public_key is not None:
            with _scratch() as folder:
                (folder / "signed.fbz").write_bytes(signed)
                verify_bundle(folder / "signed.fbz", public_key=load_public_key(env.public_key))
        promotion.deployed_sha256 = hashlib.sha256(signed).hexdigest()
        return StepResult("sign", True, f"signed by {public_key_fingerprint(key)}")

    def deploy() -> StepResult:
        client = state.get("admin") or connect_admin(env)
        try:
            answer = client.deploy(state["deploy"])
        except AdminClientError as exc:
            detail = exc.detail if isinstance(exc.detail, list) else []
            raise StepFailed(f"the {env.name} runner refused the bundle: {exc}",
                             [str(d.get("reason", d)) if isinstance(d, dict) else str(d)
                              for d in detail]) from exc
        promotion.deployed = True
        return StepResult("deploy", True, f"deployed to {env.runner}: "
                                          f"{len(answer.get('flows', []))} flow(s) running")

    for index, (name, step) in enumerate(zip(STEPS, (verify, fixtures, contract, dry_run,
                                                     diff, sign, deploy), strict=True)):
        if progress is not None:
            progress(index, name, None)
        try:
            result = step()
        except StepFailed as exc:
            result = StepResult(name, False, str(exc), exc.detail)
        except (MappingError, RunnerError, OSError) as exc:
            result = StepResult(name, False, str(exc) or type(exc).__name__)
        promotion.steps.append(result)
        if progress is not None:
            progress(index, name, result)
        if not result.ok:
            break
    append_history(workspace, promotion, who=who)
    return promotion


def sign_bundle(bundle: Bundle, key: Ed25519PrivateKey) -> bytes:
    """The bundle's bytes rebuilt from its own documents, snapshots and manifest values,
    signed with ``key`` (the same mappings; only the signature is new)."""
    m = bundle.manifest
    with _scratch() as folder:
        out = build_bundle(bundle.documents, folder / "signed.fbz",
                           stripe_catalog=bundle.stripe_schemas,
                           salesforce_catalog=bundle.salesforce_schemas, signing_key=key,
                           created_at=m["created_at"], connections=m["connections"],
                           stripe_api_version=m["stripe_api_version"],
                           salesforce_api_version=m["salesforce_api_version"])
        return out.read_bytes()


@contextmanager
def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="fieldbridge-promote-") as name:
        yield Path(name)


# --------------------------------------------------------------------------- history


def append_history(workspace: Path | str, promotion: Promotion, *, who: str | None = None,
                   when: datetime | None = None) -> dict[str, Any]:
    entry = {"when": (when or datetime.now(UTC)).isoformat(timespec="seconds"),
             "who": who or _user(), "environment": promotion.environment,
             "bundle": promotion.bundle, "sha256": promotion.sha256,
             "deployed_sha256": promotion.deployed_sha256,
             "deployed": promotion.deployed, "result": promotion.result}
    with (Path(workspace) / HISTORY_FILE).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True) + "\n")
    return entry


def read_history(workspace: Path | str) -> list[dict[str, Any]]:
    """Every promotion recorded in the workspace, oldest first (a damaged line is skipped)."""
    path = Path(workspace) / HISTORY_FILE
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out


def format_history(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return "no promotions yet"
    return "\n".join(f"{e.get('when', '?')}  {e.get('who', '?')}  -> "
                     f"{e.get('environment', '?')}  {e.get('bundle', '?')} "
                     f"({str(e.get('sha256', ''))[:12]})  {e.get('result', '?')}"
                     for e in entries)


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return "unknown"
