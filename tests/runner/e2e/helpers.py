"""Helpers for the end-to-end tests: a ``fieldbridge-runner run`` subprocess against the
local sandboxes, and bounded waits."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "mappings" / "templates"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float, what: str,
             interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


def build_template_bundle(out: Path, names: tuple[str, ...] | None = None) -> Path:
    from mappings.bundle import build_bundle
    from mappings.document.yamlio import load_documents

    docs = [doc for path, doc in load_documents(TEMPLATES)
            if names is None or path.stem in names]
    return build_bundle(docs, out)


class RunnerProcess:
    """``python -m runner.cli run BUNDLE --sandbox ... --state ... --listen ...``."""

    def __init__(self, bundle: Path, sandbox_json: Path, state_url: str, log_dir: Path,
                 *, port: int | None = None, extra: tuple[str, ...] = ()) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.webhook_url = f"{self.url}/webhooks/stripe"
        self.args = [sys.executable, "-m", "runner.cli", "run", str(bundle),
                     "--sandbox", str(sandbox_json), "--state", state_url,
                     "--listen", f"127.0.0.1:{self.port}", "--poll-interval", "1", *extra]
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stderr_path = log_dir / f"runner-{self.port}-{time.monotonic_ns()}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, wait: bool = True) -> RunnerProcess:
        env = dict(os.environ, FIELDBRIDGE_LOG_LEVEL="INFO")
        env.pop("FIELDBRIDGE_STATE_URL", None)
        self._stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(self.args, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=self._stderr)
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 30.0) -> None:
        def healthy() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"the runner exited with {self.proc.returncode}:\n"
                                     f"{self.log()[-3000:]}")
            try:
                return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                return False
        wait_for(healthy, timeout, "the runner's /healthz")

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self._stderr.close()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError("the runner did not stop on SIGTERM") from None
        self._stderr.close()
        return self.proc.returncode

    def wait_exit(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout)
        self._stderr.close()
        return code


def write_sandbox_json(session: Any, path: Path) -> Path:
    path.write_text(json.dumps(session.to_dict()))
    path.chmod(0o600)
    return path


@contextmanager
def sandbox_pair(state_dir: Path, metadata: list[dict] | None = None) -> Iterator[Any]:
    """A Stripe sandbox and a Salesforce emulator of their own (``metadata``: changes to the
    emulator's org), described in ``state_dir/sandbox.json``; both stopped afterwards."""
    from runner.sandbox.salesforce.server import start_emulator
    from runner.sandbox.stripe_sandbox import new_webhook_secret, start_stripe_sandbox
    from runner.sandbox.up import SandboxSession

    stripe = start_stripe_sandbox(webhook_secret=new_webhook_secret())
    try:
        extra = {} if metadata is None else {"metadata": metadata}
        handle = start_emulator(state_dir / "sf", reset=True, **extra)
    except BaseException:
        stripe.stop()
        raise
    session = SandboxSession(stripe=stripe, salesforce=handle, state_dir=state_dir)
    session.json_path = write_sandbox_json(session, state_dir / "sandbox.json")
    try:
        yield session
    finally:
        session.stop()


def customer_with_card(client: Any, name: str, email: str) -> str:
    """A sandbox Stripe customer whose default payment method is a test card; its id."""
    customer = client.v1.customers.create(params={"name": name, "email": email})
    pm = client.v1.payment_methods.create(params={
        "type": "card",
        "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034,
                 "cvc": "123"}})
    client.v1.payment_methods.attach(pm.id, params={"customer": customer.id})
    client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": pm.id}})
    return customer.id


def soql_rows(sf: Any, soql: str) -> list[dict]:
    return list(sf.query_all(soql)["records"])


def charge_counts(sf: Any, charge_ids: list[str]) -> dict[str, int]:
    """Payment__c rows per StripeChargeID__c (only the ids asked for)."""
    counts: dict[str, int] = {}
    for start in range(0, len(charge_ids), 200):
        part = charge_ids[start:start + 200]
        quoted = ", ".join(f"'{c}'" for c in part)
        for row in soql_rows(sf, "SELECT StripeChargeID__c FROM Payment__c WHERE "
                                 f"StripeChargeID__c IN ({quoted})"):
            key = row["StripeChargeID__c"]
            counts[key] = counts.get(key, 0) + 1
    return counts
