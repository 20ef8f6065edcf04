"""Fixtures shared by the runner's tests.

Here rather than in ``tests/conftest.py``: the state store pulls in SQLAlchemy and Alembic,
which the mapping and studio test sessions should not pay for at start-up.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runner.state.store import StateStore
from runner.state.testing import memory_store as new_memory_store


@pytest.fixture
def memory_store() -> Iterator[StateStore]:
    """The real state store on a private in-memory database (see runner.state.testing)."""
    store = new_memory_store()
    try:
        yield store
    finally:
        store.close()
