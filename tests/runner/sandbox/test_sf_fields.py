"""Field behaviour of the emulator: compound addresses, number ranges, every failing rule."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from runner.sandbox.salesforce import start_emulator
from runner.sandbox.salesforce.values import java_number_text

OVERLAY = {
    "validationRules": [
        {"object": "Account", "name": "Employees_Not_Negative",
         "errorConditionFormula": "NumberOfEmployees < 0",
         "errorMessage": "Employees cannot be negative",
         "errorDisplayField": "NumberOfEmployees", "active": True},
        {"object": "Account", "name": "Revenue_Not_Negative",
         "errorConditionFormula": "AnnualRevenue < 0",
         "errorMessage": "Revenue cannot be negative", "active": True},
    ],
}
OPPORTUNITY = {"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2026-01-31"}


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    h = start_emulator(tmp_path_factory.mktemp("sf-fields"), reset=True, metadata=[OVERLAY])
    yield h
    h.stop()


def errors_of(exc: pytest.ExceptionInfo) -> list[dict]:
    return exc.value.content


# -- compound addresses ------------------------------------------------------------------
@pytest.mark.slow
def test_address_is_built_from_its_components(sf, http, handle) -> None:  # noqa: ANN001
    account = sf.Account.create({"Name": "Addressed", "BillingStreet": "1 Main St",
                                 "BillingCity": "Springfield", "BillingPostalCode": "12345",
                                 "BillingCountry": "US", "BillingLatitude": 40.5})["id"]
    record = sf.Account.get(account)
    assert record["BillingAddress"] == {
        "city": "Springfield", "country": "US", "geocodeAccuracy": None, "latitude": 40.5,
        "longitude": None, "postalCode": "12345", "state": None, "street": "1 Main St",
    }
    assert record["ShippingAddress"] is None  # every component empty
    sf.Account.update(account, {"BillingCity": "Shelbyville"})
    assert sf.Account.get(account)["BillingAddress"]["city"] == "Shelbyville"
    only = http.get(f"{handle.instance_url}/services/data/v62.0/sobjects/Account/{account}",
                    params={"fields": "BillingAddress,Name"}).json()
    assert only["BillingAddress"]["city"] == "Shelbyville" and only["Name"] == "Addressed"


@pytest.mark.slow
def test_address_in_soql_and_through_a_relationship(sf) -> None:  # noqa: ANN001
    account = sf.Account.create({"Name": "Queried Address", "ShippingCity": "Lyon",
                                 "ShippingCountry": "FR"})["id"]
    sf.Contact.create({"LastName": "Resident", "AccountId": account, "MailingCity": "Nice"})
    row = sf.query(f"SELECT Name, ShippingAddress FROM Account WHERE Id = '{account}'")
    address = row["records"][0]["ShippingAddress"]
    assert (address["city"], address["country"], address["street"]) == ("Lyon", "FR", None)
    contact = sf.query("SELECT MailingAddress, Account.ShippingAddress FROM Contact "
                       "WHERE LastName = 'Resident'")["records"][0]
    assert contact["MailingAddress"]["city"] == "Nice"
    assert contact["Account"]["ShippingAddress"]["city"] == "Lyon"
    lead = sf.Lead.create({"LastName": "Lead", "Company": "Co", "City": "Oslo"})["id"]
    assert sf.Lead.get(lead)["Address"]["city"] == "Oslo"  # Lead's components have no prefix


@pytest.mark.slow
@pytest.mark.parametrize("write", ["create", "update"])
def test_address_is_not_writable(sf, write: str) -> None:  # noqa: ANN001
    body = {"Name": "No compound writes", "BillingAddress": {"city": "Paris"}}
    with pytest.raises(SalesforceMalformedRequest) as exc:
        if write == "create":
            sf.Account.create(body)
        else:
            account = sf.Account.create({"Name": "Target"})["id"]
            sf.Account.update(account, body)
    error = errors_of(exc)[0]
    assert error["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert error["fields"] == ["BillingAddress"]


# -- number precision ----------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(
    ("sobject", "body", "field", "shown"),
    [
        # currency(18, 0): 18 integer digits
        ("Account", {"Name": "x", "AnnualRevenue": 1e18}, "AnnualRevenue", "1.0E18"),
        ("Account", {"Name": "x", "AnnualRevenue": -2e18}, "AnnualRevenue", "-2.0E18"),
        # int with 8 digits
        ("Account", {"Name": "x", "NumberOfEmployees": 100_000_000}, "NumberOfEmployees",
         "100000000"),
        # currency(18, 2): 16 integer digits, also when given as text
        ("Opportunity", {**OPPORTUNITY, "Amount": "12345678901234567"}, "Amount",
         "1.2345678901234568E16"),
        # percent(3, 0) and double(18, 2)
        ("Opportunity", {**OPPORTUNITY, "Probability": 1000}, "Probability", "1000.0"),
        ("Opportunity", {**OPPORTUNITY, "TotalOpportunityQuantity": 1e16},
         "TotalOpportunityQuantity", "1.0E16"),
    ],
)
def test_too_many_integer_digits(sf, sobject, body, field, shown) -> None:  # noqa: ANN001
    with pytest.raises(SalesforceMalformedRequest) as exc:
        getattr(sf, sobject).create(body)
    [error] = errors_of(exc)
    assert error["errorCode"] == "NUMBER_OUTSIDE_VALID_RANGE"
    described = getattr(sf, sobject).describe()["fields"]
    label = next(f["label"] for f in described if f["name"] == field)
    assert error["message"] == f"{label}: value outside of valid range on numeric field: {shown}"
    assert error["fields"] == [field]


@pytest.mark.slow
def test_largest_values_fit_and_extra_decimals_are_kept(sf) -> None:  # noqa: ANN001
    account = sf.Account.create({"Name": "Edge", "NumberOfEmployees": 99_999_999,
                                 "AnnualRevenue": 999_999_999_999_999_999})["id"]
    record = sf.Account.get(account)
    assert record["NumberOfEmployees"] == 99_999_999
    # Through the API Salesforce keeps decimals beyond the field's scale (it rounds them only
    # for display), so 10.12345 in a currency(18, 2) reads back as sent.
    deal = sf.Opportunity.create({**OPPORTUNITY, "Amount": 10.12345, "Probability": 999})["id"]
    stored = sf.Opportunity.get(deal)
    assert stored["Amount"] == 10.12345 and stored["Probability"] == 999


@pytest.mark.slow
def test_range_error_per_record_in_a_collection(sf) -> None:  # noqa: ANN001
    records = [
        {"attributes": {"type": "Account"}, "Name": "fits", "AnnualRevenue": 5},
        {"attributes": {"type": "Account"}, "Name": "too big", "AnnualRevenue": 1e20},
    ]
    results = sf.restful("composite/sobjects", method="POST",
                         json={"allOrNone": False, "records": records})
    assert results[0]["success"] is True
    assert results[1]["errors"][0]["statusCode"] == "NUMBER_OUTSIDE_VALID_RANGE"
    assert results[1]["errors"][0]["fields"] == ["AnnualRevenue"]


@pytest.mark.parametrize(
    ("number", "text"),
    [(100.0, "100.0"), (0.5, "0.5"), (1234567.5, "1234567.5"), (1e7, "1.0E7"),
     (123456789.25, "1.2345678925E8"), (-2e18, "-2.0E18"), (0.0001, "1.0E-4"), (0.0, "0.0"),
     (42, "42")],
)
def test_numbers_are_shown_as_java_doubles(number: float, text: str) -> None:
    assert java_number_text(number) == text


# -- several errors for one record -----------------------------------------------------------
@pytest.mark.slow
def test_every_failing_validation_rule_is_reported(sf) -> None:  # noqa: ANN001
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.create({"Name": "Twice wrong", "NumberOfEmployees": -1,
                           "AnnualRevenue": -5})
    errors = errors_of(exc)
    assert [(e["errorCode"], e["message"], e["fields"]) for e in errors] == [
        ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Employees cannot be negative",
         ["NumberOfEmployees"]),
        ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Revenue cannot be negative", []),
    ]
    results = sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Account"}, "Name": "x", "NumberOfEmployees": -1,
         "AnnualRevenue": -1}]})
    assert [e["message"] for e in results[0]["errors"]] == [
        "Employees cannot be negative", "Revenue cannot be negative"]


@pytest.mark.slow
def test_rules_are_checked_before_unique_values(sf) -> None:  # noqa: ANN001
    sf.Account.create({"Name": "Unique", "StripeCustomerID__c": "cus_rule_first"})
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.create({"Name": "Both", "StripeCustomerID__c": "cus_rule_first",
                           "AnnualRevenue": -1})
    assert [e["errorCode"] for e in errors_of(exc)] == ["FIELD_CUSTOM_VALIDATION_EXCEPTION"]
