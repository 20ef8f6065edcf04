"""The runner's commands (run, test, backfill, dlq, review, status, demo): bad input gives
``error: ...`` and exit 1 without a traceback; status and dlq work on a state database."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.cli import main
from runner.state.store import StateStore
from tests.runner.e2e.helpers import build_template_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return build_template_bundle(tmp_path_factory.mktemp("bundle") / "charges.fbz",
                                 ("charges-payments",))


@pytest.fixture
def state(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'state.sqlite'}"


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch) -> Iterator[None]:
    for var in ("FIELDBRIDGE_STATE_URL", "FIELDBRIDGE_LISTEN", "FIELDBRIDGE_SECRETS_FILE"):
        monkeypatch.delenv(var, raising=False)
    yield
    # `run` installs the runner's log handler on this test's (captured) stderr: remove it.
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_fieldbridge", False)]:
        root.removeHandler(handler)


def _fails(capsys, argv: list[str], *expected: str) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.startswith("error: ") or "\nerror: " in err, err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, err
    return err


# -- bad input, command by command --------------------------------------------------------

def test_run_missing_bundle(capsys, tmp_path, state) -> None:
    _fails(capsys, ["run", str(tmp_path / "nope.fbz"), "--state", state],
           "nope.fbz does not exist")


def test_run_corrupt_bundle(capsys, tmp_path, state) -> None:
    broken = tmp_path / "broken.fbz"
    broken.write_bytes(b"PK\x03\x04 this is not really a zip")
    _fails(capsys, ["run", str(broken), "--state", state], "broken.fbz")


@pytest.mark.parametrize("listen", ["8787", "localhost:", "127.0.0.1:http", "127.0.0.1:70000"])
def test_run_bad_listen(capsys, bundle, state, listen) -> None:
    _fails(capsys, ["run", str(bundle), "--state", state, "--listen", listen], "--listen")


def test_run_bad_sandbox_json(capsys, bundle, state, tmp_path) -> None:
    bad = tmp_path / "sandbox.json"
    bad.write_text('{"stripe": {}}')
    _fails(capsys, ["run", str(bundle), "--state", state, "--sandbox", str(bad)],
           "sandbox JSON")


def test_run_without_credentials(capsys, bundle, state, monkeypatch) -> None:
    monkeypatch.setattr("keyring.get_password", lambda *a: None)
    _fails(capsys, ["run", str(bundle), "--state", state], "Stripe connection")


def test_run_bad_state_url(capsys, bundle) -> None:
    _fails(capsys, ["run", str(bundle), "--state", "mysql://x@y/z", "--listen",
                    "127.0.0.1:0"], "mysql")


def test_test_missing_bundle(capsys, tmp_path) -> None:
    _fails(capsys, ["test", str(tmp_path / "missing.fbz")], "missing.fbz")


def test_test_is_bundle_test(capsys, bundle) -> None:
    code = main(["test", str(bundle), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["results"] and code == (0 if out["passed"] else 1)
    assert main(["bundle", "test", str(bundle), "--json"]) == code
    assert json.loads(capsys.readouterr().out) == out


def test_backfill_bad_since(capsys, bundle, state) -> None:
    _fails(capsys, ["backfill", str(bundle), "--flow", "charge-to-payment", "--since",
                    "last tuesday", "--state", state], "--since", "last tuesday")


def test_backfill_future_since(capsys, bundle, state) -> None:
    _fails(capsys, ["backfill", str(bundle), "--flow", "charge-to-payment", "--since",
                    "2999-01-01", "--state", state], "future")


def test_backfill_unknown_flow(capsys, bundle, state) -> None:
    _fails(capsys, ["backfill", str(bundle), "--flow", "no-such-flow", "--since",
                    "2024-01-01", "--state", state], "no flow 'no-such-flow'",
           "charge-to-payment")


def test_backfill_missing_bundle(capsys, tmp_path, state) -> None:
    _fails(capsys, ["backfill", str(tmp_path / "x.fbz"), "--flow", "f", "--since",
                    "2024-01-01", "--state", state], "does not exist")


def test_dlq_unknown_id(capsys, state) -> None:
    _fails(capsys, ["dlq", "show", "42", "--state", state], "no dead letter with id 42")
    _fails(capsys, ["dlq", "discard", "42", "--state", state], "no dead letter with id 42")


def test_dlq_replay_unknown_id(capsys, bundle, state) -> None:
    _fails(capsys, ["dlq", "replay", "42", "--bundle", str(bundle), "--state", state],
           "no dead letter with id 42")


def test_dlq_replay_needs_an_id_or_all(capsys, bundle, state) -> None:
    _fails(capsys, ["dlq", "replay", "--bundle", str(bundle), "--state", state],
           "an ID or --all")


def test_dlq_id_must_be_a_number(capsys, state) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["dlq", "show", "abc", "--state", state])
    assert exc.value.code == 2
    assert "'abc' is not a dead-letter id" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["dlq", "discard", "0"], "'0' is not a dead-letter id (a positive number)"),
        (["review", "reject", "x1"], "'x1' is not a review item id (a number)"),
        (["review", "reject", "-3"], "'-3' is not a review item id (a positive number)"),
    ],
)
def test_queue_ids_are_positive_numbers(capsys, state, argv, words) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--state", state])
    assert exc.value.code == 2
    assert words in capsys.readouterr().err


def test_review_unknown_id(capsys, bundle, state) -> None:
    _fails(capsys, ["review", "reject", "7", "--state", state], "no review item with id 7")
    _fails(capsys, ["review", "approve", "7", "--bundle", str(bundle), "--state", state],
           "no review item with id 7")


def test_demo_state_dir_is_a_file(capsys, tmp_path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    _fails(capsys, ["demo", "--state-dir", str(not_a_dir)], "not a folder")


# -- status ------------------------------------------------------------------------------

def _event(n: int) -> dict:
    return {"id": f"evt_status{n}", "type": "charge.succeeded", "created": 1_700_000_000 + n,
            "data": {"object": {"id": f"ch_status{n}", "object": "charge"}}}


def test_status_json_shape(capsys, state) -> None:
    with StateStore.open(state) as store:
        store.add_event(_event(1), source="webhook")
        store.add_event(_event(2), source="catchup")
        store.dlq_add(flow="charge-to-payment", event_id="evt_status1", source_id="ch_status1",
                      payload=_event(1), record={"Status__c": "Bogus"},
                      error="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: bad value",
                      error_code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")
        run = store.run_started()
        store.run_stopped(run, {"events": 2, "salesforce_api": [120, 15000]})
    assert main(["status", "--json", "--state", state]) == 0
    status = json.loads(capsys.readouterr().out)
    assert set(status) == {"state", "queue", "dlq", "review", "last_event", "salesforce_api",
                           "runs", "finance"}
    assert status["queue"]["pending"] == 2
    assert set(status["queue"]) == {"pending", "processing", "retry", "done", "skipped", "dead"}
    assert status["dlq"] == 1 and status["review"] == 0
    assert status["last_event"]["id"] == "evt_status2"
    assert status["salesforce_api"] == {"used": 120, "max": 15000, "remaining": 14880,
                                        "source": f"run {run}"}
    assert status["runs"][0]["counts"]["events"] == 2

    assert main(["status", "--state", state]) == 0
    text = capsys.readouterr().out
    assert "2 pending" in text and "1 open" in text and "120 of 15000" in text


def test_status_of_an_empty_state(capsys, state) -> None:
    assert main(["status", "--json", "--state", state]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["last_event"] is None and status["runs"] == []
    assert status["salesforce_api"] is None


# -- dlq list / show / discard on a state ---------------------------------------------------

def test_dlq_list_show_discard(capsys, state) -> None:
    with StateStore.open(state) as store:
        ids = [store.dlq_add(flow="charge-to-payment", event_id=f"evt_d{n}",
                             source_id=f"ch_d{n}", payload=_event(n), record={"Amount__c": -1},
                             error=f"FIELD_CUSTOM_VALIDATION_EXCEPTION: negative {n}",
                             error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION")
               for n in (1, 2)]
    assert main(["dlq", "list", "--json", "--state", state]) == 0
    listed = json.loads(capsys.readouterr().out)["entries"]
    assert [e["id"] for e in listed] == ids
    assert listed[0]["error_code"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"

    assert main(["dlq", "show", str(ids[0]), "--json", "--state", state]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["record"] == {"Amount__c": -1}
    assert shown["payload"]["id"] == "evt_status1"

    assert main(["dlq", "show", str(ids[0]), "--state", state]) == 0
    assert "negative 1" in capsys.readouterr().out

    assert main(["dlq", "discard", str(ids[0]), "--state", state]) == 0
    assert "discarded" in capsys.readouterr().out
    _fails(capsys, ["dlq", "discard", str(ids[0]), "--state", state], "already discarded")

    assert main(["dlq", "list", "--state", state]) == 0
    out = capsys.readouterr().out
    assert "negative 2" in out and "negative 1" not in out
    assert main(["dlq", "list", "--status", "discarded", "--json", "--state", state]) == 0
    assert [e["id"] for e in json.loads(capsys.readouterr().out)["entries"]] == [ids[0]]


def test_review_list_and_reject(capsys, state) -> None:
    with StateStore.open(state) as store:
        item = store.review_add(flow="customer-to-account", source_id="cus_r1",
                                record={"Name": "Acme"}, payload=_event(3),
                                candidates=[{"Id": "001A", "Name": "Acme"},
                                            {"Id": "001B", "Name": "Acme"}])
    assert main(["review", "list", "--json", "--state", state]) == 0
    items = json.loads(capsys.readouterr().out)["items"]
    assert [i["id"] for i in items] == [item] and len(items[0]["candidates"]) == 2
    assert main(["review", "reject", str(item), "--state", state]) == 0
    assert "rejected" in capsys.readouterr().out
    _fails(capsys, ["review", "reject", str(item), "--state", state], "already rejected")
    assert main(["review", "list", "--state", state]) == 0
    assert "no open review items" in capsys.readouterr().out
