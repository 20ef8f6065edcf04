"""The admin API of a running Runner on the local sandboxes: auth, dead letters explained,
replayed after a hot deploy of a fixed bundle, discarded; pause holds and resume lands; a hot
deploy and a rollback during a burst lose and duplicate nothing; review decisions act on the
org; every action is in the audit log, and no token in the logs or the state tables."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mappings.bundle import build_bundle
from mappings.document.yamlio import load_documents
from runner.admin.client import AdminClient, AdminClientError
from runner.app import Runner
from runner.bootstrap import connect_salesforce, connect_stripe, load_verified_bundle
from runner.cli import main as cli_main
from runner.config import load_config
from runner.sandbox.salesforce.server import salesforce_client
from runner.sandbox.stripe_events import deliver, make_event
from runner.state.store import StateStore
from tests.runner.e2e.helpers import TEMPLATES, charge_counts, sandbox_pair, soql_rows, wait_for

pytestmark = pytest.mark.slow

ADMIN = "e2e-admin-token-5f0c2a9b7d1e4c3a"
READ = "e2e-read-token-8b2d4f6a1c3e5b7d"
FLOW = "charge-to-payment"
STATUS_MAP = """      - target: Status__c
        transforms:
          - name: jsonata
            args:
              expr: 'refunded = true ? ''Refunded'' : $lookup({''succeeded'': ''Completed'', ''paid'': ''Completed'', ''failed'': ''Failed'', ''pending'': ''Pending''}, status)'
"""


def bundles(folder: Path) -> tuple[Path, Path]:
    """(broken, fixed): the broken one sends the charge status as it is to the restricted
    Status__c picklist (no status map); the fixed one is the template with
    ``requires_capture`` added to its status map (the fix the explanation suggests)."""
    broken_docs = folder / "broken"
    broken_docs.mkdir(parents=True)
    text = (TEMPLATES / "charges-payments.yaml").read_text(encoding="utf-8")
    assert STATUS_MAP in text
    (broken_docs / "charges-payments.yaml").write_text(
        text.replace(STATUS_MAP, "      - target: Status__c\n        source: status\n"),
        encoding="utf-8")
    shutil.copy(TEMPLATES / "customer-account.yaml", broken_docs)
    broken = build_bundle([d for _, d in load_documents(broken_docs)], folder / "broken.fbz")
    fixed_docs = folder / "fixed"
    fixed_docs.mkdir()
    (fixed_docs / "charges-payments.yaml").write_text(text.replace(
        "''pending'': ''Pending''}", "''pending'': ''Pending'', "
        "''requires_capture'': ''Pending''}"), encoding="utf-8")
    shutil.copy(TEMPLATES / "customer-account.yaml", fixed_docs)
    fixed = build_bundle([d for _, d in load_documents(fixed_docs)], folder / "fixed.fbz")
    return broken, fixed


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("admin")
    logs = Captured()
    logging.getLogger().addHandler(logs)
    with sandbox_pair(root / "sandbox") as session:
        broken, fixed = bundles(root)
        config = load_config(None, env={"FIELDBRIDGE_ADMIN_TOKEN": ADMIN,
                                        "FIELDBRIDGE_ADMIN_READ_TOKEN": READ},
                             use_keyring=False, sandbox_json=session.json_path,
                             overrides={"runner.listen": "127.0.0.1:0",
                                        "runner.poll_interval": 60.0,
                                        "runner.linger": 0.0})
        store = StateStore.open(f"sqlite:///{root / 'state.sqlite'}")
        runner = Runner(load_verified_bundle(broken, config), config, store,
                        salesforce=connect_salesforce(config), stripe=connect_stripe(config),
                        catchup_since=int(time.time()), poll=False, finance=False)
        runner.check()
        runner.start()
        try:
            assert runner.admin_url == runner.url  # shares the webhook server
            yield {"runner": runner, "store": store, "broken": broken, "fixed": fixed,
                   "secret": session.stripe.webhook_secret, "root": root, "logs": logs,
                   "sf": salesforce_client(session.salesforce),
                   "api": AdminClient(runner.url, ADMIN),
                   "reader": AdminClient(runner.url, READ)}
        finally:
            runner.stop()
            store.close()
            logging.getLogger().removeHandler(logs)


def charge(n: int, status: str = "succeeded") -> dict[str, Any]:
    created = int(time.time())
    return make_event("charge.succeeded", created=created, event_id=f"evt_adm_{n:04d}",
                      overrides={"id": f"ch_adm_{n:04d}", "customer": None, "status": status,
                                 "amount": 1000 + n, "currency": "usd", "created": created})


def send(env: dict[str, Any], event: dict[str, Any]) -> None:
    assert deliver(env["runner"].webhook_url, event, env["secret"]).status_code == 200


def test_no_token_or_a_wrong_one_is_401_and_the_read_token_may_not_act(env) -> None:
    url = env["runner"].url + "/api/v1/status"
    for headers in ({}, {"Authorization": "Bearer not-the-token-at-all"},
                    {"Authorization": f"Basic {ADMIN}"}):
        resp = requests.get(url, headers=headers, timeout=5)
        assert resp.status_code == 401
        assert resp.headers["content-type"] == "application/json"
        assert "error" in resp.json()
    status = env["reader"].status()
    assert {f["name"] for f in status["flows"]} == {FLOW, "customer-to-account",
                                                    "customer-to-contact"}
    with pytest.raises(AdminClientError) as err:
        env["reader"].pause(FLOW)
    assert err.value.status == 403
    assert FLOW not in env["runner"].paused_flows
    # The webhook and health endpoints are unchanged.
    assert requests.get(env["runner"].url + "/healthz", timeout=5).status_code == 200


def test_a_refused_record_is_explained_fixed_by_a_hot_deploy_and_replayed_once(env) -> None:
    api: AdminClient = env["api"]
    send(env, charge(1, "requires_capture"))
    send(env, charge(2, "requires_capture"))
    send(env, charge(3))
    listed = wait_for(lambda: (d := api.dead_letters(flow=FLOW))["total"] >= 3 and d, 30,
                      "three dead letters")
    item = listed["items"][0]
    # The mapping's picklist check refuses it before Salesforce would have.
    assert item["error_code"] == "INVALID_PICKLIST_VALUE"
    explanation = item["explanation"]
    assert explanation["field"] == "Status__c"
    assert explanation["value"] == "requires_capture"
    assert explanation["fix"].startswith(
        "add requires_capture to the value map of Status__c in flow charge-to-payment")
    # One cause (flow, code, field) groups all three.
    assert [g["count"] for g in listed["groups"]] == [3]
    detail = api.dead_letter(item["id"])
    assert detail["event"]["id"] == "evt_adm_0001"
    assert detail["record"]["Status__c"] == "requires_capture"
    # A bundle that is not one is refused, and the running bundle stays.
    with pytest.raises(AdminClientError) as err:
        api.deploy(b"not a bundle")
    assert err.value.status == 422 and "bundle refused" in str(err.value)
    # The fixed bundle goes in without a restart, and the group replays.
    assert api.deploy(env["fixed"])["deployed"]
    assert api.status()["bundle"]["rollback"] is True
    # Discard one, replay the rest.
    discarded = [i for i in listed["items"] if i["event_id"] == "evt_adm_0002"][0]
    api.discard(discarded["id"])
    result = api.replay_cause(listed["groups"][0]["cause"])
    assert result["replayed"] == 2 and result["failed"] == 0
    assert api.dead_letters(flow=FLOW)["total"] == 0
    counts = charge_counts(env["sf"], ["ch_adm_0001", "ch_adm_0002", "ch_adm_0003"])
    assert counts == {"ch_adm_0001": 1, "ch_adm_0003": 1}
    statuses = {r["StripeChargeID__c"]: r["Status__c"] for r in soql_rows(
        env["sf"], "SELECT StripeChargeID__c, Status__c FROM Payment__c WHERE "
                   "StripeChargeID__c IN ('ch_adm_0001', 'ch_adm_0003')")}
    assert statuses == {"ch_adm_0001": "Pending", "ch_adm_0003": "Completed"}
    with pytest.raises(AdminClientError) as err:
        api.replay(discarded["id"])
    assert err.value.status == 409


def test_pause_holds_events_and_resume_lands_them(env) -> None:
    api: AdminClient = env["api"]
    assert api.pause(FLOW)["state"] == "paused"
    assert [f["state"] for f in api.status()["flows"] if f["name"] == FLOW] == ["paused"]
    send(env, charge(10))
    time.sleep(2.5)
    assert charge_counts(env["sf"], ["ch_adm_0010"]) == {}
    held = env["store"].get_event("evt_adm_0010")
    assert held.status != "done" and "paused by an operator" in (held.last_error or "")
    assert api.resume(FLOW)["state"] == "running"
    wait_for(lambda: charge_counts(env["sf"], ["ch_adm_0010"]) == {"ch_adm_0010": 1}, 30,
             "the held charge to land")
    tail = api.events(since=0)
    assert "evt_adm_0010" in [e["event_id"] for e in tail["events"]]
    assert api.events(since=tail["next"])["events"] == []


def test_a_hot_deploy_and_a_rollback_during_a_burst_lose_and_duplicate_nothing(env) -> None:
    api: AdminClient = env["api"]
    ids = list(range(100, 220))
    errors: list[BaseException] = []

    def burst(part: list[int]) -> None:
        try:
            for n in part:
                send(env, charge(n))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=burst, args=(ids[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    assert api.deploy(env["fixed"])["deployed"]
    time.sleep(0.3)
    assert api.rollback()["rolled_back"]
    for t in threads:
        t.join(60)
    assert not errors
    wanted = [f"ch_adm_{n:04d}" for n in ids]
    wait_for(lambda: len(charge_counts(env["sf"], wanted)) == len(wanted), 90,
             "every charge of the burst written")
    assert set(charge_counts(env["sf"], wanted).values()) == {1}
    assert api.dead_letters()["total"] == 0
    with pytest.raises(AdminClientError) as err:  # one step only
        api.rollback()
    assert err.value.status == 409


def _review_for(env: dict[str, Any], name: str, customer: str) -> dict[str, Any]:
    sf = env["sf"]
    twins = [sf.Account.create({"Name": name})["id"] for _ in range(2)]
    event = make_event("customer.created", event_id=f"evt_{customer}",
                       overrides={"id": customer, "name": name, "email": None})
    send(env, event)
    item = wait_for(lambda: [i for i in env["api"].reviews()["items"]
                             if i["source_id"] == customer], 30, f"a review item for {name}")
    assert {c["Id"] for c in item[0]["candidates"]} >= {twins[0][:15]} or \
        {c["Id"] for c in item[0]["candidates"]} >= set(twins)
    return {"item": item[0], "twins": twins}


def test_review_approve_links_and_reject_creates_new_in_the_org(env) -> None:
    api: AdminClient = env["api"]
    sf = env["sf"]
    first = _review_for(env, "Twin Approve Co", "cus_AdmApprove01")
    chosen = first["item"]["candidates"][0]["Id"]
    answer = api.approve(first["item"]["id"], chosen)
    assert answer["linked_to"] == chosen and not answer["errors"]
    linked = soql_rows(sf, "SELECT Id FROM Account WHERE StripeCustomerID__c = "
                           "'cus_AdmApprove01'")
    assert len(linked) == 1 and linked[0]["Id"][:15] == chosen[:15]

    second = _review_for(env, "Twin Reject Co", "cus_AdmReject01")
    assert api.reject(second["item"]["id"])["created"]
    rows = soql_rows(sf, "SELECT Id, StripeCustomerID__c FROM Account WHERE Name = "
                         "'Twin Reject Co'")
    assert len(rows) == 3
    assert [r for r in rows if r["StripeCustomerID__c"] == "cus_AdmReject01"]
    assert api.reviews()["items"] == []


def test_the_cli_reads_and_acts_through_the_runner(env, monkeypatch, capsys) -> None:
    url = env["runner"].url
    monkeypatch.setenv("FIELDBRIDGE_ADMIN_TOKEN", ADMIN)
    assert cli_main(["status", "--runner", url]) == 0
    out = capsys.readouterr().out
    assert "charge-to-payment" in out and "running" in out
    # 'blocked' is not in the status map: no Status__c, which Salesforce requires.
    send(env, charge(900, "blocked"))
    wait_for(lambda: env["api"].dead_letters()["total"] == 1, 30, "a dead letter")
    assert cli_main(["dlq", "list", "--runner", url]) == 0
    out = capsys.readouterr().out
    assert "Required field missing (1:" in out
    assert "fix: map or default Status__c in flow charge-to-payment" in out
    entry = env["api"].dead_letters()["items"][0]["id"]
    assert cli_main(["dlq", "discard", str(entry), "--runner", url]) == 0
    assert env["api"].dead_letters()["total"] == 0
    monkeypatch.setenv("FIELDBRIDGE_ADMIN_TOKEN", "wrong-token-wrong-token")
    assert cli_main(["status", "--runner", url]) == 1
    assert "not valid" in capsys.readouterr().err


def test_actions_are_audited_and_no_token_is_logged_or_stored(env) -> None:
    entries = env["api"].audit()["entries"]
    actions = {e["action"] for e in entries}
    assert {"bundle.deploy", "bundle.rollback", "dead-letters.discard",
            "dead-letters.replay-group", "flows.pause", "flows.resume", "reviews.approve",
            "reviews.reject"} <= actions
    refused = [e for e in entries if e["action"] == "flows.pause" and e["token"] == "read"]
    assert not refused  # a 403 is refused before the action: not an action
    assert all(e["token"] in ("admin", "read") for e in entries)
    text = "\n".join(env["logs"].lines)
    assert ADMIN not in text and READ not in text
    db = (env["root"] / "state.sqlite").read_bytes()
    assert ADMIN.encode() not in db and READ.encode() not in db
