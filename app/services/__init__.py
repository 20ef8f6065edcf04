"""What the studio asks of the outside world: connections, samples, test runs, sandboxes.

The only package of ``app`` that uses the runner, and only through :mod:`runner.api`; views
get a :class:`Services` and call it off the UI thread (``app.asyncloop``). Everything here
is plain Python and blocking, with a socket timeout on every network call.

Opening the studio loads only the light parts of :mod:`runner.api`: the connectors, the
runner's write path and the sandboxes are imported where a user first needs them (a few
function-local imports, each with its measured start-up cost);
``tests/app/test_services_startup.py`` keeps them out of the studio's start-up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.services.connections import (
    LOCAL_SANDBOX,
    Connection,
    ConnectionsError,
    ConnectionStore,
    SalesforceConnection,
    StripeConnection,
    TestResult,
    test_connection,
)
from app.services.samples import (
    DEFAULT_LIMIT,
    SampleError,
    file_samples,
    fixture_samples,
    stripe_samples,
)
from app.services.sandbox import SandboxService
from app.services.testrun_results import Progress, RecordResult, RunReport, TestRunError
from mappings.document.model import Flow, MappingDocument
from mappings.schema.model import ObjectSchema

if TYPE_CHECKING:
    from mappings.engine.plan import SchemaSource
    from runner.api.connectors import SalesforceConnector

__all__ = [
    "LOCAL_SANDBOX", "Connection", "ConnectionStore", "ConnectionsError", "RecordResult",
    "RunReport", "SalesforceConnection", "SampleError", "SandboxService", "Services",
    "StripeConnection", "TestResult", "TestRunError", "file_samples", "fixture_samples",
    "test_connection",
]

log = logging.getLogger(__name__)

# Where samples come from (the preview's source picker).
SOURCE_FIXTURES = "fixtures"
SOURCE_STRIPE = "stripe"  # with a Stripe connection name; LOCAL_SANDBOX is the sandbox
SOURCE_FILE = "file"

SamplesListener = Callable[[str, list[dict[str, Any]]], None]


class Services:
    """The facade the preview, test-run and connections views call."""

    def __init__(
        self,
        store: ConnectionStore | None = None,
        sandbox: SandboxService | None = None,
        *,
        config_path: Path | str | None = None,
        sandbox_dir: Path | str | None = None,
    ) -> None:
        self.sandbox = sandbox or (store.sandbox if store and store.sandbox else None) or \
            SandboxService(sandbox_dir)
        self.store = store or ConnectionStore(config_path, sandbox=self.sandbox)
        self.store.sandbox = self.sandbox
        self.store.subscribe(self._forget_connectors)
        self._connectors: dict[str, SalesforceConnector] = {}
        self._lock = threading.Lock()
        self._samples: dict[str, list[dict[str, Any]]] = {}
        self._sample_listeners: list[SamplesListener] = []

    # -- samples -------------------------------------------------------------------------
    def load_samples(
        self,
        flow: Flow,
        source: str,
        *,
        connection: str = LOCAL_SANDBOX,
        path: Path | str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> list[dict[str, Any]]:
        """Samples for ``flow`` from ``source`` (fixtures, stripe + connection, file + path)."""
        if source == SOURCE_FIXTURES:
            return fixture_samples(flow)
        if source == SOURCE_FILE:
            if path is None:
                raise SampleError("choose a JSON file to read samples from")
            return file_samples(path)
        if source == SOURCE_STRIPE:
            return stripe_samples(flow, self.store.stripe_settings(connection), limit)
        raise SampleError(f"unknown sample source {source!r} (fixtures, stripe or file)")

    def publish_samples(self, flow: str, samples: list[dict[str, Any]]) -> None:
        """The preview's current samples, which the test run uses too."""
        self._samples[flow] = samples
        for listener in list(self._sample_listeners):
            listener(flow, samples)

    def samples_for(self, flow: Flow) -> list[dict[str, Any]]:
        """The published samples of ``flow``, else its fixtures."""
        published = self._samples.get(flow.name)
        return published if published else fixture_samples(flow)

    def subscribe_samples(self, listener: SamplesListener) -> Callable[[], None]:
        """Call ``listener(flow, samples)`` on every publish; returns the unsubscribe."""
        self._sample_listeners.append(listener)
        return lambda: self._sample_listeners.remove(listener) \
            if listener in self._sample_listeners else None

    # -- connections ---------------------------------------------------------------------
    def test_connection(self, conn: Connection) -> TestResult:
        return test_connection(conn, self.store)

    def salesforce_connector(self, name: str = LOCAL_SANDBOX) -> SalesforceConnector:
        """A logged-in connector for a Salesforce connection (kept for the session)."""
        with self._lock:
            connector = self._connectors.get(name)
        if connector is None:
            # Lazy: runner.api.connectors (Stripe SDK, requests) adds ~0.65 s to start-up
            from runner.api.connectors import SalesforceConnector

            connector = SalesforceConnector(self.store.salesforce_settings(name))
            connector.connect()
            with self._lock:
                self._connectors[name] = connector
        return connector

    def _forget_connectors(self) -> None:
        with self._lock:
            self._connectors.clear()

    # -- test runs -----------------------------------------------------------------------
    def dry_run(
        self,
        flow: Flow,
        document: MappingDocument,
        target_schema: ObjectSchema | None,
        samples: list[dict[str, Any]],
        *,
        connection: str = LOCAL_SANDBOX,
        progress: Progress | None = None,
        source_schema: ObjectSchema | None = None,
        schemas: SchemaSource | None = None,
    ) -> RunReport:
        # Lazy: the runner's write path (pipeline, SQLAlchemy) adds ~1.4 s to start-up (importtime)
        from app.services.testrun import dry_run

        return dry_run(flow, document, target_schema, samples,
                       self.salesforce_connector(connection), progress, source_schema, schemas)

    def real_run(
        self,
        flow: Flow,
        document: MappingDocument,
        target_schema: ObjectSchema | None,
        samples: list[dict[str, Any]],
        *,
        connection: str = LOCAL_SANDBOX,
        progress: Progress | None = None,
        source_schema: ObjectSchema | None = None,
        schemas: SchemaSource | None = None,
    ) -> RunReport:
        """Write to the org; refused unless it is the local sandbox or a sandbox org.
        ``schemas`` gives a flow's child collections their schemas (the document's)."""
        conn = self.store.get("salesforce", connection)
        assert isinstance(conn, SalesforceConnection)
        if not conn.is_sandbox_org:
            raise TestRunError(
                f"{connection!r} is not a sandbox org ({conn.login_url}): a test run writes "
                "records, so it only runs against the local sandbox or a Salesforce sandbox"
            )
        # Lazy: the runner's write path (pipeline, SQLAlchemy) adds ~1.4 s to start-up (importtime)
        from app.services.testrun import real_run

        return real_run(flow, document, target_schema, samples,
                        self.salesforce_connector(connection), progress, source_schema, schemas)

    def delete_records(
        self, ids: list[str], *, connection: str = LOCAL_SANDBOX
    ) -> tuple[int, list[str]]:
        """Remove the records a test run created (sandbox orgs only, as for a real run)."""
        conn = self.store.get("salesforce", connection)
        assert isinstance(conn, SalesforceConnection)
        if not conn.is_sandbox_org:
            raise TestRunError(f"{connection!r} is not a sandbox org: nothing is deleted there")
        # Lazy: the runner's write path (pipeline, SQLAlchemy) adds ~1.4 s to start-up (importtime)
        from app.services.testrun import delete_records

        return delete_records(self.salesforce_connector(connection), ids)

    def close(self) -> None:
        """Stop the local sandboxes if this session started them (on studio exit)."""
        self._forget_connectors()
        self.sandbox.stop()
