"""Duplicate customer matching: scores with reasons, and link / review / create."""

from __future__ import annotations

import pytest

from runner.finance.matching import (
    Candidate,
    decide,
    match_candidates,
    normalise_name,
    normalise_phone,
    score_candidate,
)
from runner.state.store import StateStore

CUSTOMER = {
    "id": "cus_1", "object": "customer", "name": "Acme Corp", "email": "Jenny@Acme.com",
    "phone": "+1 (415) 555-0100",
    "address": {"line1": "1 Market Street", "line2": None, "postal_code": "94105",
                "city": "San Francisco", "country": "US"},
}


@pytest.mark.parametrize(("raw", "expected"), [
    ("ACME Corporation", "acme"), ("Acme, Inc.", "acme"), ("Müller GmbH", "muller"),
    ("Smith & Sons Ltd", "smith and sons"), ("Inc", "inc"), (None, ""),
])
def test_normalise_name(raw, expected: str) -> None:
    assert normalise_name(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("+1 (415) 555-0100", "4155550100"), ("415.555.0100", "4155550100"),
    ("0044 20 7946 0958", "2079460958"), ("12", ""), (None, ""),
])
def test_normalise_phone(raw, expected: str) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(("record", "score_range", "reason"), [
    ({"Id": "001A", "StripeCustomerID__c": "cus_1", "Name": "Other"}, (1.0, 1.0),
     "same Stripe customer id cus_1"),
    ({"Id": "003A", "Email": "jenny@acme.com", "LastName": "Rosen"}, (0.95, 0.96),
     "same email jenny@acme.com"),
    ({"Id": "001B", "Name": "ACME Corporation"}, (0.6, 0.66),
     "name 100% similar: 'Acme Corp' ~ 'ACME Corporation'"),
    ({"Id": "001C", "Name": "Acme Group"}, (0.0, 0.0), None),
    ({"Id": "001D", "Name": "Acme Corp", "Phone": "415-555-0100"}, (0.85, 0.87),
     "same phone (last 10 digits 4155550100)"),
    ({"Id": "001E", "Name": "Acme Corp", "Phone": "4155550100", "BillingPostalCode": "94105",
      "BillingStreet": "1 Market St"}, (0.9, 0.95), "same postal code 94105, street 85% similar"),
    ({"Id": "001F", "Name": "Acme Corp", "StripeCustomerID__c": "cus_other",
      "Phone": "4155550100"}, (0.6, 0.6),
     "already linked to another Stripe customer cus_other"),
    ({"Id": "003B", "Email": "bob@other.com", "LastName": "Acme Corp"}, (0.5, 0.56),
     "different email (jenny@acme.com vs bob@other.com)"),
])
def test_score_table(record: dict, score_range: tuple[float, float], reason: str | None) -> None:
    c = score_candidate(CUSTOMER, record)
    assert score_range[0] <= c.score <= score_range[1], c
    if reason is not None:
        assert reason in c.reasons


def test_object_from_attributes_or_id_prefix() -> None:
    c1 = score_candidate(CUSTOMER, {"Id": "003X", "Email": "jenny@acme.com"})
    c2 = score_candidate(CUSTOMER, {"Id": "a01X", "Email": "jenny@acme.com",
                                    "attributes": {"type": "Contact"}})
    assert (c1.object, c2.object) == ("Contact", "Contact")


def test_candidates_sorted_and_zero_scores_dropped() -> None:
    found = match_candidates(CUSTOMER, [
        {"Id": "001Z", "Name": "Unrelated Ltd"},
        {"Id": "001B", "Name": "ACME Corporation"},
        {"Id": "003A", "Email": "jenny@acme.com", "LastName": "Rosen"},
    ])
    assert [c.sf_id for c in found] == ["003A", "001B"]


def test_decide_link_review_create() -> None:
    email = match_candidates(CUSTOMER, [{"Id": "003A", "Email": "jenny@acme.com"}])
    d = decide(email)
    assert (d.action, d.candidate.sf_id) == ("link", "003A")
    assert d.reasons == ["same email jenny@acme.com"]

    name_only = match_candidates(CUSTOMER, [{"Id": "001B", "Name": "ACME Corporation"}])
    d = decide(name_only)
    assert d.action == "review" and "between 0.6 and 0.9" in d.reasons[0]

    assert decide(match_candidates(CUSTOMER, [{"Id": "001C", "Name": "Zed"}])).action == "create"
    assert decide([]).action == "create"


def test_two_strong_candidates_are_ambiguous() -> None:
    # A Contact and an Account both carry the e-mail: no automatic link.
    found = match_candidates(CUSTOMER, [{"Id": "003A", "Email": "jenny@acme.com"},
                                        {"Id": "003B", "Email": "JENNY@acme.com"}])
    d = decide(found)
    assert d.action == "review"
    assert "2 candidates above the link threshold 0.9: 003A, 003B" in d.reasons[0]


def test_external_id_wins_over_other_strong_candidates() -> None:
    found = match_candidates(CUSTOMER, [{"Id": "003A", "Email": "jenny@acme.com"},
                                        {"Id": "001A", "StripeCustomerID__c": "cus_1"}])
    d = decide(found)
    assert (d.action, d.candidate.sf_id) == ("link", "001A")


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="thresholds"):
        decide([Candidate("001", "Account", 0.5)], link_threshold=0.5, review_threshold=0.7)
    with pytest.raises(ValueError, match="without an Id"):
        match_candidates(CUSTOMER, [{"Name": "Acme"}])
    with pytest.raises(ValueError, match="customer"):
        match_candidates(["cus_1"], [])  # type: ignore[arg-type]


def test_ambiguous_duplicate_is_held_and_resolved_through_the_review_queue(tmp_path) -> None:
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    try:
        found = match_candidates(CUSTOMER, [
            {"Id": "001B", "Name": "ACME Corporation", "BillingPostalCode": "94105"},
            {"Id": "003C", "LastName": "Acme", "Phone": "(415) 555-0100"},
        ])
        decision = decide(found)
        assert decision.action == "review"
        item = store.review_add(flow="customer-to-account", source_id=CUSTOMER["id"],
                                record={"Name": "Acme Corp"},
                                candidates=[c.to_dict() for c in found], payload=CUSTOMER)
        held = store.review_get(item)
        assert [c["sf_id"] for c in held.candidates] == ["003C", "001B"]  # name + phone first
        assert held.candidates[0]["reasons"][0].startswith("name 100% similar")
        store.review_decide(item, "approved", "001B")
        assert store.review_list("open") == []
    finally:
        store.close()
