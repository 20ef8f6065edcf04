"""``fieldbridge-runner bundle ...`` on hostile input, as a subprocess with a deadline: a
runaway expression or a hostile document ends in one sentence, never a hang or a traceback
(issue 11, findings 1 and 4)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.mappings.test_bundle import _build, _rewrite
from tests.mappings.test_limits import deep_json, deep_yaml, laughs

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 60  # start-up included; the old code never returned from `bundle test`

ENDLESS_DOC = """\
format: 1
name: loops
flows:
  - name: charge-to-payment
    trigger: {stripe_events: [charge.succeeded]}
    source: {system: stripe, object: charge}
    target: {system: salesforce, object: Payment__c}
    operation: {action: upsert, external_id: StripeChargeID__c}
    fields:
      - {target: StripeChargeID__c, source: id}
      - target: Description__c
        source: description
        transforms:
          - {name: jsonata, args: {expr: '($f := function($x){ $f($x) }; $f(1))'}}
    fixtures:
      - name: paid
        input: {id: ch_1, description: hi}
        expected: {StripeChargeID__c: ch_1, Description__c: hi}
"""


def runner(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        cwd=ROOT,
    )


def assert_one_sentence(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_bundle_test_reports_a_runaway_expression_instead_of_hanging(tmp_path: Path) -> None:
    doc = tmp_path / "loops.yaml"
    doc.write_text(ENDLESS_DOC, encoding="utf-8")
    bundle = tmp_path / "loops.fbz"
    built = runner("bundle", "build", doc, "-o", bundle)
    assert built.returncode == 0, built.stderr
    done = runner("bundle", "test", bundle)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "EXPRESSION_TIMEOUT" in done.stdout
    assert "Description__c could not be computed" in done.stdout
    assert "500 ms" in done.stdout


@pytest.mark.parametrize(
    ("member", "data", "rehash"),
    [
        ("manifest.json", deep_json().encode(), False),
        ("signature.json", deep_json().encode(), False),
        ("mappings/charges.yaml", deep_yaml().encode(), True),
        ("mappings/charges.yaml", laughs().encode(), True),
    ],
    ids=["manifest", "signature", "yaml-deep", "yaml-laughs"],
)
@pytest.mark.parametrize("command", ["verify", "inspect", "test"])
def test_bundle_commands_refuse_a_hostile_member_in_one_sentence(
    tmp_path: Path, command: str, member: str, data: bytes, rehash: bool
) -> None:
    path = _build(tmp_path / "x.fbz")
    _rewrite(path, lambda members: members.__setitem__(member, data), rehash=rehash)
    assert_one_sentence(runner("bundle", command, path), "x.fbz", member, "refusing it")


@pytest.mark.parametrize(
    "text", [deep_yaml(), laughs()], ids=["100k-deep", "billion-laughs"]
)
def test_bundle_build_refuses_a_hostile_mapping_file_in_one_sentence(
    tmp_path: Path, text: str
) -> None:
    doc = tmp_path / "evil.yaml"
    doc.write_text(text, encoding="utf-8")
    done = runner("bundle", "build", doc, "-o", tmp_path / "evil.fbz")
    assert_one_sentence(done, "evil.yaml: the document", "refusing it")
    assert not (tmp_path / "evil.fbz").exists()
