"""complete_lists: a truncated Stripe list is fetched in full before mapping (no network:
the connector is a stand-in that pages a list as Stripe does)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mappings.document.yamlio import load_document
from mappings.templates.tools.invoice_fixtures import event, invoice_with_lines, line
from runner.classify import Failure
from runner.connectors.errors import ConnectorError
from runner.connectors.stripe import StripeConnector, StripeSettings
from runner.connectors.stripe_lists import complete_lists

TEMPLATE = Path(__file__).resolve().parents[3] / "mappings" / "templates" / "invoices-orders.yaml"


class PagedLines:
    """Answers ``list_after`` from a full list, as Stripe pages it after an id."""

    def __init__(self, lines: list[dict[str, Any]]) -> None:
        self.lines = lines
        self.asked: list[tuple[str, str]] = []

    def list_after(self, url: str, starting_after: str) -> Iterator[dict[str, Any]]:
        self.asked.append((url, starting_after))
        ids = [x["id"] for x in self.lines]
        yield from self.lines[ids.index(starting_after) + 1:]


@pytest.fixture(scope="module")
def flow() -> Any:
    return load_document(TEMPLATE).flows[0]


def cut(lines: list[dict[str, Any]], shown: int = 10) -> dict[str, Any]:
    invoice = invoice_with_lines(lines[:shown])
    invoice["lines"]["has_more"] = len(lines) > shown
    return invoice


def test_the_rest_of_a_truncated_list_is_fetched_and_the_event_kept(flow: Any) -> None:
    lines = [line(n) for n in range(1, 13)]
    data = event("invoice.paid", cut(lines), 1)
    original = copy.deepcopy(data)
    stripe = PagedLines(lines)
    whole = complete_lists(data, flow, stripe)  # type: ignore[arg-type]
    got = whole["data"]["object"]["lines"]
    assert [x["id"] for x in got["data"]] == [x["id"] for x in lines]
    assert got["has_more"] is False
    assert stripe.asked == [(f"/v1/invoices/{data['data']['object']['id']}/lines",
                             lines[9]["id"])]
    assert whole["id"] == data["id"] and whole["type"] == "invoice.paid"
    assert data == original  # never changed in place


def test_a_complete_list_costs_no_call(flow: Any) -> None:
    data = event("invoice.paid", cut([line(n) for n in range(1, 4)]), 1)
    stripe = PagedLines([])
    assert complete_lists(data, flow, stripe) is data  # type: ignore[arg-type]
    assert stripe.asked == []


def test_a_bare_object_is_completed_too(flow: Any) -> None:
    lines = [line(n) for n in range(1, 12)]
    whole = complete_lists(cut(lines), flow, PagedLines(lines))  # type: ignore[arg-type]
    assert len(whole["lines"]["data"]) == 11


def test_a_list_url_that_is_not_an_api_path_is_refused_in_one_sentence(flow: Any) -> None:
    invoice = cut([line(n) for n in range(1, 12)])
    invoice["lines"]["url"] = "/v1/invoices/in_1/lines?expand[]=x"
    connector = StripeConnector(StripeSettings(api_key="sk_test_x",
                                               api_base="http://127.0.0.1:9"))
    # rest_url gives only /v1/ paths; the connector refuses anything with a query itself.
    with pytest.raises(ConnectorError) as caught:
        list(connector.list_after(invoice["lines"]["url"], "il_1"))
    assert caught.value.failure is Failure.SKIPPABLE
    assert "is not an API list path" in str(caught.value)
