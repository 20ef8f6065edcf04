"""A lookup whose match value is computed by a JSONata expression (``expr``): the standard
PricebookEntry of an invoice line by ``<product>|<CURRENCY>``. Read, written, refused when
ambiguous or broken, mapped, resolved in one query per batch, and shown by the diff."""

from __future__ import annotations

from typing import Any

import pytest

import mappings.transforms.expression as expression
from mappings.document.diff import diff_documents
from mappings.document.yamlio import dump_document, loads_document
from mappings.engine.plan import compile_flow
from mappings.errors import DocumentError, ExpressionError
from mappings.schema.org_metadata import load_salesforce_catalog
from runner.pipeline.lookups import LookupResolver, lookup_values
from tests.mappings.test_lookup_constant import _NoXrefs  # remembers nothing, refuses a put

EXPR = "price.product & '|' & $uppercase(currency)"
DOC = """\
format: 1
name: lines
flows:
  - name: line-to-item
    trigger:
      stripe_events:
        - invoice.paid
    source:
      system: stripe
      object: line_item
    target:
      system: salesforce
      object: OrderItem
    operation:
      action: upsert
      external_id: StripeLineItemID__c
    fields:
      - target: StripeLineItemID__c
        source: id
    lookups:
      - target: PricebookEntryId
        object: PricebookEntry
        match_field: StripeProductCurrency__c
        expr: price.product & '|' & $uppercase(currency)
"""
LINE = {"id": "il_1", "object": "line_item", "currency": "usd",
        "price": {"id": "price_1", "product": "prod_1"}}
ENTRY = "01u000000000001AAA"


def _plan(text: str = DOC) -> Any:
    """The flow compiled without the target's schema: the line's other required fields
    (OrderId, Quantity, UnitPrice) are beside the point here."""
    doc = loads_document(text)
    return compile_flow(doc.flows[0], doc)


def test_the_shipped_org_has_the_key_as_an_external_id() -> None:
    field = load_salesforce_catalog()["PricebookEntry"].find("StripeProductCurrency__c")
    assert field is not None and field.external_id and field.unique


def test_a_computed_lookup_round_trips_through_yaml() -> None:
    doc = loads_document(DOC)
    lk = doc.flows[0].lookups[0]
    assert lk.computed and lk.expr == EXPR and lk.source == "" and not lk.constant
    assert not lk.reads_source
    assert dump_document(doc) == DOC


@pytest.mark.parametrize("extra", ["        source: price.product\n", "        value: x\n"])
def test_a_lookup_with_two_match_values_is_refused(extra: str) -> None:
    with pytest.raises(DocumentError):
        loads_document(DOC + extra)


def test_a_lookup_with_no_match_value_is_refused() -> None:
    with pytest.raises(DocumentError):
        loads_document(DOC.replace(f"        expr: {EXPR}\n", ""))


def test_an_expression_that_does_not_compile_is_one_sentence_at_compile_time() -> None:
    with pytest.raises(ExpressionError) as caught:
        _plan(DOC.replace(EXPR, "price.product & ("))
    message = str(caught.value)
    assert message.startswith("flow 'line-to-item', lookup of 'PricebookEntryId': ")
    assert "invalid JSONata expression" in message and "\n" not in message


def test_the_engine_matches_on_the_computed_value() -> None:
    plan = _plan()
    asked: list[tuple[str, str, Any]] = []

    def resolve(obj: str, field: str, value: Any) -> str | None:
        asked.append((obj, field, value))
        return ENTRY

    result = plan.apply(LINE, resolve)
    assert result.ok, result.issues
    assert result.record["PricebookEntryId"] == ENTRY
    assert asked == [("PricebookEntry", "StripeProductCurrency__c", "prod_1|USD")]
    # Without a resolver (preview, or Salesforce resolving it on upsert): by external id.
    preview = plan.apply(LINE)
    assert preview.record["PricebookEntry"] == {"StripeProductCurrency__c": "prod_1|USD"}


def test_a_failing_expression_is_the_records_issue() -> None:
    plan = _plan(DOC.replace(EXPR, "$number(currency)"))
    result = plan.apply(LINE, lambda *_: ENTRY)
    (issue,) = result.issues
    assert (issue.code, issue.field) == ("TRANSFORM_FAILED", "PricebookEntryId")
    assert "could not be computed" in issue.message and "$number(currency)" in issue.message
    assert "PricebookEntryId" not in result.record


def test_an_expression_with_no_value_says_what_it_could_not_find() -> None:
    plan = _plan(DOC.replace(EXPR, "$exists(price.product) ? price.product"))
    result = plan.apply({"id": "il_2", "object": "line_item", "currency": "usd"},
                        lambda *_: ENTRY)
    (issue,) = result.issues
    assert issue.code == "LOOKUP_UNRESOLVED"
    assert "no value of '$exists(price.product) ? price.product'" in issue.message


def test_the_native_closures_evaluate_it(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _plan()

    def no_jsonata_python(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the native closures should have answered")

    monkeypatch.setattr(expression, "evaluate_bounded", no_jsonata_python)
    assert plan.apply(LINE, lambda *_: ENTRY).record["PricebookEntryId"] == ENTRY


def test_beyond_the_native_subset_jsonata_python_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _plan(DOC.replace(EXPR, "price.product & '|' & $string($count(tags))"))
    calls: list[str] = []
    real = expression.evaluate_bounded

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(expression, "evaluate_bounded", counted)
    asked: list[Any] = []
    plan.apply({**LINE, "tags": ["a", "b"]}, lambda o, f, v: asked.append(v) or ENTRY)
    assert asked == ["prod_1|2"] and len(calls) == 1


class _Org:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str, list]] = []

    def find_ids(self, obj: str, field: str, values: Any) -> dict[Any, list[str]]:
        values = sorted(values)
        self.asked.append((obj, field, values))
        return {v: [f"01u{n:015d}"] for n, v in enumerate(values)}


def test_the_runner_computes_the_values_of_a_batch_for_one_query() -> None:
    flow = loads_document(DOC).flows[0]
    lines = [{**LINE, "currency": c, "price": {"product": p}}
             for p in ("prod_1", "prod_2") for c in ("usd", "eur")]
    wanted = [w for line in lines for w in lookup_values(flow, line)]
    assert wanted == [("PricebookEntry", "StripeProductCurrency__c", v)
                      for v in ("prod_1|USD", "prod_1|EUR", "prod_2|USD", "prod_2|EUR")]
    # A record the expression fails on is left to the plan, which reports it.
    broken = loads_document(DOC.replace(EXPR, "$number(currency)")).flows[0]
    assert lookup_values(broken, LINE) == []
    org = _Org()
    resolver = LookupResolver(_NoXrefs(), org)  # type: ignore[arg-type]
    resolver.prefetch(wanted)
    assert len(org.asked) == 1
    assert resolver("PricebookEntry", "StripeProductCurrency__c", "prod_2|EUR") is not None
    assert len(org.asked) == 1


def test_the_diff_shows_the_expression() -> None:
    before = loads_document(DOC.replace(f"        expr: {EXPR}\n",
                                        "        source: price.product\n"))
    after = loads_document(DOC)
    (change,) = diff_documents(before, after)
    assert change.kind == "changed"
    assert change.summary == (
        "lookup PricebookEntryId: PricebookEntry.StripeProductCurrency__c = price.product -> "
        f"PricebookEntry.StripeProductCurrency__c = computed: {EXPR!r}")
