from __future__ import annotations

import pytest

from runner.sandbox.salesforce.formula import FormulaError, compile_formula, evaluate

RECORD = {"Amount__c": 120.0, "Status__c": "Pending", "Name": "Acme", "Empty__c": None,
          "Paid__c": True, "Account.Name": "Parent Co"}


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("Amount__c < 0", False),
        ("Amount__c > 100", True),
        ("Amount__c * 2 - 40 = 200", True),
        ("-Amount__c < 0", True),
        ("2 ^ 3 ^ 2", 512.0),
        ("(1 + 2) * 3", 9.0),
        ("1 + 2 * 3", 7.0),
        ("ISPICKVAL(Status__c, 'Pending')", True),
        ("ISPICKVAL(Status__c, \"Completed\")", False),
        ("AND(Amount__c > 0, NOT(ISBLANK(Name)))", True),
        ("OR(Amount__c < 0, Paid__c)", True),
        ("Amount__c > 0 && !Paid__c", False),
        ("Amount__c > 0 || Paid__c", True),
        ("ISBLANK(Empty__c)", True),
        ("ISNULL(Name)", False),
        ("LEN(Name) = 4", True),
        ("Name & '-' & TEXT(Amount__c)", "Acme-120"),
        ("Empty__c > 3", False),  # a comparison with blank is false
        ("Empty__c + 1", None),  # arithmetic on blank is blank
        ("Empty__c <> 3", True),
        ("IF(Paid__c, 'yes', 'no')", "yes"),
        ("BLANKVALUE(Empty__c, 'dflt')", "dflt"),
        ("CONTAINS(Name, 'cm') && BEGINS(Name, 'Ac')", True),
        ("UPPER(Name) = 'ACME'", True),
        ("ROUND(Amount__c / 7, 2)", 17.14),
        ("MAX(1, Amount__c, 3)", 120.0),
        ("Account.Name = 'Parent Co'", True),
        ("TRUE && NOT(FALSE)", True),
        ("Empty__c = NULL", True),
    ],
)
def test_evaluate_table(formula: str, expected: object) -> None:
    assert evaluate(formula, RECORD.get) == expected


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("Amount__c <", "unexpected"),
        ("(1 + 2", r"expected '\)'"),
        ("FOO(1)", "unknown function FOO"),
        ("1 $ 2", "unexpected character"),
        ("", "non-empty"),
        ("NOT(1, 2)", "NOT takes 1 arguments"),
    ],
)
def test_bad_formulas_name_the_problem(formula: str, message: str) -> None:
    with pytest.raises(FormulaError, match=message):
        evaluate(formula, RECORD.get)


def test_type_errors_are_formula_errors_not_python_errors() -> None:
    with pytest.raises(FormulaError, match="not a number"):
        evaluate("Name * 2", RECORD.get)
    with pytest.raises(FormulaError, match="division by zero"):
        evaluate("Amount__c / 0", RECORD.get)


def test_no_python_evaluation_of_attribute_access() -> None:
    # Dots are field paths handed to the getter, never Python attribute lookups.
    seen: list[str] = []
    evaluate("__class__.__mro__ = 'x'", lambda name: seen.append(name))
    assert seen == ["__class__.__mro__"]


def test_fields_lists_referenced_fields() -> None:
    assert compile_formula("AND(A__c > 1, ISBLANK(B__c))").fields() == {"A__c", "B__c"}
