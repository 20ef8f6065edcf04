"""Conformance: what real clients send to Salesforce, sent to the emulator (issue 18).

Each numbered section drives the emulator with the unmodified simple-salesforce client
through one case that recorded traffic from a real org showed it refusing. Where
Salesforce's documentation shows a request and its response, the case copies it and cites
the page.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from simple_salesforce import format_soql
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from runner.sandbox.salesforce import start_emulator

pytestmark = pytest.mark.slow

# The docs' examples upsert Account on a custom external id field of this name.
OVERLAY = {"fields": {"Account": [{"name": "MyExtId__c", "type": "string", "length": 40,
                                   "externalId": True}]}}


RECORD_TYPES = [{"SobjectType": "Account", "DeveloperName": "Partner", "Name": "Partner"},
                {"SobjectType": "Account", "DeveloperName": "Customer"}]


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    h = start_emulator(tmp_path_factory.mktemp("sf-conformance"), reset=True,
                       metadata=[OVERLAY], record_types=RECORD_TYPES)
    yield h
    h.stop()


def collections(sf: Any, path: str, body: dict, method: str = "PATCH") -> list[dict]:
    return sf.restful(f"composite/sobjects/{path}", method=method, json=body)


def records(kind: str, *rows: dict) -> list[dict]:
    return [{"attributes": {"type": kind}, **row} for row in rows]


# -- 1. upsert by an idLookup field ----------------------------------------------------------
def test_1_single_upsert_matches_on_an_id_lookup_field(sf) -> None:  # noqa: ANN001
    # Contact.Email is idLookup (not externalId) in the real describe.
    assert sf.Contact.upsert("Email/ada@example.com", {"LastName": "Lovelace"}) == 201
    assert sf.Contact.upsert("Email/ADA@example.com", {"FirstName": "Ada"}) == 200
    found = sf.query("SELECT FirstName, LastName FROM Contact WHERE Email = 'ada@example.com'")
    assert found["totalSize"] == 1
    assert (found["records"][0]["FirstName"], found["records"][0]["LastName"]) == (
        "Ada", "Lovelace")


def test_1_collections_upsert_on_an_id_lookup_field(sf) -> None:  # noqa: ANN001
    body = {"allOrNone": False, "records": records(
        "Contact", {"Email": "grace@example.com", "LastName": "Hopper"},
        {"Email": "ada@example.com", "Title": "Countess"})}
    first, second = collections(sf, "Contact/Email", body)
    assert first["success"] is True and first["created"] is True and first["errors"] == []
    assert second["success"] is True and second["created"] is False
    assert sf.Contact.get(second["id"])["Title"] == "Countess"


def test_1_a_field_that_is_neither_external_nor_id_lookup_is_refused(sf) -> None:  # noqa: ANN001
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Contact.upsert("Department/Sales", {"LastName": "X"})
    assert caught.value.content[0]["errorCode"] == "NOT_FOUND"
    assert "Provided external ID field does not exist or is not accessible: Department" in (
        caught.value.content[0]["message"])
    with pytest.raises(SalesforceResourceNotFound):
        collections(sf, "Contact/Department", {"records": records(
            "Contact", {"Department": "Sales", "LastName": "X"})})


def test_1_several_matches_are_300_alone_and_duplicate_external_id_in_collections(
    sf,  # noqa: ANN001
) -> None:
    for name in ("Twin A", "Twin B"):
        sf.Contact.create({"LastName": name, "Email": "twins@example.com"})
    with pytest.raises(SalesforceMoreThanOneRecord) as caught:
        sf.Contact.upsert("Email/twins@example.com", {"Title": "x"})
    assert caught.value.status == 300 and len(caught.value.content) == 2
    [result] = collections(sf, "Contact/Email", {"records": records(
        "Contact", {"Email": "twins@example.com", "Title": "x"})})
    assert result["success"] is False and result["id"] is None
    error = result["errors"][0]
    assert error["statusCode"] == "DUPLICATE_EXTERNAL_ID"
    assert error["message"].startswith(
        "Email: more than one record found for external id field: [003")
    assert error["fields"] == ["Email"]


def test_1_docs_example_collections_upsert_on_an_external_id(sf) -> None:  # noqa: ANN001
    # https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-upsert.html
    sf.Account.create({"Name": "Company Two", "MyExtId__c": "BBB"})
    body = {"allOrNone": False, "records": [
        {"attributes": {"type": "Account"}, "Name": "Company One", "MyExtId__c": "AAA"},
        {"attributes": {"type": "Account"}, "Name": "Company Two", "MyExtId__c": "BBB"},
    ]}
    response = collections(sf, "Account/MyExtId__c", body)
    assert [sorted(r) for r in response] == [["created", "errors", "id", "success"]] * 2
    assert [(r["success"], r["created"], r["errors"]) for r in response] == [
        (True, True, []), (True, False, [])]


# -- 2. upsert by Id in collections ----------------------------------------------------------
def test_2_collections_upsert_on_id_updates_with_an_id_and_inserts_without(sf) -> None:  # noqa: ANN001
    existing = sf.Account.create({"Name": "Old Name"})["id"]
    body = {"allOrNone": False, "records": records(
        "Account", {"Id": existing, "Name": "New Name"}, {"Name": "Brand New"})}
    updated, inserted = collections(sf, "Account/Id", body)
    assert (updated["success"], updated["created"], updated["id"]) == (True, False, existing)
    assert inserted["success"] is True and inserted["created"] is True
    assert sf.Account.get(existing)["Name"] == "New Name"
    assert sf.Account.get(inserted["id"])["Name"] == "Brand New"


def test_2_upsert_on_id_with_an_unknown_id_fails_that_record(sf) -> None:  # noqa: ANN001
    missing = "001" + "Fb0" + "999999999AAA"
    body = {"records": records("Account", {"Id": missing, "Name": "Ghost"},
                               {"Name": "Real"})}
    ghost, real = collections(sf, "Account/Id", body)
    assert ghost["success"] is False and ghost["errors"][0]["statusCode"] == "NOT_FOUND"
    assert real["success"] is True and real["created"] is True


# -- 3. record counts --------------------------------------------------------------------------
def test_3_record_count_lists_the_asked_objects(sf) -> None:  # noqa: ANN001
    # https://developer.salesforce.com/docs/platform/api-rest/guide/resources-record-count.md
    # Example response: {"sObjects": [{"count": 3, "name": "Account"},
    #                                 {"count": 10, "name": "Contact"}]}
    accounts = sf.query("SELECT COUNT() FROM Account")["totalSize"]
    contacts = sf.query("SELECT COUNT() FROM Contact")["totalSize"]
    body = sf.restful("limits/recordCount", params={"sObjects": "Account,Contact,Nope__c"})
    assert body == {"sObjects": [{"count": accounts, "name": "Account"},
                                 {"count": contacts, "name": "Contact"}]}


def test_3_record_count_leaves_out_deleted_records(sf) -> None:  # noqa: ANN001
    before = sf.restful("limits/recordCount", params={"sObjects": "Lead"})["sObjects"][0]
    lead = sf.Lead.create({"LastName": "Gone", "Company": "Co"})["id"]
    sf.Lead.delete(lead)
    after = sf.restful("limits/recordCount", params={"sObjects": "Lead"})["sObjects"][0]
    assert after == before == {"count": before["count"], "name": "Lead"}
    every = sf.restful("limits/recordCount")["sObjects"]
    assert {"Account", "Contact", "Lead"} <= {entry["name"] for entry in every}


# -- 6. standard objects every org has ---------------------------------------------------------
def test_6_record_types_can_be_queried_and_referenced(sf) -> None:  # noqa: ANN001
    found = sf.query("SELECT Id, DeveloperName, SobjectType FROM RecordType "
                     "WHERE SobjectType = 'Account' ORDER BY DeveloperName")
    assert [r["DeveloperName"] for r in found["records"]] == ["Customer", "Partner"]
    assert all(r["Id"].startswith("012") for r in found["records"])
    partner = found["records"][1]["Id"]
    account = sf.Account.create({"Name": "Typed", "RecordTypeId": partner})["id"]
    typed = sf.query(f"SELECT RecordType.DeveloperName FROM Account WHERE Id = '{account}'")
    assert typed["records"][0]["RecordType"]["DeveloperName"] == "Partner"


def test_6_record_types_are_not_writable_through_the_api(sf) -> None:  # noqa: ANN001
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.RecordType.create({"DeveloperName": "Nope"})
    assert caught.value.content[0]["errorCode"] == "INVALID_TYPE_FOR_OPERATION"


def test_6_the_organization_record_and_the_session_user(sf, handle) -> None:  # noqa: ANN001
    session = requests.Session()
    session.trust_env, session.verify = False, handle.ca_file
    session.headers["Authorization"] = f"Bearer {handle.access_token}"
    info = session.get(f"{handle.instance_url}/services/oauth2/userinfo").json()
    assert info["user_id"] == handle.user_id and info["organization_id"].startswith("00D")
    identity = session.get(info["sub"]).json()
    assert (identity["user_id"], identity["organization_id"]) == (
        handle.user_id, info["organization_id"])

    organization = sf.Organization.get(info["organization_id"])
    assert organization["attributes"]["type"] == "Organization"
    assert organization["Id"] == info["organization_id"] and organization["Name"]
    assert sf.query("SELECT Id, Name, IsSandbox FROM Organization")["totalSize"] == 1

    me = sf.User.get(info["user_id"])
    assert me["Username"] == handle.username and me["IsActive"] is True
    by_query = sf.query(format_soql("SELECT Id, Name FROM User WHERE Id = {}", handle.user_id))
    assert by_query["records"][0]["Id"] == handle.user_id


# -- 4. aggregate SOQL -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def industries(sf) -> str:  # noqa: ANN001
    """Five accounts in two industries of a unique tag; the tag is their Name prefix."""
    tag = "Agg"
    for name, industry, employees in [("1", "Energy", 10), ("2", "Energy", 30),
                                      ("3", "Energy", None), ("4", "Banking", 5),
                                      ("5", "Banking", 7)]:
        sf.Account.create({"Name": f"{tag} {name}", "Industry": industry,
                           "NumberOfEmployees": employees})
    return tag


def test_4_count_id_is_one_aggregate_row(sf, industries) -> None:  # noqa: ANN001
    # https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_agg_functions.htm
    answer = sf.query(f"SELECT COUNT(Id) FROM Account WHERE Name LIKE '{industries} %'")
    assert answer == {"totalSize": 1, "done": True, "records": [
        {"attributes": {"type": "AggregateResult"}, "expr0": 5}]}


def test_4_count_with_no_field_is_a_bare_total(sf, industries) -> None:  # noqa: ANN001
    answer = sf.query(f"SELECT COUNT() FROM Account WHERE Name LIKE '{industries} %'")
    assert answer == {"totalSize": 5, "done": True, "records": []}


def test_4_group_by_with_having_and_aliases(sf, industries) -> None:  # noqa: ANN001
    answer = sf.query(
        "SELECT Industry, COUNT(Id) n, COUNT_DISTINCT(NumberOfEmployees), "
        "SUM(NumberOfEmployees) total, MIN(NumberOfEmployees), MAX(Name) "
        f"FROM Account WHERE Name LIKE '{industries} %' GROUP BY Industry "
        "HAVING COUNT(Id) > 1 ORDER BY SUM(NumberOfEmployees) DESC")
    assert answer["totalSize"] == 2
    energy, banking = answer["records"]
    assert energy == {"attributes": {"type": "AggregateResult"}, "Industry": "Energy", "n": 3,
                      "expr0": 2, "total": 40, "expr1": 10, "expr2": f"{industries} 3"}
    assert (banking["Industry"], banking["n"], banking["total"]) == ("Banking", 2, 12)
    only = sf.query(f"SELECT Industry FROM Account WHERE Name LIKE '{industries} %' "
                    "GROUP BY Industry HAVING COUNT(Id) > 2")
    assert [r["Industry"] for r in only["records"]] == ["Energy"]


def test_4_an_ungrouped_field_is_refused_like_salesforce(sf) -> None:  # noqa: ANN001
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Name, COUNT(Id) FROM Account")
    assert caught.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    assert "Field must be grouped or aggregated: Name" in caught.value.content[0]["message"]


# -- 5. parent-to-child subqueries -------------------------------------------------------------
def test_5_children_nest_under_the_relationship_name(sf) -> None:  # noqa: ANN001
    # https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_relationships_query_results.htm
    with_deals = sf.Contact.create({"FirstName": "Sub", "LastName": "Parent"})["id"]
    sf.Contact.create({"FirstName": "Sub", "LastName": "Lonely"})
    for name in ("Deal B", "Deal A"):
        sf.Opportunity.create({"Name": name, "StageName": "Prospecting",
                               "CloseDate": "2030-01-01", "ContactId": with_deals})
    answer = sf.query("SELECT FirstName, LastName, (SELECT Name FROM Opportunities "
                      "ORDER BY Name) FROM Contact WHERE FirstName = 'Sub' ORDER BY LastName")
    lonely, parent = answer["records"]
    assert lonely["Opportunities"] is None
    nested = parent["Opportunities"]
    assert (nested["totalSize"], nested["done"]) == (2, True)
    assert [r["Name"] for r in nested["records"]] == ["Deal A", "Deal B"]
    assert nested["records"][0]["attributes"]["type"] == "Opportunity"


def test_5_an_unknown_child_relationship_is_refused(sf) -> None:  # noqa: ANN001
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id, (SELECT Id FROM Nothings) FROM Account")
    assert caught.value.content[0]["errorCode"] == "INVALID_TYPE"
    assert "Didn't understand relationship 'Nothings'" in caught.value.content[0]["message"]


# -- the broader SOQL subset -------------------------------------------------------------------
def test_soql_in_with_a_bound_list_date_literals_nulls_last_and_offset(
    sf, industries,  # noqa: ANN001
) -> None:
    names = [f"{industries} {n}" for n in ("1", "3", "5")]
    bound = sf.query(format_soql("SELECT Name FROM Account WHERE Name IN {names} "
                                 "AND CreatedDate = LAST_N_DAYS:1 AND CreatedDate = TODAY "
                                 "ORDER BY NumberOfEmployees DESC NULLS LAST", names=names))
    # Employees 10, None, 7: descending with the null last.
    assert [r["Name"] for r in bound["records"]] == [names[0], names[2], names[1]]
    first = sf.query(format_soql("SELECT Name FROM Account WHERE Name IN {names} "
                                 "ORDER BY NumberOfEmployees NULLS FIRST", names=names))
    assert first["records"][0]["Name"] == names[1]
    paged = sf.query(format_soql("SELECT Name FROM Account WHERE Name IN {names} ORDER BY Name "
                                 "LIMIT 2 OFFSET 1", names=names))
    assert [r["Name"] for r in paged["records"]] == names[1:]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id FROM Account WHERE Id IN :ids")
    assert "Bind variables only allowed in Apex code" in caught.value.content[0]["message"]


# -- 7. inserts of standard objects through collections ---------------------------------------
def test_7_required_fields_follow_the_real_describe(sf) -> None:  # noqa: ANN001
    body = {"allOrNone": False, "records": records(
        "Opportunity", {"Name": "No stage"}, {"Amount": 5}) + records(
        "Contact", {"FirstName": "No last name"})}
    no_stage, nothing, contact = collections(sf, "", body, method="POST")
    assert no_stage["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert no_stage["errors"][0]["fields"] == ["StageName", "CloseDate"]
    assert nothing["errors"][0]["message"] == (
        "Required fields are missing: [Name, StageName, CloseDate]")
    assert contact["errors"][0]["fields"] == ["LastName"]


def test_7_defaulted_fields_get_their_defaults(sf) -> None:  # noqa: ANN001
    body = {"allOrNone": True, "records": records(
        "Opportunity", {"Name": "Won deal", "StageName": "Closed Won",
                        "CloseDate": "2030-05-01", "Amount": 200},
        {"Name": "Open deal", "StageName": "Prospecting", "CloseDate": "2030-05-01"})
        + records("Case", {"Subject": "Help"}) + records("Lead", {"LastName": "L",
                                                                 "Company": "Co"})}
    won, open_, case, lead = collections(sf, "", body, method="POST")
    assert all(r["success"] for r in (won, open_, case, lead))
    deal = sf.Opportunity.get(won["id"])
    assert (deal["IsClosed"], deal["IsWon"], deal["Probability"]) == (True, True, 100)
    assert (deal["ForecastCategoryName"], deal["ExpectedRevenue"]) == ("Closed", 200)
    assert (deal["IsPrivate"], deal["HasOpenActivity"]) == (False, False)
    pending = sf.Opportunity.get(open_["id"])
    assert (pending["IsClosed"], pending["Probability"]) == (False, 10)
    ticket = sf.Case.get(case["id"])
    assert (ticket["Status"], ticket["Priority"], ticket["IsClosed"]) == ("New", "Medium", False)
    assert ticket["CaseNumber"] and ticket["CaseNumber"].isdigit()
    assert sf.Lead.get(lead["id"])["Status"] == "Open - Not Contacted"
