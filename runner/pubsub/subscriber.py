"""A long-lived subscription to one Pub/Sub topic, resumable from the state database.

The loop: subscribe after the stored replay id (or from the tip the first time), hand each
batch to ``handle`` and, once it returns (the events are settled: written or kept as
dead letters), store the batch's last replay id and ask for as many events again (flow
control). A restart therefore resumes right after the last settled event: nothing lost,
nothing repeated.

Failures: an invalid session refreshes it and resubscribes at once; an expired or unknown
replay id, and a ``GAP_*`` change event, call ``catch_up`` (the flow's SOQL poll from its
watermark), counted and logged, then the stream goes on from the tip; a handler that raises
:class:`Redeliver` (a retriable failure) and anything else reconnect with exponential
backoff (``runner.retry.backoff``), from the stored replay id: the batch comes again.

With no stored replay id the stream starts at the tip; ``on_start`` (once the stream is
open) lets the caller find what came before by SOQL. A keepalive's latest replay id is
stored too (Salesforce's advice): every event before it was delivered and settled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from runner.errors import FatalSyncError
from runner.pubsub.client import (
    REPLAY_CORRUPTED,
    PubSubClient,
    Received,
    Stream,
    error_code,
    is_auth_error,
)
from runner.retry import RetryPolicy, backoff
from runner.state.replay_ids import ReplayIds

log = logging.getLogger(__name__)

# Events asked for at a time: Salesforce's most, so a runner behind can take up to 100 in
# one batch (one query, one writeback call).
BATCH = 100
RECONNECT_POLICY = RetryPolicy(base_delay=0.5, max_delay=60.0)


class Redeliver(Exception):  # noqa: N818 - it names what happens, not an error kind
    """Raised by a handler: the batch is not settled, deliver it again after a backoff."""


@dataclass
class SubscriberStats:
    delivered: int = 0
    catch_ups: int = 0
    reconnects: int = 0
    session_refreshes: int = 0


class Subscriber:
    def __init__(self, client: PubSubClient, topic: str, replay_store: ReplayIds,
                 handle: Callable[[list[Received]], None],
                 catch_up: Callable[[str], None], *, batch: int = BATCH,
                 policy: RetryPolicy = RECONNECT_POLICY,
                 on_start: Callable[[], None] | None = None) -> None:
        self.client = client
        self.topic = topic
        self.replay_store = replay_store
        self.handle = handle
        self.catch_up = catch_up
        self.batch = batch
        self.policy = policy
        self.on_start = on_start
        self.stats = SubscriberStats()
        self.ready = threading.Event()  # set once a stream is open (tests, start-up)
        self._stop = threading.Event()
        self._stream: Stream | None = None

    def stop(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.cancel()

    def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._follow()
                failures = 0
            except Redeliver as exc:
                failures += 1
                delay = backoff(failures, self.policy, key=self.topic)
                log.warning("Pub/Sub %s: a batch is not settled (%s); delivering it again in "
                            "%.1f s", self.topic, exc, delay)
                self._stop.wait(delay)
            except grpc.RpcError as exc:
                if self._stop.is_set() or exc.code() == grpc.StatusCode.CANCELLED:
                    continue
                if is_auth_error(exc):
                    log.info("Pub/Sub session no longer valid on %s; signing in again",
                             self.topic)
                    self.stats.session_refreshes += 1
                    self.client.refresh_session()
                    continue
                if error_code(exc) == REPLAY_CORRUPTED:
                    self._catch_up("the stored replay id is outside the retention window")
                    self.replay_store.replay_clear(self.topic)
                    continue
                failures += 1
                self.stats.reconnects += 1
                delay = backoff(failures, self.policy, key=self.topic)
                log.warning("Pub/Sub stream on %s failed (%s); reconnecting in %.1f s",
                            self.topic, exc.code().name, delay)
                self._stop.wait(delay)
            except FatalSyncError:
                raise
            except Exception as exc:  # a failed query, a database hiccup: not the stream's
                failures += 1
                self.stats.reconnects += 1
                delay = backoff(failures, self.policy, key=self.topic)
                log.warning("Pub/Sub %s: handling failed (%s); subscribing again in %.1f s",
                            self.topic, exc, delay)
                self._stop.wait(delay)

    def _follow(self) -> None:
        # No stored id (first start, or after an expired one): from the tip; what came
        # before is the poll's to find from its watermark.
        replay = self.replay_store.replay_get(self.topic)
        stream = self._stream = self.client.subscribe(self.topic, replay, self.batch)
        self.ready.set()
        try:
            if replay is None and self.on_start is not None:
                on_start, self.on_start = self.on_start, None  # once per subscriber
                on_start()
            for events, latest in stream.batches():
                if not events:
                    if latest:  # a keepalive: everything before it is settled
                        self.replay_store.replay_set(self.topic, latest)
                    continue
                gap = next((e for e in events if _is_gap(e)), None)
                if gap is not None:
                    self._catch_up(f"a {gap.header['changeType']} event")  # type: ignore[index]
                normal = [e for e in events if not _is_gap(e)]
                if normal:
                    self.handle(normal)
                self.stats.delivered += len(normal)
                # Settled: only now may a restart skip them.
                self.replay_store.replay_set(self.topic, events[-1].replay_id)
                stream.request(len(events))
                if self._stop.is_set():
                    break
        finally:
            stream.cancel()
            self._stream = None

    def _catch_up(self, why: str) -> None:
        self.stats.catch_ups += 1
        log.warning("Pub/Sub %s: %s; catching up by SOQL from the last watermark",
                    self.topic, why)
        self.catch_up(why)


def _is_gap(event: Received) -> bool:
    header = event.header
    return header is not None and str(header.get("changeType", "")).startswith("GAP_")
