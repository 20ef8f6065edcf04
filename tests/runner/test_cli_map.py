"""``fieldbridge-runner map preview`` and ``map suggest``: output contracts and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.cli import main

TEMPLATES = Path(__file__).resolve().parents[2] / "mappings" / "templates"
CHARGES = TEMPLATES / "charges-payments.yaml"


@pytest.fixture()
def charge_event(tmp_path: Path, stripe_fixtures: dict) -> Path:
    charge = dict(stripe_fixtures["charge"], amount=2500, currency="eur", customer="cus_9")
    path = tmp_path / "event.json"
    path.write_text(
        json.dumps({"object": "event", "id": "evt_9", "type": "charge.succeeded", "data": {"object": charge}})
    )
    return path


def test_preview_prints_record_and_issues(charge_event: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "map", "preview", str(CHARGES), "--flow", "charge-to-payment", "--input", str(charge_event),
            "--lookup", "Account.StripeCustomerID__c=cus_9=001000000000009AAA",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["record"]["Amount__c"] == 25
    assert out["record"]["Currency__c"] == "EUR"
    assert out["record"]["Account__c"] == "001000000000009AAA"
    assert out["issues"] == []


def test_preview_reports_validation_issues(tmp_path: Path, stripe_fixtures: dict, capsys: pytest.CaptureFixture[str]) -> None:
    # A currency code longer than Currency__c's 3 characters is a STRING_TOO_LONG issue.
    charge = dict(stripe_fixtures["charge"], currency="usdx")
    path = tmp_path / "charge.json"
    path.write_text(json.dumps(charge))
    code = main(["map", "preview", str(CHARGES), "--flow", "charge-to-payment", "--input", str(path)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {i["code"] for i in out["issues"]} & {"STRING_TOO_LONG", "TRANSFORM_FAILED"}


def test_preview_from_a_bundle(tmp_path: Path, charge_event: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "c.fbz"
    assert main(["bundle", "build", str(CHARGES), "-o", str(bundle)]) == 0
    capsys.readouterr()
    assert main(["map", "preview", str(bundle), "--flow", "charge-to-payment", "--input", str(charge_event)]) == 0
    out = json.loads(capsys.readouterr().out)
    # Without a lookup answer the Account is linked by its external id.
    assert out["record"]["Account__r"] == {"StripeCustomerID__c": "cus_9"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--flow", "nope"], "has no flow named 'nope'"),
        (["--flow", "charge-to-payment", "--lookup", "broken"], "must look like Object.Field=value=SalesforceId"),
    ],
)
def test_preview_bad_arguments(
    charge_event: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["map", "preview", str(CHARGES), "--input", str(charge_event), *args])
    err = capsys.readouterr().err
    assert code == 1 and message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "is not valid JSON"), ("[1, 2]", "must be a JSON object")],
)
def test_preview_bad_input_file(
    tmp_path: Path, content: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in.json"
    path.write_text(content)
    code = main(["map", "preview", str(CHARGES), "--flow", "charge-to-payment", "--input", str(path)])
    assert code == 1 and message in capsys.readouterr().err


def test_preview_missing_input_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["map", "preview", str(CHARGES), "--flow", "charge-to-payment", "--input", str(tmp_path / "x.json")]
    )
    assert code == 1 and "cannot read input" in capsys.readouterr().err


def test_suggest_ranks_obvious_pairs_first(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["map", "suggest", "--source", "stripe:customer", "--target", "salesforce:Contact", "--json"])
    rows = json.loads(capsys.readouterr().out)
    ranked = [(s["source_path"], s["target_field"]) for s in rows if s["kind"] == "field"]
    assert code == 0
    assert ("email", "Email") in ranked[:5]
    assert ("phone", "Phone") in ranked[:5]


@pytest.mark.parametrize(
    ("source", "message"),
    [("stripe:nothing", "no stripe object named 'nothing'"), ("charge", "must look like stripe:OBJECT")],
)
def test_suggest_bad_objects(source: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["map", "suggest", "--source", source, "--target", "salesforce:Account"])
    assert code == 1 and message in capsys.readouterr().err


def test_suggest_offers_the_account_lookup_for_payments(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["map", "suggest", "--source", "stripe:charge", "--target", "salesforce:Payment__c", "--json"])
    rows = json.loads(capsys.readouterr().out)
    lookups = [(r["target"], r["object"], r["match_field"], r["source"]) for r in rows if r["kind"] == "lookup"]
    assert code == 0
    # The template's own lookup: Payment__c.Account__c through Account.StripeCustomerID__c.
    assert ("Account__c", "Account", "StripeCustomerID__c", "customer") in lookups
    assert not any(r["kind"] == "field" and r["target_field"] == "Account__c" for r in rows)
