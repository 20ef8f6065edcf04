"""The engine benchmark script runs and ends with its JSON summary (no timing is asserted):
a figure for every flow of every shipped template, so none goes unmeasured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mappings.document.yamlio import load_document

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_engine.py"
TEMPLATES = Path(__file__).resolve().parents[2] / "mappings" / "templates"


@pytest.mark.slow
def test_benchmark_prints_json_summary_last() -> None:
    env = {**os.environ, "BENCH_ITERATIONS": "20"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("engine_rps", "handwritten_rps", "jsonata_rps"):
        assert isinstance(summary[key], int | float) and summary[key] > 0
    assert summary["fields"] >= 15  # a ~20-field flow
    shipped = [flow.name for path in TEMPLATES.glob("*.yaml") for flow in load_document(path).flows]
    assert sorted(summary["templates"]) == sorted(shipped)
    assert all(rate > 0 for rate in summary["templates"].values())
    assert summary["charge_template_vs_hand"] > 0
