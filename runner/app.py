"""The Runner facade: one object that wires the webhook server, the inbox worker, catch-up,
the Salesforce poller and alerting into a running sync, and stops it cleanly.

    runner = Runner(loaded, config, store, salesforce=sf, stripe=st, metrics=m, alerter=a)
    runner.check()          # bundle contract against the live org; DriftError if it drifted
    runner.start()          # threads
    code = runner.wait()    # until stop() / SIGINT / SIGTERM / a fatal error; 0 or 1
    runner.stop()

Everything the runner talks to is passed in (connectors, store, metrics, alerter), so tests
and the demo build the same object against the local sandboxes. The start-up steps that come
before (configuration, the verified bundle, the connectors, the state) are in
:mod:`runner.bootstrap`.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from runner.admin.auth import AdminAuth
from runner.admin.routes import AdminRoutes, admin_app
from runner.admin.service import AdminService
from runner.bootstrap import parse_listen
from runner.classify import Failure
from runner.contract import check_org
from runner.errors import ConfigError, FatalSyncError, RunnerError
from runner.finance.runtime import FinanceMonitor, load_state
from runner.ingest.catchup import catch_up
from runner.ingest.health import store_health
from runner.ingest.http_server import HttpLimits, HttpServer
from runner.ingest.webhook_server import WebhookServer
from runner.metrics import Metrics
from runner.pipeline.processor import Processor
from runner.pipeline.sf_poller import SalesforcePoller
from runner.pubsub.triggers import SalesforceTriggers, start_triggers

if TYPE_CHECKING:
    from runner.alerts import Alerter
    from runner.config import RunnerConfig
    from runner.connectors.salesforce import SalesforceConnector
    from runner.connectors.stripe import StripeConnector
    from runner.contract import Describer, DriftFinding
    from runner.pipeline.bundle_runtime import LoadedBundle
    from runner.state.store import StateStore

log = logging.getLogger(__name__)

IDLE_SLEEP = 0.05  # seconds the worker waits for new events when the inbox is empty
ALERT_INTERVAL = 30.0
# Seconds a stop waits in all for the threads to finish their work (a batch in flight), and
# again at most for giving back the claims: SIGTERM ends the process within a few seconds.
SHUTDOWN_GRACE = 5.0
LEASE_SECONDS = 60
# Seconds an event of a flow paused by an operator waits before it is looked at again.
OPERATOR_HOLD = 2.0
MAX_ERROR_BACKOFF = 30.0
# With no catch-up cursor yet, look this far back on the first start: webhooks missed while
# the runner was being set up. Older history is the job of ``backfill``.
FIRST_CATCHUP_WINDOW = 3600


class DriftError(FatalSyncError):
    """The bundle no longer matches the org: the runner refuses to start."""

    def __init__(self, report: list[str], findings: list[DriftFinding] | None = None) -> None:
        self.report = list(report)
        self.findings = list(findings or [])
        lines = "\n  - ".join(self.report)
        super().__init__(
            f"the bundle does not match the Salesforce org ({len(self.report)} "
            f"problem{'s' if len(self.report) != 1 else ''}); refusing to start:\n  - {lines}"
        )


def is_fatal(exc: BaseException) -> bool:
    """Fatal errors stop the runner; everything else is retried by the loop that met it."""
    return isinstance(exc, FatalSyncError) or getattr(exc, "failure", None) is Failure.FATAL


@dataclass
class RunnerStats:
    """What this runner did since it started (for the run history and the demo summary)."""

    batches: int = 0
    events: int = 0
    catchup_inserted: int = 0
    polls: int = 0
    errors: int = 0
    last_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "events": self.events,
                "catchup_inserted": self.catchup_inserted, "polls": self.polls,
                "errors": self.errors, **self.extra}


class Runner:
    """A running sync of one bundle between one Stripe account and one org."""

    def __init__(
        self,
        loaded_bundle: LoadedBundle,
        config: RunnerConfig,
        store: StateStore,
        *,
        salesforce: SalesforceConnector,
        stripe: StripeConnector,
        metrics: Metrics | None = None,
        alerter: Alerter | None = None,
        webhook_secrets: list[str] | None = None,
        register_webhook: bool = False,
        catchup_since: int | None = None,
        poll: bool = True,
        finance: FinanceMonitor | None | bool = True,
    ) -> None:
        self.bundle = loaded_bundle
        self.config = config
        self.store = store
        self.salesforce = salesforce
        self.stripe = stripe
        self.metrics = metrics if metrics is not None else Metrics()
        self.alerter = alerter
        self.host, self.port = parse_listen(config.listen)
        self.webhook_secrets = list(webhook_secrets if webhook_secrets is not None
                                    else stripe.settings.webhook_secrets)
        self.register_webhook = register_webhook
        self.catchup_since = catchup_since
        self.poll_enabled = poll
        self.worker = config.worker_id
        self.linger = float(config.get("runner.linger"))  # bounded by its declaration
        self.gather = float(config.get("runner.gather"))
        self.stats = RunnerStats()
        self.server: WebhookServer | None = None
        self.admin_server: HttpServer | None = None  # the admin API's own listener
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._fatal: BaseException | None = None
        self._run_id: int | None = None
        self._auth_failed: str | None = None
        self._processor: Processor | None = None
        self._poller: SalesforcePoller | None = None
        # Change events and platform events of the Salesforce-triggered flows that the org
        # offers them for (runner.salesforce_triggers); the poller polls the others.
        self._triggers: SalesforceTriggers | None = None
        # Finance intelligence: True builds the monitor from the config at start, False
        # runs without it, or a ready FinanceMonitor (tests).
        self._finance_option = finance
        self.finance: FinanceMonitor | None = finance if not isinstance(finance, bool) \
            else None
        self._paused: frozenset[str] = frozenset()
        # Flows paused by drift (the finance monitor) and by an operator (the admin API);
        # _paused is their union over this bundle's flows.
        self._drift_paused: frozenset[str] = frozenset()
        self._operator_paused: frozenset[str] = frozenset()
        # Held by the worker for a whole batch, and by replays, review decisions and hot
        # deploys, so that a swap waits for the batch in flight ("drains") and no batch
        # runs half on the old bundle and half on the new.
        self._batch_lock = threading.RLock()
        self.previous_bundle: LoadedBundle | None = None

    # -- start-up ---------------------------------------------------------------------
    def check(self, describer: Describer | None = None) -> None:
        """The bundle's contract against the live org (the check the drift monitor makes
        while running, :func:`runner.contract.check_org`); DriftError with the report.
        ``describer`` (default: the Salesforce connector) is what answers the describes:
        ``run`` passes one that retries transient failures (runner.startup_retry).

        Flows paused for drift by an earlier run stay paused and are left out of the check
        (the drift monitor re-checks them and resumes them once the org is fixed): one
        drifted flow must not keep the others from starting."""
        paused = set(load_state(self.store)["paused"]) & set(self.bundle.flows) \
            if self._finance_option is not False else set()
        if paused:
            log.warning("flows paused by contract drift stay paused: %s", ", ".join(sorted(paused)))
        findings = check_org(self.bundle.without(paused), describer or self.salesforce)
        if findings:
            raise DriftError([f.reason for f in findings], findings)

    def start(self) -> Runner:
        """Start serving and syncing. Call :meth:`check` first."""
        if not self.bundle.flows:
            raise ConfigError("the bundle has no flows to run")
        if self._finance_option is True:
            self.finance = FinanceMonitor(self.config, self.store, self.salesforce,
                                          self.alerter, self.bundle)
        if self.finance is not None:
            self.finance.on_pause_change = self._set_paused
            self._drift_paused = self.finance.paused
            self._paused = self._drift_paused & frozenset(self.bundle.flows)
        self._build_workers(self._paused)
        if self._poller is not None:
            self._triggers = start_triggers(
                str(self.config.get("runner.salesforce_triggers")),
                self.bundle.salesforce_flows, self.salesforce, self.store,
                lambda: self._poller, metrics=self.metrics)
            self._poller.pin_watermarks()  # before /healthz answers: "from the start on"
        admin_routes = self._admin_routes()
        shared = admin_routes if not self.config.get("runner.admin_listen") else []
        self.server = WebhookServer(
            self.store, self.webhook_secrets, host=self.host, port=self.port,
            metrics=self.metrics,
            health=lambda: store_health(self.store, salesforce_api=self.salesforce.api_usage(),
                                        worker=self.worker,
                                        stall_after=self.config.get("runner.stall_after")),
            on_event=lambda _event: self._wake.set(),
            event_types=self.bundle.event_types,
            on_scrape=self._refresh_gauges,
            extra_routes=shared,
        )
        self.server.start()
        try:
            if admin_routes and not shared:
                host, port = parse_listen(self.config.get("runner.admin_listen"))
                self.admin_server = HttpServer(host, port, HttpLimits())
                self.admin_server.start(admin_app(admin_routes))
                log.info("admin API listening on %s", self.admin_url)
            if self.register_webhook:
                self.stripe.register_webhook(self.server.webhook_url,
                                             sorted(self.bundle.event_types))
                log.info("registered %s with the Stripe sandbox", self.server.webhook_url)
            self._run_id = self.store.run_started()
        except BaseException:
            self.server.stop()
            if self.admin_server is not None:
                self.admin_server.stop()
            raise
        self._spawn("worker", self._work_loop)
        self._spawn("catch-up", self._every(self.config.catchup_interval, self._catch_up))
        if self._triggers is not None:
            for name, target in self._triggers.loops():
                self._spawn(name, target)
        if self._poller is not None and (self._triggers is None
                                         or self._triggers.plan.polled):
            self._spawn("sf-poller", self._every(self.config.poll_interval, self._poll))
        self._spawn("alerts", self._every(ALERT_INTERVAL, self._check_alerts))
        if self.finance is not None:
            self._spawn("finance", self._every(self.finance.settings.interval,
                                               self._finance_tick))
        log.info("runner started: %d flows, webhook at %s, worker %s", len(self.bundle.flows),
                 self.server.webhook_url, self.worker)
        return self

    @property
    def url(self) -> str:
        if self.server is None:
            raise RunnerError("the runner is not started")
        return self.server.url

    @property
    def webhook_url(self) -> str:
        if self.server is None:
            raise RunnerError("the runner is not started")
        return self.server.webhook_url

    @property
    def admin_url(self) -> str | None:
        """Where the admin API answers (``.../api/v1`` is under it); None when it is off."""
        if self.admin_server is not None:
            host = self.admin_server.host
            return f"http://{f'[{host}]' if ':' in host else host}:{self.admin_server.port}"
        if self.server is not None and self.server.extra_routes:
            return self.server.url
        return None

    def _admin_routes(self) -> list[Any]:
        """The admin API's routes when ``runner.admin_token`` is set (else none: off)."""
        token = self.config.get("runner.admin_token")
        if not token:
            return []
        auth = AdminAuth(token, self.config.get("runner.admin_read_token") or None)
        return AdminRoutes(AdminService(self), auth).routes()

    # -- lifecycle --------------------------------------------------------------------
    def request_stop(self, reason: str = "stop requested") -> None:
        if not self._stop.is_set():
            log.info("stopping: %s", reason)
        self._stop.set()
        self._wake.set()

    @property
    def fatal_error(self) -> BaseException | None:
        return self._fatal

    def wait(self, timeout: float | None = None) -> int:
        """Block until stopped; 1 if a fatal error stopped the runner, else 0."""
        self._stop.wait(timeout)
        return 1 if self._fatal is not None else 0

    def stop(self) -> None:
        """Stop taking webhooks, give the threads :data:`SHUTDOWN_GRACE` seconds in all to
        finish what they do, give back the claims, record the run's end; bounded even when
        a worker is stuck (a stalled expression, a hung call): its claims go back to the
        inbox uncounted for another worker, and the daemon thread ends with the process."""
        self.request_stop()
        deadline = time.monotonic() + SHUTDOWN_GRACE
        if self.server is not None:
            self.server.stop()
        if self.admin_server is not None:
            self.admin_server.stop()
            self.admin_server = None
        if self._triggers is not None:
            self._triggers.stop()  # ends the Pub/Sub streams the subscriber threads wait on
        busy = []
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                busy.append(thread.name)
        self._threads = []
        if busy:
            log.warning("stopping without %s, still busy after %g s; its claimed events go "
                        "back to the inbox", ", ".join(busy), SHUTDOWN_GRACE)
        # The store's write lock may be held by the stuck thread itself: bounded too.
        recorder = threading.Thread(target=self._record_stop, name="stop", daemon=True)
        recorder.start()
        recorder.join(SHUTDOWN_GRACE)
        if recorder.is_alive():
            log.error("could not give back the claims and record the end of the run within "
                      "%g s; the claims return when their lease ends", SHUTDOWN_GRACE)

    def _record_stop(self) -> None:
        try:
            released = self.store.release_claims(self.worker)
            if released:
                log.info("released %d claimed events", released)
            if self._run_id is not None:
                counts = {**self.stats.to_dict(), **self.store.counts()}
                usage = self.salesforce.api_usage()
                if usage is not None:
                    counts["salesforce_api"] = list(usage)  # what `status` shows offline
                if self._fatal is not None:
                    counts["fatal"] = str(self._fatal)
                self.store.run_stopped(self._run_id, counts)
                self._run_id = None
        except Exception as exc:  # the state store may be what failed
            log.error("could not record the end of the run: %s", exc)

    def run_forever(self) -> int:
        """``start`` + wait for SIGINT/SIGTERM (or a fatal error) + ``stop``; exit code."""
        with _stop_on_signals(self.request_stop):
            self.start()
            try:
                code = self.wait()
            finally:
                self.stop()
        if self._fatal is not None:
            raise FatalSyncError(f"the runner stopped: {self._fatal}") from self._fatal
        return code

    # -- paused flows -----------------------------------------------------------------
    @property
    def paused_flows(self) -> frozenset[str]:
        return self._paused

    @property
    def processor(self) -> Processor:
        if self._processor is None:
            raise RunnerError("the runner is not started")
        return self._processor

    @property
    def poller(self) -> SalesforcePoller | None:
        return self._poller

    def _build_workers(self, paused: frozenset[str]) -> None:
        """The processor (and poller) over the bundle without the paused flows."""
        view = self.bundle.without(paused)
        observers = [self.finance.observe] if self.finance is not None else []
        # The worker loop lingers between claims (_linger), where a stop request cuts the
        # wait short.
        self._processor = Processor(view, self.store, self.salesforce, self.stripe,
                                    metrics=self.metrics, batch_size=self.config.batch_size,
                                    observers=observers)
        if self.poll_enabled and self.bundle.salesforce_flows:
            self._poller = SalesforcePoller(view, self.store, self.salesforce,
                                            self.stripe, metrics=self.metrics)

    def _set_paused(self, paused: frozenset[str]) -> None:
        """Called by the finance monitor when drift pauses or resumes flows."""
        self._drift_paused = frozenset(paused)
        self._apply_paused()

    def _apply_paused(self) -> None:
        paused = (self._drift_paused | self._operator_paused) & frozenset(self.bundle.flows)
        if paused == self._paused:
            return
        log.warning("paused flows now: %s", ", ".join(sorted(paused)) or "none")
        with self._batch_lock:
            self._build_workers(paused)
            self._paused = paused
        self._wake.set()  # held events of a resumed flow are due again

    @property
    def operator_paused(self) -> frozenset[str]:
        return self._operator_paused

    def pause_flow(self, name: str) -> None:
        """Pause a flow by hand (the admin API): its events are held in the inbox, not
        lost, until :meth:`resume_flow`."""
        self.bundle.flow(name)  # an unknown flow: a clear error
        self._operator_paused = self._operator_paused | {name}
        self._apply_paused()

    def resume_flow(self, name: str) -> None:
        self.bundle.flow(name)
        self._operator_paused = self._operator_paused - {name}
        self._apply_paused()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """No batch runs meanwhile: the one in flight finishes first (a replay, a review
        decision, a bundle swap)."""
        with self._batch_lock:
            yield

    # -- hot deploy -------------------------------------------------------------------
    def deploy(self, loaded: LoadedBundle, describer: Describer | None = None) -> None:
        """Swap in a verified bundle without a restart: its contract is checked against the
        org first (DriftError, and the running bundle untouched), then the batch in flight
        finishes, and the next claim runs on the new bundle. Events never leave the inbox
        unsettled, so none is lost or handled twice. The previous bundle is kept for
        :meth:`rollback`."""
        if not loaded.flows:
            raise ConfigError("the bundle has no flows to run")
        findings = check_org(loaded.without(self._drift_paused & set(loaded.flows)),
                             describer or self.salesforce)
        if findings:
            raise DriftError([f.reason for f in findings], findings)
        self._swap(loaded, keep_previous=True)

    def rollback(self) -> LoadedBundle:
        """Back to the bundle before the last deploy (one step); the current one is
        forgotten."""
        if self.previous_bundle is None:
            raise ConfigError("there is no previous bundle to roll back to")
        previous = self.previous_bundle
        self._swap(previous, keep_previous=False)
        return previous

    def _swap(self, loaded: LoadedBundle, *, keep_previous: bool) -> None:
        with self._batch_lock:
            old = self.bundle
            self.bundle = loaded
            self._operator_paused &= frozenset(loaded.flows)
            self._paused = (self._drift_paused | self._operator_paused) & \
                frozenset(loaded.flows)
            self._build_workers(self._paused)
            if self.finance is not None:
                self.finance.bundle = loaded
            if self.server is not None:
                self.server.event_types = frozenset(loaded.event_types)
            self.previous_bundle = old if keep_previous else None
        log.info("bundle swapped: %d flows (%s)", len(loaded.flows),
                 ", ".join(sorted(loaded.flows)))
        self._wake.set()

    def _hold_paused(self, events: list[Any]) -> list[Any]:
        """Events a paused flow handles go back to the inbox until the flow resumes (the
        whole event: a flow sharing its type waits too, so no flow misses it); the rest."""
        paused = self._paused
        if not paused:
            return events
        keep = []
        operator = self._operator_paused
        # A hold is not an attempt: nothing was tried, so the claim is given back uncounted
        # (hold_events, not mark_retry) and a resumed flow's events keep their retry budget.
        hold: dict[tuple[str, str | None], list[str]] = {}
        for ev in events:
            flows = [c.name for c in self.bundle.flows_for_event(ev.type) if c.name in paused]
            if flows:
                why = "by an operator" if set(flows) <= operator else "by contract drift"
                reason = f"held: flow {', '.join(flows)} is paused {why}"
                hold.setdefault((reason, ev.worker), []).append(ev.event_id)
            else:
                keep.append(ev)
        now = self.store.now()
        for (reason, worker), ids in hold.items():
            # An operator's resume is a click away: look again soon, so held events land
            # within seconds of it. Drift is re-checked on the monitors' schedule.
            seconds = OPERATOR_HOLD if "by an operator" in reason else self._hold_seconds()
            self.store.hold_events(ids, now + timedelta(seconds=seconds), reason,
                                   worker=worker)
        return keep

    def _hold_seconds(self) -> float:
        if self.finance is None:
            return 60.0
        minutes = self.finance.settings.drift_check_minutes
        return max(self.finance.settings.interval, minutes * 60 if minutes > 0 else 300.0)

    def _finance_tick(self) -> None:
        assert self.finance is not None
        self.finance.tick()

    # -- the threads ------------------------------------------------------------------
    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=self._guard(name, target), name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _guard(self, name: str, target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # a thread must not die silently
                self._on_fatal(name, exc)
        return run

    def _on_fatal(self, where: str, exc: BaseException) -> None:
        if self._fatal is None:
            self._fatal = exc
        log.error("fatal error in %s: %s", where, exc, exc_info=exc)
        self.request_stop(f"fatal error in {where}")

    def _every(self, interval: float, job: Callable[[], None]) -> Callable[[], None]:
        """Run ``job`` now and then every ``interval`` seconds; non-fatal errors back off."""
        def loop() -> None:
            failures = 0
            while not self._stop.is_set():
                try:
                    job()
                    failures = 0
                    delay = interval
                except Exception as exc:
                    if is_fatal(exc):
                        raise
                    failures += 1
                    self._note_error(job.__name__, exc)
                    delay = min(interval, MAX_ERROR_BACKOFF, 2.0 ** failures)
                self._stop.wait(max(0.05, delay))
        return loop

    def _note_error(self, where: str, exc: BaseException) -> None:
        self.stats.errors += 1
        self.stats.last_error = f"{where}: {exc}"
        if getattr(exc, "status", None) in (401, 403):
            self._auth_failed = str(exc)
        log.warning("%s failed (will retry): %s", where.lstrip("_"), exc)

    def _work_loop(self) -> None:
        # What start-up built (compiled plans, schemas, the libraries) lives as long as
        # the process. Frozen, it is left out of the full collections that a burst's
        # payloads set off every few batches: each walked ~140,000 objects (about 0.1 s of
        # the worker's time) to find nothing (issue 12). Unfrozen again when the loop ends,
        # so a process that goes on (tests, the demo) collects it as before.
        gc.freeze()
        try:
            self._claim_and_process()
        finally:
            gc.unfreeze()

    def _claim_and_process(self) -> None:
        failures = 0
        while not self._stop.is_set():
            # Clear the wake-up right before claiming, not after the wait: a set from here
            # on may be for an event this claim misses, and it makes the wait below return
            # at once; a set before the clear is for an event already committed, which the
            # claim sees. No wake-up is erased unseen, and a stale one (set while a batch
            # was busy) no longer costs an extra empty claim.
            self._wake.clear()
            try:
                events = self.store.claim_events(self.worker, limit=self.config.batch_size,
                                                 lease_seconds=LEASE_SECONDS,
                                                 gather=self.gather)
            except Exception as exc:
                failures += 1
                self._note_error("claim_events", exc)
                self._stop.wait(min(MAX_ERROR_BACKOFF, 0.5 * 2 ** failures))
                continue
            if not events:
                if self.gather:
                    # Events may be due but still gathering: a wake-up per arriving event
                    # would be a claim per event, so poll instead (the gather bounds the
                    # wait anyway).
                    self._stop.wait(IDLE_SLEEP)
                else:
                    self._wake.wait(IDLE_SLEEP)
                continue
            try:
                with self._batch_lock:
                    events = self._hold_paused(events)
                    if not events:
                        continue
                    assert self._processor is not None  # built by start()
                    report = self._processor.process_events(events)
                failures = 0
            except Exception as exc:
                if is_fatal(exc):
                    self.store.release_claims(self.worker)
                    raise
                failures += 1
                self._note_error("process_events", exc)
                # Give the batch back at once; it is retried after a pause.
                self.store.release_claims(self.worker)
                self._stop.wait(min(MAX_ERROR_BACKOFF, 0.5 * 2 ** failures))
                continue
            self.stats.batches += 1
            self.stats.events += len(events)
            self._linger(len(events), report.api_calls)

    def _linger(self, claimed: int, api_calls: int) -> None:
        """Micro-batching's linger: after a batch that called Salesforce but did not fill
        ``batch_size``, wait ``runner.linger`` seconds before claiming again, so the next
        batch gathers what arrives meanwhile. A fast worker otherwise takes every few
        events on their own: one sObject Collections call each time, the API budget spent
        on tiny batches. A full batch (a backlog) goes on at once, and so does a batch that
        made no call (nothing to save). The cost is at most ``linger`` seconds of latency;
        a stop ends the wait."""
        if self.linger and api_calls and claimed < self.config.batch_size:
            self._stop.wait(self.linger)

    def _catch_up(self) -> None:
        since = self.catchup_since
        if since is None:
            since = int(time.time()) - FIRST_CATCHUP_WINDOW
        added = catch_up(self.store, self.stripe, event_types=self.bundle.event_types,
                         metrics=self.metrics, initial_since=since)
        if added:
            self.stats.catchup_inserted += added
            self._wake.set()

    def _poll(self) -> None:
        assert self._poller is not None  # spawned only with a poller
        # Flows that change events deliver are polled only to catch up (their subscriber).
        self._poller.poll_once(skip=self._triggers.subscribed if self._triggers else ())
        self.stats.polls += 1

    def _check_alerts(self) -> None:
        counts = self.store.counts()
        self.metrics.queue(counts)
        usage = self.salesforce.api_usage()
        if usage is not None:
            self.metrics.api_budget(*usage)
        if self.alerter is not None:
            self.alerter.check(counts, usage, self._auth_failed)

    def _refresh_gauges(self, metrics: Metrics) -> None:
        metrics.queue(self.store.counts())
        usage = self.salesforce.api_usage()
        if usage is not None:
            metrics.api_budget(*usage)


@contextmanager
def _stop_on_signals(stop: Callable[[str], None]) -> Iterator[None]:
    """SIGINT/SIGTERM ask for a graceful stop (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        stop(f"signal {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
