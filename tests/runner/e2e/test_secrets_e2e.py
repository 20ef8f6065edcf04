"""Secrets never reach logs, bundles, workspace files or the state database, end to end.

One run against the local sandboxes does everything that handles a credential (webhooks
signed with the real secret and a forged one, SDK charges, a customer, a dispute, a
validation failure that dead-letters, an Account synced to Stripe, an expired Salesforce
session that forces a new login, a runner started with a wrong Stripe key), then the studio
saves connections and a workspace. Every byte that produced is then searched for every
secret value in play and for credential-shaped text. A failure names the place and the kind
of secret, never the value.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import requests

from runner.sandbox.stripe_events import deliver, make_event, signed_delivery
from runner.state.store import StateStore
from tests.keyrings import MemoryKeyring
from tests.runner.e2e.helpers import (
    ROOT,
    RunnerProcess,
    build_template_bundle,
    charge_counts,
    free_port,
    soql_rows,
    wait_for,
    write_sandbox_json,
)

pytestmark = pytest.mark.slow

# Credential-shaped text, whoever's it is. The redactor's masks ("sk_test_[REDACTED]",
# "00D[REDACTED]") do not match: a mask is followed by "[", not by the secret's characters.
PATTERNS: dict[str, re.Pattern[bytes]] = {
    "a Stripe secret/restricted key": re.compile(rb"(?<![A-Za-z0-9])[sr]k_(?:test|live)_"
                                                 rb"[A-Za-z0-9]{4,}"),
    "a webhook signing secret": re.compile(rb"(?<![A-Za-z0-9])whsec_[A-Za-z0-9+/=]{4,}"),
    "a PEM block": re.compile(rb"-----BEGIN"),
    "a Salesforce session id": re.compile(rb"(?<![A-Za-z0-9])00D[A-Za-z0-9]{12,15}"
                                          rb"(?:!|%21)[A-Za-z0-9._\-]{8,}"),
    "a Salesforce refresh token": re.compile(rb"(?<![A-Za-z0-9])5Aep861[A-Za-z0-9._\-]{8,}"),
}
_MIN_NEEDLE = 6  # shorter values would match ordinary text


# -- what to look for -------------------------------------------------------------------------
def _needles(secret_values: dict[str, set[str]]) -> list[tuple[str, bytes]]:
    """(label, bytes) for every secret as written raw, URL-encoded and JSON-escaped."""
    out: set[tuple[str, bytes]] = set()
    for label, values in secret_values.items():
        for value in values:
            if not value or len(value) < _MIN_NEEDLE:
                continue
            for form in {value, quote(value, safe=""), quote_plus(value),
                         json.dumps(value)[1:-1]}:
                out.add((label, form.encode()))
    return sorted(out)


def _pem_body_lines(pem: str) -> set[str]:
    """The base64 lines of a PEM key: any one of them found means the key leaked."""
    return {line.strip() for line in pem.splitlines()
            if line.strip() and not line.startswith("-----") and len(line.strip()) >= 32}


def _find(blob: bytes, where: str, needles: list[tuple[str, bytes]]) -> list[str]:
    found = [f"{where}: {label}" for label, needle in needles if needle in blob]
    found += [f"{where}: {label} (pattern)" for label, pattern in PATTERNS.items()
              if pattern.search(blob)]
    return found


def _sqlite_rows(path: Path) -> Iterator[tuple[str, bytes]]:
    """Every table's rows as text. Long values overflow across pages, where a raw byte scan
    would miss a secret cut in two; the rows are whole."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
            yield table, repr(rows).encode() + b"\n" + "\n".join(
                str(v) if not isinstance(v, bytes) else v.decode("latin-1")
                for row in rows for v in row).encode()
    finally:
        conn.close()


def _scan_tree(root: Path, needles: list[tuple[str, bytes]], *,
               exclude: set[Path]) -> tuple[list[str], int]:
    """(findings, files scanned) for every file under ``root`` outside ``exclude``."""
    findings: list[str] = []
    scanned = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if any(path == ex or ex in path.parents for ex in exclude):
            continue
        scanned += 1
        blob = path.read_bytes()
        findings += _find(blob, str(path), needles)
        if blob.startswith(b"SQLite format 3"):
            for table, text in _sqlite_rows(path):
                findings += _find(text, f"{path} table {table}", needles)
        elif zipfile.is_zipfile(path):  # a bundle: its members are compressed
            with zipfile.ZipFile(path) as zf:
                for name in zf.namelist():
                    findings += _find(zf.read(name), f"{path}!{name}", needles)
    return findings, scanned


# -- the run ----------------------------------------------------------------------------------
def _deliver_ok(url: str, event: dict, secret: str) -> None:
    resp = deliver(url, event, secret)
    assert resp.status_code == 200, resp.text


def _open_dlq(state_url: str) -> int:
    with StateStore.open(state_url) as store:
        return int(store.counts()["dlq_open"])


def _emulator_tokens(handle) -> set[str]:
    """Every access and refresh token the emulator ever issued: the sandbox's own and those
    the runner obtained by logging in (first and again after the expiry). The handle has no
    public listing, so this reads the running emulator's auth sessions."""
    auth = handle._server.emulator.auth
    tokens = set(auth._sessions)
    tokens |= {row["token"] for row in auth.store.load_sessions()}
    return tokens


def _wrong_key_run(bundle: Path, sandbox_dict: dict, root: Path, env: dict) -> tuple[str, str]:
    """A second runner whose Stripe connector holds a wrong (restricted-shaped) key: the
    sandbox answers 401 and the runner must report it without printing the key."""
    wrong = dict(sandbox_dict, stripe=dict(sandbox_dict["stripe"],
                                           api_key="rk_test_" + secrets.token_hex(16)))
    wrong_json = root / "wrong-key-sandbox.json"
    wrong_json.write_text(json.dumps(wrong))
    wrong_json.chmod(0o600)
    proc = subprocess.run(
        [sys.executable, "-m", "runner.cli", "--debug", "run", str(bundle), "--sandbox",
         str(wrong_json), "--state", f"sqlite:///{root / 'runner' / 'wrong-key.sqlite'}",
         "--listen", f"127.0.0.1:{free_port()}", "--poll-interval", "1"],
        cwd=ROOT, env=env, capture_output=True, timeout=120, text=True)
    assert proc.returncode != 0, "a runner with a wrong Stripe key must refuse to run"
    assert re.search(r"401|unauthori[sz]ed|api key", proc.stderr, re.I), proc.stderr[-2000:]
    return wrong["stripe"]["api_key"], proc.stdout + "\n" + proc.stderr


def test_no_secret_reaches_logs_state_bundles_or_workspace_files(
        tmp_path: Path, monkeypatch, memory_keyring: MemoryKeyring, qtbot) -> None:
    from runner.sandbox.salesforce.server import salesforce_client
    from runner.sandbox.up import sandbox_up

    # Anything the runner or the studio writes to the user's directories lands here, where
    # it is scanned, instead of in the real home.
    home = tmp_path / "home"
    for var, sub in (("HOME", ""), ("XDG_DATA_HOME", ".local/share"),
                     ("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache"),
                     ("XDG_STATE_HOME", ".local/state")):
        (home / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.delenv("FIELDBRIDGE_STATE_URL", raising=False)

    # The sandbox's state dir and its JSON legitimately hold the sandbox's credentials:
    # they are its configuration (what `sandbox up --json` prints and the emulator's own
    # users, keys and sessions). They are the only places excluded from the scan.
    sandbox_state = tmp_path / "sandbox-state"
    sandbox_json = tmp_path / "sandbox.json"
    session = sandbox_up(state_dir=sandbox_state, seed="demo", reset=True)
    try:
        write_sandbox_json(session, sandbox_json)
        sandbox_dict = json.loads(sandbox_json.read_text())
        handle = session.salesforce
        sf = salesforce_client(handle)
        bundle = build_template_bundle(tmp_path / "bundle" / "templates.fbz")
        state_file = tmp_path / "runner" / "state.sqlite"
        runner = RunnerProcess(bundle, sandbox_json, f"sqlite:///{state_file}",
                               tmp_path / "runner")
        runner.args.insert(3, "--debug")  # python -m runner.cli --debug run ...
        admin_token = "adm_" + secrets.token_hex(20)  # the admin API (/api/v1) is on
        monkeypatch.setenv("FIELDBRIDGE_ADMIN_TOKEN", admin_token)
        runner.start()
        try:
            url, secret = runner.webhook_url, session.stripe.webhook_secret
            # Charges made with the SDK reach the runner through the sandbox's webhook.
            client = session.stripe.client()
            customer = client.v1.customers.create(params={
                "name": "Audit Person", "email": "audit@example.com"}).id
            card = client.v1.payment_methods.create(params={
                "type": "card", "card": {"number": "4242424242424242", "exp_month": 12,
                                         "exp_year": 2034, "cvc": "123"}})
            client.v1.payment_methods.attach(card.id, params={"customer": customer})
            client.v1.customers.update(customer, params={
                "invoice_settings": {"default_payment_method": card.id}})
            sdk_charge = client.v1.charges.create(params={
                "amount": 2500, "currency": "usd", "customer": customer,
                "description": "audit order"}).id
            # Signed events: a charge, a customer, a dispute on that charge.
            charge = make_event("charge.succeeded", overrides={"customer": None})
            _deliver_ok(url, charge, secret)
            _deliver_ok(url, make_event("customer.created"), secret)
            _deliver_ok(url, make_event("charge.dispute.created",
                                        overrides={"charge": charge["data"]["object"]["id"]}),
                        secret)
            # A validation failure (Amount_Not_Negative) that dead-letters.
            _deliver_ok(url, make_event("charge.succeeded",
                                        overrides={"customer": None, "amount": -500}), secret)
            # A forged webhook is refused.
            body, headers = signed_delivery(make_event("charge.succeeded"),
                                            "whsec_" + secrets.token_hex(16))
            assert requests.post(url, data=body, headers=headers, timeout=5).status_code == 400
            # A Salesforce Account goes to Stripe and its customer id is written back.
            account = sf.Account.create({"Name": "Audit Account Co"})["id"]
            wait_for(lambda: soql_rows(sf, "SELECT StripeCustomerID__c FROM Account WHERE "
                                           f"Id = '{account}'")[0]["StripeCustomerID__c"],
                     40, "the Account's Stripe customer id written back")
            charge_ids = [sdk_charge, charge["data"]["object"]["id"]]
            wait_for(lambda: len(charge_counts(sf, charge_ids)) == 2, 40,
                     "the SDK and signed charges in Salesforce")
            wait_for(lambda: _open_dlq(runner.args[runner.args.index("--state") + 1]) >= 1,
                     30, "the validation failure's dead letter")
            # An expired session: the runner logs in again to write the next charge.
            handle.expire_sessions()
            sf = salesforce_client(handle, access_token=handle.new_token())  # ours expired too
            after = make_event("charge.succeeded", overrides={"customer": None})
            _deliver_ok(url, after, secret)
            wait_for(lambda: charge_counts(sf, [after["data"]["object"]["id"]]), 40,
                     "a charge written after the session expired")
            assert "logged in again" in runner.log()
            # The studio's Operate workspace over the admin API: the token to the keyring,
            # an audited action, and a wrong token refused.
            from app.services.operate import OperateError, OperateService

            operate = OperateService()
            assert operate.connect(runner.url, admin_token)["dead_letters"] >= 1
            assert operate.problems(runner.url)
            operate.pause(runner.url, "charge-to-payment")
            operate.resume(runner.url, "charge-to-payment")
            assert [line.what for line in operate.audit(runner.url)][:2] == [
                "Resumed a flow", "Paused a flow"]
            with pytest.raises(OperateError):
                OperateService(token_store=lambda _u, _t: None).connect(
                    runner.url, "adm_" + secrets.token_hex(20))
        finally:
            assert runner.stop() == 0
        stdout = runner.proc.stdout.read() if runner.proc and runner.proc.stdout else b""
        log_text = runner.log()
        # The logs were really at DEBUG, so "nothing found" covers the chatty lines too.
        assert " DEBUG " in log_text or '"level": "DEBUG"' in log_text

        wrong_key, wrong_output = _wrong_key_run(bundle, sandbox_dict, tmp_path,
                                                 dict(os.environ))

        # The studio: connections with secrets (to the keyring) and a saved workspace.
        from app.document.document import StudioDocument, default_catalogs
        from app.services.connections import (
            ConnectionStore,
            SalesforceConnection,
            StripeConnection,
        )

        studio_key = "sk_live_" + secrets.token_hex(20)
        studio = {"password": "Studio-" + secrets.token_hex(8),
                  "security_token": secrets.token_hex(12),
                  "client_secret": secrets.token_hex(24)}
        connections_json = tmp_path / "studio" / "connections.json"
        store = ConnectionStore(connections_json)
        store.add(StripeConnection("live").with_key(studio_key))
        store.add(StripeConnection("sandbox", api_base=session.stripe.api_base)
                  .with_key(session.stripe.api_key))
        store.add(SalesforceConnection(
            "org", "password", "https://test.salesforce.com", handle.username,
            handle.consumer_key, password=studio["password"],
            security_token=studio["security_token"], client_secret=studio["client_secret"]))
        store.add(SalesforceConnection(
            "emulator", "jwt", "https://login.salesforce.com", handle.username,
            handle.consumer_key, private_key_file=handle.private_key_file,
            password=handle.password, security_token=handle.security_token,
            client_secret=handle.consumer_secret))
        # The secrets went somewhere (the keyring), so not finding them below means something.
        assert studio_key in memory_keyring.entries.values()
        assert handle.password in memory_keyring.entries.values()
        document = StudioDocument(catalogs=default_catalogs())
        document.open_template("charges-payments")
        document.save_as(tmp_path / "workspace")

        pem = Path(handle.private_key_file).read_text()
        secret_values: dict[str, set[str]] = {
            "the Stripe API key": {session.stripe.api_key, studio_key},
            "the wrong Stripe key": {wrong_key},
            "the webhook secret": {session.stripe.webhook_secret},
            "a Salesforce password": {handle.password, studio["password"],
                                      *(u.get("password", "") for u in handle.users)},
            "a Salesforce security token": {
                handle.security_token, studio["security_token"],
                *(u.get("security_token", "") for u in handle.users)},
            "the consumer secret": {handle.consumer_secret, studio["client_secret"]},
            "the emulator admin token": {handle.admin_token},
            "the runner's admin token": {admin_token},
            "an access/refresh token": {handle.access_token, *_emulator_tokens(handle)},
            "the private key PEM body": _pem_body_lines(pem),
        }
    finally:
        session.stop()
    assert all(secret_values.values()), "every kind of secret must have a value to look for"
    assert len(secret_values["an access/refresh token"]) >= 3, \
        "the runner logged in (twice) beside the sandbox's own token"
    needles = _needles(secret_values)

    findings = _find(stdout, "runner stdout", needles)
    findings += _find(log_text.encode(), "runner stderr (DEBUG log)", needles)
    findings += _find(wrong_output.encode(), "wrong-key runner output", needles)
    tree_findings, scanned = _scan_tree(
        tmp_path, needles,
        exclude={sandbox_state, sandbox_json, tmp_path / "wrong-key-sandbox.json"})
    findings += tree_findings
    # What the scan must have covered, so an empty result is not an empty search.
    covered = {p.name for p in tmp_path.rglob("*") if p.is_file()}
    assert {"state.sqlite", "templates.fbz", "connections.json",
            "charges-payments.yaml"} <= covered, sorted(covered)
    assert scanned >= 5
    # The search itself works: the excluded sandbox JSON, which holds the credentials, hits.
    assert _find(sandbox_json.read_bytes(), "sandbox.json", needles)
    assert not findings, "secrets found:\n" + "\n".join(sorted(set(findings)))
