"""Both sandboxes at once: what ``fieldbridge-runner sandbox up`` and the demo start.

:func:`sandbox_up` starts the Stripe sandbox and the Salesforce org emulator under one state
directory, optionally seeds them, and returns a :class:`SandboxSession` whose
:meth:`~SandboxSession.to_json` is the one line the command prints with ``--json``.

State layout (default: the user data dir's ``sandbox/``)::

    stripe/localstripe.pickle   the Stripe sandbox's objects
    stripe/webhook_secret       kept so a configured runner keeps verifying after a restart
    stripe/localstripe.pickle.webhooks
                                the registered webhook endpoints, so runners keep receiving
    salesforce/                 the org emulator's database, CA and keys
    sandbox.lock                held (flock) by the one session using the directory; its pid

That JSON holds the sandboxes' local credentials on purpose (it is their configuration);
nothing here logs them.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from runner.errors import ConfigError, SandboxError
from runner.private_files import own_private_dir, private_dir, write_private
from runner.sandbox.state_lock import StateDirLock
from runner.sandbox.stripe_sandbox import StripeSandbox, new_webhook_secret, start_stripe_sandbox

if TYPE_CHECKING:
    from runner.sandbox.seed import SeedSummary

log = logging.getLogger(__name__)

SEEDS = ("demo",)
# Offered beside the contract keys when the emulator's handle has them.
_SALESFORCE_EXTRA_KEYS = ("security_token", "consumer_secret", "private_key_file", "api_version")


def default_state_dir() -> Path:
    return Path(platformdirs.user_data_dir("fieldbridge", appauthor=False)) / "sandbox"


@dataclass
class SandboxSession:
    """Both running sandboxes. ``stop()`` them (or use the session as a context manager)."""

    stripe: StripeSandbox
    salesforce: Any = field(repr=False)  # runner.sandbox.salesforce.server.EmulatorHandle
    state_dir: Path
    seed: SeedSummary | None = None
    lock: StateDirLock | None = field(default=None, repr=False)

    def __enter__(self) -> SandboxSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop both, then free the state directory; each step runs even if one before fails."""
        try:
            if self.salesforce is not None:
                self.salesforce.stop()
        finally:
            try:
                self.stripe.stop()
            finally:
                if self.lock is not None:
                    self.lock.release()

    def to_dict(self) -> dict[str, Any]:
        sf = self.salesforce
        salesforce = {
            "instance_url": sf.instance_url,
            "access_token": sf.access_token,
            "ca_file": str(sf.ca_file),
            "login_url": sf.login_url,
            "username": sf.username,
            "password": sf.password,
            "consumer_key": sf.consumer_key,
            # The Pub/Sub API (gRPC over TLS, the same ca_file): change and platform events.
            "pubsub_endpoint": sf.pubsub_endpoint,
        }
        for key in _SALESFORCE_EXTRA_KEYS:
            value = getattr(sf, key, None)
            if value is not None:
                salesforce[key] = value if isinstance(value, str | int | float) else str(value)
        out: dict[str, Any] = {
            "stripe": {
                "api_base": self.stripe.api_base,
                "api_key": self.stripe.api_key,
                "webhook_secret": self.stripe.webhook_secret,
            },
            "salesforce": salesforce,
            "state_dir": str(self.state_dir),
        }
        if self.seed is not None:
            out["seed"] = self.seed.to_dict()
        return out

    def to_json(self) -> str:
        """One line of JSON: the sandboxes' configuration, credentials included."""
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=False)

    @property
    def pids(self) -> list[int]:
        """Process ids of the sandboxes' subprocesses (for tests that check for orphans)."""
        proc = self.stripe.process
        return [proc.pid] if proc is not None else []


def _webhook_secret(stripe_dir: Path) -> str:
    path = stripe_dir / "webhook_secret"
    if path.exists():
        secret = path.read_text(encoding="utf-8").strip()
        if secret:
            return secret
    secret = new_webhook_secret()
    write_private(path, (secret + "\n").encode("utf-8"))  # a credential, however local
    return secret


def _start_stripe(stripe_dir: Path, *, port: int, reset: bool) -> StripeSandbox:
    if reset and stripe_dir.exists():
        shutil.rmtree(stripe_dir)
    try:
        own_private_dir(stripe_dir)
    except OSError as exc:
        raise SandboxError(f"cannot create the sandbox state directory {stripe_dir}") from exc
    return start_stripe_sandbox(
        port,
        webhook_secret=_webhook_secret(stripe_dir),
        data_file=stripe_dir / "localstripe.pickle",
    )


def _start_salesforce(state_dir: Path, *, port: int, reset: bool, faults: str | None) -> Any:
    try:
        from runner.sandbox.salesforce.server import start_emulator
    except ImportError as exc:
        raise SandboxError("the Salesforce org emulator is not available in this build") from exc
    return start_emulator(state_dir, port=port, reset=reset, faults=faults)


def sandbox_up(
    state_dir: Path | None = None,
    *,
    seed: str | None = None,
    reset: bool = False,
    faults: str | None = None,
    stripe_port: int = 0,
    salesforce_port: int = 0,
) -> SandboxSession:
    """Start the Stripe sandbox and the Salesforce emulator; seed them if asked.

    ``reset`` wipes both sides' stored state first. ``faults`` is the emulator's fault spec
    (e.g. ``latency=50ms,error503=0.1``); the Stripe sandbox has no fault injection.
    """
    if seed is not None and seed not in SEEDS:
        raise ConfigError(f"unknown seed {seed!r}; known seeds: {', '.join(SEEDS)}")
    for name, port in (("Stripe", stripe_port), ("Salesforce", salesforce_port)):
        if not 0 <= port <= 65535:
            raise ConfigError(f"invalid {name} sandbox port {port}")
    if faults is not None:
        # Refuse a bad spec before anything starts, not after localstripe is already up.
        from runner.sandbox.salesforce.faults import FaultSpec

        FaultSpec.parse(faults)
    root = (state_dir or default_state_dir()).expanduser().resolve()
    try:
        private_dir(root)
    except OSError as exc:
        raise SandboxError(f"cannot create the sandbox state directory {root}") from exc
    # Before anything in the directory is touched (a reset included): a second sandbox on
    # it would replace the CA, keys and data the first one's clients rely on.
    lock = StateDirLock(root)
    try:
        stripe = _start_stripe(root / "stripe", port=stripe_port, reset=reset)
    except BaseException:
        lock.release()
        raise
    session = SandboxSession(stripe=stripe, salesforce=None, state_dir=root, lock=lock)
    # Faults are for the clients under test, not for our own seeding: with a seed they are
    # switched on once it is in (a dropped request would otherwise fail the start).
    seeding = seed is not None
    try:
        # Its org.sqlite holds passwords and tokens, its server.key the TLS key.
        own_private_dir(root / "salesforce")
        session.salesforce = _start_salesforce(
            root / "salesforce", port=salesforce_port, reset=reset,
            faults=None if seeding else faults,
        )
        if seed == "demo":
            from runner.sandbox.salesforce.server import salesforce_client
            from runner.sandbox.seed import seed_demo

            session.seed = seed_demo(stripe, salesforce_client(session.salesforce))
        if seeding and faults is not None:
            session.salesforce.set_faults(faults)
    except BaseException:
        session.stop()
        raise
    log.info(
        "sandboxes up: Stripe at %s, Salesforce at %s (state in %s)",
        stripe.api_base, session.salesforce.instance_url, root,
    )
    return session
