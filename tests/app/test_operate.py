"""The Operate workspace's models and view against a fake admin client (no runner)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app import asyncloop
from app.document.document import StudioDocument, default_catalogs
from app.services import Services
from app.services.operate import (
    History,
    OperateError,
    OperateService,
    audit_lines,
    flow_health,
    problem_groups,
    review_case,
)
from app.views.main_window import MainWindow
from app.views.operate_view import OperateView
from app.workspace import studio_settings

pytestmark = pytest.mark.gui
WAIT_MS = 10_000

STATUS = {
    "flows": [
        {"name": "charge-to-payment", "state": "running", "paused_by": None,
         "direction": "stripe->salesforce", "outcomes": {"written": 12, "dead_lettered": 2},
         "dead_letters": 2},
        {"name": "customer-to-account", "state": "paused", "paused_by": "operator",
         "direction": "stripe->salesforce", "outcomes": {}, "dead_letters": 0},
    ],
    "dead_letters": 2, "reviews": 1, "events_per_second": 1.5, "errors_per_second": 0.25,
    "latency": {"p50": 0.1, "p99": 2.0},
    "salesforce_api": {"used": 1200, "max": 15000, "remaining": 13800},
    "last_event": {"id": "evt_1", "type": "charge.succeeded", "status": "done", "seq": 9,
                   "received_at": "2026-12-02T03:00:00+00:00"},
    "bundle": {"flows": ["charge-to-payment"], "source": "x.fbz", "rollback": False},
}
EXPLANATION = {
    "code": "INVALID_PICKLIST_VALUE", "title": "Value not allowed in a picklist",
    "what": "Salesforce's Status__c allows only some values; requires_capture is not one.",
    "fix": "add requires_capture to the value map of Status__c in flow charge-to-payment",
    "flow": "charge-to-payment", "field": "Status__c", "value": "requires_capture",
    "in_mapping": True, "cause": "charge-to-payment|INVALID_PICKLIST_VALUE|Status__c",
    "evidence": {},
}
DEAD_LETTERS = {"total": 2, "items": [], "groups": [
    {"cause": EXPLANATION["cause"], "count": 2, "ids": [4, 7], "explanation": EXPLANATION}]}
REVIEW = {"id": 3, "flow": "customer-to-account", "status": "open", "source_id": "cus_1",
          "record": {"Name": "Acme Ltd", "Phone": "555"},
          "candidates": [{"Id": "001A", "Name": "Acme Ltd", "Phone": "556",
                          "attributes": {"type": "Account"}, "field": "Name",
                          "value": "Acme Ltd", "Fax": None},
                         {"Id": "001B", "Name": "ACME LTD", "Website": "acme.test"}]}
AUDIT = {"entries": [{"id": 1, "at": "2026-12-02T03:01:02.5+00:00", "token": "admin",
                      "action": "flows.pause", "target": "customer-to-account",
                      "outcome": "ok"}]}


class FakeClient:
    def __init__(self, url: str, token: str) -> None:
        if token != "good":
            raise AssertionError("only the good token is used")
        self.url = url
        self.calls: list[tuple[Any, ...]] = []

    def status(self) -> dict[str, Any]:
        return STATUS

    def dead_letters(self, **kwargs: Any) -> dict[str, Any]:
        return DEAD_LETTERS

    def reviews(self, status: str = "open") -> dict[str, Any]:
        return {"items": [REVIEW]}

    def audit(self, limit: int = 100) -> dict[str, Any]:
        return AUDIT

    def _did(self, *call: Any) -> dict[str, Any]:
        self.calls.append(call)
        return {"ok": True}

    def replay_cause(self, cause: str) -> dict[str, Any]:
        self.calls.append(("replay_cause", cause))
        return {"replayed": 2, "failed": 0, "results": []}

    def discard(self, id_: int) -> dict[str, Any]:
        return self._did("discard", id_)

    def approve(self, id_: int, record: str) -> dict[str, Any]:
        return self._did("approve", id_, record)

    def reject(self, id_: int, *, create: bool = True) -> dict[str, Any]:
        return self._did("reject", id_, create)

    def pause(self, flow: str) -> dict[str, Any]:
        return self._did("pause", flow)

    def resume(self, flow: str) -> dict[str, Any]:
        return self._did("resume", flow)

    def deploy(self, bundle: Path | bytes) -> dict[str, Any]:
        self.calls.append(("deploy", bundle))
        return {"deployed": True, "flows": ["charge-to-payment"]}


class Keyring(dict):
    def store(self, url: str, token: str | None) -> None:
        if token:
            self[url] = token
        else:
            self.pop(url, None)


@pytest.fixture
def keyring_() -> Keyring:
    return Keyring()


@pytest.fixture
def service(keyring_) -> OperateService:
    return OperateService(FakeClient, keyring_.get, keyring_.store)


# ------------------------------------------------------------------ models


def test_flow_health_reads_in_plain_words() -> None:
    charge, customer = flow_health(STATUS)
    assert charge.running and charge.health == "Working; 2 records need attention"
    assert (charge.written, charge.failed, charge.direction) == (12, 2, "Stripe to Salesforce")
    assert not customer.running and customer.health.startswith("Paused by an operator")


def test_problem_groups_carry_the_explanation() -> None:
    [group] = problem_groups(DEAD_LETTERS)
    assert group.ids == [4, 7] and group.field == "Status__c" and group.in_mapping
    assert group.headline == "Value not allowed in a picklist: 2 records in charge-to-payment"


def test_review_case_lines_the_records_up_field_by_field() -> None:
    case = review_case(REVIEW)
    assert case.candidate_ids == ["001A", "001B"]
    rows = {r.field: r for r in case.rows}
    assert list(rows) == ["Id", "Name", "Phone", "Website"]
    assert rows["Id"].candidates == ["001A", "001B"]
    assert rows["Name"].same == [True, True]  # case does not make a difference
    assert rows["Phone"].same == [False, False]
    assert rows["Website"].incoming == "" and rows["Website"].candidates == ["", "acme.test"]
    assert "2 possible matches with the same Name" in case.headline  # Fax: empty on all


def test_history_series_are_seconds_before_the_latest() -> None:
    history = History(points=3)
    for t in range(5):
        history.add({**STATUS, "events_per_second": t}, at=100.0 + t)
    assert history.series("events_per_second") == ([-2.0, -1.0, 0.0], [2.0, 3.0, 4.0])
    history.add({"latency": {"p50": None}}, at=106.0)
    assert history.series("p50") == ([-3.0, -2.0], [0.1, 0.1])  # 103, 104; 106 has none
    assert history.latest is not None and history.latest.api_max is None


def test_audit_lines_say_what_was_done() -> None:
    [line] = audit_lines(AUDIT)
    assert line.what == "Paused a flow" and line.when == "2026-12-02 03:01:02"


def test_connect_keeps_a_working_token_in_the_keyring(service, keyring_) -> None:
    with pytest.raises(OperateError, match="no admin token"):
        service.connect("http://runner:8080")
    assert service.connect("runner:8080/", "good")["dead_letters"] == 2
    assert keyring_ == {"http://runner:8080": "good"}
    assert service.urls == ["http://runner:8080"]
    # Next time the keyring's token is used.
    again = OperateService(FakeClient, keyring_.get, keyring_.store)
    again.connect("http://runner:8080")
    with pytest.raises(OperateError, match="not connected"):
        again.status("http://elsewhere")
    again.forget("http://runner:8080", token=True)
    assert keyring_ == {}


def test_a_refusal_is_one_sentence(service) -> None:
    class Refusing(FakeClient):
        def pause(self, flow: str) -> dict[str, Any]:
            raise RuntimeError("the admin token may only read")

    refusing = OperateService(Refusing, lambda _url: "good", lambda _u, _t: None)
    refusing.connect("http://r")
    with pytest.raises(OperateError, match="^the admin token may only read$"):
        refusing.pause("http://r", "charge-to-payment")


def test_deploy_and_replay_deploys_then_replays_the_group(service) -> None:
    service.connect("http://r", "good")
    [group] = service.problems("http://r")
    result = service.deploy_and_replay("http://r", b"fbz", group.cause)
    client = service.client("http://r")
    assert client.calls == [("deploy", b"fbz"), ("replay_cause", group.cause)]
    assert result.summary() == "Deployed (1 flows); 2 records sent again"


# ------------------------------------------------------------------ the view


@pytest.fixture
def window(qtbot, tmp_path, service) -> MainWindow:
    win = MainWindow(
        StudioDocument(catalogs=default_catalogs()),
        settings=studio_settings(tmp_path / "settings.ini"),
        ask_unsaved=lambda _parent, _name: "discard",
        services=Services(config_path=tmp_path / "c.json", sandbox_dir=tmp_path / "sb"),
    )
    win.operate_service = service
    qtbot.addWidget(win)
    win.show()
    yield win
    asyncloop.set_error_sink(None)


def test_the_workspace_shows_a_runner_and_acts_on_it(qtbot, window, service) -> None:
    window.document.open_template("charges-payments")
    action = window.actions_by_name["operate"]
    assert "Ctrl+Shift+O" in action.toolTip()
    assert action.shortcut().toString() == "Ctrl+Shift+O"
    action.trigger()
    view = window.operate_view
    assert view is not None and window.bottom_tabs.currentWidget() is view
    with qtbot.waitSignal(view.refreshed, timeout=WAIT_MS):
        view.connect_runner("http://r", "good")
    assert view.url == "http://r" and view.token_edit.text() == ""
    assert view.flows_table.rowCount() == 2
    assert view.flows_table.item(1, 2).text().startswith("Paused by an operator")
    assert "1,200 of 15,000" in view.summary.text()
    assert view.tabs.tabText(1) == "Problems (2)"
    assert "add requires_capture" in view.problem_fix.text()
    # Pause / resume follow the selected flow's state.
    view.select_flow("customer-to-account")
    assert view.resume_button.isEnabled() and not view.pause_button.isEnabled()
    client = service.client("http://r")
    view.resume_button.click()
    qtbot.waitUntil(lambda: view.status_line.text() == "Resumed customer-to-account",
                    timeout=WAIT_MS)
    assert ("resume", "customer-to-account") in client.calls
    # Open in mapping: the flow and field in the canvas and transform panel.
    view.open_mapping_button.click()
    assert window.document.current_flow == "charge-to-payment"
    assert window.transform_panel.target == "Status__c"
    assert window.canvas.mapping_scene().selected_target() == "Status__c"
    assert window.bottom_tabs.currentWidget() is window.transform_panel
    window.show_operate()
    # Deploy and replay: the open workspace exported and deployed, then the group replayed.
    view.deploy_and_replay()
    qtbot.waitUntil(lambda: view.status_line.text().startswith("Deployed"), timeout=WAIT_MS * 3)
    deployed = [c for c in client.calls if c[0] == "deploy"]
    assert deployed and deployed[0][1][:2] == b"PK"  # a .fbz is a zip
    assert view.status_line.text().endswith("2 records sent again")
    # A review: approve links to the selected column's record.
    view.review_table.selectColumn(3)
    assert view.chosen_candidate() == "001B"
    view.decide("approve")
    qtbot.waitUntil(lambda: ("approve", 3, "001B") in client.calls, timeout=WAIT_MS)
    view.decide("skip")
    qtbot.waitUntil(lambda: ("reject", 3, False) in client.calls, timeout=WAIT_MS)
    assert view.audit_table.item(0, 2).text() == "Paused a flow"
    window.document.undo_stack.setClean()


def test_open_in_mapping_of_an_unknown_flow_says_so(window) -> None:
    assert not window.open_mapping("no-such-flow", "Status__c")
    assert "no flow 'no-such-flow'" in window.statusBar().currentMessage()


def test_a_bad_token_is_reported_not_raised(qtbot, window) -> None:
    view = window.show_operate()
    with qtbot.waitSignal(view.errorRaised, timeout=WAIT_MS) as signal:
        view.connect_runner("", "")
    assert signal.args[0] == "Could not connect: type the runner's address, e.g. " \
                             "http://127.0.0.1:8080"


def test_the_runners_connected_to_are_remembered_without_their_token(
        qtbot, tmp_path, service, keyring_) -> None:
    settings = studio_settings(tmp_path / "operate.ini")
    view = OperateView(service, settings=settings)
    qtbot.addWidget(view)
    view.show()
    with qtbot.waitSignal(view.refreshed, timeout=WAIT_MS):
        view.connect_runner("http://r:1", "good")
    view.timer.stop()
    settings.sync()
    text = (tmp_path / "operate.ini").read_text()
    assert "http://r:1" in text and "good" not in text
    again = OperateView(OperateService(FakeClient, keyring_.get, keyring_.store),
                        settings=settings)
    qtbot.addWidget(again)
    assert again.url_edit.text() == "http://r:1"
    with qtbot.waitSignal(again.refreshed, timeout=WAIT_MS):
        again.connect_runner()  # the keyring's token
    again.timer.stop()
