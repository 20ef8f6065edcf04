"""Test runs: a dry run and a real run of flows against the local sandboxes, via the panel."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from app.document.document import StudioDocument
from app.services import LOCAL_SANDBOX, SOURCE_STRIPE, Services, TestRunError
from app.views.preview_panel import PreviewPanel
from app.views.testrun_panel import MESSAGE_COLUMN, RunResultsModel, TestRunPanel

pytestmark = pytest.mark.slow  # these start the local sandboxes
RUN_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    root = tmp_path_factory.mktemp("testrun")
    svc = Services(config_path=root / "connections.json", sandbox_dir=root / "sandbox")
    svc.sandbox.ensure_up()  # seeded with the demo company
    yield svc
    svc.close()


def _open(qtbot, catalogs, template: str) -> StudioDocument:
    document = StudioDocument(catalogs=catalogs)
    document.open_template(template)
    return document


def _count(services: Services, soql: str) -> int:
    return len(services.salesforce_connector(LOCAL_SANDBOX).query_all(soql))


def _panels(qtbot, document, services):
    preview = PreviewPanel(document, services)
    panel = TestRunPanel(document, services)
    qtbot.addWidget(preview)
    qtbot.addWidget(panel)
    return preview, panel


def _run(qtbot, panel: TestRunPanel, *, dry: bool):
    with qtbot.waitSignal(panel.runFinished, timeout=RUN_TIMEOUT_MS) as signal:
        assert panel.start(dry=dry)  # returns at once: the run goes on in the background
        assert panel.running == (not panel.dry_button.isEnabled())  # busy state shown
    assert not panel.running and panel.dry_button.isEnabled()
    return signal.args[0]


def test_dry_run_then_real_run_of_sandbox_customers(qtbot, catalogs, services, tmp_path):
    document = _open(qtbot, catalogs, "customer-account")
    preview, panel = _panels(qtbot, document, services)
    preview.set_source(SOURCE_STRIPE, LOCAL_SANDBOX)
    with qtbot.waitSignal(preview.samplesLoaded, timeout=RUN_TIMEOUT_MS) as loaded:
        preview.refresh()
    assert loaded.args[1] >= 5  # the demo seed's customers
    samples = panel.samples()
    assert samples == preview.model.samples

    accounts_before = _count(services, "SELECT Id FROM Account")
    dry = _run(qtbot, panel, dry=True)
    assert dry.dry and len(dry.results) == len(samples)
    actions = {r.action for r in dry.results}
    # The seed links some customers to Accounts by StripeCustomerID__c and not others.
    assert {"would update", "would create"} <= actions
    for r in dry.results:
        if r.outcome == "update":
            assert r.salesforce_id and r.salesforce_id.startswith("001")
    assert _count(services, "SELECT Id FROM Account") == accounts_before  # wrote nothing
    assert panel.model.rowCount() == len(samples)
    assert panel.model.data(panel.model.index(0, 1)).startswith("would ")
    assert panel.progress.value() == panel.progress.maximum()
    panel.resize(1000, 400)
    panel.grab().save(str(tmp_path / "testrun_dry.png"))

    real = _run(qtbot, panel, dry=False)
    assert not real.dry and real.count("fail") == 0
    assert real.count("create") == dry.count("create")
    assert real.count("update") == dry.count("update")
    created = [r for r in real.results if r.outcome == "create"]
    assert all(r.salesforce_id for r in real.results)
    assert _count(services, "SELECT Id FROM Account") == accounts_before + len(created)
    # Now every customer has its Account: a new dry run would only update.
    again = _run(qtbot, panel, dry=True)
    assert {r.action for r in again.results} == {"would update"}


def test_real_run_reports_salesforce_errors_per_record(qtbot, catalogs, services):
    document = _open(qtbot, catalogs, "charges-payments")
    _preview, panel = _panels(qtbot, document, services)
    flow = document.flow("charge-to-payment")
    good = copy.deepcopy(flow.fixtures[0].input["data"]["object"])
    good.update(id="ch_testrun_good", customer=None)
    # A negative amount breaks the org's validation rule: only Salesforce can say so.
    negative = dict(copy.deepcopy(good), id="ch_testrun_bad", amount=-500)
    services.publish_samples(flow.name, [good, negative])

    dry = _run(qtbot, panel, dry=True)
    assert [r.action for r in dry.results] == ["would create", "would create"]

    real = _run(qtbot, panel, dry=False)
    by_source = {r.source_id: r for r in real.results}
    assert by_source["ch_testrun_good"].action == "created"
    bad = by_source["ch_testrun_bad"]
    assert bad.action == "failed"
    assert "negative" in bad.message.lower()  # the validation rule's own message
    assert panel.model.data(panel.model.index(1, MESSAGE_COLUMN)) == bad.message
    # the written values are shown, and the created record can be removed again
    written = panel.model.data(panel.model.index(0, MESSAGE_COLUMN - 1))
    assert "ch_testrun_good" in written
    assert panel.created_ids() == [by_source["ch_testrun_good"].salesforce_id]
    assert panel.delete_button.isEnabled()
    assert panel.delete_created()
    qtbot.waitUntil(lambda: not panel.running, timeout=RUN_TIMEOUT_MS)
    assert panel.summary_label.text().startswith("Deleted 1 test record")
    assert not panel.delete_button.isEnabled()


def test_an_optional_lookup_that_does_not_resolve_is_left_empty_in_both_runs(
    qtbot, catalogs, services
):
    # As the runner does: the Payment is written without its Account, in the dry run's
    # prediction and in the real run alike.
    document = _open(qtbot, catalogs, "charges-payments")
    _preview, panel = _panels(qtbot, document, services)
    flow = document.flow("charge-to-payment")
    charge = dict(copy.deepcopy(flow.fixtures[0].input["data"]["object"]),
                  id="ch_testrun_orphan", customer="cus_nobody_has_this")
    services.publish_samples(flow.name, [charge])
    assert [r.action for r in _run(qtbot, panel, dry=True).results] == ["would create"]
    [real] = _run(qtbot, panel, dry=False).results
    assert real.action == "created" and "Account__c" not in (real.record or {})


def test_dry_run_fails_a_required_lookup_that_does_not_resolve(catalogs, services):
    document = StudioDocument(catalogs=catalogs)
    document.open_template("charges-payments")
    flow = document.flow("charge-to-payment")
    lookups = [dataclasses.replace(lk, required=True) for lk in flow.lookups]
    document.set_lookups(flow.name, lookups)
    charge = dict(copy.deepcopy(flow.fixtures[0].input["data"]["object"]),
                  id="ch_lookup", customer="cus_nobody_has_this")
    report = services.dry_run(flow, document.document_of(flow.name),
                              document.target_schema(flow.name), [charge])
    (result,) = report.results
    assert result.action == "would fail"
    assert "no Account with StripeCustomerID__c" in result.message


def test_real_run_refuses_a_production_org(catalogs, services):
    from app.services import SalesforceConnection

    document = StudioDocument(catalogs=catalogs)
    document.open_template("customer-account")
    flow = document.flow("customer-to-account")
    services.store._salesforce.append(  # a saved production org, without touching keyring
        SalesforceConnection("Prod", "password", username="u@example.com", consumer_key="k"))
    try:
        with pytest.raises(TestRunError, match="not a sandbox org"):
            services.real_run(flow, document.document_of(flow.name), None, [{"id": "cus_1"}],
                              connection="Prod")
    finally:
        services.store._salesforce.clear()


def test_flow_writing_to_stripe_cannot_be_test_run(catalogs, services):
    document = StudioDocument(catalogs=catalogs)
    document.open_template("account-to-stripe-customer")
    flow = document.flow("account-to-customer")
    with pytest.raises(TestRunError, match="writes to Stripe"):
        services.dry_run(flow, document.document_of(flow.name), None, [{"Id": "001"}])


def test_run_failure_goes_to_the_errors_signal(qtbot, catalogs, services, monkeypatch):
    document = _open(qtbot, catalogs, "customer-account")
    _preview, panel = _panels(qtbot, document, services)

    def broken(*args, **kwargs):
        raise ConnectionRefusedError("the org is down")

    monkeypatch.setattr(services, "dry_run", broken)
    with qtbot.waitSignal(panel.errorRaised, timeout=RUN_TIMEOUT_MS) as signal:
        panel.start(dry=True)
    assert "the org is down" in signal.args[0] and "Traceback" in signal.args[1]
    assert panel.dry_button.isEnabled()


def test_results_model_passes_qtmodeltester(qtmodeltester, catalogs, services):
    document = StudioDocument(catalogs=catalogs)
    document.open_template("customer-account")
    flow = document.flow("customer-to-account")
    samples = [fx.input for fx in flow.fixtures]
    report = services.dry_run(flow, document.document_of(flow.name),
                              document.target_schema(flow.name), samples)
    model = RunResultsModel()
    model.set_report(report, samples)
    qtmodeltester.check(model, force_py=True)
