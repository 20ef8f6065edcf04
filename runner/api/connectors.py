"""Heavy (Stripe SDK, requests, simple_salesforce): the clients, their settings and the
connection tests. The studio imports it when it first talks to an account or the sandbox."""

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
    "diagnose",
    "missing_sentences",
    "stripe_needs",
]
