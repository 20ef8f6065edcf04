"""The classification table: every status and code the connectors meet, and its class."""

from __future__ import annotations

import pytest
import stripe

from runner.classify import (
    Failure,
    classify_http,
    classify_record,
    classify_record_errors,
    classify_stripe,
)

F, R, S = Failure.FATAL, Failure.RETRIABLE, Failure.SKIPPABLE


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (None, None, R),  # timeout / connection reset
        (429, None, R),
        (500, None, R),
        (502, None, R),
        (503, "SERVER_UNAVAILABLE", R),
        (504, None, R),
        (408, None, R),
        (400, "UNABLE_TO_LOCK_ROW", R),
        (403, "REQUEST_LIMIT_EXCEEDED", R),  # the code wins over the 403
        (401, "INVALID_SESSION_ID", F),  # still invalid after the connector's refresh
        (401, None, F),
        (403, None, F),
        (400, "INVALID_TYPE", F),  # whole call: the object is gone (drift)
        (400, "INVALID_FIELD", F),  # whole call: a field is gone (drift)
        (404, "NOT_FOUND_EXTERNAL_ID_FIELD", F),
        (400, "REQUIRED_FIELD_MISSING", S),
        (400, "STRING_TOO_LONG", S),
        (400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", S),
        (400, "DUPLICATE_VALUE", S),
        (400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", S),
        (400, "INVALID_CROSS_REFERENCE_KEY", S),
        (400, "MALFORMED_ID", S),
        (400, None, S),
        (404, None, S),
        (409, None, S),
        (300, None, S),  # several records match one external id
        (405, None, F),
        (200, None, F),  # "failed" with a success status: not what the API promises
        (400, "SOME_FUTURE_CODE", S),
        (503, "SOME_FUTURE_CODE", R),
    ],
)
def test_classify_http(status: int | None, code: str | None, expected: Failure) -> None:
    assert classify_http(status, code) is expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("UNABLE_TO_LOCK_ROW", R),
        ("REQUEST_LIMIT_EXCEEDED", R),
        ("ALL_OR_NONE_OPERATION_ROLLED_BACK", R),
        ("INVALID_FIELD", S),  # one record's bad field, not drift
        ("REQUIRED_FIELD_MISSING", S),
        ("FIELD_CUSTOM_VALIDATION_EXCEPTION", S),
        ("DUPLICATE_VALUE", S),
        ("INVALID_SESSION_ID", F),
        ("INSUFFICIENT_ACCESS", F),
        ("SOMETHING_NEW", S),
        (None, S),
    ],
)
def test_classify_record(code: str | None, expected: Failure) -> None:
    assert classify_record(code) is expected


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (["UNABLE_TO_LOCK_ROW"], R),
        (["UNABLE_TO_LOCK_ROW", "STRING_TOO_LONG"], S),  # retrying cannot fix the length
        (["STRING_TOO_LONG", "INVALID_SESSION_ID"], F),
        ([], S),
    ],
)
def test_record_with_several_errors_takes_the_worst(codes: list[str], expected: Failure) -> None:
    errors = [{"statusCode": c, "message": "m", "fields": []} for c in codes]
    assert classify_record_errors(errors) is expected


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (stripe.RateLimitError("slow down", http_status=429), R),
        (stripe.APIConnectionError("reset"), R),
        (stripe.AuthenticationError("bad key", http_status=401), F),
        (stripe.PermissionError("restricted key", http_status=403), F),
        (stripe.InvalidRequestError("No such customer", "id", code="resource_missing",
                                    http_status=404), S),
        (stripe.InvalidRequestError("bad", None, http_status=400), S),
        (stripe.InvalidRequestError("lock", None, code="lock_timeout", http_status=400), R),
        (stripe.CardError("declined", None, "card_declined", http_status=402), S),
        (stripe.IdempotencyError("key reused", http_status=400), S),
        (stripe.APIError("boom", http_status=500), R),
        (stripe.APIError("Invalid response body", http_status=None), R),
        (stripe.APIError("not found", http_status=404), S),
        (ValueError("not a stripe error"), F),
    ],
)
def test_classify_stripe(exc: BaseException, expected: Failure) -> None:
    assert classify_stripe(exc) is expected
