"""``map preview`` and ``bundle test`` see an amount in minor units written unconverted
(issue 13, scenario 1): the template's Net__c fed straight from ``amount``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from runner.cli import main

CHARGES = Path(__file__).resolve().parents[2] / "mappings" / "templates" / "charges-payments.yaml"


@pytest.fixture()
def unconverted(tmp_path: Path) -> Path:
    """charges-payments with Net__c = amount (no minor_to_decimal) and a fixture expecting 1999."""
    data = yaml.safe_load(CHARGES.read_text())
    flow = next(f for f in data["flows"] if f["name"] == "charge-to-payment")
    flow["fields"].append({"target": "Net__c", "source": "amount"})
    fixture = flow["fixtures"][0]
    fixture.setdefault("expected", {})["Net__c"] = fixture["input"].get("amount")
    path = tmp_path / "charges.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_map_preview_reports_minor_units(
    unconverted: Path, tmp_path: Path, stripe_fixtures: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    charge = tmp_path / "charge.json"
    charge.write_text(json.dumps(dict(stripe_fixtures["charge"], amount=1999, currency="usd")))
    assert main(["map", "preview", str(unconverted), "--flow", "charge-to-payment", "--input",
                 str(charge)]) == 0
    out = json.loads(capsys.readouterr().out)
    units = [i for i in out["issues"] if i["code"] == "AMOUNT_IN_MINOR_UNITS"]
    assert units and units[0]["field"] == "Net__c" and units[0]["severity"] == "error"


def test_bundle_test_fails_on_it(unconverted: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "c.fbz"
    assert main(["bundle", "build", str(unconverted), "-o", str(bundle)]) == 0
    capsys.readouterr()
    assert main(["bundle", "test", str(bundle)]) != 0
    assert "AMOUNT_IN_MINOR_UNITS" in capsys.readouterr().out
