"""``fieldbridge-runner bundle ...`` on hostile input, as a subprocess with a deadline: a
runaway expression or a hostile document ends in one sentence, never a hang or a traceback
(issue 11, findings 1 and 4)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
