"""Promotion without a network: the steps before the target org stop it with their reason,
the history records every attempt, and the CLI says what it needs in one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mappings.bundle import build_bundle
from mappings.document.yamlio import load_documents
from mappings.environments import EnvironmentsError
from runner.cli import main as cli_main
from runner.promote import STEPS, promote, read_history
from tests.runner.e2e.helpers import TEMPLATES

ENVIRONMENTS = """format_version = 1

[environments.dev]
stripe = "dev"
salesforce = "dev"
runner = "http://127.0.0.1:9/dev"

[environments.qa]
stripe = "qa"
salesforce = "qa"
runner = "http://127.0.0.1:9/qa"
"""


def _workspace(tmp_path: Path, *, broken_fixture: bool) -> tuple[Path, Path]:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "environments.toml").write_text(ENVIRONMENTS, encoding="utf-8")
    text = (TEMPLATES / "customer-account.yaml").read_text(encoding="utf-8")
    if broken_fixture:
        assert "          Name: Jenny Rosen\n" in text
        text = text.replace("          Name: Jenny Rosen\n", "          Name: Jenny Smith\n", 1)
    (workspace / "customer-account.yaml").write_text(text, encoding="utf-8")
    bundle = build_bundle([d for _, d in load_documents(workspace / "customer-account.yaml")],
                          tmp_path / "b.fbz")
    return workspace, bundle


def _never(env):
    raise AssertionError(f"{env.name} must not be reached")


def test_a_failing_fixture_stops_at_step_2_before_the_org_is_asked(tmp_path) -> None:
    workspace, bundle = _workspace(tmp_path, broken_fixture=True)
    seen: list[tuple[str, bool | None]] = []
    done = promote(bundle, workspace, "qa", org=_never, admin=_never, who="ana",
                   progress=lambda i, step, r: seen.append((step, None if r is None else r.ok)))
    assert [s.step for s in done.steps] == list(STEPS[:2])
    assert done.failed is not None and done.failed.step == "fixtures"
    assert "1 of" in done.failed.summary and any("Jenny" in line
                                                 for line in done.failed.detail)
    assert seen == [("verify", None), ("verify", True), ("fixtures", None),
                    ("fixtures", False)]
    entry = read_history(workspace)[-1]
    assert (entry["who"], entry["environment"], entry["deployed"]) == ("ana", "qa", False)
    assert entry["result"].startswith("stopped at fixtures: 1 of")


def test_a_damaged_bundle_stops_at_verify(tmp_path) -> None:
    workspace, bundle = _workspace(tmp_path, broken_fixture=False)
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bundle.write_bytes(bytes(data))
    done = promote(bundle, workspace, "qa", org=_never, admin=_never)
    assert [s.step for s in done.steps] == ["verify"] and not done.steps[0].ok


def test_an_unknown_environment_is_one_sentence(tmp_path) -> None:
    workspace, bundle = _workspace(tmp_path, broken_fixture=False)
    with pytest.raises(EnvironmentsError, match=r"no environment 'prod' \(environments: dev, "
                                                r"qa\)"):
        promote(bundle, workspace, "prod", org=_never, admin=_never)


def test_the_cli_history_and_its_usage_errors(tmp_path, capsys) -> None:
    workspace, bundle = _workspace(tmp_path, broken_fixture=True)
    assert cli_main(["bundle", "promote", "--history", "--workspace", str(workspace)]) == 0
    assert capsys.readouterr().out.strip() == "no promotions yet"
    assert cli_main(["bundle", "promote", str(bundle), "--to", "qa", "--workspace",
                     str(workspace)]) == 1
    out = capsys.readouterr().out
    assert "[2/7] fixtures: FAILED" in out and "not promoted: stopped at fixtures" in out
    assert cli_main(["bundle", "promote", "--history", "--json", "--workspace",
                     str(workspace)]) == 0
    assert len(json.loads(capsys.readouterr().out)["promotions"]) == 1
    assert cli_main(["bundle", "promote", "--workspace", str(workspace)]) == 1
    assert "give the bundle and the environment" in capsys.readouterr().err
