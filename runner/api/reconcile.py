"""Light: payout reconciliation (gather + reconcile) and its report, for the studio's
reconcile view. Pure code, cheap at start-up; the connectors :func:`gather` takes come
from :mod:`runner.api.connectors`, imported when a reconciliation runs."""

from __future__ import annotations

from runner.finance.reconcile import PROBLEMS as RECONCILE_PROBLEMS
from runner.finance.reconcile import STATUSES as RECONCILE_STATUSES
from runner.finance.reconcile import ReconciliationReport, gather
from runner.finance.reconcile_report import LABELS as RECONCILE_LABELS
from runner.finance.reconcile_report import render_html, render_text

__all__ = [
    "RECONCILE_LABELS",
    "RECONCILE_PROBLEMS",
    "RECONCILE_STATUSES",
    "ReconciliationReport",
    "gather",
    "render_html",
    "render_text",
]
