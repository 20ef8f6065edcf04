"""Shared fixtures for the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

# GUI tests render offscreen; set before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from tests.keyrings import MemoryKeyring

ROOT = Path(__file__).resolve().parent.parent
STRIPE_FIXTURES = ROOT / "mappings" / "data" / "stripe" / "fixtures3.json"


@pytest.fixture(scope="session")
def stripe_fixtures() -> dict:
    """One example of every Stripe object (current API shape), by object name."""
    import json

    return json.loads(STRIPE_FIXTURES.read_text())["resources"]


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """An in-memory keyring for the test's duration; the previous one comes back after."""
    import keyring

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)
