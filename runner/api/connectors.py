"""Heavy (Stripe SDK, requests, simple_salesforce): the clients, their settings and the
connection tests. The studio imports it when it first talks to an account or the sandbox.

``complete_lists(data, flow, stripe)`` fetches the rest of a payload's truncated Stripe lists
(an invoice's lines past the 10th) before a preview or a dry run maps it, as the runner does."""

from __future__ import annotations

from runner.connectors.diagnosis import check_salesforce, check_stripe, diagnose
from runner.connectors.errors import ConnectorError
from runner.connectors.salesforce import SalesforceConnector, SalesforceSettings
from runner.connectors.stripe import StripeConnector, StripeSettings
from runner.connectors.stripe_access import (
    AccessResult,
    StripeNeed,
    check_stripe_access,
    missing_sentences,
    stripe_needs,
)
from runner.connectors.stripe_lists import complete_lists

__all__ = [
    "AccessResult",
    "ConnectorError",
    "SalesforceConnector",
    "SalesforceSettings",
    "StripeConnector",
    "StripeNeed",
    "StripeSettings",
    "check_salesforce",
    "check_stripe",
    "check_stripe_access",
    "complete_lists",
    "diagnose",
    "missing_sentences",
    "stripe_needs",
]
