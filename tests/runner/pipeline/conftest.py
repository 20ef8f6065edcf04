"""Fixtures for the pipeline tests: the local sandboxes, connectors and a state store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mappings.document.yamlio import load_documents
from mappings.schema.org_metadata import load_salesforce_catalog
from mappings.schema.stripe_catalog import load_stripe_catalog
from runner.connectors.salesforce import SalesforceConnector, SalesforceSettings
from runner.connectors.stripe import StripeConnector, StripeSettings
from runner.pipeline.bundle_runtime import LoadedBundle
from runner.sandbox.up import sandbox_up
from runner.state.store import StateStore

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "mappings" / "templates"


def template_documents() -> list:
    return [doc for _, doc in load_documents(TEMPLATES)]


def load_templates(documents: list | None = None) -> LoadedBundle:
    return LoadedBundle.from_documents(documents or template_documents(),
                                       load_salesforce_catalog(), load_stripe_catalog())


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    session = sandbox_up(state_dir=tmp_path_factory.mktemp("sandbox"), reset=True)
    try:
        yield session
    finally:
        session.stop()


def salesforce_connector(sandbox: object) -> SalesforceConnector:
    handle = sandbox.salesforce  # type: ignore[attr-defined]
    settings = SalesforceSettings(
        login_url=handle.login_url, auth="password", username=handle.username,
        password=handle.password, security_token=handle.security_token,
        consumer_key=handle.consumer_key, client_secret=handle.consumer_secret,
        ca_file=str(handle.ca_file), api_version=handle.api_version)
    connector = SalesforceConnector(settings)
    connector.connect()
    return connector


def stripe_connector(sandbox: object) -> StripeConnector:
    stripe = sandbox.stripe  # type: ignore[attr-defined]
    return StripeConnector(StripeSettings(api_key=stripe.api_key, api_base=stripe.api_base,
                                          webhook_secrets=[stripe.webhook_secret],
                                          flavor="localstripe"))


@pytest.fixture(scope="module")
def salesforce(sandbox: object) -> SalesforceConnector:
    return salesforce_connector(sandbox)


@pytest.fixture(scope="module")
def stripe(sandbox: object) -> StripeConnector:
    return stripe_connector(sandbox)


@pytest.fixture(scope="module")
def bundle() -> LoadedBundle:
    return load_templates()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    with StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}") as opened:
        yield opened


def create_plan(sandbox: object, plan_id: str) -> str:
    """A monthly Plan in the Stripe sandbox (localstripe has Plans, not Prices)."""
    client = sandbox.stripe.client()  # type: ignore[attr-defined]
    product = client.v1.products.create(params={"name": f"Product of {plan_id}"})
    client.v1.plans.create(params={"id": plan_id, "amount": 1500, "currency": "usd",
                                   "interval": "month", "product": product.id,
                                   "nickname": "Pro monthly"})
    return plan_id


def create_subscription(sandbox: object, plan_id: str, email: str) -> str:
    """A paying customer subscribed to ``plan_id``; returns the subscription id."""
    client = sandbox.stripe.client()  # type: ignore[attr-defined]
    customer = client.v1.customers.create(params={"email": email})
    pm = client.v1.payment_methods.create(params={
        "type": "card",
        "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
    })
    client.v1.payment_methods.attach(pm.id, params={"customer": customer.id})
    client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": pm.id}})
    sub = client.v1.subscriptions.create(params={"customer": customer.id,
                                                 "items": [{"plan": plan_id}]})
    return sub.id
