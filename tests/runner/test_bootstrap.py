"""runner.bootstrap: the start-up steps the commands share."""

from __future__ import annotations

from pathlib import Path

import pytest

from mappings.bundle import build_bundle
from mappings.document.yamlio import load_documents
from runner.bootstrap import apply_flow_filter, load_runner_config, load_verified_bundle
from runner.config import load_config
from runner.errors import ConfigError
from tests.runner.e2e.helpers import TEMPLATES


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    docs = [d for p, d in load_documents(TEMPLATES)
            if p.stem in ("charges-payments", "customer-account")]
    return build_bundle(docs, tmp_path_factory.mktemp("bundle") / "b.fbz")


def _config(tmp_path: Path, flows: str):
    path = tmp_path / "runner.toml"
    path.write_text(f"[flows]\n{flows}\n")
    return load_config(path, env={}, use_keyring=False)


def test_the_flow_filter_is_a_view_of_the_loaded_bundle(bundle_path, tmp_path) -> None:
    full = load_verified_bundle(bundle_path)
    config = _config(tmp_path, 'exclude = ["charge-to-payment"]')
    kept = apply_flow_filter(full, config)
    assert "charge-to-payment" not in kept.flows
    assert kept.flows_for_event("charge.succeeded") == []
    assert "charge-to-payment" in full.flows  # the loaded bundle itself is not changed
    assert set(load_verified_bundle(bundle_path, config).flows) == set(kept.flows)


def test_the_flow_filter_refuses_a_flow_the_bundle_lacks(bundle_path, tmp_path) -> None:
    config = _config(tmp_path, 'include = ["no-such-flow"]')
    with pytest.raises(ConfigError, match="no-such-flow"):
        load_verified_bundle(bundle_path, config)


@pytest.mark.parametrize(("path", "message"), [
    ("missing.fbz", "does not exist"),
    (".", "is a folder"),
])
def test_a_bundle_path_that_is_not_a_bundle_file(tmp_path, path, message) -> None:
    with pytest.raises(ConfigError, match=message):
        load_verified_bundle(tmp_path / path)


def test_command_line_values_are_checked_first() -> None:
    with pytest.raises(ConfigError, match="--listen must be HOST:PORT"):
        load_runner_config(listen="8787")
    # The same declared bounds as the file and the environment (no second check here).
    with pytest.raises(ConfigError, match="poll_interval must be from 1 to 86400 seconds, not 0"):
        load_runner_config(poll_interval=0)
