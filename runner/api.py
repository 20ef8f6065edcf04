"""The runner as the studio sees it: the only ``runner`` module that ``app`` imports.

An import-linter contract in ``pyproject.toml`` holds the studio to this; what it needs from
the runner is added here, as a re-export, and nowhere else. Kept a plain list of imports and
``__all__`` so that additions merge without effort.
"""

from __future__ import annotations

from runner.connections import (
    PRODUCTION_LOGIN,
    SANDBOX_LOGIN,
    is_sandbox_login,
    stripe_key_mode,
)
from runner.connectors.diagnosis import (
    ConnectionCheck,
    check_salesforce,
    check_stripe,
    diagnose,
)
from runner.connectors.errors import ConnectorError
from runner.connectors.salesforce import SalesforceConnector, SalesforceSettings
from runner.connectors.stripe import StripeConnector, StripeSettings
from runner.errors import ConfigError, FatalSyncError, RunnerError
from runner.finance.reconcile import PROBLEMS as RECONCILE_PROBLEMS
from runner.finance.reconcile import STATUSES as RECONCILE_STATUSES
from runner.finance.reconcile import ReconciliationReport, gather
from runner.finance.reconcile_report import LABELS as RECONCILE_LABELS
from runner.finance.reconcile_report import render_html, render_text
from runner.pipeline.outcomes import TaskOutcome
from runner.pipeline.writer import MemoryLedger, PlannedWrite, SalesforceWriter, WriteItem
from runner.sandbox.up import SandboxSession, sandbox_up
from runner.secrets import (
    KEYRING_SERVICE,
    delete_keyring_secret,
    keyring_secret,
    keyring_username,
    set_keyring_secret,
)

__all__ = [
    "KEYRING_SERVICE",
    "PRODUCTION_LOGIN",
    "RECONCILE_LABELS",
    "RECONCILE_PROBLEMS",
    "RECONCILE_STATUSES",
    "SANDBOX_LOGIN",
    "ConfigError",
    "ConnectionCheck",
    "ConnectorError",
    "FatalSyncError",
    "MemoryLedger",
    "PlannedWrite",
    "ReconciliationReport",
    "RunnerError",
    "SalesforceConnector",
    "SalesforceSettings",
    "SalesforceWriter",
    "SandboxSession",
    "StripeConnector",
    "StripeSettings",
    "TaskOutcome",
    "WriteItem",
    "check_salesforce",
    "check_stripe",
    "delete_keyring_secret",
    "diagnose",
    "gather",
    "is_sandbox_login",
    "keyring_secret",
    "keyring_username",
    "render_html",
    "render_text",
    "sandbox_up",
    "set_keyring_secret",
    "stripe_key_mode",
]
