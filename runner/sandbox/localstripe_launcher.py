"""Run localstripe's aiohttp app on 127.0.0.1, with its state where we say.

``localstripe``'s own CLI binds ``::`` (every interface, IPv4 and IPv6) and pickles its whole
store to the fixed path ``/tmp/localstripe.pickle`` on every write, so two instances on one
machine (parallel tests, a developer's ``sandbox up`` next to CI) would overwrite each other's
data. This launcher imports the same app, points the store at ``--data-file`` (or keeps it in
memory only) and listens on loopback alone.

It binds the socket itself, so ``--port 0`` works: the first line on stdout is
``LISTENING <port>``, which is how :mod:`runner.sandbox.stripe_sandbox` learns the port
without racing another process for a "free" one.

Run as ``python -m runner.sandbox.localstripe_launcher --port 0 [--data-file PATH]``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import pickle
import socket
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runner.private_files import write_private
from runner.sandbox.localstripe_keys import install_restricted_keys
from runner.sandbox.localstripe_persistence import KeyJournal, StoreWrites
from runner.sandbox.localstripe_revenue import extend_revenue_model
from runner.sandbox.localstripe_webhooks import keep_webhook_endpoints

READY_PREFIX = "LISTENING "


def _point_store_at(data_file: Path | None) -> StoreWrites:
    """Replace localstripe's fixed-path persistence with ours (or none), its dumps grouped
    (:class:`StoreWrites`: install its ``request`` as the store-saving middleware)."""
    from localstripe import resources

    def load(self: dict) -> None:
        if data_file is None or not data_file.exists():
            return
        with data_file.open("rb") as f:
            old = pickle.load(f)  # our own file, written by write() below
        self.clear()
        self.update(old)

    def write() -> None:
        if data_file is None:
            return
        # Customers' names, e-mails and cards: private, and never a truncated pickle.
        write_private(data_file, pickle.dumps(dict(resources.store),
                                              protocol=pickle.HIGHEST_PROTOCOL))

    writes = StoreWrites(write)
    resources.Store.try_load_from_disk = load
    resources.Store.dump_to_disk = lambda self: writes.dump()
    return writes


def _emit_charge_events() -> None:
    """Send the charge and refund events real Stripe sends and localstripe does not.

    localstripe creates charges and refunds but emits no ``charge.succeeded``,
    ``charge.failed``, ``charge.refunded``, ``refund.created``, ``refund.updated`` or
    ``charge.refund.updated`` events (nor takes a refund's ``reason``, nor refuses refunding
    more than is left on the charge), so a runner fed by its webhooks (or by
    ``GET /v1/events``) would never see a payment. We wrap its constructors and schedule the
    events the way its own resources do (``Event(type, obj)`` + ``schedule_webhook``), which
    also records them for ``/v1/events``.
    """
    from localstripe import resources
    from localstripe.webhooks import schedule_webhook

    set_auth_failure = resources.Charge._set_auth_failure
    trigger_payment = resources.Charge._trigger_payment
    refund_init = resources.Refund.__init__

    def announce(event_type: str, obj: object, previous: dict | None = None) -> None:
        # No running loop (e.g. while unpickling at start): nothing to send.
        with contextlib.suppress(RuntimeError):
            event = resources.Event(event_type, obj)
            if previous is not None:
                event.data["previous_attributes"] = previous
            schedule_webhook(event)

    def on_failure(self: object) -> None:
        set_auth_failure(self)
        announce("charge.failed", self)

    def on_payment(self: object, on_success: object = None) -> None:
        def succeeded() -> None:
            announce("charge.succeeded", self)
            if callable(on_success):
                on_success()

        trigger_payment(self, succeeded)

    def on_refund(self: Any, *args: Any, reason: Any = None, **kwargs: Any) -> None:
        if reason not in (None, *_REFUND_REASONS):
            raise resources.UserError(400, f"Invalid reason: must be one of "
                                      f"{', '.join(_REFUND_REASONS)}", {"param": "reason"})
        _check_refundable(resources, kwargs)
        refund_init(self, *args, **kwargs)
        self.reason = reason
        charge = resources.Charge._api_retrieve(self.charge)
        announce("refund.created", self)
        # Sent for partial refunds too; amount_refunded is the sum of the charge's refunds.
        announce("charge.refunded", charge)

    def update_refund(cls: Any, id: str, **data: Any) -> Any:
        unknown = [k for k in data if k != "metadata"]
        if unknown:
            raise resources.UserError(400, f"Received unknown parameter: {unknown[0]}",
                                      {"param": unknown[0]})
        refund = cls._api_retrieve(id)
        previous = {"metadata": dict(refund.metadata or {})}
        refund._update(**data)
        if refund.metadata != previous["metadata"]:
            announce("refund.updated", refund, previous)
            announce("charge.refund.updated", refund, previous)
        return refund

    resources.Charge._set_auth_failure = on_failure
    resources.Charge._trigger_payment = on_payment
    resources.Refund.__init__ = on_refund
    resources.Refund._api_update = classmethod(update_refund)


_REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def _check_refundable(resources: Any, params: dict) -> None:
    """Stripe refuses refunding more than is left on the charge and, without an amount,
    refunds the rest; localstripe accepts any amount and refunds the whole charge again."""
    charge_id = params.get("charge")
    if not isinstance(charge_id, str):
        return  # by payment_intent, or malformed: localstripe's own checks answer
    charge = resources.Charge._api_retrieve(charge_id)
    left = charge.amount - charge.amount_refunded
    if left <= 0:
        raise resources.UserError(400, f"Charge {charge_id} has already been refunded.",
                                  {"code": "charge_already_refunded"})
    amount = resources.try_convert_to_int(params.get("amount"))
    if amount is None:
        params["amount"] = left  # Stripe refunds what is left, not the whole charge again
    elif isinstance(amount, int) and amount > left:
        raise resources.UserError(
            400, f"Refund amount ({_money(amount, charge.currency)}) is greater than unrefunded "
            f"amount on charge ({_money(left, charge.currency)})",
            {"code": "amount_too_large", "param": "amount"})


def _money(minor: int, currency: str) -> str:
    return f"{minor / 100:.2f} {currency.upper()}"


def _modern_subscriptions() -> None:
    """Subscriptions as current Stripe clients create them; localstripe predates both parts.

    - Items may name a ``price``: localstripe's Plans are what Prices became (a plan id works
      as a price id on real Stripe too) and its items take only ``plan``, so a price is
      passed through as the plan.
    - ``collection_method=send_invoice`` with ``days_until_due``: Stripe starts the
      subscription at once and sends an open invoice, no card needed (how sales-led deals
      are billed); localstripe knows only charging a card on file.
    """
    from localstripe import resources

    subscription_init = resources.Subscription.__init__
    item_init = resources.SubscriptionItem.__init__
    pay_invoice = resources.Invoice._api_pay_invoice
    invoicing = {"depth": 0}  # > 0 while a send_invoice subscription is being created

    def as_plan(item: Any) -> Any:
        if isinstance(item, dict) and "price" in item and "plan" not in item:
            item = dict(item)
            item["plan"] = item.pop("price")
        return item

    def init_subscription(
        self: Any,
        *args: Any,
        items: Any = None,
        collection_method: Any = None,
        days_until_due: Any = None,
        **kwargs: Any,
    ) -> None:
        if collection_method not in (None, "charge_automatically", "send_invoice"):
            raise resources.UserError(400, f"Invalid collection_method: {collection_method}")
        send = collection_method == "send_invoice"
        if send:
            days = resources.try_convert_to_int(days_until_due)
            if not isinstance(days, int) or days < 0:
                raise resources.UserError(
                    400, "days_until_due is required when collection_method is send_invoice"
                )
        if isinstance(items, list):
            items = [as_plan(item) for item in items]
        invoicing["depth"] += send
        try:
            subscription_init(self, *args, items=items, **kwargs)
        finally:
            invoicing["depth"] -= send
        self.collection_method = collection_method or "charge_automatically"
        self.days_until_due = days if send else None
        if send and self.status == "incomplete":
            self.status = "active"

    def init_item(self: Any, *args: Any, price: Any = None, **kwargs: Any) -> None:
        if price is not None and kwargs.get("plan") is None:
            kwargs["plan"] = price
        item_init(self, *args, **kwargs)

    def pay_or_send(cls: Any, id: Any) -> Any:
        if invoicing["depth"]:
            return cls._api_retrieve(id)  # sent to the customer: stays open
        return pay_invoice(id)

    resources.Subscription.__init__ = init_subscription
    resources.SubscriptionItem.__init__ = init_item
    resources.Invoice._api_pay_invoice = classmethod(pay_or_send)


def _idempotency_middleware(data_file: Path | None) -> Any:
    """Honour ``Idempotency-Key`` on POST as Stripe does; localstripe ignores it.

    The first response to a key is kept (with a hash of its request body) and replayed for
    every repeat, marked ``Idempotent-Replayed: true``; a repeat with different parameters
    gets Stripe's 400 ``idempotency_error``. 5xx answers are not kept, so they can be
    retried. Kept beside the data file, so a restarted sandbox still knows its keys.
    """
    from aiohttp import web

    keys = KeyJournal(
        data_file.with_suffix(data_file.suffix + ".idempotency") if data_file else None)

    @web.middleware
    async def idempotency(request: Any, handler: Any) -> Any:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return await handler(request)
        body = await request.read()
        slot = f"{request.headers.get('Authorization', '')}|{request.path}|{key}"
        digest = hashlib.sha256(slot.encode()).hexdigest()
        fingerprint = hashlib.sha256(body).hexdigest()
        kept = keys.get(digest)
        if kept is not None:
            if kept[0] != fingerprint:
                return web.json_response(
                    {"error": {"type": "idempotency_error", "message": (
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.")}},
                    status=400,
                )
            return web.Response(
                status=kept[1], body=kept[2].encode(), content_type="application/json",
                headers={"Idempotent-Replayed": "true", "Idempotency-Key": key},
            )
        response = await handler(request)
        if response.status < 500 and isinstance(response.body, bytes):
            keys.add(digest, [fingerprint, response.status, response.body.decode()])
        return response

    return idempotency


def _exit_with_parent(parent_pid: int) -> None:
    """Exit as soon as the process that started us is gone, even if it died by SIGKILL."""

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localstripe_launcher")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data-file", type=Path, default=None,
                        help="pickle the store here; omitted: memory only")
    parser.add_argument("--parent-pid", type=int, default=0,
                        help="exit when this process is gone (no orphan if it is killed)")
    args = parser.parse_args(argv)

    # localstripe uses APIs aiohttp has deprecated; the noise is not ours to fix.
    warnings.simplefilter("ignore", DeprecationWarning)
    store_writes = _point_store_at(args.data_file)
    _emit_charge_events()
    _modern_subscriptions()
    extend_revenue_model()  # before keep_webhook_endpoints: it imports localstripe's server
    keep_webhook_endpoints(args.data_file)
    from aiohttp import web
    from localstripe import resources, server

    resources.store.try_load_from_disk()
    # localstripe's own saving middleware dumped the whole store after every write; ours
    # takes its place (innermost, so the store is on disk before a key's answer is kept).
    saving = server.app.middlewares.index(server.save_store_middleware)

    @web.middleware
    async def save_store(request: Any, handler: Any) -> Any:
        return await store_writes.request(request, handler)

    server.app.middlewares[saving] = save_store
    # Inside the idempotency check below, which keeps its replays per real (restricted) key.
    install_restricted_keys(server, args.data_file)
    # Outermost, so replays include the error responses localstripe's own middleware makes.
    server.app.middlewares.insert(0, _idempotency_middleware(args.data_file))

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", args.port))
    except OSError as exc:
        # On stdout, where the starter waits for READY_PREFIX: it quotes this line to the
        # user instead of a traceback and "did not start".
        print(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}", flush=True)
        return 1
    sock.listen(128)
    print(f"{READY_PREFIX}{sock.getsockname()[1]}", flush=True)
    # Nobody reads our stdout after that line: send the rest nowhere, so a chatty
    # dependency can never fill the pipe and block the server.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    if args.parent_pid:
        _exit_with_parent(args.parent_pid)
    # No access log: request lines would carry query strings, and nobody reads them.
    web.run_app(server.app, sock=sock, print=None, access_log=None)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
