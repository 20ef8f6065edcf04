"""Payout reconciliation for the studio: the runner's ``reconcile`` against chosen connections.

The runner's gather + reconcile and its report rendering, through :mod:`runner.api.reconcile`. Plain
Python and blocking: the view calls :meth:`ReconcileService.run` off the UI thread.
Connections are the studio's own (``ConnectionStore``), so the built-in "Local sandbox" pair
works with no account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from app.errors import StudioError
from app.services import Services
from app.services.connections import LOCAL_SANDBOX
from runner.api.errors import RunnerError
from runner.api.reconcile import (
    RECONCILE_LABELS,
    RECONCILE_PROBLEMS,
    RECONCILE_STATUSES,
    ReconciliationReport,
    gather,
    render_html,
    render_text,
)

__all__ = ["ReconcileRequest", "ReconcileService", "ReconcileServiceError", "period_of"]

MAX_DAYS = 366  # a year of payouts is already thousands of Stripe calls


class ReconcileServiceError(StudioError):
    """The reconciliation cannot run as asked (bad period, unknown connection, failed call)."""


def _as_date(value: date | str, what: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ReconcileServiceError(
            f"the {what} date {value!r} is not a date (use YYYY-MM-DD, e.g. 2026-01-31)"
        ) from None


def period_of(first: date | str, last: date | str) -> tuple[int, int]:
    """``[since, until)`` in unix seconds for UTC days ``first`` to ``last``, both inclusive
    (as ``fieldbridge-runner reconcile --from first --to last``)."""
    start, end = _as_date(first, "first"), _as_date(last, "last")
    if end < start:
        raise ReconcileServiceError(f"the period ends ({end}) before it starts ({start})")
    if (end - start).days >= MAX_DAYS:
        raise ReconcileServiceError(
            f"the period {start} to {end} is longer than {MAX_DAYS} days: reconcile it in parts"
        )
    since = datetime(start.year, start.month, start.day, tzinfo=UTC)
    until = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    return int(since.timestamp()), int(until.timestamp())


@dataclass(frozen=True, slots=True)
class ReconcileRequest:
    """What to reconcile: UTC days ``first`` to ``last`` (inclusive) between two connections."""

    first: date
    last: date
    stripe: str = LOCAL_SANDBOX
    salesforce: str = LOCAL_SANDBOX

    @property
    def period(self) -> tuple[int, int]:
        return period_of(self.first, self.last)

    def describe(self) -> str:
        return (f"{self.first} to {self.last}: Stripe {self.stripe!r} against Salesforce "
                f"{self.salesforce!r}")


class ReconcileService:
    """Runs the runner's reconciliation through the studio's connections."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def run(self, request: ReconcileRequest) -> ReconciliationReport:
        """Gather the period's payouts, balance transactions and Payment__c rows, reconcile.

        Blocking (network, every call with the connection's socket timeout); raises
        ReconcileServiceError naming what failed.
        """
        # Lazy: runner.api.connectors (Stripe SDK, requests) adds ~0.65 s to start-up
        from runner.api.connectors import StripeConnector

        since, until = request.period
        store = self.services.store
        for system, name in (("stripe", request.stripe), ("salesforce", request.salesforce)):
            try:
                store.get(system, name)
            except Exception as exc:
                raise ReconcileServiceError(
                    f"there is no {system.title()} connection named {name!r}"
                ) from exc
        try:
            stripe = StripeConnector(store.stripe_settings(request.stripe))
            salesforce = self.services.salesforce_connector(request.salesforce)
            return gather(stripe, salesforce, since, until).reconcile()
        except ReconcileServiceError:
            raise
        except (RunnerError, OSError) as exc:
            raise ReconcileServiceError(f"reconciling {request.describe()} failed: {exc}") \
                from exc
        except Exception as exc:  # connection settings, keyring: say which step it was
            raise ReconcileServiceError(
                f"reconciling {request.describe()} failed: {type(exc).__name__}: {exc}"
            ) from exc

    @staticmethod
    def render_html(report: ReconciliationReport, title: str = "Payout reconciliation") -> str:
        return render_html(report, title=title)

    @staticmethod
    def render_text(report: ReconciliationReport) -> str:
        return render_text(report)

    def export_html(self, report: ReconciliationReport, path: Path | str,
                    title: str = "Payout reconciliation") -> Path:
        """Write the self-contained HTML report; ReconcileServiceError if it cannot."""
        path = Path(path)
        if path.is_dir():
            raise ReconcileServiceError(f"{path} is a folder: give a file name for the report")
        if not path.parent.is_dir():
            raise ReconcileServiceError(f"cannot write {path}: the folder {path.parent} "
                                        "does not exist")
        try:
            path.write_text(self.render_html(report, title), encoding="utf-8")
        except OSError as exc:
            raise ReconcileServiceError(f"cannot write {path}: {exc.strerror or exc}") from exc
        return path


# The status labels people read (the HTML report's words).
def status_label(status: str) -> str:
    return RECONCILE_LABELS.get(status, status.replace("_", " "))


def statuses() -> tuple[str, ...]:
    return RECONCILE_STATUSES


def problem_statuses() -> tuple[str, ...]:
    return tuple(RECONCILE_PROBLEMS)
