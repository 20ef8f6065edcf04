"""The org metadata overlay and the shipped Salesforce org built with it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mappings.errors import SchemaError
from mappings.schema.model import FieldKind, System
from mappings.schema.org_metadata import (
    DATA_DIR,
    STANDARD_OBJECTS,
    OrgMetadataError,
    ValidationRule,
    apply_overlay,
    global_describe,
    load_org,
    load_org_describes,
    load_overlay,
    load_salesforce_catalog,
    normalize_overlay,
    validation_rules,
)
from mappings.schema.salesforce_describe import parse_describe

CUSTOM_OBJECTS = ("Payment__c", "Subscription_Contract__c", "Payout__c", "Refund__c",
                  "Subscription_Line_Item__c")


@pytest.fixture(scope="module")
def shipped() -> dict[str, dict]:
    return load_org_describes()


@pytest.fixture
def org(shipped: dict[str, dict]) -> dict[str, dict]:
    return copy.deepcopy(shipped)


def _field(describe: dict, name: str) -> dict:
    return next(f for f in describe["fields"] if f["name"] == name)


def _names(describe: dict) -> list[str]:
    return [f["name"] for f in describe["fields"]]


# --------------------------------------------------------------------------- the shipped org


def test_shipped_org_has_every_object(shipped: dict[str, dict]) -> None:
    assert set(shipped) == set(STANDARD_OBJECTS) | set(CUSTOM_OBJECTS)


def test_shipped_custom_fields_on_standard_objects() -> None:
    catalog = load_salesforce_catalog()
    assert catalog.system is System.SALESFORCE and catalog.api_version
    account_id = catalog["Account"].field("StripeCustomerID__c")
    assert account_id.external_id and account_id.unique and account_id.id_lookup
    assert account_id.nullable and account_id.length == 255
    assert catalog["Contact"].field("StripeCustomerID__c").external_id
    assert catalog["Opportunity"].field("StripeSubscriptionID__c").unique
    assert not catalog["Opportunity"].field("StripeCustomerID__c").external_id
    assert catalog["Case"].field("StripeObjectID__c").external_id
    assert catalog["Order"].field("StripeInvoiceID__c").external_id
    assert catalog["Product2"].field("StripeProductID__c").external_id
    # the describe still parses the way any org's would
    assert catalog["Payment__c"].field("Status__c").kind is FieldKind.PICKLIST
    assert catalog["account"] is catalog["Account"]


def test_shipped_case_picklists_accept_stripe_values() -> None:
    case = load_salesforce_catalog()["Case"]
    assert "Stripe" in case.field("Origin").enum_values
    assert {"Dispute", "Fraud Warning"} <= set(case.field("Reason").enum_values)
    assert "Phone" in case.field("Origin").enum_values  # recorded values kept


def test_shipped_org_leaves_recorded_files_untouched(shipped: dict[str, dict]) -> None:
    recorded = json.loads((DATA_DIR / "Account.describe.json").read_text())
    assert "StripeCustomerID__c" not in _names(recorded)
    assert _names(shipped["Account"]) == [*_names(recorded), "StripeCustomerID__c",
                                          "StripeDeletedAt__c"]


def test_custom_lookups_appear_as_child_relationships(shipped: dict[str, dict]) -> None:
    children = {(r["childSObject"], r["field"]): r["relationshipName"]
                for r in shipped["Account"]["childRelationships"]}
    assert children[("Payment__c", "Account__c")] == "Payments__r"
    assert children[("Subscription_Contract__c", "Account__c")] == "Subscription_Contracts__r"
    payout_children = [r for r in shipped["Payout__c"]["childRelationships"]
                       if r["childSObject"] == "Payment__c"]
    assert len(payout_children) == 1  # the written describe's entry is not duplicated


def test_shipped_validation_rules() -> None:
    rules = validation_rules()
    rule = next(r for r in rules if r.name == "Amount_Not_Negative")
    assert rule.object == "Payment__c" and rule.error_condition_formula == "Amount__c < 0"
    assert rule.error_display_field == "Amount__c" and rule.active
    assert rule.to_dict()["errorMessage"] == "Amount must not be negative"
    assert load_org().rules_for("payment__c") == [rule]
    # rules read as plain data too, in Salesforce's key names
    assert rule.get("errorConditionFormula") == "Amount__c < 0"
    assert dict(rule) == rule.to_dict() and len(rule) == len(rule.to_dict())
    assert hash(rule) == hash(ValidationRule(**{
        "object": "Payment__c", "name": "Amount_Not_Negative",
        "error_condition_formula": "Amount__c < 0",
        "error_message": "Amount must not be negative", "error_display_field": "Amount__c",
    }))


def test_load_org_returns_fresh_dicts() -> None:
    first = load_org_describes()
    first["Account"]["fields"].clear()
    assert load_org_describes()["Account"]["fields"]


def test_default_catalog_is_cached_but_callers_get_their_own() -> None:
    a, b = load_salesforce_catalog(), load_salesforce_catalog()
    assert a is not b and a.objects is not b.objects
    assert a["Account"] is b["Account"]
    a.objects.pop("Account")
    assert "Account" in load_salesforce_catalog()


def test_global_describe_lists_every_object(shipped: dict[str, dict]) -> None:
    recorded = json.loads((DATA_DIR / "global.describe.json").read_text())
    result = global_describe(shipped)
    assert {k: v for k, v in result.items() if k != "sobjects"} == {
        "encoding": "UTF-8", "maxBatchSize": 200
    }
    entries = {e["name"]: e for e in result["sobjects"]}
    assert set(shipped) <= set(entries)
    assert {e["name"] for e in recorded["sobjects"]} <= set(entries)
    entry_keys = set(recorded["sobjects"][0])
    for name, describe in shipped.items():
        assert set(entries[name]) == entry_keys, name
        assert entries[name]["keyPrefix"] == describe["keyPrefix"], name
    assert entries["Payment__c"]["custom"] is True
    assert entries["Payment__c"]["urls"]["sobject"].endswith("/sobjects/Payment__c")
    assert "uiNewRecord" not in entries["Payment__c"]["urls"]
    assert entries["Lead"]["keyPrefix"] == "00Q"  # corrected from the describe
    assert len(result["sobjects"]) == len(entries)  # no duplicates


def test_extra_overlay_through_load_org(tmp_path: Path) -> None:
    path = tmp_path / "drift.json"
    path.write_text(json.dumps({"removeFields": {"Payment__c": ["Card_Brand__c"]}}))
    describes = load_org_describes([path, {"fields": {"Lead": [{"name": "X__c",
                                                                  "type": "string"}]}}])
    assert "Card_Brand__c" not in _names(describes["Payment__c"])
    assert "X__c" in _names(describes["Lead"])
    catalog = load_salesforce_catalog([path])
    assert "Card_Brand__c" not in catalog["Payment__c"]
    assert "Card_Brand__c" in load_salesforce_catalog()["Payment__c"]


def test_later_rule_with_same_name_replaces_the_shipped_one() -> None:
    off = {"validationRules": [{"object": "Payment__c", "name": "Amount_Not_Negative",
                                "errorConditionFormula": "Amount__c < 0",
                                "errorMessage": "off", "active": False}]}
    rules = [r for r in validation_rules([off]) if r.name == "Amount_Not_Negative"]
    assert len(rules) == 1 and rules[0].active is False


# --------------------------------------------------------------------------- operations


def test_apply_overlay_leaves_inputs_untouched(org: dict[str, dict]) -> None:
    before = copy.deepcopy(org)
    overlay = {
        "fields": {"Account": [{"name": "Tier__c", "type": "picklist",
                                "picklistValues": ["Gold"], "restrictedPicklist": True}]},
        "picklistValues": {"Case": {"Origin": ["Chat"]}},
        "removeFields": {"Contact": ["Fax"]},
    }
    frozen = copy.deepcopy(overlay)
    result = apply_overlay(org, overlay)
    assert org == before and overlay == frozen
    assert result is not org and result["Account"] is not org["Account"]
    assert "Tier__c" in _names(result["Account"])


def test_add_field_short_form_expands_to_a_full_describe_field(org: dict[str, dict]) -> None:
    result = apply_overlay(org, {"fields": {"Account": [
        {"name": "Region__c", "type": "string", "length": 40, "externalId": True,
         "unique": True, "required": True, "label": "Region"}
    ]}})
    field = _field(result["Account"], "Region__c")
    assert set(field) == set(_field(org["Account"], "Name"))
    assert field["custom"] is True and field["byteLength"] == 120
    assert field["nillable"] is False and field["idLookup"] is True
    parsed = parse_describe(result["Account"]).field("Region__c")
    assert parsed.required and parsed.external_id and parsed.unique and parsed.length == 40


def test_add_full_field_dict_passes_through(org: dict[str, dict]) -> None:
    full = copy.deepcopy(_field(org["Account"], "Phone"))
    full["name"] = "Phone2__c"
    result = apply_overlay(org, {"fields": {"Account": [full]}})
    assert _field(result["Account"], "Phone2__c") == full


def test_add_reference_field_adds_child_relationship(org: dict[str, dict]) -> None:
    result = apply_overlay(org, {"fields": {"Case": [
        {"name": "Payment__c", "type": "reference", "referenceTo": "Payment__c"}
    ]}})
    field = _field(result["Case"], "Payment__c")
    assert field["relationshipName"] == "Payment__r" and field["referenceTo"] == ["Payment__c"]
    children = result["Payment__c"]["childRelationships"]
    assert {"childSObject": "Case", "field": "Payment__c"}.items() <= children[-1].items()


def test_add_object_short_form(org: dict[str, dict]) -> None:
    result = apply_overlay(org, {"objects": [{
        "name": "Credit_Note__c", "keyPrefix": "a0Q", "label": "Credit Note",
        "fields": [{"name": "Id", "type": "id", "nillable": False},
                   {"name": "Payment__c", "type": "reference", "referenceTo": ["Payment__c"]},
                   {"name": "Amount__c", "type": "currency", "required": True}],
    }]})
    refund = result["Credit_Note__c"]
    assert set(refund) == set(org["Account"])
    assert refund["custom"] is True and refund["labelPlural"] == "Credit Notes"
    schema = parse_describe(refund)
    assert schema.key_prefix == "a0Q" and schema.field("Amount__c").required
    relations = result["Payment__c"]["childRelationships"]
    assert any(r["childSObject"] == "Credit_Note__c"
               and r["relationshipName"] == "Credit_Notes__r"
               for r in relations)
    assert "Credit_Note__c" in {e["name"] for e in global_describe(result)["sobjects"]}


def test_add_object_full_describe(org: dict[str, dict]) -> None:
    payout = copy.deepcopy(org["Payout__c"])
    payout.update(name="Transfer__c", keyPrefix="a0E", label="Transfer")
    result = apply_overlay(org, {"objects": [payout]})
    assert result["Transfer__c"]["fields"] == payout["fields"]


def test_add_picklist_values_and_reactivate(org: dict[str, dict]) -> None:
    status = _field(org["Payment__c"], "Status__c")
    status["picklistValues"][0]["active"] = False  # Completed retired
    result = apply_overlay(org, {"picklistValues": {"Payment__c": {
        "Status__c": ["Completed", {"value": "Disputed", "label": "In dispute"}]
    }}})
    values = _field(result["Payment__c"], "Status__c")["picklistValues"]
    assert [v["value"] for v in values].count("Completed") == 1
    assert all(v["active"] for v in values)
    disputed = values[-1]
    assert disputed == {"active": True, "defaultValue": False, "label": "In dispute",
                        "validFor": None, "value": "Disputed"}
    enum = parse_describe(result["Payment__c"]).field("Status__c").enum_values
    assert enum == ("Completed", "Failed", "Pending", "Refunded", "Requires Action", "Canceled",
                    "Disputed")


def test_change_field(org: dict[str, dict]) -> None:
    result = apply_overlay(org, {"changeFields": {"Payment__c": [
        {"name": "card_brand__c", "length": 10, "required": True}
    ]}})
    schema = parse_describe(result["Payment__c"])
    assert schema.field("Card_Brand__c").length == 10
    assert schema.field("Card_Brand__c").required


def test_remove_field_and_its_child_relationship(org: dict[str, dict]) -> None:
    result = apply_overlay(org, {"removeFields": {"Payment__c": ["Account__c"]}})
    assert "Account__c" not in _names(result["Payment__c"])
    assert not any(r["childSObject"] == "Payment__c"
                   for r in result["Account"]["childRelationships"])


def test_object_names_are_case_insensitive(org: dict[str, dict]) -> None:
    result = apply_overlay(org, {"removeFields": {"payment__c": ["CARD_BRAND__C"]}})
    assert "Card_Brand__c" not in _names(result["Payment__c"])


def test_load_overlay_yaml_with_file_reference(tmp_path: Path, org: dict[str, dict]) -> None:
    describe = copy.deepcopy(org["Payout__c"])
    describe.update(name="Fee__c", keyPrefix="a0F", label="Fee")
    (tmp_path / "Fee__c.describe.json").write_text(json.dumps(describe))
    path = tmp_path / "org.yaml"
    path.write_text(
        "formatVersion: 1\n"
        "objects:\n  - file: Fee__c.describe.json\n"
        "validationRules:\n"
        "  - object: Fee__c\n    name: Positive\n    errorConditionFormula: Amount__c <= 0\n"
        "    errorMessage: Fees are positive\n"
    )
    overlay = load_overlay(path)
    assert overlay["objects"][0]["name"] == "Fee__c"
    result = apply_overlay(org, overlay)
    assert "Fee__c" in result
    rule = next(r for r in validation_rules([path]) if r.object == "Fee__c")
    assert rule == ValidationRule("Fee__c", "Positive", "Amount__c <= 0", "Fees are positive")


def test_shipped_overlay_file_reads(tmp_path: Path) -> None:
    overlay = load_overlay(DATA_DIR / "fieldbridge.metadata.json")
    assert [o["name"] for o in overlay["objects"]] == ["Payout__c", "Payment__c",
                                                      "Subscription_Contract__c", "Refund__c",
                                                      "Subscription_Line_Item__c"]


# --------------------------------------------------------------------------- errors


def _write(tmp_path: Path, text: str, name: str = "org.json") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        ('{"fields": {', "org.json", r"not valid JSON: .* at line 1"),
        ("fields: [", "org.yaml", "not valid YAML"),
        ("[1, 2]", "org.json", "must be a JSON object, not list"),
        ('{"feilds": {}}', "org.json", "unknown key\\(s\\) 'feilds'"),
        ('{"formatVersion": 2}', "org.json", "unsupported formatVersion 2"),
        ('{"objects": {}}', "org.json", "'objects' must be a list"),
        ('{"objects": [{"file": "missing.json"}]}', "org.json", "cannot be read"),
        ('{"objects": [{"label": "x"}]}', "org.json", "needs a 'name' and a 'fields' list"),
        ('{"fields": {"Account": {"name": "x"}}}', "org.json", "fields.Account must be a list"),
        ('{"picklistValues": {"Case": {"Origin": "Stripe"}}}', "org.json",
         "picklistValues.Case.Origin must be a list"),
        ('{"removeFields": {"Case": "Origin"}}', "org.json", "removeFields.Case must be a list"),
        ('{"validationRules": [{"object": "Case", "name": "R"}]}', "org.json",
         "'errorConditionFormula' must be a non-empty string"),
        ('{"validationRules": [{"object": "Case", "name": "R", "errorConditionFormula": "1",'
         ' "errorMessage": "m", "active": "yes"}]}', "org.json", "'active' must be true or false"),
        ('{"validationRules": [{"object": "Case", "name": "R", "errorConditionFormula": "1",'
         ' "errorMessage": "m", "severity": 1}]}', "org.json", "unknown key\\(s\\) severity"),
    ],
)
def test_load_overlay_errors(tmp_path: Path, text: str, name: str, message: str) -> None:
    path = _write(tmp_path, text, name)
    with pytest.raises(OrgMetadataError, match=message) as caught:
        load_overlay(path)
    assert str(path) in str(caught.value)


def test_load_overlay_missing_file(tmp_path: Path) -> None:
    with pytest.raises(OrgMetadataError, match="cannot read org metadata file"):
        load_overlay(tmp_path / "nope.json")


def test_bad_file_reference_json(tmp_path: Path) -> None:
    _write(tmp_path, "{oops", "X.describe.json")
    path = _write(tmp_path, '{"objects": [{"file": "X.describe.json"}]}')
    with pytest.raises(OrgMetadataError, match="X.describe.json, which is not valid JSON"):
        load_overlay(path)


@pytest.mark.parametrize(
    ("overlay", "message"),
    [
        ({"fields": {"Acount": [{"name": "X__c", "type": "string"}]}},
         "cannot add fields to unknown object 'Acount' \\(did you mean 'Account'\\?\\)"),
        ({"fields": {"Account": [{"name": "Name", "type": "string"}]}},
         "adds field Account.Name, which already exists"),
        ({"fields": {"Account": [{"name": "stripecustomerid__c", "type": "string"}]}},
         "already exists"),
        ({"fields": {"Account": [{"name": "X__c", "type": "varchar"}]}},
         "overlay field on Account: field 'X__c': unknown Salesforce field type 'varchar'"),
        ({"fields": {"Account": [{"name": "X__c", "type": "string", "size": 3}]}},
         "unknown key\\(s\\) size"),
        ({"objects": [{"name": "Payment__c", "keyPrefix": "a0Z", "fields": []}]},
         "adds object 'Payment__c', which already exists"),
        ({"objects": [{"name": "Fee__c", "keyPrefix": "a0A", "fields": []}]},
         "key prefix 'a0A', already used by 'Payment__c'"),
        ({"objects": [{"name": "Fee__c", "fields": []}]}, "needs a 3-character 'keyPrefix'"),
        ({"objects": [{"name": "Fee__c", "keyPrefix": "a0Z",
                       "fields": [{"name": "A__c", "type": "blob"}]}]},
         "objects\\[0\\]: field 'A__c': unknown Salesforce field type 'blob'"),
        ({"changeFields": {"Account": [{"name": "Nope__c", "length": 3}]}},
         "changes field Account.Nope__c, which does not exist"),
        ({"changeFields": {"Account": [{"name": "Name", "type": "blob"}]}},
         "unknown Salesforce field type 'blob'"),
        ({"picklistValues": {"Case": {"Nope": ["x"]}}},
         "adds picklist values to Case.Nope, which does not exist"),
        ({"picklistValues": {"Case": {"Subject": ["x"]}}},
         "Case.Subject, a string field, not a picklist"),
        ({"picklistValues": {"Case": {"Origin": [7]}}}, "non-empty string, not 7"),
        ({"removeFields": {"Case": ["Nope"]}}, "removes field Case.Nope, which does not exist"),
        ({"removeFields": {"Case": ["Id"]}}, "cannot remove Case.Id"),
        ({"removeFields": {"Nothing": ["Id"]}}, "remove fields from unknown object 'Nothing'"),
        ({"validationRules": [{"object": "Nope__c", "name": "R", "errorConditionFormula": "1",
                               "errorMessage": "m"}]},
         "attach validation rule 'R' to unknown object 'Nope__c'"),
        ({"validationRules": [{"object": "Case", "name": "R", "errorConditionFormula": "1",
                               "errorMessage": "m", "errorDisplayField": "Nope"}]},
         "errorDisplayField 'Nope' is not a field of Case"),
    ],
)
def test_apply_overlay_errors(org: dict[str, dict], overlay: dict, message: str) -> None:
    before = copy.deepcopy(org)
    with pytest.raises(OrgMetadataError, match=message):
        apply_overlay(org, overlay)
    assert org == before


def test_overlay_error_is_a_schema_error() -> None:
    assert issubclass(OrgMetadataError, SchemaError)
    with pytest.raises(SchemaError):
        normalize_overlay("not an overlay")
