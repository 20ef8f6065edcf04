"""The emulator's SOQL subset: parsing, errors, filtering, ordering, shaping."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.sandbox.salesforce.soql import QueryResult, SoqlError, execute, parse
from runner.sandbox.salesforce.soql_compile import like_regex
from runner.sandbox.salesforce.soql_dates import relative_range

DATA = Path(__file__).resolve().parents[3] / "mappings" / "data" / "salesforce"
DESCRIBES = {
    name.lower(): json.loads((DATA / f"{name}.describe.json").read_text())
    for name in ("Account", "Contact")
}
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)  # a Sunday


def describe(name: str) -> dict[str, Any] | None:
    return DESCRIBES.get(name.lower())


def _id(prefix: str, n: int) -> str:
    return f"{prefix}{n:012d}AAA"


ACCOUNTS: list[dict[str, Any]] = [
    {
        "Id": _id("001", 1), "Name": "Acme", "Industry": "Technology", "Type": None,
        "NumberOfEmployees": 100, "AnnualRevenue": 5_000_000.0, "IsDeleted": False,
        "CreatedDate": "2026-03-15T08:00:00.000+0000", "LastActivityDate": "2026-03-14",
    },
    {
        "Id": _id("001", 2), "Name": "acme labs", "Industry": "Biotechnology",
        "Type": "Prospect", "NumberOfEmployees": 20, "AnnualRevenue": None, "IsDeleted": False,
        "CreatedDate": "2026-03-01T00:00:00.000+0000", "LastActivityDate": "2026-02-20",
    },
    {
        "Id": _id("001", 3), "Name": "Globex", "Industry": None, "Type": "Customer",
        "NumberOfEmployees": None, "AnnualRevenue": 1_000_000.0, "IsDeleted": False,
        "CreatedDate": "2026-02-10T23:30:00.000+0000", "LastActivityDate": None,
    },
    {
        "Id": _id("001", 4), "Name": "O'Brien & Sons", "Industry": "Technology",
        "Type": "Customer", "NumberOfEmployees": 5, "AnnualRevenue": 250_000.0,
        "IsDeleted": True,
        "CreatedDate": "2025-12-31T23:59:59.000+0000", "LastActivityDate": "2026-03-16",
    },
    {
        "Id": _id("001", 5), "Name": "Initech_100%", "Industry": "Banking", "Type": None,
        "NumberOfEmployees": 100, "AnnualRevenue": 0.0, "IsDeleted": False,
        "CreatedDate": "2026-03-14T23:59:59.000+0000", "LastActivityDate": "2026-03-15",
    },
]  # fmt: skip
ACCOUNTS_BY_ID = {a["Id"]: a for a in ACCOUNTS}

CONTACTS: list[dict[str, Any]] = [
    {"Id": _id("003", 1), "LastName": "Smith", "FirstName": "Ann", "AccountId": _id("001", 1),
     "Birthdate": "1990-05-01", "Email": "ann@acme.test", "OwnerId": _id("005", 1)},
    {"Id": _id("003", 2), "LastName": "jones", "FirstName": None, "AccountId": None,
     "Birthdate": None, "Email": None, "OwnerId": _id("005", 1)},
    {"Id": _id("003", 3), "LastName": "Brown", "FirstName": "Bo", "AccountId": _id("001", 3),
     "Birthdate": "1985-01-31", "Email": "bo@globex.test", "OwnerId": _id("005", 2)},
    {"Id": _id("003", 4), "LastName": "Stone", "FirstName": "Cy", "AccountId": _id("001", 9),
     "Birthdate": "2000-12-24", "Email": "cy@gone.test", "OwnerId": _id("005", 2)},
]  # fmt: skip
USERS = {_id("005", 1): {"Id": _id("005", 1), "Name": "Ada Admin"}}


def resolve_parent(row: dict[str, Any], relationship: str) -> dict[str, Any] | None:
    if relationship.lower() == "account":
        return ACCOUNTS_BY_ID.get(row.get("AccountId") or "")
    if relationship.lower() == "owner":
        return USERS.get(row.get("OwnerId") or "")
    return None


def run(
    soql: str,
    rows: list[dict[str, Any]] | None = None,
    *,
    with_describe: bool = True,
    **kwargs: Any,
) -> QueryResult:
    query = parse(soql)
    if rows is None:
        rows = CONTACTS if query.object.lower() == "contact" else ACCOUNTS
    return execute(
        query,
        rows,
        resolve_parent=resolve_parent,
        describe=describe if with_describe else None,
        now=NOW,
        **kwargs,
    )


def names(soql: str, **kwargs: Any) -> list[str]:
    field = "LastName" if " contact" in soql.lower() else "Name"
    return [r[field] for r in run(soql, **kwargs).records]


def account_names(where: str, *, with_describe: bool = True) -> set[str]:
    soql = f"SELECT Name FROM Account WHERE {where}"
    return {r["Name"] for r in run(soql, with_describe=with_describe).records}


# -- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("soql", "obj", "fields", "count_only"),
    [
        ("SELECT Id FROM Account", "Account", ["Id"], False),
        ("select id, name from account", "account", ["id", "name"], False),
        ("SELECT Id, Account.Name, Owner.Name FROM Contact", "Contact",
         ["Id", "Account.Name", "Owner.Name"], False),
        ("SELECT Name FROM Payment__c WHERE Account__r.Name != null", "Payment__c", ["Name"],
         False),
        ("SELECT COUNT() FROM Contact", "Contact", [], True),
        ("SeLeCt count ( ) FrOm Lead WHERE IsConverted = false LIMIT 3", "Lead", [], True),
        ("SELECT Id\nFROM Account\nWHERE Name IN ('a', 'b')\nORDER BY Name DESC NULLS LAST, Id"
         "\nLIMIT 10 OFFSET 5", "Account", ["Id"], False),
        ("SELECT Id FROM Account WHERE CreatedDate = LAST_N_DAYS:30", "Account", ["Id"], False),
        ("SELECT Id FROM Account WHERE NOT Name = 'x'", "Account", ["Id"], False),
        ("SELECT Id FROM Account WHERE Name = 'a' AND (NOT Name = 'b')", "Account", ["Id"],
         False),
    ],
)  # fmt: skip
def test_parse_accepts(soql: str, obj: str, fields: list[str], count_only: bool) -> None:
    query = parse(soql)
    assert query.object == obj
    assert [f.name for f in query.fields] == fields
    assert query.count_only is count_only


def test_parse_keeps_clauses() -> None:
    query = parse("SELECT Id FROM Account ORDER BY Name DESC NULLS FIRST, Id LIMIT 10 OFFSET 5")
    assert [(o.field.name, o.descending, o.effective_nulls_first) for o in query.order_by] == [
        ("Name", True, True),
        ("Id", False, True),
    ]
    assert (query.limit, query.offset) == (10, 5)


@pytest.mark.parametrize(
    ("soql", "fragment"),
    [
        ("", "unexpected token: <EOF>"),
        ("SELECT Id FORM Account", "unexpected token: 'FORM'"),
        ("UPDATE Account SET Name = 'x'", "unexpected token: 'UPDATE'"),
        ("SELECT FROM Account", "unexpected token: 'FROM'"),
        ("SELECT Id FROM", "unexpected token: <EOF>"),
        ("SELECT Id FROM Account WHERE", "unexpected token: <EOF>"),
        ("SELECT Id, FROM Account", "unexpected token: 'FROM'"),
        ("SELECT Id FROM Account, Contact", "only one object"),
        ("SELECT Id FROM Account GROUP BY Name", "Field must be grouped or aggregated: Id"),
        ("SELECT Name, COUNT(Id) FROM Account", "Field must be grouped or aggregated: Name"),
        ("SELECT Name FROM Account GROUP BY Name ORDER BY Id",
         "Ordered field must be grouped or aggregated: Id"),
        ("SELECT Name FROM Account GROUP BY ROLLUP(Name)", "GROUP BY ROLLUP is not supported"),
        ("SELECT Name FROM Account GROUP BY CALENDAR_YEAR(CreatedDate)", "CALENDAR_YEAR()"),
        ("SELECT COUNT(Id) FROM Account HAVING COUNT(Id) > 1", "HAVING can only be used with"),
        ("SELECT Id FROM Account WHERE COUNT(Id) > 1", "can only be filtered in HAVING"),
        ("SELECT Id x FROM Account", "aliases are only allowed in aggregate queries"),
        ("SELECT COUNT() FROM Account GROUP BY Name, COUNT(Id)", "the function COUNT()"),
        ("SELECT FIELDS(ALL) FROM Account", "FIELDS() is not supported"),
        ("SELECT Id, (SELECT Id, (SELECT Id FROM Cases) FROM Contacts) FROM Account",
         "nested subqueries are not supported"),
        ("SELECT Id, (SELECT COUNT(Id) FROM Contacts) FROM Account",
         "aggregate functions are not supported in a subquery"),
        ("SELECT Id, (SELECT Id FROM Contacts GROUP BY Id) FROM Account",
         "GROUP BY is not supported in a subquery"),
        ("SELECT COUNT(Id), (SELECT Id FROM Contacts) FROM Account",
         "subqueries cannot be used in an aggregate query"),
        ("SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact)", "semi-join"),
        ("SELECT TYPEOF What WHEN Account THEN Name END FROM Event", "TYPEOF"),
        ("SELECT Id FROM Account WITH SECURITY_ENFORCED", "WITH clauses"),
        ("SELECT Id FROM Account FOR UPDATE", "FOR VIEW/REFERENCE/UPDATE"),
        ("SELECT Id FROM Account WHERE Name INCLUDES ('a')", "INCLUDES is not supported"),
        ("SELECT Id FROM Account WHERE CALENDAR_YEAR(CreatedDate) = 2026", "CALENDAR_YEAR()"),
        ("SELECT Id FROM Account WHERE a = 1 OR b = 2 AND c = 3",
         "unexpected token: 'AND' (use parentheses to mix AND and OR)"),
        ("SELECT Id FROM Account WHERE a = 1 AND NOT b = 2", "unexpected token: 'NOT'"),
        ("SELECT Id FROM Account WHERE (Name = 'a'", "expected ')'"),
        ("SELECT Id FROM Account WHERE Name 'a'", "expected a comparison operator"),
        ("SELECT Id FROM Account WHERE Name =", "unexpected token: <EOF> (expected a value)"),
        ("SELECT Id FROM Account WHERE Name = 'open", "unterminated string literal"),
        ("SELECT Id FROM Account WHERE Name = 'a\\qb'", "Illegal character sequence '\\q'"),
        ("SELECT Id FROM Account WHERE Name LIKE 5", "LIKE takes a quoted string"),
        ("SELECT Id FROM Account WHERE Name = :name", "Bind variables only allowed in Apex"),
        ("SELECT Id FROM Account WHERE Id IN :ids", "Bind variables only allowed in Apex"),
        ("SELECT Id FROM Account WHERE CreatedDate = LAST_N_DAYS", "LAST_N_DAYS needs a number"),
        ("SELECT Id FROM Account WHERE CreatedDate = NEXT_N_DAYS:x", "non-negative integer"),
        ("SELECT Id FROM Account WHERE CloseDate = THIS_FISCAL_YEAR", "fiscal date literals"),
        ("SELECT Id FROM Account WHERE CreatedDate > 2026-01-01T10:00", "needs seconds and a zone"),
        ("SELECT Id FROM Account WHERE CreatedDate > 2026-02-30", "not a valid date"),
        ("SELECT Id FROM Account WHERE Name = 'a' #", "unexpected token: '#'"),
        ("SELECT Id FROM Account LIMIT -1", "LIMIT takes a non-negative integer"),
        ("SELECT Id FROM Account LIMIT ten", "LIMIT takes a non-negative integer"),
        ("SELECT Id FROM Account LIMIT 5 LIMIT 6", "unexpected token: 'LIMIT'"),
        ("SELECT Id FROM Account ORDER BY Name SIDEWAYS", "unexpected token: 'SIDEWAYS'"),
        ("SELECT Id FROM Account ORDER BY Name NULLS MIDDLE", "expected FIRST or LAST"),
        ("SELECT COUNT(), Id FROM Account", "COUNT() must be the only element"),
        ("SELECT COUNT() FROM Account ORDER BY Name", "ORDER BY cannot be used with COUNT()"),
        ("SELECT Id, Name, id FROM Account", "duplicate field selected: id"),
        ("SELECT Account.Owner.Name FROM Contact", "one level of parent relationship"),
    ],
)  # fmt: skip
def test_parse_refuses(soql: str, fragment: str) -> None:
    with pytest.raises(SoqlError) as caught:
        parse(soql)
    assert caught.value.error_code == "MALFORMED_QUERY"
    assert fragment in caught.value.message


def test_error_points_at_the_token_like_salesforce() -> None:
    with pytest.raises(SoqlError) as caught:
        parse("SELECT Id\nFROM Account\nWHERE Name = 'a' ORDER Name")
    assert caught.value.message == (
        "\nWHERE Name = 'a' ORDER Name\n"
        "                       ^\n"
        "ERROR at Row:3:Column:24\n"
        "unexpected token: 'Name' (expected BY)"
    )
    assert caught.value.reason == "unexpected token: 'Name' (expected BY)"
    assert str(caught.value) == caught.value.message


def test_offset_beyond_2000_is_out_of_range() -> None:
    with pytest.raises(SoqlError) as caught:
        parse("SELECT Id FROM Account OFFSET 2001")
    assert caught.value.error_code == "NUMBER_OUTSIDE_VALID_RANGE"
    assert "Maximum SOQL offset allowed is 2000" in caught.value.message
    assert parse("SELECT Id FROM Account OFFSET 2000").offset == 2000


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("'plain'", "plain"),
        ("'O\\'Brien'", "O'Brien"),
        ("'back\\\\slash'", "back\\slash"),
        ("'two\\nlines'", "two\nlines"),
        ("'tab\\tbed'", "tab\tbed"),
        ("'quote\\\"d'", 'quote"d'),
        ("''", ""),
    ],
)
def test_string_escapes(literal: str, expected: str) -> None:
    query = parse(f"SELECT Id FROM Account WHERE Name = {literal}")
    assert query.where is not None
    assert query.where.value.value == expected  # type: ignore[union-attr]


# -- operators ----------------------------------------------------------------------------


@pytest.mark.parametrize("with_describe", [True, False])
@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Name = 'acme'", {"Acme"}),
        ("Name = 'ACME LABS'", {"acme labs"}),
        ("Name != 'Acme'", {"acme labs", "Globex", "O'Brien & Sons", "Initech_100%"}),
        ("Name <> 'Acme'", {"acme labs", "Globex", "O'Brien & Sons", "Initech_100%"}),
        ("Name = 'O\\'Brien & Sons'", {"O'Brien & Sons"}),
        ("NumberOfEmployees = 100", {"Acme", "Initech_100%"}),
        ("NumberOfEmployees != 100", {"acme labs", "Globex", "O'Brien & Sons"}),
        ("NumberOfEmployees > 20", {"Acme", "Initech_100%"}),
        ("NumberOfEmployees >= 20", {"Acme", "acme labs", "Initech_100%"}),
        ("NumberOfEmployees < 20", {"O'Brien & Sons"}),
        ("NumberOfEmployees <= 20", {"acme labs", "O'Brien & Sons"}),
        ("AnnualRevenue > 999999.5", {"Acme", "Globex"}),
        ("AnnualRevenue = 0", {"Initech_100%"}),
        ("AnnualRevenue < -1", set()),
        ("AnnualRevenue > -1", {"Acme", "Globex", "O'Brien & Sons", "Initech_100%"}),
        ("IsDeleted = true", {"O'Brien & Sons"}),
        ("IsDeleted = FALSE", {"Acme", "acme labs", "Globex", "Initech_100%"}),
        ("Name > 'b'", {"Globex", "O'Brien & Sons", "Initech_100%"}),
        ("Name < 'B'", {"Acme", "acme labs"}),
        ("Industry = 'technology'", {"Acme", "O'Brien & Sons"}),
        ("Industry LIKE '%tech%'", {"Acme", "acme labs", "O'Brien & Sons"}),
        ("Name LIKE 'acme%'", {"Acme", "acme labs"}),
        ("Name LIKE 'Acm_'", {"Acme"}),
        ("Name LIKE '%\\_100\\%'", {"Initech_100%"}),
        ("Name LIKE '%s'", {"acme labs", "O'Brien & Sons"}),
    ],
)
def test_operators(where: str, expected: set[str], with_describe: bool) -> None:
    assert account_names(where, with_describe=with_describe) == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("(Name = 'Acme' OR Name = 'Globex') AND NumberOfEmployees = 100", {"Acme"}),
        ("Name = 'Acme' OR (Name = 'Globex' AND NumberOfEmployees = 100)", {"Acme"}),
        ("Name = 'Globex' OR (Name = 'Acme' AND NumberOfEmployees = 100)", {"Acme", "Globex"}),
        ("(Name = 'Globex' OR Name = 'Acme') AND NumberOfEmployees = 100", {"Acme"}),
        ("Name = 'Acme' OR Name = 'Globex' OR Name = 'nobody'", {"Acme", "Globex"}),
        ("Industry = 'Technology' AND NumberOfEmployees > 10 AND IsDeleted = false", {"Acme"}),
        ("NOT Industry = 'Technology'", {"acme labs", "Globex", "Initech_100%"}),
        ("NOT (Industry = 'Technology' OR Industry = 'Banking')", {"acme labs", "Globex"}),
        ("Type = 'Customer' AND (NOT IsDeleted = true)", {"Globex"}),
        ("((Name = 'Acme'))", {"Acme"}),
    ],
)
def test_logic_and_parentheses(where: str, expected: set[str]) -> None:
    assert account_names(where) == expected


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("abc", "ABC", True),
        ("a%", "a", True),
        ("a%", "ba", False),
        ("%b%", "abc", True),
        ("a_c", "abc", True),
        ("a_c", "abbc", False),
        ("a\\%", "a%", True),
        ("a\\%", "ab", False),
        ("a\\_", "a_", True),
        ("a\\_", "ab", False),
        ("a.c", "abc", False),
        ("(x)*", "(x)*", True),
        ("%", "", True),
        ("line%", "line\nbreak", True),
    ],
)
def test_like_patterns(pattern: str, text: str, matches: bool) -> None:
    assert (like_regex(pattern).fullmatch(text) is not None) is matches


@pytest.mark.parametrize("with_describe", [True, False])
@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Type IN ('Customer', 'prospect')", {"acme labs", "Globex", "O'Brien & Sons"}),
        ("Type NOT IN ('Customer')", {"Acme", "acme labs", "Initech_100%"}),
        ("Type IN ('Customer', null)", {"Acme", "Globex", "O'Brien & Sons", "Initech_100%"}),
        ("Type NOT IN ('Customer', null)", {"acme labs"}),
        ("NumberOfEmployees IN (5, 20)", {"acme labs", "O'Brien & Sons"}),
        ("NumberOfEmployees NOT IN (100)", {"acme labs", "Globex", "O'Brien & Sons"}),
        ("Type IN ('nothing')", set()),
    ],
)
def test_in_and_not_in(where: str, expected: set[str], with_describe: bool) -> None:
    assert account_names(where, with_describe=with_describe) == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Type = null", {"Acme", "Initech_100%"}),
        ("Type != null", {"acme labs", "Globex", "O'Brien & Sons"}),
        ("Type = NULL", {"Acme", "Initech_100%"}),
        # SOQL, unlike SQL, lets != match nulls ...
        ("Type != 'Customer'", {"Acme", "acme labs", "Initech_100%"}),
        # ... but ordering operators never do.
        ("AnnualRevenue < 1000000", {"O'Brien & Sons", "Initech_100%"}),
        ("AnnualRevenue >= 0", {"Acme", "Globex", "O'Brien & Sons", "Initech_100%"}),
        ("Industry LIKE '%'", {"Acme", "acme labs", "O'Brien & Sons", "Initech_100%"}),
    ],
)
def test_null_semantics(where: str, expected: set[str]) -> None:
    assert account_names(where) == expected


def test_null_with_an_ordering_operator_is_refused() -> None:
    with pytest.raises(SoqlError) as caught:
        run("SELECT Id FROM Account WHERE AnnualRevenue > null")
    assert caught.value.error_code == "MALFORMED_QUERY"
    assert "null can only be compared with = or !=" in caught.value.message


# -- dates --------------------------------------------------------------------------------


@pytest.mark.parametrize("with_describe", [True, False])
@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("CreatedDate > 2026-03-01T00:00:00Z", {"Acme", "Initech_100%"}),
        ("CreatedDate >= 2026-03-01T00:00:00Z", {"Acme", "acme labs", "Initech_100%"}),
        ("CreatedDate = 2026-03-01T00:00:00.000Z", {"acme labs"}),
        ("CreatedDate = 2026-03-01T01:00:00+01:00", {"acme labs"}),
        ("CreatedDate < 2026-02-10T18:30:00-05:00", {"O'Brien & Sons"}),
        ("CreatedDate <= 2026-02-10T18:30:00-05:00", {"O'Brien & Sons", "Globex"}),
        ("LastActivityDate = 2026-03-14", {"Acme"}),
        ("LastActivityDate > 2026-03-14", {"O'Brien & Sons", "Initech_100%"}),
        ("LastActivityDate != 2026-03-14", {"acme labs", "Globex", "O'Brien & Sons",
                                            "Initech_100%"}),
        ("LastActivityDate IN (2026-03-14, 2026-03-15)", {"Acme", "Initech_100%"}),
    ],
)  # fmt: skip
def test_date_and_datetime_literals(where: str, expected: set[str], with_describe: bool) -> None:
    assert account_names(where, with_describe=with_describe) == expected


# NOW is 2026-03-15T12:00Z. CreatedDate: Acme 03-15 08:00, acme labs 03-01 00:00,
# Globex 02-10 23:30, O'Brien 2025-12-31 23:59:59, Initech 03-14 23:59:59.
# LastActivityDate: Acme 03-14, acme labs 02-20, Globex null, O'Brien 03-16, Initech 03-15.
@pytest.mark.parametrize("with_describe", [True, False])
@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("CreatedDate = TODAY", {"Acme"}),
        ("CreatedDate = YESTERDAY", {"Initech_100%"}),
        ("CreatedDate < TODAY", {"acme labs", "Globex", "O'Brien & Sons", "Initech_100%"}),
        ("CreatedDate > YESTERDAY", {"Acme"}),
        ("CreatedDate >= YESTERDAY", {"Acme", "Initech_100%"}),
        ("CreatedDate <= YESTERDAY", {"acme labs", "Globex", "O'Brien & Sons", "Initech_100%"}),
        ("CreatedDate != TODAY", {"acme labs", "Globex", "O'Brien & Sons", "Initech_100%"}),
        ("CreatedDate = THIS_MONTH", {"Acme", "acme labs", "Initech_100%"}),
        ("CreatedDate = LAST_MONTH", {"Globex"}),
        ("CreatedDate = THIS_YEAR", {"Acme", "acme labs", "Globex", "Initech_100%"}),
        ("CreatedDate < THIS_YEAR", {"O'Brien & Sons"}),
        ("CreatedDate = LAST_N_DAYS:1", {"Acme", "Initech_100%"}),
        ("CreatedDate = LAST_N_DAYS:14", {"Acme", "acme labs", "Initech_100%"}),
        ("CreatedDate = LAST_N_DAYS:0", {"Acme"}),
        ("CreatedDate > LAST_N_DAYS:1", set()),
        ("LastActivityDate = TOMORROW", {"O'Brien & Sons"}),
        ("LastActivityDate = NEXT_N_DAYS:3", {"O'Brien & Sons"}),
        ("LastActivityDate > TODAY", {"O'Brien & Sons"}),
        ("LastActivityDate = LAST_N_DAYS:1", {"Acme", "Initech_100%"}),
        ("LastActivityDate = LAST_N_DAYS:30", {"Acme", "acme labs", "Initech_100%"}),
        ("LastActivityDate IN (TODAY, TOMORROW)", {"Initech_100%", "O'Brien & Sons"}),
        ("LastActivityDate = THIS_WEEK", {"Initech_100%", "O'Brien & Sons"}),
    ],
)
def test_relative_date_literals(where: str, expected: set[str], with_describe: bool) -> None:
    assert account_names(where, with_describe=with_describe) == expected


@pytest.mark.parametrize(
    ("name", "n", "start", "end"),
    [
        ("TODAY", None, date(2026, 3, 15), date(2026, 3, 16)),
        ("YESTERDAY", None, date(2026, 3, 14), date(2026, 3, 15)),
        ("TOMORROW", None, date(2026, 3, 16), date(2026, 3, 17)),
        ("LAST_N_DAYS", 7, date(2026, 3, 8), date(2026, 3, 16)),
        ("NEXT_N_DAYS", 7, date(2026, 3, 16), date(2026, 3, 23)),
        ("THIS_MONTH", None, date(2026, 3, 1), date(2026, 4, 1)),
        ("LAST_MONTH", None, date(2026, 2, 1), date(2026, 3, 1)),
        ("NEXT_MONTH", None, date(2026, 4, 1), date(2026, 5, 1)),
        ("THIS_YEAR", None, date(2026, 1, 1), date(2027, 1, 1)),
        ("LAST_YEAR", None, date(2025, 1, 1), date(2026, 1, 1)),
        ("THIS_WEEK", None, date(2026, 3, 15), date(2026, 3, 22)),
        ("THIS_QUARTER", None, date(2026, 1, 1), date(2026, 4, 1)),
        ("LAST_90_DAYS", None, date(2025, 12, 15), date(2026, 3, 16)),
        ("N_DAYS_AGO", 3, date(2026, 3, 12), date(2026, 3, 13)),
    ],
)
def test_relative_ranges(name: str, n: int | None, start: date, end: date) -> None:
    assert relative_range(name, n, NOW) == (start, end)


def test_last_month_across_a_year_boundary() -> None:
    january = datetime(2026, 1, 10, tzinfo=UTC)
    assert relative_range("LAST_MONTH", None, january) == (date(2025, 12, 1), date(2026, 1, 1))


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        ("CreatedDate > 2026-01-01",
         "value of filter criterion for field 'CreatedDate' must be of type dateTime and "
         "should not be enclosed in quotes"),
        ("LastActivityDate > 2026-01-01T00:00:00Z",
         "field 'LastActivityDate' must be of type date"),
        ("CreatedDate > '2026-01-01T00:00:00Z'", "must be of type dateTime"),
        ("Name = 5", "value of filter criterion for field 'Name' must be of type string and "
                     "should be enclosed in quotes"),
        ("NumberOfEmployees = '5'", "field 'NumberOfEmployees' must be of type integer"),
        ("AnnualRevenue > TODAY", "field 'AnnualRevenue' must be of type currency"),
        ("IsDeleted = 'true'", "field 'IsDeleted' must be of type boolean"),
        ("Id = 'not-an-id'", "invalid ID field: not-an-id"),
        ("Type IN ('Customer', 3)", "field 'Type' must be of type string"),
        ("NumberOfEmployees LIKE '1%'", "invalid operator on int field: LIKE"),
        ("Id LIKE '001%'", "invalid operator on id field: LIKE"),
        ("BillingAddress = 'x'", "can not be filtered"),
    ],
)  # fmt: skip
def test_filter_type_errors(where: str, fragment: str) -> None:
    with pytest.raises(SoqlError) as caught:
        run(f"SELECT Id FROM Account WHERE {where}")
    assert caught.value.error_code in ("INVALID_QUERY_FILTER_OPERATOR", "INVALID_FIELD")
    assert fragment in caught.value.message


def test_id_literals_of_15_and_18_characters() -> None:
    full = _id("001", 3)
    for literal in (full, full[:15]):
        assert account_names(f"Id = '{literal}'") == {"Globex"}
        assert account_names(f"Id IN ('{literal}')") == {"Globex"}
    assert account_names(f"Id = '{_id('001', 9)}'") == set()


# -- ORDER BY, LIMIT, OFFSET, COUNT() -----------------------------------------------------


@pytest.mark.parametrize("with_describe", [True, False])
@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("Name", ["Acme", "acme labs", "Globex", "Initech_100%", "O'Brien & Sons"]),
        ("Name DESC", ["O'Brien & Sons", "Initech_100%", "Globex", "acme labs", "Acme"]),
        # ASC puts nulls first, DESC puts them last, unless told otherwise.
        ("NumberOfEmployees", ["Globex", "O'Brien & Sons", "acme labs", "Acme", "Initech_100%"]),
        ("NumberOfEmployees NULLS LAST",
         ["O'Brien & Sons", "acme labs", "Acme", "Initech_100%", "Globex"]),
        ("NumberOfEmployees DESC", ["Acme", "Initech_100%", "acme labs", "O'Brien & Sons",
                                    "Globex"]),
        ("NumberOfEmployees DESC NULLS FIRST",
         ["Globex", "Acme", "Initech_100%", "acme labs", "O'Brien & Sons"]),
        ("NumberOfEmployees DESC, Name DESC",
         ["Initech_100%", "Acme", "acme labs", "O'Brien & Sons", "Globex"]),
        ("Type ASC NULLS LAST, Name DESC",
         ["O'Brien & Sons", "Globex", "acme labs", "Initech_100%", "Acme"]),
        ("CreatedDate", ["O'Brien & Sons", "Globex", "acme labs", "Initech_100%", "Acme"]),
        ("LastActivityDate DESC", ["O'Brien & Sons", "Initech_100%", "Acme", "acme labs",
                                   "Globex"]),
        ("AnnualRevenue", ["acme labs", "Initech_100%", "O'Brien & Sons", "Globex", "Acme"]),
        ("IsDeleted DESC, Name", ["O'Brien & Sons", "Acme", "acme labs", "Globex",
                                  "Initech_100%"]),
    ],
)  # fmt: skip
def test_order_by(order: str, expected: list[str], with_describe: bool) -> None:
    assert names(f"SELECT Name FROM Account ORDER BY {order}", with_describe=with_describe) == (
        expected
    )


def test_order_by_is_stable() -> None:
    rows = [{"Id": _id("001", i), "Name": "Same", "NumberOfEmployees": 1} for i in range(1, 30)]
    result = run("SELECT Id FROM Account ORDER BY Name, NumberOfEmployees DESC", rows)
    assert [r["Id"] for r in result.records] == [row["Id"] for row in rows]


def test_order_by_parent_field() -> None:
    soql = "SELECT LastName FROM Contact ORDER BY Account.Name DESC NULLS FIRST, LastName"
    assert names(soql) == ["jones", "Stone", "Brown", "Smith"]
    assert names("SELECT LastName FROM Contact ORDER BY Account.Name, LastName") == [
        "jones",
        "Stone",
        "Smith",
        "Brown",
    ]


def test_unsortable_field_is_refused() -> None:
    with pytest.raises(SoqlError) as caught:
        run("SELECT Id FROM Contact ORDER BY Description")
    assert caught.value.error_code == "INVALID_FIELD"
    assert "field 'Description' can not be sorted" in caught.value.message


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        ("LIMIT 2", ["Acme", "acme labs"]),
        ("LIMIT 0", []),
        ("LIMIT 100", ["Acme", "acme labs", "Globex", "Initech_100%", "O'Brien & Sons"]),
        ("LIMIT 2 OFFSET 1", ["acme labs", "Globex"]),
        ("OFFSET 3", ["Initech_100%", "O'Brien & Sons"]),
        ("OFFSET 10", []),
    ],
)
def test_limit_and_offset(tail: str, expected: list[str]) -> None:
    result = run(f"SELECT Name FROM Account ORDER BY Name {tail}")
    assert [r["Name"] for r in result.records] == expected
    # totalSize is what the query returns, LIMIT and OFFSET included, as Salesforce reports.
    assert result.total_size == len(expected)
    assert result.count_only is False


@pytest.mark.parametrize(
    ("soql", "count"),
    [
        ("SELECT COUNT() FROM Account", 5),
        ("SELECT COUNT() FROM Account WHERE Industry = 'Technology'", 2),
        ("SELECT COUNT() FROM Account WHERE Name = 'nobody'", 0),
        ("SELECT COUNT() FROM Account LIMIT 3", 3),
        ("SELECT COUNT() FROM Account LIMIT 30", 5),
        ("SELECT COUNT() FROM Contact WHERE Account.Name LIKE 'acme%'", 1),
    ],
)
def test_count(soql: str, count: int) -> None:
    result = run(soql)
    assert result.count_only is True
    assert result.records == []
    assert result.total_size == count


# -- record shape, relationships, describe ------------------------------------------------


def test_records_are_shaped_as_salesforce_returns_them() -> None:
    result = run(
        "SELECT Id, LastName, Account.Name, Account.Industry, Email FROM Contact "
        "WHERE LastName = 'Smith'",
        api_version="v59.0",
    )
    assert result.records == [
        {
            "attributes": {
                "type": "Contact",
                "url": f"/services/data/v59.0/sobjects/Contact/{_id('003', 1)}",
            },
            "Id": _id("003", 1),
            "LastName": "Smith",
            "Account": {
                "attributes": {
                    "type": "Account",
                    "url": f"/services/data/v59.0/sobjects/Account/{_id('001', 1)}",
                },
                "Name": "Acme",
                "Industry": "Technology",
            },
            "Email": "ann@acme.test",
        }
    ]
    assert list(result.records[0]) == ["attributes", "Id", "LastName", "Account", "Email"]


def test_missing_parent_is_null() -> None:
    result = run("SELECT LastName, Account.Name FROM Contact ORDER BY LastName")
    accounts = {r["LastName"]: r["Account"] for r in result.records}
    assert accounts["jones"] is None  # no AccountId
    assert accounts["Stone"] is None  # AccountId of a record that does not exist
    assert accounts["Brown"]["Name"] == "Globex"


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Account.Name = 'acme'", {"Smith"}),
        ("Account.Name = null", {"jones", "Stone"}),
        ("Account.Name != 'Acme'", {"jones", "Brown", "Stone"}),
        ("Account.NumberOfEmployees > 10", {"Smith"}),
        ("Owner.Name LIKE 'Ada%'", {"Smith", "jones"}),
        ("LastName = 'Stone' OR Account.Industry = 'Technology'", {"Smith", "Stone"}),
    ],
)
def test_where_on_parent_fields(where: str, expected: set[str]) -> None:
    result = run(f"SELECT LastName FROM Contact WHERE {where}")
    assert {r["LastName"] for r in result.records} == expected


def test_parent_resolved_once_per_row_and_relationship() -> None:
    calls: list[str] = []

    def counting(row: dict[str, Any], relationship: str) -> dict[str, Any] | None:
        calls.append(relationship)
        return resolve_parent(row, relationship)

    query = parse(
        "SELECT Account.Name, Account.Industry FROM Contact "
        "WHERE Account.Name != null ORDER BY Account.Name"
    )
    result = execute(query, CONTACTS, resolve_parent=counting, describe=describe, now=NOW)
    assert len(result.records) == 2
    assert calls == ["Account"] * len(CONTACTS)


def test_field_names_are_case_insensitive_with_canonical_output() -> None:
    result = run(
        # No User describe here: the relationship is canonical, its field kept as written.
        "select id, LASTNAME, account.NAME, owner.Name from CONTACT where lastname = 'smith'"
    )
    record = result.records[0]
    assert list(record) == ["attributes", "Id", "LastName", "Account", "Owner"]
    assert record["attributes"]["type"] == "Contact"
    assert record["Account"]["Name"] == "Acme"
    assert record["Owner"] == {
        "attributes": {
            "type": "User",
            "url": f"/services/data/v62.0/sobjects/User/{_id('005', 1)}",
        },
        "Name": "Ada Admin",
    }


def test_without_describe_names_are_taken_as_written() -> None:
    rows = [{"Id": "a01000000000001AAA", "Amount__c": 5, "Account__c": _id("001", 1)}]

    def parent(row: dict[str, Any], relationship: str) -> dict[str, Any] | None:
        assert relationship == "Account__r"
        return ACCOUNTS_BY_ID.get(row["Account__c"])

    query = parse("SELECT Id, amount__c, Account__r.Name FROM Payment__c WHERE Amount__c > 1")
    result = execute(query, rows, resolve_parent=parent)
    assert result.records == [
        {
            "attributes": {
                "type": "Payment__c",
                "url": "/services/data/v62.0/sobjects/Payment__c/a01000000000001AAA",
            },
            "Id": "a01000000000001AAA",
            "amount__c": 5,
            "Account__r": {
                "attributes": {
                    "type": "Account__c",
                    "url": f"/services/data/v62.0/sobjects/Account__c/{_id('001', 1)}",
                },
                "Name": "Acme",
            },
        }
    ]


def test_parent_type_from_the_parent_attributes() -> None:
    rows = [{"Id": "a01000000000001AAA", "Account__c": _id("001", 1)}]
    parent = {"attributes": {"type": "Account"}, "Id": _id("001", 1), "Name": "Acme"}
    query = parse("SELECT Account__r.Name FROM Payment__c")
    result = execute(query, rows, resolve_parent=lambda row, rel: parent)
    assert result.records[0]["Account__r"]["attributes"]["type"] == "Account"


@pytest.mark.parametrize(
    ("soql", "code", "fragment"),
    [
        ("SELECT Id, Foo FROM Account", "INVALID_FIELD",
         "No such column 'Foo' on entity 'Account'. If you are attempting to use a custom "
         "field, be sure to append the '__c' after the custom field name."),
        ("SELECT Id FROM Account WHERE Foo__c = 'x'", "INVALID_FIELD",
         "No such column 'Foo__c' on entity 'Account'"),
        ("SELECT Id FROM Account ORDER BY Nope", "INVALID_FIELD",
         "No such column 'Nope' on entity 'Account'"),
        ("SELECT Account.Foo FROM Contact", "INVALID_FIELD",
         "No such column 'Foo' on entity 'Account'"),
        ("SELECT Boss.Name FROM Contact", "INVALID_FIELD",
         "Didn't understand relationship 'Boss' in field path"),
        ("SELECT Id FROM Contact WHERE Description = 'x'", "INVALID_FIELD",
         "field 'Description' can not be filtered in a query call"),
        ("SELECT Id FROM Widget__c", "INVALID_TYPE",
         "sObject type 'Widget__c' is not supported."),
    ],
)  # fmt: skip
def test_describe_validation(soql: str, code: str, fragment: str) -> None:
    with pytest.raises(SoqlError) as caught:
        run(soql, rows=[])
    assert caught.value.error_code == code
    assert fragment in caught.value.message
    assert "ERROR at Row:1:Column:" in caught.value.message


def test_unknown_fields_pass_without_describe() -> None:
    result = run("SELECT Id, Foo FROM Account WHERE Bar = null LIMIT 1", with_describe=False)
    assert result.records[0]["Foo"] is None


def test_large_table() -> None:
    rows = [
        {"Id": f"001{i:015d}", "Name": f"Account {i}", "NumberOfEmployees": i % 100}
        for i in range(10_000)
    ]
    soql = (
        "SELECT Id, Name FROM Account WHERE NumberOfEmployees >= 50 AND Name LIKE 'Account 1%' "
        "ORDER BY NumberOfEmployees DESC, Name LIMIT 2000"
    )
    result = run(soql, rows)
    expected = sorted(
        (r for r in rows if r["NumberOfEmployees"] >= 50 and r["Name"].startswith("Account 1")),
        key=lambda r: (-r["NumberOfEmployees"], r["Name"].casefold()),
    )
    assert [r["Id"] for r in result.records] == [r["Id"] for r in expected][:2000]


def test_polymorphic_parent_type_comes_from_the_key_prefix() -> None:
    task = {
        "name": "Task",
        "keyPrefix": "00T",
        "fields": [
            {"name": "Id", "type": "id"},
            {"name": "WhatId", "type": "reference", "relationshipName": "What",
             "referenceTo": ["Account", "Opportunity"]},
        ],
    }  # fmt: skip
    describes = {**DESCRIBES, "task": task}
    rows = [{"Id": "00T000000000001AAA", "WhatId": _id("001", 3)}]
    result = execute(
        parse("SELECT Id, What.Name FROM Task"),
        rows,
        resolve_parent=lambda row, rel: ACCOUNTS_BY_ID.get(row["WhatId"]),
        describe=lambda name: describes.get(name.lower()),
    )
    assert result.records[0]["What"]["attributes"]["type"] == "Account"
    assert result.records[0]["What"]["Name"] == "Globex"


def test_rows_may_come_from_a_generator() -> None:
    # Fresh dicts that nothing else holds: parents must not be mixed up between rows.
    def fresh() -> Any:
        for contact in CONTACTS * 50:
            yield dict(contact)

    query = parse("SELECT LastName, Account.Name FROM Contact WHERE Account.Name != null")
    result = execute(query, fresh(), resolve_parent=resolve_parent, describe=describe, now=NOW)
    pairs = {(r["LastName"], r["Account"]["Name"]) for r in result.records}
    assert pairs == {("Smith", "Acme"), ("Brown", "Globex")}
    assert result.total_size == 100


@pytest.mark.parametrize("literal", ["LAST_N_DAYS:99999999", "NEXT_N_YEARS:999999"])
def test_relative_literal_out_of_the_calendar(literal: str) -> None:
    with pytest.raises(SoqlError) as caught:
        run(f"SELECT Id FROM Account WHERE CreatedDate = {literal}")
    assert caught.value.error_code == "MALFORMED_QUERY"
    assert f"{literal} reaches outside the calendar" in caught.value.message


_FRAGMENTS = [
    "SELECT", "Id", "Name", "Account.Name", "COUNT()", ",", "FROM", "Account", "Contact",
    "WHERE", "AND", "OR", "NOT", "(", ")", "=", "!=", "<", ">=", "LIKE", "IN", "NOT IN",
    "'a%'", "'x\\'y'", "5", "-1.5", "null", "true", "2026-01-01", "2026-01-01T00:00:00Z",
    "TODAY", "LAST_N_DAYS:3", "ORDER BY", "DESC", "NULLS LAST", "LIMIT", "OFFSET", "2",
    "GROUP BY", "CreatedDate", "NumberOfEmployees", "Type",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=60),
        st.lists(st.sampled_from(_FRAGMENTS), max_size=14).map(" ".join),
        st.lists(st.sampled_from(_FRAGMENTS), max_size=10).map(
            lambda parts: "SELECT Name FROM Account WHERE " + " ".join(parts)
        ),
    ),
    st.booleans(),
)
def test_any_text_is_answered_or_refused_cleanly(text: str, with_describe: bool) -> None:
    # The emulator turns SoqlError into Salesforce's 400; anything else would be a 500.
    try:
        run(text, with_describe=with_describe)
    except SoqlError as exc:
        assert exc.error_code
        assert exc.message
