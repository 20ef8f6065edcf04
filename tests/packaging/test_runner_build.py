"""The one-file ``fieldbridge-runner`` build: it starts, builds and tests bundles, and syncs.

Marked slow (PyInstaller takes about a minute); CI runs it. Set FIELDBRIDGE_DIST to test a
binary built in an earlier step instead of building here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from mappings import __version__
from tests.packaging.conftest import ROOT
from tests.packaging.procs import descendants, free_port, read_line, wait_gone, wait_healthy

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1500),  # the first test pays for the build
    pytest.mark.skipif(sys.platform != "linux", reason="the smoke test reads /proc"),
]

TEMPLATES = ROOT / "mappings" / "templates"


def run(binary: Path, *args: str, cwd: Path | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env=_env(cwd or Path.cwd()))


def _env(home: Path) -> dict[str, str]:
    # Keep the binary's platformdirs state (default sandbox dir, state db) out of the real home.
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CONFIG_HOME=str(home / "config"),
               PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    env.pop("FIELDBRIDGE_STATE_URL", None)
    return env


def _commands_of_the_source_cli() -> set[str]:
    import argparse

    from runner.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_help_lists_every_command_of_the_source_tree(runner_binary: Path, tmp_path: Path):
    proc = run(runner_binary, "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    commands = _commands_of_the_source_cli()
    assert {"bundle", "sandbox"} <= commands
    missing = {c for c in commands if f"\n    {c} " not in proc.stdout
               and f"\n    {c}\n" not in proc.stdout}
    assert missing == set(), proc.stdout
    version = run(runner_binary, "--version", cwd=tmp_path)
    assert version.stdout.strip() == f"fieldbridge {__version__}"


def test_the_binary_carries_its_data_and_no_qt(runner_binary: Path, tmp_path: Path):
    # The one-file archive lists its members; Qt would show as PySide6/ or libQt6 entries.
    archive = subprocess.run([sys.executable, "-m", "PyInstaller.utils.cliutils.archive_viewer",
                              "--list", "--recursive", str(runner_binary)],
                             capture_output=True, text=True, timeout=120)
    if archive.returncode != 0:
        pytest.skip(f"cannot list the archive: {archive.stderr[-500:]}")
    listing = archive.stdout
    # The runner's code, the stripe SDK's source (parsed for the catalog), the migrations.
    for member in ("'runner.cli'", "'stripe/_charge.py'", "'runner/state/migrations/env.py'",
                   "'mappings/templates/charges-payments.yaml'"):
        assert member in listing, member
    assert "PySide6" not in listing and "libQt6" not in listing


def test_hidden_module_entry_refuses_what_it_does_not_run(runner_binary: Path, tmp_path: Path):
    proc = run(runner_binary, "__run_module__", "os", cwd=tmp_path)
    assert proc.returncode == 2
    assert "'os' cannot be run this way" in proc.stderr


def test_bundle_build_and_test_on_the_templates(runner_binary: Path, tmp_path: Path):
    built = run(runner_binary, "bundle", "build", str(TEMPLATES), "-o", "x.fbz", "--json",
                cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "x.fbz").stat().st_size > 0
    tested = run(runner_binary, "bundle", "test", "x.fbz", "--json", cwd=tmp_path)
    assert tested.returncode == 0, tested.stderr
    report = json.loads(tested.stdout)
    assert report["passed"] is True
    assert report["results"] and all(r["passed"] for r in report["results"])
    flows = {r["flow"] for r in report["results"]}
    assert "charge-to-payment" in flows


def test_bundle_test_names_a_missing_bundle(runner_binary: Path, tmp_path: Path):
    proc = run(runner_binary, "bundle", "test", "nope.fbz", cwd=tmp_path)
    assert proc.returncode == 1
    assert "nope.fbz" in proc.stderr and "Traceback" not in proc.stderr


def _salesforce(config: dict):
    import simple_salesforce

    session = requests.Session()
    session.verify = config["ca_file"]
    session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides session.verify
    return simple_salesforce.Salesforce(instance_url=config["instance_url"],
                                        session_id=config["access_token"], session=session)


def _stop(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"{proc.args!r} did not stop on SIGTERM: {err[-2000:]}") from None
    return proc.returncode, err


def test_sandbox_up_and_run_sync_signed_charges(runner_binary: Path, tmp_path: Path):
    if "run" not in _commands_of_the_source_cli():
        pytest.skip("the run command is not in runner.cli yet")
    from runner.sandbox.stripe_events import deliver, fresh_id, make_event

    env = _env(tmp_path)
    sandbox = subprocess.Popen(
        [str(runner_binary), "sandbox", "up", "--json", "--state-dir", str(tmp_path / "sbx")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    runner = None
    try:
        line = read_line(sandbox)
        config = json.loads(line)
        launcher = descendants(sandbox.pid)
        assert launcher, "localstripe should run as a child of the frozen binary"
        (tmp_path / "sandbox.json").write_text(line, encoding="utf-8")

        built = run(runner_binary, "bundle", "build", str(TEMPLATES / "charges-payments.yaml"),
                    "-o", "cp.fbz", cwd=tmp_path)
        assert built.returncode == 0, built.stderr
        port = free_port()
        runner = subprocess.Popen(
            [str(runner_binary), "run", "cp.fbz", "--sandbox", "sandbox.json",
             "--state", f"sqlite:///{tmp_path / 'state.db'}", "--listen", f"127.0.0.1:{port}",
             "--poll-interval", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
        health = wait_healthy(f"http://127.0.0.1:{port}/healthz", runner)
        assert health["status"] == "ok"

        sf = _salesforce(config["salesforce"])
        customer = fresh_id("cus_")
        account = sf.Account.create({"Name": "Frozen Build Co", "StripeCustomerID__c": customer})
        amounts = {fresh_id("ch_"): cents for cents in (1000, 2550, 4200)}
        for charge_id, cents in amounts.items():
            event = make_event("charge.succeeded", overrides={
                "id": charge_id, "customer": customer, "amount": cents, "currency": "usd"})
            resp = deliver(f"http://127.0.0.1:{port}/webhooks/stripe", event,
                           config["stripe"]["webhook_secret"])
            assert resp.status_code == 200, resp.text

        soql = ("SELECT StripeChargeID__c, Amount__c, Account__c FROM Payment__c "
                f"WHERE Account__c = '{account['id']}'")
        deadline = time.monotonic() + 60
        rows: list = []
        while time.monotonic() < deadline and len(rows) < len(amounts):
            rows = sf.query_all(soql)["records"]
            time.sleep(0.3)
        assert {r["StripeChargeID__c"]: r["Amount__c"] for r in rows} == {
            cid: cents / 100 for cid, cents in amounts.items()}

        code, err = _stop(runner)
        runner = None
        assert code == 0, err[-3000:]
        for secret in (config["stripe"]["webhook_secret"], config["stripe"]["api_key"],
                       config["salesforce"]["access_token"]):
            assert secret not in err
        code, err = _stop(sandbox)
        assert code == 0, err[-3000:]
        assert wait_gone(launcher) == set()
    finally:
        for proc in (runner, sandbox):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
