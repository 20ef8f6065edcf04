"""One API call as the data API sees it, and its reply (shared by HTTP and composite)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from runner.sandbox.salesforce.errors import api_error

JSON_TYPE = "application/json;charset=UTF-8"
CSV_TYPE = "text/csv"
NO_BODY = object()


@dataclass
class Call:
    method: str
    version: str  # "62.0"
    parts: list[str]  # path segments after /services/data/vNN.0/, URL-decoded
    query: dict[str, list[str]]
    user_id: str
    raw: bytes = b""
    content_type: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    payload: Any = NO_BODY  # an already-decoded JSON body (composite subrequests)

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        if self.payload is not NO_BODY:
            return self.payload
        text = self.raw.decode("utf-8", errors="replace").strip()
        if not text:
            raise api_error(400, "JSON_PARSER_ERROR",
                            "No content to map due to end-of-input at [line:1, column:0]")
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise api_error(
                400, "JSON_PARSER_ERROR",
                f"Unexpected character at [line:{exc.lineno}, column:{exc.colno}]: {exc.msg}",
            ) from None
        self.payload = value
        return value

    def json_object(self) -> dict:
        value = self.json()
        if not isinstance(value, dict):
            kind = "START_ARRAY" if isinstance(value, list) else "VALUE"
            raise api_error(400, "JSON_PARSER_ERROR",
                            f"Cannot deserialize instance of object from {kind} value "
                            "at [line:1, column:1]")
        return value


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-able, or str/bytes with a content type
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str) and self.content_type != JSON_TYPE:
            return self.body.encode("utf-8")
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")
