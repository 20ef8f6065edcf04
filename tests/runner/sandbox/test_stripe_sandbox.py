"""The unmodified stripe SDK against the Stripe sandbox (localstripe)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import stripe

from runner.errors import SandboxError
from runner.sandbox.stripe_sandbox import StripeSandbox, start_stripe_sandbox

pytestmark = pytest.mark.slow

CARD_OK = "4242424242424242"
CARD_DECLINED_ON_CHARGE = "4000000000000341"


@pytest.fixture
def client(sandbox: StripeSandbox) -> stripe.StripeClient:
    sandbox.flush()
    return sandbox.client()


def customer_with_card(client: stripe.StripeClient, email: str, number: str = CARD_OK):
    customer = client.v1.customers.create(params={"email": email, "name": email.split("@")[0]})
    pm = client.v1.payment_methods.create(params={
        "type": "card",
        "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
    })
    client.v1.payment_methods.attach(pm.id, params={"customer": customer.id})
    client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": pm.id}}
    )
    return customer, pm


def test_listens_on_loopback_only(sandbox: StripeSandbox):
    assert sandbox.api_base.startswith("http://127.0.0.1:")
    tcp = Path("/proc/net/tcp")
    if not tcp.exists():
        pytest.skip("no /proc/net/tcp to read listening sockets from")
    port_hex = f"{sandbox.port:04X}"
    listening = [
        line.split()[1] for line in tcp.read_text().splitlines()[1:]
        if line.split()[1].endswith(":" + port_hex) and line.split()[3] == "0A"
    ]
    assert listening == [f"0100007F:{port_hex}"]
    tcp6 = Path("/proc/net/tcp6")
    if tcp6.exists():
        assert not any(
            line.split()[1].endswith(":" + port_hex) and line.split()[3] == "0A"
            for line in tcp6.read_text().splitlines()[1:]
        )


def test_customer_round_trip(client: stripe.StripeClient):
    created = client.v1.customers.create(
        params={"email": "ada@example.com", "name": "Ada Lovelace", "metadata": {"tier": "gold"}}
    )
    assert created.id.startswith("cus_")
    fetched = client.v1.customers.retrieve(created.id)
    assert (fetched.email, fetched.name, fetched.metadata["tier"]) == (
        "ada@example.com", "Ada Lovelace", "gold")
    client.v1.customers.update(created.id, params={"name": "Ada King"})
    assert client.v1.customers.retrieve(created.id).name == "Ada King"
    by_email = client.v1.customers.list(params={"email": "ada@example.com"})
    assert [c.id for c in by_email.data] == [created.id]


def test_card_charge_and_partial_refund(client: stripe.StripeClient):
    customer, pm = customer_with_card(client, "grace@example.com")
    charge = client.v1.charges.create(
        params={"amount": 2500, "currency": "usd", "customer": customer.id, "description": "x"}
    )
    assert (charge.status, charge.paid, charge.amount) == ("succeeded", True, 2500)
    assert charge.payment_method == pm.id
    refund = client.v1.refunds.create(params={"charge": charge.id, "amount": 1000})
    assert (refund.status, refund.amount, refund.charge) == ("succeeded", 1000, charge.id)
    after = client.v1.charges.retrieve(charge.id)
    assert (after.amount_refunded, after.refunded) == (1000, False)
    # With no amount, the rest is refunded (localstripe refunded the whole charge again
    # until our launcher made it refund the remainder, as Stripe does; issue 14).
    client.v1.refunds.create(params={"charge": charge.id})
    after = client.v1.charges.retrieve(charge.id)
    assert (after.amount_refunded, after.refunded) == (2500, True)


def test_declined_card_raises_card_error_and_leaves_a_failed_charge(client):
    customer, pm = customer_with_card(client, "linus@example.com", CARD_DECLINED_ON_CHARGE)
    with pytest.raises(stripe.CardError) as info:
        client.v1.charges.create(params={"amount": 900, "currency": "usd", "customer": customer.id})
    assert info.value.code == "card_declined"
    charges = client.v1.charges.list(params={"customer": customer.id}).data
    assert [(c.status, c.failure_code) for c in charges] == [("failed", "card_declined")]


def test_subscription_on_a_plan(client: stripe.StripeClient):
    customer, _ = customer_with_card(client, "barbara@example.com")
    product = client.v1.products.create(params={"name": "Fieldbridge Pro"})
    plan = client.v1.plans.create(params={
        "id": "pro-monthly", "amount": 4900, "currency": "usd", "interval": "month",
        "product": product.id,
    })
    sub = client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"plan": plan.id}]}
    )
    assert sub.status == "active"
    assert sub["items"].data[0].plan.id == "pro-monthly"
    invoices = client.v1.invoices.list(params={"customer": customer.id}).data
    assert [(i.subscription, i.status, i.total) for i in invoices] == [(sub.id, "paid", 4900)]
    canceled = client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled"


def test_disputes_are_a_gap(client: stripe.StripeClient):
    # Documented in stripe_sandbox's gap list; this test notices if localstripe grows them.
    # (Prices were a gap too until localstripe_revenue added them, issue 14.)
    client.v1.prices.list()
    with pytest.raises(stripe.APIError):
        client.v1.disputes.list()


def test_events_list_and_paging(client: stripe.StripeClient):
    emails = [f"user{i}@example.com" for i in range(12)]
    ids = {client.v1.customers.create(params={"email": e}).id for e in emails}
    first = client.v1.events.list(params={"type": "customer.created", "limit": 5})
    assert len(first.data) == 5 and first.has_more
    seen = [e for e in first.auto_paging_iter()]
    assert {e.data.object.id for e in seen} == ids
    assert all(e.api_version == "2017-08-15" for e in seen)


def test_flush_empties_the_sandbox(sandbox: StripeSandbox, client: stripe.StripeClient):
    client.v1.customers.create(params={"email": "gone@example.com"})
    assert client.v1.customers.list().data
    sandbox.flush()
    assert client.v1.customers.list().data == []


def test_legacy_global_configuration_works_too(sandbox: StripeSandbox, monkeypatch):
    sandbox.flush()
    monkeypatch.setattr(stripe, "api_key", sandbox.api_key)
    monkeypatch.setattr(stripe, "api_base", sandbox.api_base)
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    customer = stripe.Customer.create(email="legacy@example.com")
    assert stripe.Customer.retrieve(customer.id).email == "legacy@example.com"


def test_a_key_is_required(sandbox: StripeSandbox):
    resp = requests.get(sandbox.api_base + "/v1/customers", timeout=5)
    assert resp.status_code == 401


def test_register_webhook_refuses_bad_input(sandbox: StripeSandbox):
    with pytest.raises(SandboxError, match="must start with http"):
        sandbox.register_webhook("ftp://127.0.0.1/x")
    with pytest.raises(SandboxError, match="not one string"):
        sandbox.register_webhook("http://127.0.0.1:9/x", events="customer.created")
    with pytest.raises(SandboxError, match="invalid webhook endpoint id"):
        sandbox.register_webhook("http://127.0.0.1:9/x", endpoint_id="a/b")


def test_repr_hides_the_secrets(sandbox: StripeSandbox):
    assert sandbox.webhook_secret not in repr(sandbox)
    assert sandbox.api_key not in repr(sandbox)


def test_bad_arguments_to_start():
    with pytest.raises(SandboxError, match="sk_test"):
        start_stripe_sandbox(api_key="pk_test_nope")
    with pytest.raises(SandboxError, match="invalid port"):
        start_stripe_sandbox(port=70000)


def test_data_file_survives_a_restart_and_stop_leaves_no_process(tmp_path: Path):
    data_file = tmp_path / "stripe" / "localstripe.pickle"
    first = start_stripe_sandbox(data_file=data_file)
    try:
        kept = first.client().v1.customers.create(params={"email": "kept@example.com"}).id
    finally:
        first.stop()
    assert first.process is not None and first.process.poll() is not None
    assert data_file.exists()
    second = start_stripe_sandbox(data_file=data_file)
    try:
        assert second.client().v1.customers.retrieve(kept).email == "kept@example.com"
    finally:
        second.stop()
    second.stop()  # twice is fine


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads /proc to see if a process lives")
def test_localstripe_exits_when_its_starter_is_killed():
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import sys, time\n"
        "from runner.sandbox.stripe_sandbox import start_stripe_sandbox\n"
        "sb = start_stripe_sandbox()\n"
        "print(sb.process.pid, sb.api_base, flush=True)\n"
        "time.sleep(600)\n"
    )
    starter = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pid_text, api_base = starter.stdout.readline().split()
    finally:
        starter.send_signal(signal.SIGKILL)
        starter.wait()
    pid = int(pid_text)

    def alive() -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        return state != "Z"

    deadline = time.monotonic() + 15
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive()
    with pytest.raises(requests.ConnectionError):
        requests.get(api_base + "/v1/balance", timeout=2)


def test_a_port_in_use_is_named_at_once(sandbox: StripeSandbox, capfd):
    # The running sandbox holds its port: a second one there says so, without a traceback
    # and without waiting out the start timeout for a process that has already exited.
    with pytest.raises(SandboxError) as caught:
        start_stripe_sandbox(port=sandbox.port, timeout=300)
    message = str(caught.value)
    assert message.startswith("localstripe did not start: ")
    assert f"cannot listen on 127.0.0.1:{sandbox.port}" in message
    assert "within" not in message
    assert "Traceback" not in capfd.readouterr().err
