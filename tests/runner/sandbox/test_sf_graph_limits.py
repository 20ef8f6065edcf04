"""Composite graph limits on the org emulator, as Salesforce states them ("Composite Graph
Limits", REST API Developer Guide): 75 graphs and 500 nodes per request; past 14 failed graphs
the rest of the request is halted, each node answering PROCESSING_HALTED."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from runner.sandbox.salesforce import salesforce_client, start_emulator

pytestmark = pytest.mark.slow

BASE = "/services/data/v62.0/sobjects"


@pytest.fixture(scope="module")
def sf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    handle = start_emulator(tmp_path_factory.mktemp("sf-graph"), reset=True)
    yield salesforce_client(handle)
    handle.stop()


def account(graph_id: str, name: str | None) -> dict[str, Any]:
    """A graph creating one Account; without a name it fails (Name is required)."""
    body = {"Name": name} if name else {"Description": "no name"}
    return {"graphId": graph_id, "compositeRequest": [
        {"method": "POST", "url": f"{BASE}/Account", "referenceId": "a", "body": body}]}


def test_more_than_75_graphs_are_refused(sf: Any) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite/graph", method="POST",
                   json={"graphs": [account(f"g{n}", f"A{n}") for n in range(76)]})
    assert caught.value.content[0]["errorCode"] == "LIMIT_EXCEEDED"


def test_more_than_500_nodes_are_refused(sf: Any) -> None:
    nodes = [{"method": "POST", "url": f"{BASE}/Account", "referenceId": f"a{n}",
              "body": {"Name": f"A{n}"}} for n in range(501)]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite/graph", method="POST",
                   json={"graphs": [{"graphId": "big", "compositeRequest": nodes}]})
    assert caught.value.content[0]["errorCode"] == "LIMIT_EXCEEDED"


def test_past_14_failed_graphs_the_rest_is_halted(sf: Any) -> None:
    graphs = [account(f"bad{n}", None) for n in range(15)] + [account("late", "Late Inc")]
    answer = sf.restful("composite/graph", method="POST", json={"graphs": graphs})["graphs"]
    assert [g["isSuccessful"] for g in answer] == [False] * 16
    first = answer[0]["graphResponse"]["compositeResponse"][0]["body"][0]
    assert first["errorCode"] == "REQUIRED_FIELD_MISSING"
    late = answer[15]["graphResponse"]["compositeResponse"][0]
    assert (late["httpStatusCode"], late["body"][0]["errorCode"]) == (400, "PROCESSING_HALTED")
    assert sf.query("SELECT Id FROM Account WHERE Name = 'Late Inc'")["totalSize"] == 0


def test_fourteen_failures_do_not_halt_the_next_graph(sf: Any) -> None:
    graphs = [account(f"bad{n}", None) for n in range(14)] + [account("ok", "Fine Inc")]
    answer = sf.restful("composite/graph", method="POST", json={"graphs": graphs})["graphs"]
    assert answer[14]["isSuccessful"] is True
    assert sf.query("SELECT Id FROM Account WHERE Name = 'Fine Inc'")["totalSize"] == 1


def test_more_than_15_different_nodes_are_refused(sf: Any) -> None:
    # Nodes differ by API version, method or object: 16 versions of the same create.
    graphs = [{"graphId": f"v{v}", "compositeRequest": [
        {"method": "POST", "url": f"/services/data/v{v}.0/sobjects/Account",
         "referenceId": "a", "body": {"Name": f"Version {v}"}}]} for v in range(47, 63)]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite/graph", method="POST", json={"graphs": graphs})
    assert caught.value.content[0]["errorCode"] == "LIMIT_EXCEEDED"
    assert "15 different nodes" in caught.value.content[0]["message"]
