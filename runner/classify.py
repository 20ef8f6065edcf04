"""The single place where a failure is classified fatal, retriable or skippable.

Every HTTP status, Salesforce error code and Stripe error the connectors see becomes a
:class:`Failure` here and nowhere else; ``runner.retry`` then turns the class into retry,
dead-letter or stop. Three entry points, because the same code can mean different things:

- :func:`classify_http` for a whole call that failed (status + the first error code).
  ``INVALID_FIELD`` on a whole call means the org no longer has a field the bundle writes
  (schema drift): fatal, the runner must stop and report.
- :func:`classify_record` for one record's error inside a successful collections, composite
  or Bulk 2.0 call. There ``INVALID_FIELD`` is that record's problem: skippable.
- :func:`classify_stripe` for an exception raised by the stripe SDK.

A ``401 INVALID_SESSION_ID`` is fatal *here*: the Salesforce connector refreshes the session
once before it classifies, so one that is still invalid after a fresh login is a credential
problem.
"""

from __future__ import annotations

from enum import StrEnum

import stripe


class Failure(StrEnum):
    """What a failure means for the record: the class alone decides retry, dead-letter or stop."""

    FATAL = "fatal"  # stop the runner: retrying cannot help (bad credentials, schema drift)
    RETRIABLE = "retriable"  # try again later with backoff (timeouts, 429, 5xx, row locks)
    SKIPPABLE = "skippable"  # this record cannot go as it is: dead-letter it and go on


# Transient whatever the scope: the same request can succeed later.
RETRIABLE_CODES = frozenset({
    "UNABLE_TO_LOCK_ROW",
    "REQUEST_LIMIT_EXCEEDED",  # the daily budget: runner.retry waits long for this one
    "SERVER_UNAVAILABLE",
    "REQUEST_RUNNING_TOO_LONG",
    "QUERY_TIMEOUT",
    "CONCURRENT_REQUESTS_LIMIT_EXCEEDED",  # Salesforce ConcurrentPerOrgLongTxn
    # The record was valid; another one in the same all-or-none call was not.
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "PROCESSING_HALTED",
    # Stripe codes (error.code) that mean "again later".
    "lock_timeout",
    "rate_limit",
})

# Credentials, permissions or configuration: nothing record-specific, retrying cannot help.
FATAL_CODES = frozenset({
    "INVALID_SESSION_ID",
    "INVALID_AUTH",
    "INVALID_AUTH_HEADER",
    "API_DISABLED_FOR_ORG",
    "API_CURRENTLY_DISABLED",
    "INSUFFICIENT_ACCESS",
    "FUNCTIONALITY_NOT_ENABLED",
    "invalid_grant",
    "invalid_client",
    "invalid_client_id",
    "unsupported_grant_type",
    "api_key_expired",
    "platform_api_key_expired",
})

# On a whole call these mean the org's schema drifted from the bundle's contract.
DRIFT_CODES = frozenset({
    "INVALID_TYPE",
    "INVALID_FIELD",
    "NO_SUCH_COLUMN",
    "INVALID_FIELD_FOR_INSERT_UPDATE",
    "INVALID_SOBJECT",
    "NOT_FOUND_EXTERNAL_ID_FIELD",
})

# Validation and data errors: this record (or this value) is wrong, the next one may be fine.
# Listed for documentation and the table test; any code not listed elsewhere is skippable
# per record too.
SKIPPABLE_CODES = frozenset({
    "REQUIRED_FIELD_MISSING",
    "STRING_TOO_LONG",
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    "DUPLICATE_VALUE",
    "DUPLICATES_DETECTED",
    "DUPLICATE_EXTERNAL_ID",
    "FIELD_CUSTOM_VALIDATION_EXCEPTION",
    "FIELD_INTEGRITY_EXCEPTION",
    "INVALID_CROSS_REFERENCE_KEY",
    "MALFORMED_ID",
    "INVALID_EMAIL_ADDRESS",
    "NUMBER_OUTSIDE_VALID_RANGE",
    "INVALID_TYPE_ON_FIELD_IN_RECORD",
    "ENTITY_IS_DELETED",
    "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
    "JSON_PARSER_ERROR",
    "INVALID_ID_FIELD",
    # Stripe codes
    "resource_missing",
    "parameter_invalid_integer",
    "parameter_invalid_empty",
    "parameter_missing",
    "parameter_unknown",
    "email_invalid",
    "idempotency_key_in_use",
    "card_declined",
})

_RETRIABLE_STATUSES = frozenset({408, 425, 429})
_FATAL_STATUSES = frozenset({401, 403, 405, 406, 407, 415})


def _worst(failures: list[Failure]) -> Failure:
    """FATAL beats SKIPPABLE beats RETRIABLE: retrying a record that also fails validation
    only delays its dead letter."""
    for failure in (Failure.FATAL, Failure.SKIPPABLE, Failure.RETRIABLE):
        if failure in failures:
            return failure
    return Failure.SKIPPABLE


def classify_http(status: int | None, error_code: str | None = None) -> Failure:
    """Classify a whole call that failed.

    ``status`` None means no HTTP answer at all (timeout, connection refused or reset).
    The error code, when known, is more specific than the status and wins.
    """
    if status is None:
        return Failure.RETRIABLE
    if error_code:
        if error_code in RETRIABLE_CODES:
            return Failure.RETRIABLE
        if error_code in FATAL_CODES or error_code in DRIFT_CODES:
            return Failure.FATAL
        if error_code in SKIPPABLE_CODES:
            return Failure.SKIPPABLE
    if status in _RETRIABLE_STATUSES or status >= 500:
        return Failure.RETRIABLE
    if status in _FATAL_STATUSES:
        return Failure.FATAL
    if 300 <= status < 500:
        # 300 (several records match an external id), 400, 404, 409, 412, 422: this record
        # or this request's data.
        return Failure.SKIPPABLE
    # 1xx/2xx reported as a failure: the answer was not what the API promises.
    return Failure.FATAL


def classify_record(error_code: str | None) -> Failure:
    """Classify one record's error in a per-record result (collections, composite, bulk)."""
    if not error_code:
        return Failure.SKIPPABLE
    if error_code in RETRIABLE_CODES:
        return Failure.RETRIABLE
    if error_code in FATAL_CODES:
        return Failure.FATAL
    # Everything else, INVALID_FIELD included, concerns this record's data.
    return Failure.SKIPPABLE


def classify_record_errors(errors: list[dict]) -> Failure:
    """The class of a record with several errors (``[{statusCode, message, fields}]``)."""
    if not errors:
        return Failure.SKIPPABLE
    return _worst([classify_record(e.get("statusCode") or e.get("errorCode"))
                   for e in errors])


def classify_stripe(exc: BaseException) -> Failure:
    """Classify an exception of the stripe SDK."""
    if isinstance(exc, stripe.RateLimitError | stripe.APIConnectionError):
        return Failure.RETRIABLE
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return Failure.FATAL
    if isinstance(exc, stripe.StripeError):
        status = exc.http_status
        code = exc.code
        if code in RETRIABLE_CODES:
            return Failure.RETRIABLE
        if isinstance(exc, stripe.IdempotencyError | stripe.CardError):
            # The same key with other parameters, or a declined card: this record only.
            return Failure.SKIPPABLE
        if isinstance(exc, stripe.InvalidRequestError):
            return Failure.RETRIABLE if status is not None and status >= 500 \
                else Failure.SKIPPABLE
        # APIError and friends: by status; no status means no valid answer.
        return classify_http(status if status is not None else None, code)
    return Failure.FATAL
