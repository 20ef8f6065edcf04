"""Opening the studio loads none of the sync: only the light parts of ``runner.api``.

The connectors, the runner's write path and the sandboxes (Stripe SDK, requests,
simple_salesforce, the pipeline, SQLAlchemy) are imported by the services when a user first
needs them; imported at start-up they tripled the studio's import time. A structural guard
(what is in ``sys.modules``), not a timed one, so it holds on a slow machine too.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Heavy packages the studio must not import until a connection, test run or sandbox needs them.
HEAVY = (
    "runner.pipeline",
    "runner.state",
    "runner.connectors",
    "runner.sandbox",
    "sqlalchemy",
    "alembic",
    "stripe",
    "simple_salesforce",
    "requests",
)


def _loaded_after(module: str) -> list[str]:
    # A fresh interpreter: this test process has imported the runner already.
    code = (
        "import json, sys, importlib; importlib.import_module(sys.argv[1]); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code, module], capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout)


@pytest.mark.parametrize("module", ["app.views.main_window", "app.main"])
def test_opening_the_studio_loads_none_of_the_heavy_runner(module: str) -> None:
    loaded = _loaded_after(module)
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == []
    # It still reaches the runner, through the light part of the facade.
    assert "runner.api.connections" in loaded
