"""The Operate workspace against a real runner on the local sandboxes: a refused charge shows
up as a problem with its explanation, Open in mapping shows the flow and field, the fix is
made in the open workspace (the missing status added to the value map), Deploy and replay
deploys the workspace and sends the record again, and it is written in the org once.

Set FIELDBRIDGE_SCREENSHOT_DIR to keep the screenshots (operate-problems.png, ...)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import asyncloop
from app.document.document import StudioDocument, default_catalogs
from app.services import Services
from app.services.operate import OperateService
from app.views.main_window import MainWindow
from app.workspace import studio_settings
from mappings.bundle import build_bundle
from mappings.document.yamlio import load_documents
from runner.app import Runner
from runner.bootstrap import connect_salesforce, connect_stripe, load_verified_bundle
from runner.config import load_config
from runner.sandbox.salesforce.server import salesforce_client
from runner.sandbox.stripe_events import deliver, make_event
from runner.state.store import StateStore
from tests.runner.e2e.helpers import TEMPLATES, charge_counts, sandbox_pair, soql_rows

pytestmark = [pytest.mark.slow, pytest.mark.gui]

ADMIN = "operate-e2e-token-3b9e1f7c5a2d4e6f"
FLOW = "charge-to-payment"
STATUS_JSONATA = """      - target: Status__c
        transforms:
          - name: jsonata
            args:
              expr: 'refunded = true ? ''Refunded'' : $lookup({''succeeded'': ''Completed'', ''paid'': ''Completed'', ''failed'': ''Failed'', ''pending'': ''Pending''}, status)'
"""
# The status through the document's value map; one it does not know passes through as it is.
STATUS_MAP = """      - target: Status__c
        source: status
        transforms:
          - name: map
            args:
              table: charge_status
"""
WAIT_MS = 60_000


def workspace(folder: Path) -> Path:
    """A workspace whose charge status map lacks ``requires_capture``."""
    folder.mkdir(parents=True)
    text = (TEMPLATES / "charges-payments.yaml").read_text(encoding="utf-8")
    assert STATUS_JSONATA in text
    (folder / "charges-payments.yaml").write_text(text.replace(STATUS_JSONATA, STATUS_MAP),
                                                  encoding="utf-8")
    shutil.copy(TEMPLATES / "customer-account.yaml", folder)
    return folder


def shoot(widget: Any, name: str) -> None:
    folder = os.environ.get("FIELDBRIDGE_SCREENSHOT_DIR")
    if folder:
        widget.grab().save(str(Path(folder) / name))


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("operate")
    folder = workspace(root / "workspace")
    with sandbox_pair(root / "sandbox") as session:
        bundle = build_bundle([d for _, d in load_documents(folder)], root / "running.fbz")
        config = load_config(None, env={"FIELDBRIDGE_ADMIN_TOKEN": ADMIN},
                             use_keyring=False, sandbox_json=session.json_path,
                             overrides={"runner.listen": "127.0.0.1:0",
                                        "runner.poll_interval": 60.0,
                                        "runner.linger": 0.0})
        store = StateStore.open(f"sqlite:///{root / 'state.sqlite'}")
        runner = Runner(load_verified_bundle(bundle, config), config, store,
                        salesforce=connect_salesforce(config), stripe=connect_stripe(config),
                        catchup_since=int(time.time()), poll=False, finance=False)
        runner.check()
        runner.start()
        try:
            yield {"runner": runner, "folder": folder, "root": root,
                   "secret": session.stripe.webhook_secret,
                   "sf": salesforce_client(session.salesforce)}
        finally:
            runner.stop()
            store.close()


@pytest.fixture
def window(qtbot, env, tmp_path) -> Iterator[MainWindow]:
    kept: dict[str, str] = {}  # the keyring, for this test
    window = MainWindow(
        StudioDocument(catalogs=default_catalogs()),
        settings=studio_settings(tmp_path / "settings.ini"),
        ask_unsaved=lambda _parent, _name: "discard",
        services=Services(config_path=tmp_path / "c.json", sandbox_dir=tmp_path / "sb"),
    )
    window.operate_service = OperateService(
        token_lookup=kept.get, token_store=lambda url, token: kept.__setitem__(url, token or ""))
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    window.kept = kept  # type: ignore[attr-defined]
    try:
        assert window.open_workspace(env["folder"])
        view = window.show_operate()
        with qtbot.waitSignal(view.refreshed, timeout=WAIT_MS):
            view.connect_runner(env["runner"].url, ADMIN)
        yield window
    finally:
        if window.operate_view is not None:
            window.operate_view.timer.stop()
        window.document.undo_stack.setClean()
        asyncloop.set_error_sink(None)


def test_see_a_refused_record_fix_it_in_the_mapping_deploy_and_replay(qtbot, env, window
                                                                      ) -> None:
    view = window.show_operate()
    assert window.kept == {env["runner"].url: ADMIN}  # type: ignore[attr-defined]
    assert {f.name for f in view.flows} >= {FLOW}

    created = int(time.time())
    event = make_event("charge.succeeded", created=created, event_id="evt_op_0001",
                       overrides={"id": "ch_op_0001", "customer": None,
                                  "status": "requires_capture", "amount": 1234,
                                  "currency": "usd", "created": created})
    assert deliver(env["runner"].webhook_url, event, env["secret"]).status_code == 200
    qtbot.waitUntil(lambda: bool(view.refresh() and view.problems), timeout=WAIT_MS)
    view.tabs.setCurrentIndex(1)
    [group] = view.problems
    assert (group.flow, group.field, group.value) == (FLOW, "Status__c",
                                                      "requires_capture")
    assert "add requires_capture to the value map of Status__c" in \
        view.problem_fix.text()
    assert view.open_mapping_button.isEnabled()
    shoot(window, "operate-problems.png")

    view.open_mapping_button.click()
    assert window.document.current_flow == FLOW
    assert window.transform_panel.target == "Status__c"
    assert window.bottom_tabs.currentWidget() is window.transform_panel

    # The fix, through the document: the missing status in the value map.
    doc = window.document.document_of(FLOW)
    table = dict(doc.value_maps["charge_status"])
    window.document.set_value_map(doc.name, "charge_status",
                                  {**table, "requires_capture": "Pending"})

    window.show_operate()
    done = view.deploy_and_replay()
    assert done is not None
    qtbot.waitUntil(lambda: view.status_line.text().startswith("Deployed"), timeout=WAIT_MS)
    assert view.status_line.text().endswith("1 record sent again"), \
        view.status_line.text()
    qtbot.waitUntil(lambda: bool(view.refresh() is not None and not view.problems),
                    timeout=WAIT_MS)
    assert charge_counts(env["sf"], ["ch_op_0001"]) == {"ch_op_0001": 1}
    rows = soql_rows(env["sf"], "SELECT Status__c FROM Payment__c WHERE "
                                "StripeChargeID__c = 'ch_op_0001'")
    assert [r["Status__c"] for r in rows] == ["Pending"]
    assert "Deployed a new version of the mappings" in [
        view.audit_table.item(r, 2).text() for r in range(view.audit_table.rowCount())]
    view.tabs.setCurrentIndex(0)
    qtbot.wait(300)
    shoot(window, "operate-dashboard.png")
    view.tabs.setCurrentIndex(3)
    shoot(window, "operate-activity.png")


def test_a_possible_duplicate_side_by_side_approved_to_the_chosen_record(qtbot, env, window
                                                                         ) -> None:
    view = window.show_operate()
    sf = env["sf"]
    twins = [sf.Account.create({"Name": "Twin Operate Co", "Phone": phone})["id"]
             for phone in ("555-0100", "555-0199")]
    event = make_event("customer.created", event_id="evt_cus_OpTwin01",
                       overrides={"id": "cus_OpTwin01", "name": "Twin Operate Co",
                                  "email": None})
    assert deliver(env["runner"].webhook_url, event, env["secret"]).status_code == 200
    qtbot.waitUntil(lambda: bool(view.refresh() and view.cases), timeout=WAIT_MS)
    view.tabs.setCurrentIndex(2)
    [case] = view.cases
    assert case.source_id == "cus_OpTwin01"
    assert {c[:15] for c in case.candidate_ids} == {t[:15] for t in twins}
    headers = [view.review_table.horizontalHeaderItem(c).text()
               for c in range(view.review_table.columnCount())]
    assert headers == ["Field", "From Stripe", "Salesforce 1", "Salesforce 2"]
    names = {view.review_table.item(r, 0).text(): r
             for r in range(view.review_table.rowCount())}
    # The candidates' own values, read from the org, beside the incoming one.
    row = names["Name"]
    assert [view.review_table.item(row, c).text() for c in (1, 2, 3)] == \
        ["Twin Operate Co"] * 3
    assert "with the same Name" in case.headline
    shoot(window, "operate-review.png")
    chosen = case.candidate_ids[1]
    view.review_table.selectColumn(3)
    assert view.chosen_candidate() == chosen
    done = view.decide("approve")
    assert done is not None
    qtbot.waitUntil(lambda: view.status_line.text() == f"Linked cus_OpTwin01 to {chosen}",
                    timeout=WAIT_MS)
    linked = soql_rows(sf, "SELECT Id FROM Account WHERE StripeCustomerID__c = "
                           "'cus_OpTwin01'")
    assert [r["Id"][:15] for r in linked] == [chosen[:15]]
    qtbot.waitUntil(lambda: bool(view.refresh() is not None and not view.cases),
                    timeout=WAIT_MS)
