"""Webhook endpoints in the Stripe sandbox as Stripe keeps them: several, and lasting.

localstripe keeps its endpoints (``POST /_config/webhooks/{id}``) in memory, one per id, and
delivers to them one after the other. Every runner registers under the same id, so the
last one to start took the events from the others, and a restarted sandbox forgot them all:
a runner still running then waited for its catch-up (up to 300 s) to see anything new.

Run inside the launcher's process (:mod:`runner.sandbox.localstripe_launcher`), this
replaces both halves:

- An endpoint is its id *and* URL. Registering the same pair again replaces it (new
  events or secret); another URL under the same id is another endpoint, as a second runner
  is. Each gets every event it subscribes to, signed with its own secret, independently of
  the others (a slow one delays nobody).
- The endpoints are kept in ``<data file>.webhooks`` (0600: it holds the signing secrets)
  and loaded at start. An endpoint nobody has listened at for :data:`STALE_AFTER` seconds
  (every delivery refused) is dropped, so runners that came and went do not pile up.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from runner.private_files import write_private
from runner.stripe_signature import sign_payload

STALE_AFTER = 3600.0  # seconds of refused deliveries before an endpoint is forgotten
DELIVERY_TIMEOUT = 30.0  # per delivery, as Stripe gives up on a slow endpoint
DELIVERY_DELAY = 1.0  # localstripe sends an event about a second after it happens

EndpointKey = tuple[str, str]  # (endpoint id, URL)


class WebhookEndpoints:
    """The registered endpoints, their persistence and their deliveries."""

    def __init__(self, store_file: Path | None) -> None:
        # Imported late, like the launcher does: only after it has silenced localstripe's
        # deprecation warnings, which fire at import.
        from localstripe import webhooks

        self._webhook = webhooks.Webhook
        self.store_file = store_file
        # localstripe's own registry, so anything of its that reads it still sees them all.
        self.endpoints: dict[Any, Any] = webhooks._webhooks
        self.endpoints.clear()
        self._refused_since: dict[EndpointKey, float] = {}
        self._load()

    # -- registry --------------------------------------------------------------------------
    def register(self, endpoint_id: str, url: str, secret: str, events: list[str] | None
                 ) -> None:
        key = (endpoint_id, url)
        self.endpoints[key] = self._webhook(url, secret, events)
        self._refused_since.pop(key, None)
        self._save()

    def _load(self) -> None:
        if self.store_file is None or not self.store_file.exists():
            return
        try:
            rows = json.loads(self.store_file.read_text(encoding="utf-8"))
            for row in rows:
                self.endpoints[(row["id"], row["url"])] = self._webhook(
                    row["url"], row["secret"], row["events"]
                )
        except (OSError, ValueError, TypeError, KeyError) as exc:
            # Losing them costs a runner's catch-up interval, not data: start anyway.
            self.endpoints.clear()
            print(f"ignoring the unreadable webhook endpoints in {self.store_file}: {exc}",
                  file=sys.stderr, flush=True)

    def _save(self) -> None:
        if self.store_file is None:
            return
        rows = [{"id": key[0], "url": hook.url, "secret": hook.secret, "events": hook.events}
                for key, hook in self.endpoints.items()]
        write_private(self.store_file, json.dumps(rows, indent=1).encode("utf-8"))

    # -- deliveries ------------------------------------------------------------------------
    async def send(self, event: Any) -> None:
        """Deliver ``event`` to every endpoint that subscribes to its type, all at once."""
        payload = json.dumps(event._export(), indent=2, sort_keys=True).encode("utf-8")
        await asyncio.sleep(DELIVERY_DELAY)
        targets = [(key, hook) for key, hook in list(self.endpoints.items())
                   if hook.events is None or event.type in hook.events]
        if not targets:
            return
        timeout = aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.gather(*(self._deliver(session, key, hook, payload, event.created)
                                   for key, hook in targets))

    async def _deliver(self, session: Any, key: EndpointKey, hook: Any, payload: bytes,
                       created: int) -> None:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign_payload(payload, hook.secret, created),
        }
        try:
            async with session.post(hook.url, data=payload, headers=headers) as resp:
                await resp.read()
        except aiohttp.ClientConnectorError:
            self._refused(key)
            return
        except (TimeoutError, aiohttp.ClientError):
            pass  # it is there, only slow or broken: no retry, as localstripe never did
        self._refused_since.pop(key, None)

    def _refused(self, key: EndpointKey) -> None:
        now = time.monotonic()
        since = self._refused_since.setdefault(key, now)
        if now - since >= STALE_AFTER and key in self.endpoints:
            del self.endpoints[key]
            del self._refused_since[key]
            self._save()


def keep_webhook_endpoints(data_file: Path | None) -> WebhookEndpoints:
    """Install the endpoints into localstripe's server; kept beside ``data_file`` if given."""
    from localstripe import server, webhooks  # late: see WebhookEndpoints.__init__

    store_file = data_file.with_name(data_file.name + ".webhooks") if data_file else None
    endpoints = WebhookEndpoints(store_file)
    server.register_webhook = endpoints.register  # what POST /_config/webhooks/{id} calls
    webhooks._send_webhook = endpoints.send  # what every scheduled event calls
    return endpoints
