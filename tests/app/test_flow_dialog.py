"""FlowDialog's Salesforce triggers: record changes, platform events, polling."""

from __future__ import annotations

import pytest

from app.services.connections import LOCAL_SANDBOX
from app.services.triggers import support_sentence
from mappings.document.model import (
    Action,
    Flow,
    ObjectRef,
    Operation,
    SalesforceChange,
    SalesforceEvent,
    Trigger,
)
from mappings.schema.model import System

FLOW = "closed-won-to-customer"  # salesforce_event beside salesforce_change (the fallback)


def test_editing_a_flow_keeps_its_platform_event(open_template, qtbot):
    from app.views.flow_dialog import FlowDialog

    doc = open_template("opportunity-to-subscription")
    before = doc.flow(FLOW).trigger
    assert before.salesforce_event is not None
    dialog = FlowDialog(doc, FLOW)
    qtbot.addWidget(dialog)
    dialog.accept()
    after = doc.flow(FLOW).trigger
    assert after.salesforce_event == SalesforceEvent("Opportunity_Closed_Won__e")
    assert after.salesforce_change == SalesforceChange("Opportunity", "StageName", "Closed Won")


def _sf_dialog(doc, qtbot, **kw):
    from app.views.flow_dialog import FlowDialog

    dialog = FlowDialog(doc, **kw)
    qtbot.addWidget(dialog)
    dialog.direction.setCurrentIndex(1)  # Salesforce -> Stripe
    dialog.name.setText("won-deals")
    dialog.source.setCurrentText("Opportunity")
    dialog.target.setCurrentText("customer")
    return dialog


def _choose(dialog, kind: str) -> None:
    dialog.trigger_kind.setCurrentIndex(dialog.trigger_kind.findData(kind))


def test_the_three_salesforce_triggers_in_plain_words(doc, qtbot):
    dialog = _sf_dialog(doc, qtbot)
    labels = [dialog.trigger_kind.itemText(i) for i in range(dialog.trigger_kind.count())]
    assert labels == ["When a record changes (real time)", "When a platform event arrives",
                      "Poll every 30 s"]


@pytest.mark.parametrize("kind", ["change", "poll"])
def test_a_record_change_or_polling_is_a_change_trigger(doc, qtbot, kind):
    dialog = _sf_dialog(doc, qtbot)
    _choose(dialog, kind)
    dialog.change_field.setCurrentIndex(dialog.change_field.findData("StageName"))
    dialog.change_becomes.setText("Closed Won")
    assert dialog.validate(), dialog.problem.text()
    trigger = dialog.flow().trigger
    assert trigger.salesforce_change == SalesforceChange("Opportunity", "StageName", "Closed Won")
    assert trigger.salesforce_event is None


def test_a_platform_event_alone_or_with_polling_as_its_fallback(doc, qtbot):
    dialog = _sf_dialog(doc, qtbot)
    _choose(dialog, "event")
    assert not dialog.validate()
    assert "Name the platform event" in dialog.problem.text()
    assert dialog.event_record_id.placeholderText().startswith("OpportunityId__c")
    dialog.event_name.setText("Closed Won")
    assert not dialog.validate()
    assert "ends in '__e'" in dialog.problem.text()  # the document schema's own sentence
    dialog.event_name.setText("Opportunity_Closed_Won__e")
    assert dialog.validate(), dialog.problem.text()
    trigger = dialog.flow().trigger
    assert trigger.salesforce_event == SalesforceEvent("Opportunity_Closed_Won__e")
    assert trigger.salesforce_change is None
    dialog.event_fallback.setChecked(True)
    dialog.event_record_id.setText("Deal__c")
    dialog.change_field.setCurrentIndex(dialog.change_field.findData("StageName"))
    trigger = dialog.flow().trigger
    assert trigger.salesforce_event == SalesforceEvent("Opportunity_Closed_Won__e", "Deal__c")
    assert trigger.salesforce_change == SalesforceChange("Opportunity", "StageName")
    assert dialog.apply()
    assert doc.flow("won-deals").trigger == trigger


def test_an_event_only_flow_reopens_as_one(open_template, qtbot):
    from app.views.flow_dialog import FlowDialog

    doc = open_template("opportunity-to-subscription")
    flow = doc.flow(FLOW)
    flow.trigger.salesforce_change = None
    dialog = FlowDialog(doc, FLOW)
    qtbot.addWidget(dialog)
    assert dialog.trigger_kind.currentData() == "event"
    assert not dialog.event_fallback.isChecked()
    dialog.accept()
    assert doc.flow(FLOW).trigger.salesforce_change is None
    assert doc.flow(FLOW).trigger.salesforce_event == SalesforceEvent("Opportunity_Closed_Won__e")


def test_without_a_connection_the_runner_decides(doc, qtbot):
    dialog = _sf_dialog(doc, qtbot)
    assert dialog.support.text().startswith("Decided when the runner starts")
    _choose(dialog, "event")
    dialog.event_name.setText("Opportunity_Closed_Won__e")
    dialog.check_support()
    assert "cannot start this flow" in dialog.support.text()


def test_with_a_connection_the_org_is_asked(doc, qtbot, monkeypatch):
    import app.views.flow_dialog as flow_dialog

    asked = []

    def trigger_support(services, connection, flow):
        asked.append((connection, flow.trigger.kind))
        return support_sentence(flow, flow.trigger.salesforce_event is None)

    monkeypatch.setattr(flow_dialog, "trigger_support", trigger_support)
    dialog = _sf_dialog(doc, qtbot, services=object(), connection="My org")
    qtbot.waitUntil(lambda: dialog.support.text() == "Real-time changes are available on this org.")
    _choose(dialog, "event")
    dialog.event_name.setText("Opportunity_Closed_Won__e")
    dialog.event_name.editingFinished.emit()
    qtbot.waitUntil(lambda: "does not offer the platform event" in dialog.support.text())
    assert "refuse to start" in dialog.support.text()
    assert ("My org", "salesforce_event") in asked
    assert asked == [("My org", "salesforce_change"), ("My org", "salesforce_event")]


# ----------------------------------------------------------------- what the org supports


@pytest.mark.parametrize(("event", "change", "offered", "sentence"), [
    (None, True, None, "Decided when the runner starts: real-time changes where the org "
                       "offers them, otherwise it polls every 30 s."),
    (None, True, True, "Real-time changes are available on this org."),
    (None, True, False, "Real-time changes are not offered by this org: the runner will poll "
                        "every 30 s."),
    ("E__e", True, None, "Decided when the runner starts: it listens to E__e where the org "
                         "offers it, otherwise it polls every 30 s."),
    ("E__e", False, True, "The platform event E__e is available on this org."),
    ("E__e", True, False, "This org does not offer the platform event E__e: the runner will "
                          "poll every 30 s."),
    ("E__e", False, False, "This org does not offer the platform event E__e, and a platform "
                           "event cannot be polled: the runner will refuse to start this flow."),
])
def test_support_sentences(event, change, offered, sentence):
    flow = Flow(
        name="f",
        trigger=Trigger(salesforce_change=SalesforceChange("Account") if change else None,
                        salesforce_event=SalesforceEvent(event) if event else None),
        source=ObjectRef(System.SALESFORCE, "Account"),
        target=ObjectRef(System.STRIPE, "customer"),
        operation=Operation(Action.CREATE),
    )
    assert support_sentence(flow, offered) == sentence


class _Sandbox:
    running = False


class _Services:
    sandbox = _Sandbox()

    def salesforce_connector(self, name):
        return f"connector of {name}"


def test_trigger_support_asks_only_a_connected_org(monkeypatch):
    import app.services.triggers as triggers

    asked = []
    monkeypatch.setattr(triggers, "org_offers", lambda connector, flow: asked.append(connector)
                        or True)
    flow = Flow(name="f", trigger=Trigger(salesforce_change=SalesforceChange("Account")),
                source=ObjectRef(System.SALESFORCE, "Account"),
                target=ObjectRef(System.STRIPE, "customer"), operation=Operation(Action.CREATE))
    services = _Services()
    assert triggers.trigger_support(services, None, flow).startswith("Decided")
    # The built-in sandbox is not started just to answer.
    assert triggers.trigger_support(services, LOCAL_SANDBOX, flow).startswith("Decided")
    assert asked == []
    assert triggers.trigger_support(services, "My org", flow).startswith("Real-time changes are")
    assert asked == ["connector of My org"]
