"""Promotion dev -> qa on two sandbox org pairs: the bundle reaches the qa runner through its
admin API after every step passed; a promotion into an org that lacks a field the bundle
writes stops at the contract step with the reason, and nothing reaches that environment."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mappings.bundle import build_bundle, generate_signing_key, save_private_key, save_public_key
from mappings.document.yamlio import load_documents
from runner.admin.client import AdminClient
from runner.app import Runner
from runner.bootstrap import connect_salesforce, connect_stripe, load_verified_bundle
from runner.cli import main as cli_main
from runner.config import load_config
from runner.promote import STEPS, promote, read_history
from runner.state.store import StateStore
from tests.runner.e2e.helpers import TEMPLATES, sandbox_pair

pytestmark = pytest.mark.slow

ADMIN = "promote-admin-token-3c9e1f7a5b2d4e6f"


def _bundle(folder: Path, name: str, templates: list[str]) -> Path:
    docs = folder / name
    docs.mkdir(parents=True)
    for template in templates:
        shutil.copy(TEMPLATES / template, docs)
    return build_bundle([d for _, d in load_documents(docs)], folder / f"{name}.fbz")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("promote")
    with sandbox_pair(root / "dev") as dev, sandbox_pair(root / "qa") as qa, \
            sandbox_pair(root / "uat", [{"removeFields": {"Payment__c": ["Amount__c"]}}]) as uat:
        old = _bundle(root, "old", ["customer-account.yaml"])
        new = _bundle(root, "new", ["customer-account.yaml", "charges-payments.yaml"])
        config = load_config(None, env={"FIELDBRIDGE_ADMIN_TOKEN": ADMIN}, use_keyring=False,
                             sandbox_json=qa.json_path,
                             overrides={"runner.listen": "127.0.0.1:0",
                                        "runner.poll_interval": 60.0, "runner.linger": 0.0})
        store = StateStore.open(f"sqlite:///{root / 'qa-state.sqlite'}")
        runner = Runner(load_verified_bundle(old, config), config, store,
                        salesforce=connect_salesforce(config), stripe=connect_stripe(config),
                        catchup_since=int(time.time()), poll=False, finance=False)
        runner.check()
        runner.start()
        workspace = root / "workspace"
        workspace.mkdir()
        (workspace / "environments.toml").write_text(f"""format_version = 1

[environments.dev]
stripe = "default"
salesforce = "default"
runner = "http://127.0.0.1:9/dev"
sandbox = "{dev.json_path}"

[environments.qa]
stripe = "default"
salesforce = "default"
runner = "{runner.url}"
sandbox = "{qa.json_path}"

[environments.uat]
stripe = "default"
salesforce = "default"
runner = "http://127.0.0.1:9/uat"
sandbox = "{uat.json_path}"
""", encoding="utf-8")
        try:
            yield {"runner": runner, "workspace": workspace, "old": old, "new": new,
                   "root": root}
        finally:
            runner.stop()
            store.close()


def test_a_promotion_to_qa_passes_every_step_and_deploys_to_the_qa_runner(
        world, monkeypatch) -> None:
    monkeypatch.setenv("FIELDBRIDGE_ADMIN_TOKEN", ADMIN)
    runner = world["runner"]
    assert "charge-to-payment" not in runner.bundle.flows
    seen: list[str] = []
    done = promote(world["new"], world["workspace"], "qa",
                   progress=lambda i, step, result: result and seen.append(step), who="tester")
    assert done.failed is None, done.to_dict()
    assert [s.step for s in done.steps] == list(STEPS) == seen
    assert done.deployed
    assert "charge-to-payment" in runner.bundle.flows
    diff = next(s for s in done.steps if s.step == "diff")
    assert "change" in diff.summary and any("charges-payments" in line for line in diff.detail)
    # The runner now serves what was deployed.
    running = AdminClient(runner.url, ADMIN).running_bundle()
    assert running == world["new"].read_bytes()
    history = read_history(world["workspace"])
    assert history[-1]["environment"] == "qa" and history[-1]["deployed"] is True
    assert history[-1]["who"] == "tester" and len(history[-1]["sha256"]) == 64


def test_a_contract_the_target_org_fails_stops_at_step_3_and_changes_nothing(
        world, monkeypatch) -> None:
    monkeypatch.setenv("FIELDBRIDGE_ADMIN_TOKEN", ADMIN)
    asked: list[str] = []

    def admin(env: Any) -> Any:
        asked.append(env.name)
        raise AssertionError("the runner must not be reached")

    done = promote(world["new"], world["workspace"], "uat", admin=admin)
    assert not done.deployed and asked == []
    assert [s.step for s in done.steps] == ["verify", "fixtures", "contract"]
    failed = done.failed
    assert failed is not None and failed.step == "contract"
    assert "Amount__c" in failed.summary and "uat" in failed.summary
    assert read_history(world["workspace"])[-1]["result"].startswith("stopped at contract")


def test_the_cli_promotes_signs_and_shows_the_history(world, monkeypatch, capsys) -> None:
    monkeypatch.setenv("FIELDBRIDGE_ADMIN_TOKEN", ADMIN)
    key = generate_signing_key()
    save_private_key(key, world["root"] / "sign.pem")
    save_public_key(key, world["root"] / "sign.pub")
    code = cli_main(["bundle", "promote", str(world["old"]), "--to", "qa", "--workspace",
                     str(world["workspace"]), "--sign-key", str(world["root"] / "sign.pem"),
                     "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert out["deployed"] and out["deployed_sha256"] != out["sha256"]
    assert "charge-to-payment" not in world["runner"].bundle.flows
    assert cli_main(["bundle", "promote", "--history", "--workspace",
                     str(world["workspace"])]) == 0
    text = capsys.readouterr().out
    assert "-> qa" in text and "deployed" in text and "stopped at contract" in text
