"""What the connectors report: a failed call, and the outcome of each record in a batch."""

from __future__ import annotations

from dataclasses import dataclass, field

from runner.classify import Failure
from runner.errors import RunnerError


class ConnectorError(RunnerError):
    """A call to Stripe or Salesforce failed as a whole.

    ``failure`` alone decides what the runner does next (see :mod:`runner.classify`);
    ``status`` is the HTTP status (None: no answer) and ``error_code`` the service's code.
    Raised ``from`` the SDK's or requests' exception, so the cause chain survives.
    """

    def __init__(self, message: str, *, failure: Failure, status: int | None = None,
                 error_code: str | None = None) -> None:
        super().__init__(message)
        self.failure = failure
        self.status = status
        self.error_code = error_code


@dataclass
class RecordOutcome:
    """One record's result in a batch write; ``index`` is its position in the input list.

    ``errors`` are Salesforce's ``[{statusCode, message, fields}]``; ``failure`` is None when
    the record succeeded.
    """

    index: int
    success: bool
    id: str | None = None
    created: bool | None = None
    errors: list[dict] = field(default_factory=list)
    failure: Failure | None = None

    @property
    def message(self) -> str:
        """The errors as one line: ``CODE: message (fields); ...``."""
        parts = []
        for error in self.errors:
            text = f"{error.get('statusCode') or error.get('errorCode')}: {error.get('message')}"
            if error.get("fields"):
                text += f" ({', '.join(error['fields'])})"
            parts.append(text)
        return "; ".join(parts)

    @property
    def error_code(self) -> str | None:
        if not self.errors:
            return None
        return self.errors[0].get("statusCode") or self.errors[0].get("errorCode")
