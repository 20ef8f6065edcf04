"""docs/limits.md quotes the constants and settings it names, with their current values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mappings import limits
from mappings.bundle import reader
from runner import app
from runner.admin import auth
from runner.ingest.http_server import HttpLimits
from runner.ingest.webhook_server import MAX_BODY
from runner.pipeline import children
from runner.settings import SETTINGS

DOC = (Path(__file__).resolve().parent.parent / "docs" / "limits.md").read_text()
HTTP = HttpLimits()
DEFAULTS = {setting.name: setting.default for setting in SETTINGS}


def _row(where: str) -> str:
    """The table row whose last cell names ``where``."""
    for line in DOC.splitlines():
        if line.startswith("|") and f"`{where}`" in line:
            return line
    raise AssertionError(f"docs/limits.md has no row for {where}")


def _figures(row: str) -> set[int]:
    return {int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", row)}


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("runner.ingest.webhook_server.MAX_BODY", MAX_BODY),
        ("HttpLimits.max_connections", HTTP.max_connections),
        ("HttpLimits.backlog", HTTP.backlog),
        ("HttpLimits.max_header_bytes", HTTP.max_header_bytes),
        ("HttpLimits.header_timeout", HTTP.header_timeout),
        ("HttpLimits.body_timeout", HTTP.body_timeout),
        ("HttpLimits.handler_timeout", HTTP.handler_timeout),
        ("HttpLimits.keep_alive", HTTP.keep_alive),
        ("HttpLimits.workers", HTTP.workers),
        ("runner.admin.auth.MIN_TOKEN_LENGTH", auth.MIN_TOKEN_LENGTH),
        ("mappings.limits.EXPRESSION_TIMEOUT_MS", limits.EXPRESSION_TIMEOUT_MS),
        ("mappings.limits.EXPRESSION_MAX_DEPTH", limits.EXPRESSION_MAX_DEPTH),
        ("mappings.limits.CHILD_RECORDS_MAX", limits.CHILD_RECORDS_MAX),
        ("runner.pipeline.children.MAX_NODES", children.MAX_NODES),
        ("runner.pipeline.children.MAX_GRAPHS", children.MAX_GRAPHS),
        ("mappings.limits.DOCUMENT_MAX_DEPTH", limits.DOCUMENT_MAX_DEPTH),
        ("mappings.limits.DOCUMENT_MAX_NODES", limits.DOCUMENT_MAX_NODES),
        ("mappings.limits.YAML_MAX_ALIASES", limits.YAML_MAX_ALIASES),
        ("mappings.limits.YAML_MAX_BYTES", limits.YAML_MAX_BYTES),
        ("mappings.bundle.reader.MAX_BUNDLE_BYTES", reader.MAX_BUNDLE_BYTES),
        ("mappings.bundle.reader.MAX_MEMBER_BYTES", reader.MAX_MEMBER_BYTES),
        ("mappings.bundle.reader.MAX_TOTAL_BYTES", reader.MAX_TOTAL_BYTES),
        ("mappings.bundle.reader.MAX_MEMBERS", reader.MAX_MEMBERS),
        ("mappings.bundle.reader.MAX_RATIO", reader.MAX_RATIO),
        ("runner.app.SHUTDOWN_GRACE", app.SHUTDOWN_GRACE),
        ("setting `runner.startup_wait", DEFAULTS["runner.startup_wait"]),
        ("setting `runner.stall_after", DEFAULTS["runner.stall_after"]),
    ],
)
def test_the_page_quotes_the_value_in_force(where: str, value: float) -> None:
    row = _row(where.removeprefix("setting `"))
    assert int(value) == value, f"{where} is not a whole number; quote it another way"
    assert int(value) in _figures(row), f"docs/limits.md says {row!r}, the code {value}"


def test_the_admin_rate_limit_row_quotes_both_figures() -> None:
    row = _row("runner.admin.auth.MAX_FAILURES")
    assert {auth.MAX_FAILURES, int(auth.FAILURE_WINDOW)} <= _figures(row)
