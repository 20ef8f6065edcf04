"""Salesforce-shaped API errors.

A single-record REST call answers ``[{"message", "errorCode", "fields"}]``; the per-record
results of collections, composite and bulk use ``{"statusCode", "message", "fields"}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SfError:
    code: str
    message: str
    fields: tuple[str, ...] = ()

    def rest(self) -> dict:
        return {"message": self.message, "errorCode": self.code, "fields": list(self.fields)}

    def record_result(self) -> dict:
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}


@dataclass
class ApiError(Exception):
    """Ends a request with ``status`` and a Salesforce error list (or a custom body)."""

    status: int
    errors: list[SfError] = field(default_factory=list)
    body: object = None  # overrides the error list, e.g. the 300 list of matching urls

    def __post_init__(self) -> None:
        Exception.__init__(self, self.status, [e.code for e in self.errors])

    def response_body(self) -> object:
        if self.body is not None:
            return self.body
        return [_rest_without_empty_fields(e) for e in self.errors]


def _rest_without_empty_fields(error: SfError) -> dict:
    return error.rest()


def api_error(status: int, code: str, message: str, fields: tuple[str, ...] = ()) -> ApiError:
    return ApiError(status, [SfError(code, message, fields)])


class RecordError(Exception):
    """One record failed validation or a write; carries every error found for it."""

    def __init__(self, *errors: SfError) -> None:
        super().__init__("; ".join(f"{e.code}: {e.message}" for e in errors))
        self.errors = list(errors)


def not_found() -> ApiError:
    return api_error(404, "NOT_FOUND", "The requested resource does not exist")


class OAuthError(Exception):
    """An OAuth endpoint's refusal: ``{"error", "error_description"}``, HTTP 400 unless
    said otherwise."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.body = {"error": error, "error_description": description}
