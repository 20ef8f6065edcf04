"""How events get into the runner: the webhook server and the Stripe events catch-up."""

from __future__ import annotations

from runner.ingest.catchup import CatchUpReport, catch_up, catch_up_report, cursor_age_days
from runner.ingest.health import store_health
from runner.ingest.webhook_server import WebhookServer

__all__ = ["CatchUpReport", "WebhookServer", "catch_up", "catch_up_report", "cursor_age_days",
           "store_health"]
