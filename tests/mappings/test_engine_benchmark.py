"""The engine benchmark script runs and ends with its JSON summary (no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_engine.py"


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
