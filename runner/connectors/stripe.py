"""The runner's Stripe client: ``stripe.StripeClient`` with our timeouts, retries and errors.

Objects come back as plain dicts (the JSON Stripe sent), which is what the mapping engine
reads. The SDK's own retries are off (``max_network_retries=0``): the runner retries through
its durable queue, with backoff decided in :mod:`runner.retry`.

Two API shapes are supported: real Stripe, and the local sandbox (localstripe, 2017-08-15
shapes). Where they differ in ways this module must handle (see
:mod:`runner.sandbox.stripe_sandbox`):

- Stripe lists newest first and pages either way (``starting_after``/``ending_before``);
  localstripe lists oldest first and refuses ``ending_before``. ``flavor`` says which one we
  talk to; the sandbox configuration sets ``"localstripe"``.
- localstripe filters charges' ``created`` only with ``gt`` and most other lists not at all,
  so with that flavor ``created_gte`` is applied here, on the objects received.
- ``Idempotency-Key`` is sent on every write. Stripe keeps keys for 24 hours; our sandbox
  launcher honours them too (localstripe itself ignores them). We also keep the answers of
  recent keyed writes in this process, which saves a round trip on an in-process retry.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import requests
import stripe

from runner.classify import Failure, classify_stripe
from runner.connectors.errors import ConnectorError

log = logging.getLogger(__name__)

PAGE_SIZE = 100
IDEMPOTENCY_TTL = 24 * 3600.0  # as long as Stripe keeps a key
IDEMPOTENCY_CACHE_SIZE = 10_000
SANDBOX_ENDPOINT_ID = "fieldbridge"

# The API path of each object type (the ``object`` field of what Stripe returns).
OBJECT_PATHS = {
    "balance_transaction": "balance_transactions",
    "charge": "charges",
    "customer": "customers",
    "dispute": "disputes",
    "event": "events",
    "invoice": "invoices",
    "invoiceitem": "invoiceitems",
    "payment_intent": "payment_intents",
    "payment_method": "payment_methods",
    "payout": "payouts",
    "plan": "plans",
    "price": "prices",
    "product": "products",
    "refund": "refunds",
    "subscription": "subscriptions",
    "subscription_item": "subscription_items",
    "radar.early_fraud_warning": "radar/early_fraud_warnings",
    "early_fraud_warning": "radar/early_fraud_warnings",
    "checkout.session": "checkout/sessions",
}
_ID = re.compile(r"^[A-Za-z0-9_\-.]+$")
_LIST_URL = re.compile(r"^/v1(?:/[A-Za-z0-9_]+)+$")  # an embedded list's url, no query


@dataclass
class StripeSettings:
    """One Stripe account. ``api_base`` set means a sandbox (or a proxy) instead of Stripe."""

    api_key: str = field(repr=False)
    api_base: str | None = None
    webhook_secrets: list[str] = field(default_factory=list, repr=False)
    timeout: float = 30.0
    name: str = "default"
    account: str | None = None  # a label for people (e.g. "EU live")
    flavor: Literal["stripe", "localstripe"] = "stripe"
    stripe_version: str | None = None

    def secret_values(self) -> list[str]:
        return [v for v in (self.api_key, *self.webhook_secrets) if v]


def object_path(object_type: str) -> str:
    """``customer`` -> ``customers``; unknown simple names get an ``s``."""
    path = OBJECT_PATHS.get(object_type)
    if path is None:
        if not re.match(r"^[a-z_]+$", object_type or ""):
            raise ConnectorError(f"unknown Stripe object type {object_type!r}",
                                 failure=Failure.FATAL)
        path = object_type if object_type.endswith("s") else object_type + "s"
    return path


def _check_id(object_id: str) -> str:
    if not object_id or not _ID.match(object_id):
        raise ConnectorError(f"invalid Stripe id {object_id!r}", failure=Failure.SKIPPABLE)
    return object_id


class StripeConnector:
    def __init__(self, settings: StripeSettings) -> None:
        if not settings.api_key:
            raise ConnectorError(f"Stripe connection {settings.name!r} has no API key",
                                 failure=Failure.FATAL)
        self.settings = settings
        kwargs: dict[str, Any] = {
            "max_network_retries": 0,
            "http_client": stripe.RequestsClient(timeout=settings.timeout),
        }
        if settings.api_base:
            kwargs["base_addresses"] = {"api": settings.api_base.rstrip("/")}
        if settings.stripe_version:
            kwargs["stripe_version"] = settings.stripe_version
        self.client = stripe.StripeClient(settings.api_key, **kwargs)
        self._answers: OrderedDict[str, tuple[float, dict]] = OrderedDict()
        self._answers_lock = threading.Lock()
        self.api_calls = 0

    # -- plumbing ------------------------------------------------------------------------
    def _request(self, what: str, method: str, path: str, **params: Any) -> dict:
        self.api_calls += 1
        try:
            resp = self.client.raw_request(method, path, **params)
        except stripe.StripeError as exc:
            failure = classify_stripe(exc)
            detail = exc.user_message or str(exc) or type(exc).__name__
            status = f"HTTP {exc.http_status}: " if exc.http_status else ""
            raise ConnectorError(f"Stripe {what} failed: {status}{detail}", failure=failure,
                                 status=exc.http_status, error_code=exc.code) from exc
        data = resp.data
        if not isinstance(data, dict):
            raise ConnectorError(f"Stripe {what}: the answer is not a JSON object",
                                 failure=Failure.RETRIABLE)
        return data

    def _keyed_write(self, what: str, path: str, params: dict, idempotency_key: str) -> dict:
        if not idempotency_key:
            raise ConnectorError(f"Stripe {what}: an idempotency key is required",
                                 failure=Failure.FATAL)
        cache_key = f"{path}\n{idempotency_key}"
        now = time.monotonic()
        with self._answers_lock:
            hit = self._answers.get(cache_key)
            if hit is not None and now - hit[0] < IDEMPOTENCY_TTL:
                return hit[1]
        data = self._request(what, "post", path, **params, idempotency_key=idempotency_key)
        with self._answers_lock:
            self._answers[cache_key] = (now, data)
            while len(self._answers) > IDEMPOTENCY_CACHE_SIZE:
                self._answers.popitem(last=False)
        return data

    # -- objects -------------------------------------------------------------------------
    def retrieve(self, object_type: str, object_id: str, **params: Any) -> dict:
        path = f"/v1/{object_path(object_type)}/{_check_id(object_id)}"
        return self._request(f"retrieve {object_type} {object_id}", "get", path, **params)

    def create(self, object_type: str, params: dict, idempotency_key: str) -> dict:
        return self._keyed_write(f"create {object_type}", f"/v1/{object_path(object_type)}",
                                 params, idempotency_key)

    def update(self, object_type: str, object_id: str, params: dict,
               idempotency_key: str) -> dict:
        path = f"/v1/{object_path(object_type)}/{_check_id(object_id)}"
        return self._keyed_write(f"update {object_type} {object_id}", path, params,
                                 idempotency_key)

    def delete(self, object_type: str, object_id: str) -> dict:
        """``DELETE /v1/<objects>/<id>`` (customers, products, ...); Stripe's answer, the
        deleted stub ``{"id": ..., "deleted": true}``. Deleting is idempotent by nature:
        Stripe takes no Idempotency-Key on it, and a second delete answers 404."""
        path = f"/v1/{object_path(object_type)}/{_check_id(object_id)}"
        return self._request(f"delete {object_type} {object_id}", "delete", path)

    def _pages(self, what: str, path: str, params: dict) -> Iterator[dict]:
        """Every object of a list, following ``starting_after`` in the server's order."""
        after: str | None = params.pop("starting_after", None)
        while True:
            page_params = dict(params, limit=PAGE_SIZE)
            if after:
                page_params["starting_after"] = after
            page = self._request(what, "get", path, **page_params)
            data = page.get("data") or []
            yield from data
            if not page.get("has_more") or not data:
                return
            after = data[-1]["id"]

    def list_after(self, url: str, starting_after: str) -> Iterator[dict]:
        """The items of an embedded list after ``starting_after``, read at the list's own
        ``url`` (``/v1/invoices/in_1/lines``), 100 a page until ``has_more`` is false."""
        if not _LIST_URL.match(url):
            raise ConnectorError(f"Stripe list {url!r} is not an API list path",
                                 failure=Failure.SKIPPABLE)
        return self._pages(f"list {url}", url, {"starting_after": _check_id(starting_after)})

    def list_objects(self, object_type: str, created_gte: int | None = None,
                     starting_after: str | None = None, **filters: Any) -> Iterator[dict]:
        """Every object of a type (server order), resumable from ``starting_after``."""
        params: dict[str, Any] = dict(filters)
        local = self.settings.flavor == "localstripe"
        if created_gte is not None and not local:
            params["created"] = {"gte": int(created_gte)}
        if starting_after:
            params["starting_after"] = _check_id(starting_after)
        pages = self._pages(f"list {object_type}", f"/v1/{object_path(object_type)}", params)
        if created_gte is None or not local:
            return pages
        return (o for o in pages if int(o.get("created") or 0) >= int(created_gte))

    def balance_transactions(self, payout: str) -> Iterator[dict]:
        return self._pages(f"list balance transactions of {payout}", "/v1/balance_transactions",
                           {"payout": _check_id(payout)})

    # -- events --------------------------------------------------------------------------
    def events_since(self, last_event_id: str | None, created_gte: int | None = None,
                     *, types: list[str] | None = None) -> Iterator[dict]:
        """Events after ``last_event_id`` (or created since ``created_gte``), oldest first.

        None is skipped: on Stripe (newest first) we walk towards newer events with
        ``ending_before`` from the last one seen and yield each page reversed.
        """
        filters: dict[str, Any] = {}
        if types:
            filters["types"] = list(types)
        if self.settings.flavor == "localstripe":
            yield from self._events_oldest_first(last_event_id, created_gte, filters)
            return
        if last_event_id:
            cursor = _check_id(last_event_id)
            while True:
                page = self._request("list events", "get", "/v1/events",
                                     **filters, limit=PAGE_SIZE, ending_before=cursor)
                data = page.get("data") or []
                if not data:
                    return
                yield from reversed(data)
                if not page.get("has_more"):
                    return
                cursor = data[0]["id"]  # the newest of this page
        else:
            if created_gte is not None:
                filters["created"] = {"gte": int(created_gte)}
            # Newest first with no anchor: read the window, then hand it out oldest first.
            # Stripe keeps 30 days of events, so the window is bounded.
            window = list(self._pages("list events", "/v1/events", filters))
            yield from reversed(window)

    def _events_oldest_first(self, last_event_id: str | None, created_gte: int | None,
                             filters: dict[str, Any]) -> Iterator[dict]:
        # localstripe filters by one exact type only: filter here.
        types = set(filters.pop("types")) if "types" in filters else None
        if last_event_id:
            last = self.retrieve("event", last_event_id)
            params = dict(filters, created={"gte": int(last["created"])})
            seen_last = False
            pending: list[dict] = []
            for event in self._pages("list events", "/v1/events", params):
                if event["id"] == last_event_id:
                    seen_last, pending = True, []
                    continue
                if seen_last:
                    if types is None or event.get("type") in types:
                        yield event
                elif event.get("created", 0) > last["created"]:
                    pending.append(event)
            if not seen_last:  # the anchor vanished: everything strictly newer
                yield from (e for e in pending if types is None or e.get("type") in types)
            return
        if created_gte is not None:
            filters["created"] = {"gte": int(created_gte)}
        for event in self._pages("list events", "/v1/events", filters):
            if types is None or event.get("type") in types:
                yield event

    # -- sandbox -------------------------------------------------------------------------
    def register_webhook(self, url: str, events: list[str] | tuple[str, ...] = ("*",)) -> str:
        """Point the sandbox's webhooks at ``url``; returns the signing secret (sandbox only)."""
        base = self.settings.api_base
        if not base:
            raise ConnectorError("register_webhook is for the local Stripe sandbox only; on "
                                 "Stripe, create the endpoint in the Dashboard",
                                 failure=Failure.FATAL)
        if not self.settings.webhook_secrets:
            raise ConnectorError("the Stripe sandbox connection has no webhook secret",
                                 failure=Failure.FATAL)
        secret = self.settings.webhook_secrets[0]
        body: dict[str, Any] = {"url": url, "secret": secret}
        if "*" not in events:
            body["events"] = list(events)
        target = f"{base.rstrip('/')}/_config/webhooks/{SANDBOX_ENDPOINT_ID}"
        try:
            resp = requests.post(target, json=body, timeout=self.settings.timeout)
        except requests.RequestException as exc:
            raise ConnectorError(f"Stripe sandbox at {base} did not answer",
                                 failure=Failure.RETRIABLE) from exc
        if resp.status_code >= 300:
            raise ConnectorError(f"Stripe sandbox refused the webhook: HTTP "
                                 f"{resp.status_code} {resp.text[:200]}",
                                 failure=Failure.FATAL, status=resp.status_code)
        return secret
