"""The org emulator driven through the unmodified simple-salesforce client (and raw HTTPS)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from runner.sandbox.salesforce import ids, salesforce_client, start_emulator

pytestmark = pytest.mark.slow

OVERLAY = {
    "fields": {"Account": [{"name": "Legacy_Key__c", "type": "string", "length": 40,
                            "externalId": True}]},
    "validationRules": [{"object": "Account", "name": "No_Negative_Employees",
                         "errorConditionFormula": "NumberOfEmployees < 0",
                         "errorMessage": "Employees cannot be negative",
                         "errorDisplayField": "NumberOfEmployees", "active": True}],
}


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    state = tmp_path_factory.mktemp("sf-org")
    h = start_emulator(state, reset=True, metadata=[OVERLAY])
    yield h
    h.stop()


def url(handle, path: str) -> str:  # noqa: ANN001
    return f"{handle.instance_url}/services/data/v{handle.api_version}/{path}"


def errors_of(exc: pytest.ExceptionInfo) -> list[dict]:
    return exc.value.content


# -- CRUD ---------------------------------------------------------------------------------
def test_create_get_update_delete(sf, handle) -> None:  # noqa: ANN001
    created = sf.Account.create({"Name": "Acme", "NumberOfEmployees": 5, "Website": "acme.io"})
    assert created["success"] is True and created["errors"] == []
    record_id = created["id"]
    assert len(record_id) == 18 and record_id.startswith("001")
    assert ids.to_18(record_id[:15]) == record_id

    record = sf.Account.get(record_id)
    assert record["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v{handle.api_version}/sobjects/Account/{record_id}",
    }
    assert record["Name"] == "Acme" and record["NumberOfEmployees"] == 5
    assert record["Fax"] is None  # every field is returned, nulls included
    assert record["CreatedById"] == handle.user_id == record["LastModifiedById"]
    assert record["OwnerId"] == handle.user_id and record["IsDeleted"] is False
    assert record["CreatedDate"].endswith("+0000") and record["SystemModstamp"]

    assert sf.Account.update(record_id[:15], {"Name": "Acme Ltd"}) == 204
    again = sf.Account.get(record_id)
    assert again["Name"] == "Acme Ltd" and again["SystemModstamp"] > record["SystemModstamp"]
    assert again["CreatedDate"] == record["CreatedDate"]

    only = sf.Account.get(record_id, params={"fields": "Name,Website"})
    assert set(only) == {"attributes", "Name", "Website"}

    assert sf.Account.delete(record_id) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get(record_id)


def test_contact_name_is_filled_from_first_and_last_name(sf) -> None:  # noqa: ANN001
    contact_id = sf.Contact.create({"FirstName": "Ada", "LastName": "Lovelace"})["id"]
    assert sf.Contact.get(contact_id)["Name"] == "Ada Lovelace"


def test_second_user_writes_are_attributed_to_that_user(handle) -> None:  # noqa: ANN001
    other = next(u for u in handle.users if u["username"] != handle.username)
    token = handle.new_token(other["username"])
    human = salesforce_client(handle, access_token=token)
    record_id = human.Account.create({"Name": "Typed by a human"})["id"]
    record = human.Account.get(record_id)
    assert record["CreatedById"] == other["id"] != handle.user_id


# -- upsert ------------------------------------------------------------------------------
def test_upsert_creates_then_updates(sf, handle) -> None:  # noqa: ANN001
    first = sf.Account.upsert("StripeCustomerID__c/cus_up1", {"Name": "Up"}, raw_response=True)
    assert first.status_code == 201
    body = first.json()
    assert body["created"] is True and body["success"] is True and body["errors"] == []
    second = sf.Account.upsert("StripeCustomerID__c/cus_up1", {"Name": "Up 2"},
                               raw_response=True)
    assert second.status_code == 200
    assert second.json() == {"id": body["id"], "success": True, "errors": [], "created": False}
    fetched = sf.Account.get_by_custom_id("StripeCustomerID__c", "cus_up1")
    assert fetched["Id"] == body["id"] and fetched["Name"] == "Up 2"
    assert fetched["StripeCustomerID__c"] == "cus_up1"


def test_upsert_with_several_matches_answers_300(sf) -> None:  # noqa: ANN001
    a = sf.Account.create({"Name": "Twin A", "Legacy_Key__c": "twin"})["id"]
    b = sf.Account.create({"Name": "Twin B", "Legacy_Key__c": "twin"})["id"]
    with pytest.raises(SalesforceMoreThanOneRecord) as exc:
        sf.Account.upsert("Legacy_Key__c/twin", {"Name": "Which?"})
    assert exc.value.status == 300
    assert sorted(u.rsplit("/", 1)[1] for u in exc.value.content) == sorted([a, b])


@pytest.mark.parametrize("field", ["Nope__c", "Name"])
def test_upsert_on_a_field_that_is_not_an_external_id_is_404(sf, field: str) -> None:  # noqa: ANN001
    with pytest.raises(SalesforceResourceNotFound) as exc:
        sf.Account.upsert(f"{field}/x", {"Name": "x"})
    assert errors_of(exc)[0]["errorCode"] == "NOT_FOUND"
    assert field in errors_of(exc)[0]["message"]


def test_relationship_by_external_id_in_a_body(sf) -> None:  # noqa: ANN001
    account = sf.Account.upsert("StripeCustomerID__c/cus_rel", {"Name": "Parent"},
                                raw_response=True).json()["id"]
    payment = sf.Payment__c.create({
        "Name": "py_1", "StripeChargeID__c": "ch_1", "Amount__c": 12.5, "Currency__c": "usd",
        "Status__c": "Completed", "Account__r": {"StripeCustomerID__c": "cus_rel"},
    })
    assert sf.Payment__c.get(payment["id"])["Account__c"] == account
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Payment__c.create({
            "Name": "py_2", "StripeChargeID__c": "ch_2", "Amount__c": 1, "Currency__c": "usd",
            "Status__c": "Completed", "Account__r": {"StripeCustomerID__c": "cus_missing"},
        })
    error = errors_of(exc)[0]
    assert error["errorCode"] == "INVALID_FIELD"
    assert "Foreign key external ID: cus_missing not found" in error["message"]


# -- validation --------------------------------------------------------------------------
PAYMENT = {"Name": "p", "StripeChargeID__c": "ch_v", "Amount__c": 1, "Currency__c": "usd",
           "Status__c": "Completed"}


@pytest.mark.parametrize(
    ("sobject", "body", "code", "message", "fields"),
    [
        ("Account", {"NumberOfEmployees": 3}, "REQUIRED_FIELD_MISSING",
         "Required fields are missing: [Name]", ["Name"]),
        ("Account", {"Name": "x" * 256}, "STRING_TOO_LONG", "(max length=255)", ["Name"]),
        ("Payment__c", {**PAYMENT, "Status__c": "Lost"},
         "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
         "bad value for restricted picklist field: Lost", ["Status__c"]),
        ("Account", {"Name": "x", "Foo__c": 1}, "INVALID_FIELD",
         "No such column 'Foo__c' on sobject of type Account", []),
        ("Account", {"Name": "x", "CreatedDate": "2020-01-01T00:00:00Z"},
         "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: CreatedDate",
         ["CreatedDate"]),
        ("Account", {"Name": "x", "ParentId": "001nothing"}, "MALFORMED_ID",
         "id value of incorrect type: 001nothing", ["ParentId"]),
        ("Account", {"Name": "x", "ParentId": ids.make_id("001", 999_999)},
         "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["ParentId"]),
        ("Contact", {"LastName": "x", "AccountId": ids.make_id("005", 1)},
         "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["AccountId"]),
        ("Account", {"Name": "x", "NumberOfEmployees": -2},
         "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Employees cannot be negative",
         ["NumberOfEmployees"]),
        ("Payment__c", {**PAYMENT, "Amount__c": -1}, "FIELD_CUSTOM_VALIDATION_EXCEPTION",
         "", ["Amount__c"]),
        ("Account", {"Name": "x", "NumberOfEmployees": "many"}, "JSON_PARSER_ERROR",
         "Cannot deserialize instance of int", ["NumberOfEmployees"]),
        ("Account", {"Name": "x", "NumberOfEmployees": 2.5}, "JSON_PARSER_ERROR",
         "Cannot deserialize instance of int", ["NumberOfEmployees"]),
        ("Payment__c", {**PAYMENT, "Paid_At__c": "yesterday"}, "JSON_PARSER_ERROR",
         "datetime", ["Paid_At__c"]),
        ("Payment__c", {**PAYMENT, "Livemode__c": "perhaps"}, "JSON_PARSER_ERROR",
         "boolean", ["Livemode__c"]),
        ("Contact", {"LastName": "x", "Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS",
         "invalid email address: not-an-email", ["Email"]),
    ],
)
def test_validation_errors(sf, sobject, body, code, message, fields) -> None:  # noqa: ANN001
    with pytest.raises(SalesforceMalformedRequest) as exc:
        getattr(sf, sobject).create(body)
    error = errors_of(exc)[0]
    assert error["errorCode"] == code
    assert message in error["message"]
    assert error["fields"] == fields


def test_duplicate_value_on_a_unique_external_id(sf) -> None:  # noqa: ANN001
    first = sf.Account.create({"Name": "Dup", "StripeCustomerID__c": "cus_dup"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.create({"Name": "Dup 2", "StripeCustomerID__c": "CUS_DUP"})
    error = errors_of(exc)[0]
    assert error["errorCode"] == "DUPLICATE_VALUE"
    assert error["message"] == (
        f"duplicate value found: StripeCustomerID__c duplicates value on record with id: {first}"
    )


def test_types_are_coerced_to_salesforce_forms(sf) -> None:  # noqa: ANN001
    payment_id = sf.Payment__c.create({
        **PAYMENT, "StripeChargeID__c": "ch_types", "Paid_At__c": "2026-03-01T10:00:00+02:00",
        "Livemode__c": "true", "Amount__c": "19.99",
    })["id"]
    record = sf.Payment__c.get(payment_id)
    assert record["Paid_At__c"] == "2026-03-01T08:00:00.000+0000"
    assert record["Livemode__c"] is True and record["Amount__c"] == 19.99


def test_update_to_null_on_a_required_field_is_refused(sf) -> None:  # noqa: ANN001
    record_id = sf.Account.create({"Name": "Keep me"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.update(record_id, {"Name": None})
    assert errors_of(exc)[0]["errorCode"] == "REQUIRED_FIELD_MISSING"


# -- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "data", "status", "code"),
    [
        ("POST", "sobjects/Account", b"{not json", 400, "JSON_PARSER_ERROR"),
        ("POST", "sobjects/Account", b"", 400, "JSON_PARSER_ERROR"),
        ("POST", "sobjects/Account", b"[1, 2]", 400, "JSON_PARSER_ERROR"),
        ("POST", "sobjects/Foo__c", b"{}", 404, "NOT_FOUND"),
        ("GET", "sobjects/Foo/describe", None, 404, "NOT_FOUND"),
        ("GET", "sobjects/Account/not-an-id", None, 400, "MALFORMED_ID"),
        ("DELETE", "sobjects/Account/001xx", None, 400, "MALFORMED_ID"),
        ("GET", "sobjects/Account/" + "0" * 15, None, 404, "NOT_FOUND"),
        ("PATCH", "sobjects/Account/zzzzzzzzzzzzzzz", b"{}", 404, "NOT_FOUND"),  # no such prefix
        ("GET", "query?q=SELECT+Id+FROM+Nope__c", None, 400, "INVALID_TYPE"),
        ("GET", "query?q=SELECT+Nope__c+FROM+Account", None, 400, "INVALID_FIELD"),
        ("GET", "query?q=SELEKT+Id", None, 400, "MALFORMED_QUERY"),
        ("GET", "query", None, 400, "MALFORMED_QUERY"),
        ("GET", "query/01gbogus-2000", None, 400, "INVALID_QUERY_LOCATOR"),
        ("GET", "nothing/here", None, 404, "NOT_FOUND"),
        ("PUT", "sobjects/Account", b"{}", 405, "METHOD_NOT_ALLOWED"),
        ("GET", "sobjects/Account/updated/?start=garbage&end=x", None, 400,
         "INVALID_REPLICATION_DATE"),
    ],
)
def test_bad_input_gets_salesforce_errors(http, handle, method, path, data, status, code) -> None:  # noqa: ANN001
    response = http.request(method, url(handle, path), data=data,
                            headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, list) and body[0]["errorCode"] == code
    assert "Traceback" not in response.text


def test_unknown_api_version_is_404(http, handle) -> None:  # noqa: ANN001
    response = http.get(f"{handle.instance_url}/services/data/v20.0/sobjects")
    assert response.status_code == 404 and response.json()[0]["errorCode"] == "NOT_FOUND"


def test_oversized_body_is_413(tmp_path: Path) -> None:
    small = start_emulator(tmp_path / "small", max_body_bytes=1024)
    try:
        session = requests.Session()
        session.trust_env = False
        response = session.post(
            url(small, "sobjects/Account"), data=json.dumps({"Name": "x" * 5000}),
            headers={"Authorization": f"Bearer {small.access_token}",
                     "Content-Type": "application/json"}, verify=small.ca_file)
        assert response.status_code == 413
        assert response.json()[0]["errorCode"] == "REQUEST_ENTITY_TOO_LARGE"
    finally:
        small.stop()


# -- metadata ----------------------------------------------------------------------------
def test_describes_and_versions(sf, http, handle) -> None:  # noqa: ANN001
    described = sf.Account.describe()
    names = {f["name"] for f in described["fields"]}
    assert {"Name", "StripeCustomerID__c", "Legacy_Key__c"} <= names
    assert described["keyPrefix"] == "001"
    assert any(o["name"] == "Payment__c" for o in sf.describe()["sobjects"])
    assert sf.Payment__c.metadata()["objectDescribe"]["name"] == "Payment__c"
    versions = http.get(f"{handle.instance_url}/services/data/").json()
    assert {"label", "url", "version"} <= set(versions[-1])
    assert any(v["version"] == handle.api_version for v in versions)


# -- query -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def many_leads(sf) -> int:  # noqa: ANN001
    count = 4500
    for start in range(0, count, 200):
        records = [{"attributes": {"type": "Lead"}, "LastName": f"Lead {n:05d}",
                    "Company": "Bulk Co", "Status": "Open - Not Contacted"}
                   for n in range(start, min(start + 200, count))]
        results = sf.restful("composite/sobjects", method="POST",
                             json={"allOrNone": True, "records": records})
        assert all(r["success"] for r in results)
    return count


def test_query_pages_of_2000_with_query_more(sf, many_leads: int) -> None:  # noqa: ANN001
    first = sf.query("SELECT Id, LastName FROM Lead WHERE Company = 'Bulk Co' ORDER BY LastName")
    assert first["totalSize"] == many_leads and first["done"] is False
    assert len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v62.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-2000")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert len(second["records"]) == 2000 and second["done"] is False
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert len(third["records"]) == 500 and third["done"] is True
    names = [r["LastName"] for r in first["records"] + second["records"] + third["records"]]
    assert names == sorted(names) and len(set(names)) == many_leads


def test_query_all_and_count(sf, many_leads: int) -> None:  # noqa: ANN001
    everything = sf.query_all("SELECT Id FROM Lead WHERE Company = 'Bulk Co'")
    assert everything["totalSize"] == many_leads == len(everything["records"])
    counted = sf.query("SELECT COUNT() FROM Lead WHERE Company = 'Bulk Co'")
    assert counted["totalSize"] == many_leads and counted["records"] == []


def test_query_all_includes_deleted_rows(sf) -> None:  # noqa: ANN001
    gone = sf.Account.create({"Name": "Soon deleted"})["id"]
    sf.Account.delete(gone)
    live = sf.query(f"SELECT Id FROM Account WHERE Id = '{gone}'")
    assert live["totalSize"] == 0
    deleted = sf.query_all(f"SELECT Id, IsDeleted FROM Account WHERE Id = '{gone}'",
                           include_deleted=True)
    assert deleted["totalSize"] == 1 and deleted["records"][0]["IsDeleted"] is True


def test_parent_relationship_and_system_modstamp_watermark(sf) -> None:  # noqa: ANN001
    account = sf.Account.create({"Name": "Watermark Parent"})["id"]
    before = sf.Account.get(account)["SystemModstamp"]
    contact = sf.Contact.create({"LastName": "Child", "AccountId": account})["id"]
    mark = before.replace(".000+0000", "Z").split(".")[0] + "Z"
    rows = sf.query_all(
        f"SELECT Id, Account.Name, SystemModstamp FROM Contact WHERE SystemModstamp > {mark} "
        "ORDER BY SystemModstamp")["records"]
    assert contact in [r["Id"] for r in rows]
    ours = next(r for r in rows if r["Id"] == contact)
    assert ours["Account"]["Name"] == "Watermark Parent"
    stamps = [r["SystemModstamp"] for r in rows]
    assert stamps == sorted(stamps)


def test_updated_and_deleted_feeds(sf) -> None:  # noqa: ANN001
    record_id = sf.Account.create({"Name": "Feed"})["id"]
    stamp = sf.Account.get(record_id)["SystemModstamp"]
    start, end = "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"
    updated = sf.Account.updated(_dt(start), _dt(end))
    assert record_id in updated["ids"] and updated["latestDateCovered"]
    sf.Account.delete(record_id)
    deleted = sf.Account.deleted(_dt(start), _dt(end))
    entry = next(d for d in deleted["deletedRecords"] if d["id"] == record_id)
    assert entry["deletedDate"] >= stamp


def _dt(text: str):  # noqa: ANN202
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- collections -------------------------------------------------------------------------
def test_collections_create_update_delete(sf) -> None:  # noqa: ANN001
    records = [{"attributes": {"type": "Account"}, "Name": f"Coll {n}"} for n in range(3)]
    created = sf.restful("composite/sobjects", method="POST",
                         json={"allOrNone": False, "records": records})
    assert [r["success"] for r in created] == [True, True, True]
    new_ids = [r["id"] for r in created]
    updated = sf.restful("composite/sobjects", method="PATCH", json={"records": [
        {"attributes": {"type": "Account"}, "Id": new_ids[0], "Name": "Coll renamed"},
        {"attributes": {"type": "Account"}, "Id": new_ids[1], "Name": None},
    ]})
    assert updated[0] == {"id": new_ids[0], "success": True, "errors": []}
    assert updated[1]["success"] is False
    assert updated[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    fetched = sf.restful("composite/sobjects/Account",
                         params={"ids": ",".join(new_ids), "fields": "Name"})
    assert [r["Name"] for r in fetched] == ["Coll renamed", "Coll 1", "Coll 2"]
    deleted = sf.restful("composite/sobjects", method="DELETE",
                         params={"ids": ",".join(new_ids)})
    assert all(r["success"] for r in deleted)


def test_one_save_gives_its_records_one_moment_and_the_clock_does_not_run_ahead(
        sf) -> None:  # noqa: ANN001
    """Records saved by one DML call share CreatedDate and SystemModstamp (as in Salesforce);
    the next call's are later. Ten 200-record calls in a row leave the org's clock within a
    second of the real one: a stamp per record ran a millisecond ahead per record."""
    from datetime import UTC, datetime

    calls = []
    for call in range(10):
        records = [{"attributes": {"type": "Account"}, "Name": f"Moment {call}-{n}"}
                   for n in range(200)]
        created = sf.restful("composite/sobjects", method="POST",
                             json={"allOrNone": False, "records": records})
        calls.append([r["id"] for r in created])
    stamps = []
    for ids_of_call in (calls[0], calls[-1]):
        rows = sf.query_all("SELECT CreatedDate, SystemModstamp FROM Account WHERE Id IN ("
                            + ", ".join(f"'{i}'" for i in ids_of_call) + ")")["records"]
        moments = {(r["CreatedDate"], r["SystemModstamp"]) for r in rows}
        assert len(rows) == 200 and len(moments) == 1
        stamps.append(_dt(moments.pop()[1].replace("+0000", "+00:00")))
    assert stamps[0] < stamps[1]
    assert (stamps[1] - datetime.now(UTC)).total_seconds() < 1.0


def test_collections_all_or_none_rolls_back(sf) -> None:  # noqa: ANN001
    records = [
        {"attributes": {"type": "Account"}, "Name": "AON ok", "StripeCustomerID__c": "cus_aon"},
        {"attributes": {"type": "Account"}, "NumberOfEmployees": 1},
    ]
    results = sf.restful("composite/sobjects", method="POST",
                         json={"allOrNone": True, "records": records})
    assert results[0]["success"] is False and results[0]["id"] is None
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert sf.query("SELECT Id FROM Account WHERE Name = 'AON ok'")["totalSize"] == 0
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get_by_custom_id("StripeCustomerID__c", "cus_aon")


def test_collections_upsert_and_limit(sf) -> None:  # noqa: ANN001
    records = [{"attributes": {"type": "Account"}, "Name": f"CU {n}",
                "StripeCustomerID__c": f"cus_cu{n}"} for n in range(3)]
    first = sf.restful("composite/sobjects/Account/StripeCustomerID__c", method="PATCH",
                       json={"allOrNone": False, "records": records})
    assert [r["created"] for r in first] == [True, True, True]
    again = sf.restful("composite/sobjects/Account/StripeCustomerID__c", method="PATCH",
                       json={"allOrNone": False, "records": records})
    assert [r["created"] for r in again] == [False, False, False]
    assert [r["id"] for r in again] == [r["id"] for r in first]
    too_many = [{"attributes": {"type": "Account"}, "Name": "x"}] * 201
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.restful("composite/sobjects", method="POST", json={"records": too_many})
    assert errors_of(exc)[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


# -- composite ---------------------------------------------------------------------------
def test_composite_with_references(sf) -> None:  # noqa: ANN001
    v = "/services/data/v62.0"
    body = {"allOrNone": True, "compositeRequest": [
        {"method": "POST", "url": f"{v}/sobjects/Account", "referenceId": "acct",
         "body": {"Name": "Composite Co"}},
        {"method": "POST", "url": f"{v}/sobjects/Contact", "referenceId": "ct",
         "body": {"LastName": "Ref", "AccountId": "@{acct.id}"}},
        {"method": "GET", "url": f"{v}/query?q=SELECT+Id+FROM+Contact+WHERE+AccountId='@{{acct.id}}'",
         "referenceId": "q"},
        {"method": "GET", "url": f"{v}/sobjects/Contact/@{{q.records[0].Id}}", "referenceId": "got"},
    ]}
    result = sf.restful("composite", method="POST", json=body)["compositeResponse"]
    assert [r["httpStatusCode"] for r in result] == [201, 201, 200, 200]
    account_id = result[0]["body"]["id"]
    assert result[3]["body"]["AccountId"] == account_id
    assert result[0]["httpHeaders"]["Location"].endswith(account_id)


def test_composite_all_or_none_rolls_back_and_halts(sf) -> None:  # noqa: ANN001
    v = "/services/data/v62.0"
    body = {"allOrNone": True, "compositeRequest": [
        {"method": "POST", "url": f"{v}/sobjects/Account", "referenceId": "ok",
         "body": {"Name": "Composite rollback"}},
        {"method": "POST", "url": f"{v}/sobjects/Account", "referenceId": "bad", "body": {}},
        {"method": "POST", "url": f"{v}/sobjects/Account", "referenceId": "later",
         "body": {"Name": "never"}},
    ]}
    result = sf.restful("composite", method="POST", json=body)["compositeResponse"]
    assert [r["httpStatusCode"] for r in result] == [400, 400, 400]
    assert result[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert result[1]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert result[2]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert sf.query("SELECT Id FROM Account WHERE Name = 'Composite rollback'")["totalSize"] == 0


def test_composite_bad_reference_and_size_limit(sf) -> None:  # noqa: ANN001
    v = "/services/data/v62.0"
    body = {"compositeRequest": [
        {"method": "GET", "url": f"{v}/sobjects/Account/@{{nope.id}}", "referenceId": "x"}]}
    result = sf.restful("composite", method="POST", json=body)["compositeResponse"]
    assert result[0]["httpStatusCode"] == 400
    assert "nope.id" in result[0]["body"][0]["message"]
    many = {"compositeRequest": [{"method": "GET", "url": f"{v}/limits",
                                  "referenceId": f"r{n}"} for n in range(26)]}
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite", method="POST", json=many)


# -- limits ------------------------------------------------------------------------------
def test_limits_and_usage_header(sf, http, handle) -> None:  # noqa: ANN001
    limits = sf.limits()
    daily = limits["DailyApiRequests"]
    assert daily["Max"] == 15000 and 0 < daily["Remaining"] < 15000
    response = http.get(url(handle, "limits"))
    used, total = response.headers["Sforce-Limit-Info"].removeprefix("api-usage=").split("/")
    assert int(total) == 15000 and int(used) == 15000 - daily["Remaining"] + 1
    assert sf.api_usage["api-usage"].total == 15000


def test_collections_with_an_unknown_or_missing_type(sf) -> None:  # noqa: ANN001
    results = sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Nope__c"}, "Name": "x"}, {"Name": "no attributes"}]})
    assert [r["errors"][0]["statusCode"] for r in results] == ["INVALID_TYPE", "INVALID_TYPE"]
    assert "sObject type 'Nope__c' is not supported." in results[0]["errors"][0]["message"]


def test_an_internal_failure_is_a_salesforce_500_without_traceback(http, handle,
                                                                    monkeypatch) -> None:  # noqa: ANN001
    api = handle._server.emulator.api

    def explode(call):  # noqa: ANN001, ANN202
        raise RuntimeError("secret internals")

    monkeypatch.setattr(api, "handle", explode)
    response = http.get(url(handle, "limits"))
    assert response.status_code == 500
    body = response.json()
    assert body[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert "secret internals" not in response.text and "Traceback" not in response.text


def test_concurrent_upserts_of_one_external_id_make_one_record(handle) -> None:  # noqa: ANN001
    from concurrent.futures import ThreadPoolExecutor

    def work(n: int) -> int:
        client = salesforce_client(handle)
        return client.Account.upsert("StripeCustomerID__c/cus_race", {"Name": f"Race {n}"})

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(work, range(8)))
    assert statuses.count(201) == 1 and statuses.count(200) == 7
    sf = salesforce_client(handle)
    found = sf.query("SELECT Id FROM Account WHERE StripeCustomerID__c = 'cus_race'")
    assert found["totalSize"] == 1
