"""The Stripe sandbox: localstripe in a subprocess on a loopback port, and its helpers.

We start localstripe 1.15 through :mod:`runner.sandbox.localstripe_launcher`, which binds
127.0.0.1 only (localstripe's own CLI binds ``::``) and keeps the store per instance (its CLI
pickles to a fixed ``/tmp/localstripe.pickle`` shared by every instance on the machine).

The unmodified stripe SDK (16.x) talks to it: ``stripe.StripeClient(key,
base_addresses={"api": api_base})`` (see :meth:`StripeSandbox.client`) or the legacy
``stripe.api_base``. The SDK sends ``Stripe-Version: 2026-...``; localstripe ignores the header
and always answers in its own old shapes, and the SDK builds its objects from whatever JSON
comes back, so that works. Any ``sk_`` key longer than 5 characters is accepted.

Gaps and differences from real Stripe, measured against localstripe 1.15.10 (the runner's
flows must not rely on these from the sandbox; tests deliver signed events built from
``mappings/data/stripe/fixtures3.json`` instead, see :mod:`runner.sandbox.stripe_events`):

- **API shapes are 2017-08-15**: events carry ``api_version: "2017-08-15"``; customers have
  ``account_balance`` and ``sources``; charges have ``payment_method`` but no
  ``payment_method_details``, ``outcome``, ``receipt_url``, ``billing_details`` or
  ``balance_transaction`` expansion; refunds keep the legacy ``date`` field. Our launcher
  makes refunds behave as Stripe's: several partial refunds per charge, one without
  ``amount`` refunds the rest, refunding more than is left is ``amount_too_large``, and
  ``reason`` is kept.
- **Prices** are ours (:mod:`runner.sandbox.localstripe_revenue`; localstripe answers 404):
  create, retrieve, list (``product``, ``active``, ``currency``, ``type``), update
  (``active=false`` archives; prices cannot be deleted, as on Stripe). A recurring price is
  also a Plan of the same id, so subscriptions take ``items=[{"price": ...}]`` or
  ``[{"plan": ...}]``, several of them (localstripe alone: exactly one, more is a 500;
  updating the items of a subscription still knows only one). The Plan id may be chosen.
- **Invoices**: ours adds one-off invoices (``POST /v1/invoices`` without a subscription,
  of the pending items, or none with ``pending_invoice_items_behavior=exclude``), invoice
  items with ``price``/``quantity`` that join a draft ``invoice``, ``/finalize``, and
  ``GET /v1/invoices/{id}/lines`` with ``starting_after``; the invoice's ``lines`` shows 10
  with ``has_more``.
- **No disputes** (``/v1/disputes`` 404), **no early fraud warnings** (``/v1/radar/...``
  404), no reviews, no checkout sessions, no webhook endpoints API (``/_config/webhooks``
  instead), no credit notes, no transfers, no accounts.
- **Payouts** exist but only in ``eur`` (any other currency is a 400) and are never created
  automatically; their ``balance_transaction`` id points at nothing.
- **Balance transactions** exist for charges and refunds (list/retrieve), not for payouts;
  ``GET /v1/balance`` is a fixed 2000 EUR.
- **Events are incomplete**: localstripe emits ``customer.created|updated|deleted``,
  ``customer.source.created``, ``customer.subscription.created|deleted``,
  ``invoice.created|payment_succeeded|payment_failed``, ``payment_intent.succeeded|
  payment_failed``, ``plan.created``, ``product.created``, ``payout.*`` and
  ``balance.available``, but no ``charge.*`` events: our launcher
  (:mod:`runner.sandbox.localstripe_launcher`) adds ``charge.succeeded``, ``charge.failed``,
  ``charge.refunded`` (partial refunds too), ``refund.created|updated`` and
  ``charge.refund.updated`` as real Stripe sends them, and
  (:mod:`runner.sandbox.localstripe_revenue`) ``price.created|updated``,
  ``product.updated|deleted``, ``invoice.finalized`` and ``invoice.voided``, with
  ``previous_attributes`` on updates. Still missing: ``customer.subscription.updated``,
  ``invoice.paid``, ``price.deleted`` (Stripe's API cannot delete a price either). ``GET /v1/events`` lists oldest
  first (Stripe: newest first) and filters only by ``type`` and ``created``.
- **Webhooks** are sent about one second after the event, once, with no retry, signed
  ``t=<event.created>,v1=...`` under the registered secret. ``events`` filters by exact type;
  ``"*"`` is not special there, so :meth:`StripeSandbox.register_webhook` maps ``("*",)`` to
  "all events". Endpoints are registered with ``/_config/webhooks/{id}``, not the webhook
  endpoints API; our launcher keeps several (one per id and URL, as several runners need)
  and keeps them across restarts (:mod:`runner.sandbox.localstripe_webhooks`).
- **Errors**: declines are 402 with ``code: card_declined`` and error ``type``
  ``invalid_request_error`` (Stripe: ``card_error``; the SDK still raises ``CardError`` by
  status); a failed charge stays listed with ``status: "failed"``. Unknown routes answer a
  plain-text 404, which the SDK reports as ``APIError`` ("Invalid response body"), not
  ``InvalidRequestError``. Validation errors are a bare ``Bad request`` without ``param``.
- **Lists**: ``limit`` and ``starting_after`` work (so ``auto_paging_iter`` does);
  ``ending_before`` does not; charge lists filter ``created`` only with ``gt``.
- Ids are random (``cus_`` + 14 characters), not chosen by the caller (except Plans).
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests
import stripe

from runner.errors import SandboxError
from runner.private_files import private_dir
from runner.sandbox.localstripe_launcher import READY_PREFIX

log = logging.getLogger(__name__)

DEFAULT_API_KEY = "sk_test_fieldbridge_sandbox"
START_TIMEOUT = 20.0
HTTP_TIMEOUT = 10.0


def new_webhook_secret() -> str:
    """A fresh secret in Stripe's ``whsec_`` form."""
    return "whsec_" + secrets.token_hex(24)


@dataclass
class StripeSandbox:
    """A running localstripe. ``stop()`` it (or use it as a context manager)."""

    api_base: str
    api_key: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    process: subprocess.Popen[bytes] | None = field(repr=False)
    data_file: Path | None = None

    @property
    def port(self) -> int:
        return int(self.api_base.rsplit(":", 1)[1])

    def __enter__(self) -> StripeSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop localstripe and wait for it; safe to call twice."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("localstripe (pid %s) ignored SIGTERM; killing it", proc.pid)
            proc.kill()
            proc.wait(timeout=timeout)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _config(self, method: str, path: str, **kwargs: object) -> requests.Response:
        url = self.api_base + path
        try:
            resp = requests.request(method, url, timeout=HTTP_TIMEOUT, **kwargs)  # type: ignore[arg-type]
        except requests.RequestException as exc:
            raise SandboxError(f"Stripe sandbox at {self.api_base} did not answer {path}") from exc
        if resp.status_code >= 300:
            raise SandboxError(
                f"Stripe sandbox refused {method} {path}: HTTP {resp.status_code} "
                f"{resp.text[:200].strip()}"
            )
        return resp

    def register_webhook(
        self,
        url: str,
        events: Sequence[str] = ("*",),
        endpoint_id: str = "fieldbridge",
        *,
        secret: str | None = None,
    ) -> str:
        """Have localstripe POST its events to ``url``; returns the signing secret.

        The secret defaults to this sandbox's ``webhook_secret``. ``("*",)`` means every
        event (localstripe itself matches types exactly). An endpoint is its id and URL:
        registering the same pair again replaces it, another URL under the same id adds
        one. Endpoints outlive a restart of a sandbox started with a data file.
        """
        if not url.startswith(("http://", "https://")):
            raise SandboxError(f"webhook URL must start with http:// or https://, got {url!r}")
        if isinstance(events, str):
            raise SandboxError("events must be a list of event types, not one string")
        if not endpoint_id or "/" in endpoint_id:
            raise SandboxError(f"invalid webhook endpoint id {endpoint_id!r}")
        signing_secret = secret or self.webhook_secret
        body: dict[str, object] = {"url": url, "secret": signing_secret}
        if "*" not in events:
            body["events"] = list(events)
        # JSON rather than form data: localstripe reads JSON first, and a form cannot say
        # "a list with one element" without its [] convention.
        self._config("POST", f"/_config/webhooks/{endpoint_id}", json=body)
        return signing_secret

    def declare_restricted_keys(self, keys: dict[str, dict[str, str]]) -> None:
        """Accept these ``rk_test_`` keys, each with its level per resource (``none``, ``read``
        or ``write``; :mod:`runner.sandbox.localstripe_keys`)."""
        self._config("POST", "/_config/restricted_keys", json=keys)

    def flush(self) -> None:
        """Delete every object in the sandbox (webhook registrations survive)."""
        self._config("DELETE", "/_config/data")

    def client(self, **kwargs: object) -> stripe.StripeClient:
        """A stripe SDK client pointed at this sandbox (no retries: failures show at once)."""
        kwargs.setdefault("max_network_retries", 0)
        return stripe.StripeClient(
            self.api_key, base_addresses={"api": self.api_base}, **kwargs  # type: ignore[arg-type]
        )


def _launcher_command(port: int, data_file: Path | None) -> list[str]:
    cmd = [sys.executable, "-m", "runner.sandbox.localstripe_launcher", "--port", str(port),
           "--parent-pid", str(os.getpid())]
    if data_file is not None:
        cmd += ["--data-file", str(data_file)]
    return cmd


def _read_port(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """Wait for the launcher's ``LISTENING <port>`` line."""
    assert proc.stdout is not None
    found: list[bytes] = []

    def read() -> None:
        assert proc.stdout is not None
        found.append(proc.stdout.readline())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    line = found[0].decode("utf-8", "replace").strip() if found else ""
    if not line.startswith(READY_PREFIX):
        if line:
            why = f": {line}"
        elif found:  # its stdout closed: it exited rather than hung
            try:
                why = f" (it exited with code {proc.wait(timeout=5)})"
            except subprocess.TimeoutExpired:
                why = " (it closed its output)"
        else:
            why = f" within {timeout:.0f} s"
        raise SandboxError("localstripe did not start" + why)
    return int(line[len(READY_PREFIX):])


def _wait_until_answering(api_base: str, api_key: str, deadline: float) -> None:
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            resp = requests.get(
                api_base + "/v1/balance", auth=(api_key, ""), timeout=2.0
            )
            if resp.status_code == 200:
                return
            last = SandboxError(f"HTTP {resp.status_code}")
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.05)
    raise SandboxError(f"localstripe at {api_base} never answered") from last


def start_stripe_sandbox(
    port: int = 0,
    *,
    webhook_secret: str | None = None,
    api_key: str = DEFAULT_API_KEY,
    data_file: Path | None = None,
    timeout: float = START_TIMEOUT,
) -> StripeSandbox:
    """Start localstripe on ``127.0.0.1:port`` (0: any free port) and wait until it answers.

    ``data_file`` keeps its objects across restarts (localstripe pickles its whole store
    there on every write); without it they live in memory only.
    """
    if not api_key.startswith("sk_") or len(api_key) <= 5:
        raise SandboxError("the Stripe sandbox API key must look like sk_test_... ")
    if not 0 <= port <= 65535:
        raise SandboxError(f"invalid port {port} for the Stripe sandbox")
    if data_file is not None:
        private_dir(data_file.parent)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        proc = subprocess.Popen(
            _launcher_command(port, data_file),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=None,  # localstripe's own errors go where ours go
            env=env,
        )
    except OSError as exc:
        raise SandboxError("could not start localstripe") from exc
    deadline = time.monotonic() + timeout
    sandbox = StripeSandbox(
        api_base="",
        api_key=api_key,
        webhook_secret=webhook_secret or new_webhook_secret(),
        process=proc,
        data_file=data_file,
    )
    try:
        actual = _read_port(proc, timeout)
        sandbox.api_base = f"http://127.0.0.1:{actual}"
        _wait_until_answering(sandbox.api_base, api_key, deadline)
    except BaseException:
        sandbox.stop()
        raise
    log.info("Stripe sandbox (localstripe, pid %s) listening on %s", proc.pid, sandbox.api_base)
    return sandbox
