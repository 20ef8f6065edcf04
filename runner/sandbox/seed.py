"""``--seed demo``: a small, coherent company on both sides of the integration.

Six Stripe customers with cards, succeeded and declined charges, a partial refund and two
subscriptions on one monthly plan; in Salesforce, Accounts and Contacts for most of the same
customers (some linked by ``StripeCustomerID__c``, some only by a matching email, one not at
all), a Salesforce-only prospect, and open and Closed Won Opportunities. That spread is what
the matching and sync flows need to show something.

Names, emails and amounts are fixed; Stripe ids are whatever the sandbox hands out. Seeding
twice does not duplicate anything: customers are found by email, Salesforce records by name
or email, and only what is missing is created.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import stripe as stripe_sdk

from runner.errors import SandboxError
from runner.sandbox.stripe_sandbox import StripeSandbox

if TYPE_CHECKING:
    from simple_salesforce import Salesforce, SFType

log = logging.getLogger(__name__)

CURRENCY = "usd"
PLAN_ID = "fieldbridge-pro-monthly"
PLAN_AMOUNT = 4900
PRODUCT_NAME = "Fieldbridge Pro"

CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000341"  # attaches fine, every charge is declined

# How a customer appears in Salesforce: linked by Stripe id, only by a matching contact
# email, or absent.
LINK_ID = "stripe_id"
LINK_EMAIL = "email"
LINK_NONE = None


@dataclass(frozen=True)
class DemoOpportunity:
    name: str
    amount: float
    stage: str
    close_in_days: int  # from today; negative for deals already won


@dataclass(frozen=True)
class DemoCustomer:
    company: str
    first_name: str
    last_name: str
    email: str
    card: str = CARD_OK
    charges: tuple[int, ...] = ()  # amounts in cents
    refund: int = 0  # cents refunded from the first charge
    subscribe: bool = False
    salesforce: str | None = LINK_NONE
    opportunities: tuple[DemoOpportunity, ...] = ()


WON = "Closed Won"

DEMO_CUSTOMERS: tuple[DemoCustomer, ...] = (
    DemoCustomer(
        "Acme Robotics", "Ada", "Moreno", "ada.moreno@acme-robotics.example",
        charges=(12000, 4500), subscribe=True, salesforce=LINK_ID,
        opportunities=(DemoOpportunity("Acme Robotics - Pro plan", 588.0, WON, -40),),
    ),
    DemoCustomer(
        "Brightwater Labs", "Grace", "Okafor", "grace.okafor@brightwater.example",
        charges=(25000,), refund=5000, salesforce=LINK_ID,
        opportunities=(
            DemoOpportunity("Brightwater Labs - Onboarding", 250.0, WON, -20),
            DemoOpportunity("Brightwater Labs - Expansion", 1200.0, "Proposal/Price Quote", 30),
        ),
    ),
    DemoCustomer(
        "Cobalt Freight", "Linus", "Berg", "linus.berg@cobalt-freight.example",
        card=CARD_DECLINED, charges=(9900,), salesforce=LINK_EMAIL,
        opportunities=(DemoOpportunity("Cobalt Freight - Starter", 99.0, "Prospecting", 45),),
    ),
    DemoCustomer(
        "Dunmore Bakery", "Barbara", "Quinn", "barbara.quinn@dunmore-bakery.example",
        charges=(3200,), subscribe=True, salesforce=LINK_EMAIL,
        opportunities=(DemoOpportunity("Dunmore Bakery - Pro plan", 588.0, WON, -10),),
    ),
    DemoCustomer(
        "Everly Studio", "Katherine", "Ngata", "katherine.ngata@everly-studio.example",
        charges=(7800,), salesforce=LINK_NONE,
    ),
    DemoCustomer(
        "Foxglove Health", "Margaret", "Ilunga", "margaret.ilunga@foxglove-health.example",
        salesforce=LINK_ID,
        opportunities=(
            DemoOpportunity("Foxglove Health - Pilot", 3000.0, "Needs Analysis", 60),
        ),
    ),
)

# In Salesforce only: a prospect the sales team works that has never paid through Stripe.
SALESFORCE_ONLY = DemoCustomer(
    "Granite Partners", "Hedy", "Lamarr-Cole", "hedy.cole@granite-partners.example",
    salesforce=LINK_NONE,
    opportunities=(DemoOpportunity("Granite Partners - Evaluation", 1500.0, "Qualification", 21),),
)


@dataclass
class SeedSummary:
    """What the demo seed holds (found or created), for the command's output and tests."""

    stripe_customers: dict[str, str] = field(default_factory=dict)  # email -> cus_ id
    charges_succeeded: int = 0
    charges_failed: int = 0
    refunds: int = 0
    subscriptions: int = 0
    plan_id: str = PLAN_ID
    salesforce_accounts: dict[str, str] = field(default_factory=dict)  # name -> Account Id
    salesforce_contacts: dict[str, str] = field(default_factory=dict)  # email -> Contact Id
    opportunities_open: int = 0
    opportunities_won: int = 0
    created: int = 0  # records created by this run (0 when everything was already there)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def seed_demo(stripe: StripeSandbox, sf: Salesforce | None) -> SeedSummary:
    """Fill the Stripe sandbox (and the Salesforce org, if given) with the demo company."""
    summary = SeedSummary()
    client = stripe.client()
    try:
        _seed_stripe(client, summary)
    except stripe_sdk.StripeError as exc:
        raise SandboxError("seeding the Stripe sandbox failed") from exc
    if sf is not None:
        _seed_salesforce(sf, summary)
    log.info(
        "demo seed: %d Stripe customers, %d Salesforce accounts, %d records created",
        len(summary.stripe_customers), len(summary.salesforce_accounts), summary.created,
    )
    return summary


# --- Stripe ---------------------------------------------------------------------------------


def _ensure_plan(client: stripe_sdk.StripeClient, summary: SeedSummary) -> None:
    try:
        client.v1.plans.retrieve(PLAN_ID)
        return
    except stripe_sdk.InvalidRequestError as exc:
        if exc.http_status != 404:
            raise
    product = client.v1.products.create(params={"name": PRODUCT_NAME})
    client.v1.plans.create(params={
        "id": PLAN_ID, "amount": PLAN_AMOUNT, "currency": CURRENCY, "interval": "month",
        "product": product.id, "nickname": "Pro monthly",
    })
    summary.created += 2


def _seed_stripe(client: stripe_sdk.StripeClient, summary: SeedSummary) -> None:
    _ensure_plan(client, summary)
    for demo in DEMO_CUSTOMERS:
        existing = client.v1.customers.list(params={"email": demo.email, "limit": 1}).data
        customer = existing[0] if existing else _create_stripe_customer(client, demo, summary)
        summary.stripe_customers[demo.email] = customer.id
        _count_stripe_activity(client, customer.id, summary)


def _create_stripe_customer(
    client: stripe_sdk.StripeClient, demo: DemoCustomer, summary: SeedSummary
) -> Any:
    customer = client.v1.customers.create(params={
        "email": demo.email,
        "name": f"{demo.first_name} {demo.last_name}",
        "description": demo.company,
        "metadata": {"company": demo.company},
    })
    pm = client.v1.payment_methods.create(params={
        "type": "card",
        "card": {"number": demo.card, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
    })
    client.v1.payment_methods.attach(pm.id, params={"customer": customer.id})
    client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": pm.id}}
    )
    summary.created += 2
    first_charge = None
    for n, amount in enumerate(demo.charges, start=1):
        try:
            charge = client.v1.charges.create(params={
                "amount": amount, "currency": CURRENCY, "customer": customer.id,
                "description": f"{demo.company} order {n}",
            })
        except stripe_sdk.CardError:
            charge = None  # the sandbox keeps the failed charge; counted below
        summary.created += 1
        first_charge = first_charge or charge
    if demo.refund and first_charge is not None:
        client.v1.refunds.create(params={"charge": first_charge.id, "amount": demo.refund})
        summary.created += 1
    if demo.subscribe:
        client.v1.subscriptions.create(
            params={"customer": customer.id, "items": [{"plan": PLAN_ID}]}
        )
        summary.created += 1
    return customer


def _count_stripe_activity(client: stripe_sdk.StripeClient, customer_id: str,
                           summary: SeedSummary) -> None:
    charges = client.v1.charges.list(params={"customer": customer_id, "limit": 100})
    for charge in charges.auto_paging_iter():
        if charge.status == "succeeded":
            summary.charges_succeeded += 1
            summary.refunds += len(charge.refunds.data) if charge.refunds else 0
        elif charge.status == "failed":
            summary.charges_failed += 1
    subs = client.v1.subscriptions.list(params={"customer": customer_id, "limit": 100}).data
    summary.subscriptions += sum(1 for s in subs if s.status == "active")


# --- Salesforce -----------------------------------------------------------------------------


def _soql_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _find_id(sf: Salesforce, sobject: str, field_name: str, value: str) -> str | None:
    result = sf.query(
        f"SELECT Id FROM {sobject} WHERE {field_name} = {_soql_literal(value)} LIMIT 1"
    )
    records = result.get("records") or []
    return records[0]["Id"] if records else None


def _sobject(sf: Salesforce, name: str) -> SFType:
    """``sf.<name>``, typed: an sObject's REST resource (``sf.bulk`` would be another type)."""
    from simple_salesforce import SFType

    resource = getattr(sf, name)
    assert isinstance(resource, SFType)
    return resource


def _seed_salesforce(sf: Salesforce, summary: SeedSummary) -> None:
    from simple_salesforce.exceptions import SalesforceError

    people = [d for d in DEMO_CUSTOMERS if d.salesforce is not LINK_NONE] + [SALESFORCE_ONLY]
    today = dt.date.today()
    try:
        for demo in people:
            account_id = _ensure_account(sf, demo, summary)
            contact_id = _find_id(sf, "Contact", "Email", demo.email)
            if contact_id is None:
                contact_id = _sobject(sf, "Contact").create({
                    "FirstName": demo.first_name, "LastName": demo.last_name,
                    "Email": demo.email, "AccountId": account_id,
                })["id"]
                summary.created += 1
            summary.salesforce_contacts[demo.email] = contact_id
            for opp in demo.opportunities:
                if _find_id(sf, "Opportunity", "Name", opp.name) is None:
                    _sobject(sf, "Opportunity").create({
                        "Name": opp.name, "AccountId": account_id, "Amount": opp.amount,
                        "StageName": opp.stage,
                        "CloseDate": (today + dt.timedelta(days=opp.close_in_days)).isoformat(),
                    })
                    summary.created += 1
                if opp.stage == WON:
                    summary.opportunities_won += 1
                else:
                    summary.opportunities_open += 1
    except SalesforceError as exc:
        raise SandboxError("seeding the Salesforce emulator failed") from exc


def _ensure_account(sf: Salesforce, demo: DemoCustomer, summary: SeedSummary) -> str:
    fields: dict[str, Any] = {"Name": demo.company}
    if demo.salesforce == LINK_ID:
        fields["StripeCustomerID__c"] = summary.stripe_customers[demo.email]
    account_id = _find_id(sf, "Account", "Name", demo.company)
    if account_id is None:
        account_id = _sobject(sf, "Account").create(fields)["id"]
        summary.created += 1
    elif demo.salesforce == LINK_ID:
        # The Stripe side may have been reset since: keep the link pointing at today's id.
        _sobject(sf, "Account").update(account_id, {"StripeCustomerID__c": fields["StripeCustomerID__c"]})
    summary.salesforce_accounts[demo.company] = account_id
    return account_id
