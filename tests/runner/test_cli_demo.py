"""``fieldbridge-runner demo`` end to end, as a new user runs it: a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_demo_shows_both_sides_and_exits_cleanly(tmp_path: Path) -> None:
    state_dir = tmp_path / "demo-state"
    proc = subprocess.run(
        [sys.executable, "-m", "runner.cli", "demo", "--state-dir", str(state_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("FIELDBRIDGE_")})
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "Traceback" not in proc.stderr
    for heading in ("Payment__c rows for the charges", "Accounts for the Stripe customers",
                    "Contacts for the Stripe customers",
                    "Cases for the dispute and the fraud warning", "the Payout__c",
                    "the Subscription_Contract__c", "a Stripe customer for the new Account",
                    "Summary"):
        assert heading in out
    assert "MISSING" not in out
    received = int(re.search(r"events received\s+(\d+)", out).group(1))
    written = int(re.search(r"records written\s+(\d+)", out).group(1))
    assert received >= 10 and written >= 10
    assert re.search(r"metadata\.salesforceid", out)
    # Nothing left running: the sandboxes' processes all mention the state directory.
    deadline = time.monotonic() + 10
    while _processes_mentioning(str(state_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_mentioning(str(state_dir)) == []
