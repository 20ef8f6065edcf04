"""``fieldbridge-runner demo``: the whole product on one machine, offline, in under a minute.

1. start the local sandboxes (Stripe and the Salesforce org emulator) with the demo seed;
2. build a bundle of every template and start a :class:`~runner.app.Runner` against them on
   a free loopback port, with its own SQLite state (it registers its webhook with the
   Stripe sandbox itself);
3. make Stripe activity with the stripe SDK (customers, paid and declined charges, a refund,
   a subscription, products with prices and a paid invoice of three of them) and deliver signed events for what the sandbox cannot emit (a dispute,
   an early fraud warning, a payout);
4. make Salesforce activity as a person (not the integration user): a new Account, and an
   Opportunity moved to Closed Won;
5. wait until the records appear on both sides, print them, print a summary, stop.

Everything runs in this process except localstripe (a child process that the sandbox
session stops); nothing is left running afterwards unless ``--keep-running``.
"""

from __future__ import annotations

import logging
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import stripe as stripe_sdk

import mappings
from mappings.bundle import build_bundle
from mappings.document.yamlio import load_documents
from runner.app import Runner
from runner.bootstrap import connect_salesforce, connect_stripe, load_verified_bundle, open_store
from runner.config import load_config
from runner.errors import SandboxError
from runner.metrics import Metrics
from runner.sandbox.salesforce.server import salesforce_client
from runner.sandbox.seed import PLAN_ID
from runner.sandbox.stripe_events import deliver, make_event
from runner.sandbox.up import sandbox_up
from runner.state import DeadLetterStatus

log = logging.getLogger(__name__)

WAIT_SECONDS = 40.0
POLL_INTERVAL = 1.0
CATCHUP_INTERVAL = 5.0
PERSON = "admin@fieldbridge.test"  # a person in the emulated org, not the integration user
DEMO_COMPANY = "Juniper Analytics"
DEMO_EMAIL = "ines.duarte@juniper-analytics.example"
DECLINED_EMAIL = "otto.veld@quarry-supply.example"
SF_ACCOUNT = "Harbor Lights Co"
SF_OPPORTUNITY = "Granite Partners - Annual plan"
CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000341"


def templates_dir() -> Path:
    return Path(mappings.__file__).resolve().parent / "templates"


@dataclass
class Expectation:
    """One thing the demo waits for: ``check()`` returns the rows once it holds."""

    name: str
    check: Callable[[], list[dict[str, Any]] | None]
    rows: list[dict[str, Any]] | None = None

    @property
    def met(self) -> bool:
        return bool(self.rows)


@dataclass
class DemoReport:
    expectations: list[Expectation] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def missing(self) -> list[str]:
        return [e.name for e in self.expectations if not e.met]


class Demo:
    """One demo run; ``run()`` returns the process exit code."""

    def __init__(self, state_dir: Path | None = None, *, keep_running: bool = False,
                 out: IO[str] | None = None, wait_seconds: float = WAIT_SECONDS) -> None:
        self.given_state_dir = state_dir
        self.keep_running = keep_running
        self.out = out
        self.wait_seconds = wait_seconds
        self.report = DemoReport()
        self.session: Any = None
        self.runner: Any = None
        self.store: Any = None
        self.sf: Any = None  # simple_salesforce client as the integration user (for reading)
        self.ids: dict[str, Any] = {}
        self._stop = threading.Event()

    # -- output -------------------------------------------------------------------------
    def say(self, text: str = "") -> None:
        print(text, file=self.out or sys.stdout, flush=True)

    # -- the run ------------------------------------------------------------------------
    def run(self) -> int:
        started = time.monotonic()
        temp = self.given_state_dir is None
        if self.given_state_dir is None:
            root = Path(tempfile.mkdtemp(prefix="fieldbridge-demo-"))
        else:
            root = self.given_state_dir.expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        try:
            self._start(root)
            self._stripe_activity()
            self._salesforce_activity()
            self._wait()
            self._show()
            self._summary(time.monotonic() - started)
            if self.keep_running:
                self._hold()
        finally:
            self._shutdown()
            if temp and not self.keep_running:
                shutil.rmtree(root, ignore_errors=True)
        if self.report.missing:
            self.say(f"Demo incomplete: {', '.join(self.report.missing)} did not arrive "
                     f"within {self.wait_seconds:g} s (see the log above).")
            return 1
        return 0

    def _start(self, root: Path) -> None:
        self.say("Fieldbridge demo: Stripe <-> Salesforce on local sandboxes, offline.")
        self.say("1/5 starting the Stripe sandbox and the Salesforce org emulator ...")
        self.session = sandbox_up(root / "sandbox", seed="demo", reset=True)
        self.sf = salesforce_client(self.session.salesforce)

        self.say("2/5 building the template bundle and starting the runner ...")
        docs = [doc for _, doc in load_documents(templates_dir())]
        bundle_path = build_bundle(docs, root / "templates.fbz")
        state_url = f"sqlite:///{root / 'runner-state.sqlite'}"
        config = load_config(
            None, env={}, use_keyring=False, sandbox_json=self.session.to_dict(),
            overrides={"runner.listen": "127.0.0.1:0", "runner.state_url": state_url,
                       "runner.poll_interval": POLL_INTERVAL,
                       "runner.catchup_interval": CATCHUP_INTERVAL,
                       "runner.worker_id": "demo"})
        loaded = load_verified_bundle(bundle_path, config)
        stripe = connect_stripe(config)
        salesforce = connect_salesforce(config)
        self.store = open_store(config)
        self.runner = Runner(loaded, config, self.store, salesforce=salesforce, stripe=stripe,
                             metrics=Metrics(), register_webhook=True,
                             catchup_since=int(time.time()))
        self.runner.check()
        self.runner.start()
        self.ids["api_calls_at_start"] = salesforce.api_calls
        self.say(f"    {len(loaded.flows)} flows from {len(docs)} templates; webhooks at "
                 f"{self.runner.webhook_url}")

    # -- activity -----------------------------------------------------------------------
    def _stripe_activity(self) -> None:
        self.say("3/5 Stripe activity: customers, charges (paid and declined), a refund, a "
                 "subscription, a paid invoice of three products; a dispute, a fraud warning and a payout as signed events ...")
        client = self.session.stripe.client()
        good = self._customer(client, "Ines Duarte", DEMO_EMAIL, DEMO_COMPANY, CARD_OK)
        bad = self._customer(client, "Otto Veld", DECLINED_EMAIL, "Quarry Supply",
                             CARD_DECLINED)
        self.ids["customers"] = [good, bad]
        paid = []
        for n, amount in enumerate((12900, 4500), start=1):
            charge = client.v1.charges.create(params={
                "amount": amount, "currency": "usd", "customer": good,
                "description": f"{DEMO_COMPANY} order {n}"})
            paid.append(charge.id)
        try:
            client.v1.charges.create(params={"amount": 9900, "currency": "usd",
                                             "customer": bad,
                                             "description": "Quarry Supply order 1"})
            raise SandboxError("the declined test card was charged; the sandbox changed")
        except stripe_sdk.CardError:
            pass
        failed = [c.id for c in client.v1.charges.list(params={"customer": bad}).data]
        client.v1.refunds.create(params={"charge": paid[1]})
        sub = client.v1.subscriptions.create(
            params={"customer": good, "items": [{"price": PLAN_ID}]})
        self.ids.update(paid=paid, failed=failed, refunded=paid[1], subscription=sub.id)
        self.ids["invoice"] = self._invoice(client, good)

        url, secret = self.runner.webhook_url, self.session.stripe.webhook_secret
        dispute = make_event("charge.dispute.created",
                             overrides={"charge": paid[0], "reason": "fraudulent",
                                        "amount": 12900, "currency": "usd"})
        warning = make_event("radar.early_fraud_warning.created",
                             overrides={"charge": paid[0], "fraud_type": "card_never_received"})
        payout = make_event("payout.paid", overrides={"amount": 12650, "currency": "usd",
                                                      "description": "STRIPE PAYOUT"})
        for event in (dispute, warning, payout):
            resp = deliver(url, event, secret)
            if resp.status_code != 200:
                raise SandboxError(f"the runner refused the {event['type']} event: HTTP "
                                   f"{resp.status_code} {resp.text[:200]}")
        self.ids.update(dispute=dispute["data"]["object"]["id"],
                        warning=warning["data"]["object"]["id"],
                        payout=payout["data"]["object"]["id"])

    @staticmethod
    def _invoice(client: Any, customer: str) -> str:
        """A paid invoice of three lines, priced from products the runner syncs first to
        Product2 and the standard price book (the products-prices template): it becomes an
        Order with three OrderItems (invoices-orders)."""
        prices = []
        for name, amount in (("Analytics seats", 2500), ("Support plan", 9900),
                             ("Onboarding", 15000)):
            product = client.v1.products.create(params={"name": name})
            prices.append(client.v1.prices.create(params={
                "product": product.id, "unit_amount": amount, "currency": "usd"}).id)
        invoice = client.v1.invoices.create(params={
            "customer": customer, "pending_invoice_items_behavior": "exclude"})
        for n, price in enumerate(prices, start=1):
            client.v1.invoice_items.create(params={
                "customer": customer, "invoice": invoice.id, "price": price, "quantity": n})
        client.v1.invoices.finalize_invoice(invoice.id)
        client.v1.invoices.pay(invoice.id)
        return str(invoice.id)

    @staticmethod
    def _customer(client: Any, name: str, email: str, company: str, card: str) -> str:
        customer = client.v1.customers.create(params={
            "name": name, "email": email, "description": company,
            "metadata": {"company": company}})
        pm = client.v1.payment_methods.create(params={
            "type": "card",
            "card": {"number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
        client.v1.payment_methods.attach(pm.id, params={"customer": customer.id})
        client.v1.customers.update(
            customer.id, params={"invoice_settings": {"default_payment_method": pm.id}})
        return customer.id

    def _salesforce_activity(self) -> None:
        self.say(f"4/5 Salesforce activity as {PERSON}: a new Account, and an Opportunity "
                 "moved to Closed Won ...")
        handle = self.session.salesforce
        person = salesforce_client(handle, access_token=handle.new_token(PERSON))
        account = person.Account.create({"Name": SF_ACCOUNT, "Phone": "+1 206 555 0142",
                                         "BillingCity": "Seattle", "BillingCountry": "US"})
        prospect = self._one("SELECT Id FROM Account WHERE Name = 'Granite Partners'")
        opp = person.Opportunity.create({
            "Name": SF_OPPORTUNITY, "AccountId": (prospect or {}).get("Id") or account["id"],
            "StageName": "Negotiation/Review", "Amount": 588.0,
            "CloseDate": time.strftime("%Y-%m-%d"), "StripePriceID__c": PLAN_ID})
        self.ids.update(account=account["id"], opportunity=opp["id"])
        # The poller must see the Opportunity before the stage change, so that it is a
        # change to Closed Won ("becomes") and not a record first seen won.
        self._until(lambda: self.runner.stats.polls >= 2 and self._polled_since(opp["id"]),
                    10.0)
        person.Opportunity.update(opp["id"], {"StageName": "Closed Won"})

    def _polled_since(self, record_id: str) -> bool:
        return any(self.store.snapshot_get(c.name, record_id) is not None
                   for c in self.runner.bundle.salesforce_flows) or \
            self.runner.stats.polls >= 4

    # -- waiting and showing ------------------------------------------------------------
    def _expectations(self) -> list[Expectation]:
        ids = self.ids

        def rows(soql: str, want: int = 1) -> Callable[[], list[dict] | None]:
            def check() -> list[dict] | None:
                found = self._query(soql)
                return found if len(found) >= want else None
            return check

        def in_list(values: Sequence[str]) -> str:
            return "(" + ", ".join(f"'{v}'" for v in values) + ")"

        charges = [*ids["paid"], *ids["failed"]]
        customers = ids["customers"]
        refunded = ids["refunded"]
        return [
            Expectation("Payment__c rows for the charges", rows(
                "SELECT Name, StripeChargeID__c, Amount__c, Currency__c, Status__c, "
                f"Account__c FROM Payment__c WHERE StripeChargeID__c IN {in_list(charges)}",
                len(charges))),
            Expectation("the refund on its Payment__c", rows(
                "SELECT StripeChargeID__c, Status__c, Amount_Refunded__c FROM Payment__c "
                f"WHERE StripeChargeID__c = '{refunded}' AND Status__c = 'Refunded'")),
            Expectation("an Order with its three OrderItems for the paid invoice", rows(
                "SELECT Order.StripeInvoiceID__c, Quantity, UnitPrice, PricebookEntry.Name "
                "FROM OrderItem WHERE Order.StripeInvoiceID__c = "
                f"'{ids['invoice']}'", 3)),
            Expectation("the Refund__c record under its Payment__c", rows(
                "SELECT StripeRefundID__c, Amount__c, Currency__c, Status__c, Payment__c FROM "
                f"Refund__c WHERE StripeChargeID__c = '{refunded}' AND Payment__c != null")),
            Expectation("Accounts for the Stripe customers", rows(
                "SELECT Name, StripeCustomerID__c FROM Account WHERE StripeCustomerID__c "
                f"IN {in_list(customers)}", len(customers))),
            Expectation("Contacts for the Stripe customers", rows(
                "SELECT Name, Email, AccountId FROM Contact WHERE Email IN "
                f"{in_list([DEMO_EMAIL, DECLINED_EMAIL])}", 2)),
            Expectation("Cases for the dispute and the fraud warning", rows(
                "SELECT Subject, StripeObjectID__c, Priority, Status FROM Case WHERE "
                f"StripeObjectID__c IN {in_list([ids['dispute'], ids['warning']])}", 2)),
            Expectation("the Payout__c", rows(
                "SELECT Name, StripePayoutID__c, Amount__c, Currency__c, Status__c FROM "
                f"Payout__c WHERE StripePayoutID__c = '{ids['payout']}'")),
            Expectation("the Subscription_Contract__c", rows(
                "SELECT Name, StripeSubscriptionID__c, Status__c FROM "
                f"Subscription_Contract__c WHERE StripeSubscriptionID__c = "
                f"'{ids['subscription']}'")),
            Expectation("a Stripe customer for the new Account", self._stripe_customer_check),
            Expectation("a Stripe customer for the won Opportunity", rows(
                "SELECT Name, StageName, StripeCustomerID__c, StripeSubscriptionID__c FROM "
                f"Opportunity WHERE Id = '{ids['opportunity']}' AND "
                "StripeCustomerID__c != null")),
        ]

    def _stripe_customer_check(self) -> list[dict] | None:
        account = self._one("SELECT Id, Name, StripeCustomerID__c FROM Account WHERE Id = "
                            f"'{self.ids['account']}'")
        if not account or not account.get("StripeCustomerID__c"):
            return None
        client = self.session.stripe.client()
        customer = client.v1.customers.retrieve(account["StripeCustomerID__c"]).to_dict()
        metadata = customer.get("metadata") or {}
        if metadata.get("salesforceid") != self.ids["account"]:
            return None
        return [{"Stripe customer": customer["id"], "name": customer.get("name"),
                 "metadata.salesforceid": metadata.get("salesforceid"),
                 "Account.StripeCustomerID__c": account["StripeCustomerID__c"]}]

    def _wait(self) -> None:
        self.say(f"5/5 waiting for the records on both sides (at most "
                 f"{self.wait_seconds:g} s) ...")
        self.report.expectations = self._expectations()
        deadline = time.monotonic() + self.wait_seconds
        while True:
            for exp in self.report.expectations:
                if not exp.met:
                    try:
                        exp.rows = exp.check()
                    except Exception as exc:  # a read failing now may succeed next round
                        log.debug("demo check %s: %s", exp.name, exc)
            if not self.report.missing or time.monotonic() > deadline:
                break
            if self.runner.fatal_error is not None:
                self.say(f"the runner stopped: {self.runner.fatal_error}")
                break
            time.sleep(0.5)
        for exp in self.report.expectations:
            self.say(f"    [{'ok' if exp.met else 'MISSING'}] {exp.name}")

    def _show(self) -> None:
        self.say()
        for exp in self.report.expectations:
            if exp.rows:
                self.say(f"{exp.name}:")
                self.say(format_table(exp.rows))
                self.say()

    def _summary(self, seconds: float) -> None:
        counts = self.store.counts()
        metrics = self.runner.metrics
        written = _metric_sum(metrics, "fieldbridge_events_processed_total", outcome="written")
        received = _metric_sum(metrics, "fieldbridge_events_received_total")
        calls = self.runner.salesforce.api_calls - self.ids.get("api_calls_at_start", 0)
        per_record = calls / written if written else 0.0
        self.report.summary = {
            "events_received": int(received), "records_written": int(written),
            "dlq": counts.get("dlq_open", 0), "review": counts.get("review_open", 0),
            "salesforce_api_calls": calls, "api_calls_per_record": round(per_record, 3),
            "seconds": round(seconds, 1), "missing": self.report.missing,
        }
        s = self.report.summary
        self.say("Summary")
        self.say(f"  events received      {s['events_received']}")
        self.say(f"  records written      {s['records_written']}")
        self.say(f"  dead letters (DLQ)   {s['dlq']}")
        self.say(f"  held for review      {s['review']}")
        self.say(f"  Salesforce API calls {calls} ({per_record:.2f} per record written, "
                 "polls and lookups included)")
        self.say(f"  time                 {seconds:.1f} s")
        for entry in self.store.dlq_list(DeadLetterStatus.OPEN):
            self.say(f"  dead letter {entry.id}: {entry.flow}: {_cell(entry.error)}")

    def _hold(self) -> None:
        self.say()
        self.say("Still running (Ctrl-C to stop):")
        self.say(f"  runner      {self.runner.url}  (/healthz, /metrics)")
        self.say(f"  Stripe      {self.session.stripe.api_base}")
        self.say(f"  Salesforce  {self.session.salesforce.instance_url}")
        self.say(f"  sandbox     {self.session.state_dir}")
        previous = {sig: signal.signal(sig, lambda *_: self._stop.set())
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while not self._stop.wait(0.5) and self.runner.fatal_error is None:
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _shutdown(self) -> None:
        if self.runner is not None:
            self.runner.stop()
        if self.store is not None:
            self.store.close()
        if self.session is not None:
            self.session.stop()

    # -- helpers ------------------------------------------------------------------------
    def _query(self, soql: str) -> list[dict[str, Any]]:
        records = self.sf.query_all(soql).get("records") or []
        return [_columns(r) for r in records]

    def _one(self, soql: str) -> dict[str, Any] | None:
        found = self._query(soql)
        return found[0] if found else None

    def _until(self, condition: Callable[[], bool], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.2)
        return False


def _metric_sum(metrics: Any, name: str, **labels: str) -> float:
    total = 0.0
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v
                                           for k, v in labels.items()):
                total += sample.value
    return total


def format_table(rows: list[dict[str, Any]]) -> str:
    """Rows as an aligned text table (columns from the first row)."""
    if not rows:
        return "  (none)"
    columns = list(rows[0])
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    rule = "  " + "  ".join("-" * w for w in widths)
    body = ["  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True))
            for row in cells]
    return "\n".join([line, rule, *body])


def _columns(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A SOQL row as table columns: a parent relationship's fields become their dotted
    paths (``Order.StripeInvoiceID__c``), as the query names them."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, Mapping):
            out.update(_columns(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return text if len(text) <= 48 else text[:45] + "..."


def run_demo(state_dir: Path | None = None, *, keep_running: bool = False,
             out: IO[str] | None = None, wait_seconds: float = WAIT_SECONDS) -> int:
    return Demo(state_dir, keep_running=keep_running, out=out, wait_seconds=wait_seconds).run()
