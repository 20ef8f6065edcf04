"""Shared fixtures for the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

# GUI tests render offscreen; set before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

ROOT = Path(__file__).resolve().parent.parent
STRIPE_FIXTURES = ROOT / "mappings" / "data" / "stripe" / "fixtures3.json"


@pytest.fixture(scope="session")
def stripe_fixtures() -> dict:
    """One example of every Stripe object (current API shape), by object name."""
    import json

    return json.loads(STRIPE_FIXTURES.read_text())["resources"]
