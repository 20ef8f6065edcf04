"""Fixtures for the end-to-end tests: the local sandboxes (one pair per module), a bundle of
templates, a state URL per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runner.e2e.helpers import build_template_bundle, write_sandbox_json


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[object]:
    from runner.sandbox.up import sandbox_up

    root = tmp_path_factory.mktemp("sandbox")
    session = sandbox_up(root / "state", reset=True)
    session.json_path = write_sandbox_json(session, root / "sandbox.json")
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="module")
def sf(sandbox):
    from runner.sandbox.salesforce.server import salesforce_client

    return salesforce_client(sandbox.salesforce)


@pytest.fixture(scope="module")
def charges_bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "charges.fbz"
    return build_template_bundle(out, ("charges-payments", "customer-account"))


@pytest.fixture
def state_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'state.sqlite'}"
