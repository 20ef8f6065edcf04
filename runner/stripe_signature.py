"""Stripe webhook signatures: the ``Stripe-Signature`` header, made and checked.

Stripe signs ``f"{t}.{body}"`` with HMAC-SHA256 under the endpoint's signing secret and sends
``Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>...][,v0=...]``. Several ``v1`` values
appear while Stripe rolls an endpoint's secret; we accept several secrets for our own side of
a rotation. Pure functions, no HTTP: the webhook receiver and the sandbox both use them.

Unlike the stripe SDK (which only refuses timestamps that are too old), we also refuse ones
too far in the future: a clock that far ahead is as suspicious as a replay.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

from runner.errors import RunnerError

SCHEME = "v1"
MALFORMED = "malformed_signature"
DEFAULT_TOLERANCE = 300


class SignatureError(RunnerError):
    """A webhook's ``Stripe-Signature`` is missing, malformed, stale or does not match;
    ``reason`` says which (``missing_signature``, ``malformed_signature``,
    ``stale_signature``, ``invalid_signature``), for the webhook's rejection metric."""

    def __init__(self, message: str, reason: str = "invalid_signature") -> None:
        super().__init__(message)
        self.reason = reason


def compute_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex HMAC-SHA256 Stripe puts in ``v1=`` for this body, secret and time."""
    signed = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header value Stripe would send with ``payload``."""
    if not secret:
        raise SignatureError("cannot sign a webhook payload with an empty secret")
    t = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={t},{SCHEME}={compute_signature(payload, secret, t)}"


def parse_header(header: str) -> tuple[int, list[str]]:
    """``(timestamp, [v1 signatures])`` from a header; other schemes (``v0``) are ignored."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not key or not value:
            raise SignatureError(
                f"malformed Stripe-Signature header: item {item.strip()!r} is not key=value",
                MALFORMED,
            )
        if key == "t":
            if timestamp is not None:
                raise SignatureError("malformed Stripe-Signature header: more than one t=",
                                     MALFORMED)
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError(
                    f"malformed Stripe-Signature header: timestamp {value!r} is not an "
                    "integer", MALFORMED,
                ) from None
        elif key == SCHEME:
            signatures.append(value)
    if timestamp is None:
        raise SignatureError("malformed Stripe-Signature header: no timestamp (t=)", MALFORMED)
    return timestamp, signatures


def verify_signature(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    tolerance: int | None = DEFAULT_TOLERANCE,
    now: int | None = None,
) -> None:
    """Raise :class:`SignatureError` unless ``header`` signs ``payload`` under one of ``secrets``.

    ``tolerance`` is how many seconds the signed timestamp may differ from ``now`` (either
    way); ``None`` or 0 turns the check off (for replaying stored deliveries in tests).
    """
    if isinstance(secrets, str):  # a bare string would be iterated character by character
        secrets = [secrets]
    usable = [s for s in secrets if s]
    if not usable:
        raise SignatureError("no webhook signing secret is configured")
    if not header or not header.strip():
        raise SignatureError("no Stripe-Signature header on the request", "missing_signature")
    timestamp, signatures = parse_header(header)
    if not signatures:
        raise SignatureError(f"no {SCHEME} signature in the Stripe-Signature header")
    expected = [compute_signature(payload, secret, timestamp) for secret in usable]
    # Compare every pair without stopping early: how long we take says nothing about which
    # secret or signature came close.
    # Bytes, not str: compare_digest refuses non-ASCII str, and a header is attacker input.
    offered = [sig.encode("utf-8", "replace") for sig in signatures]
    matched = False
    for want in expected:
        for got in offered:
            matched |= hmac.compare_digest(want.encode("ascii"), got)
    if not matched:
        raise SignatureError(
            "no signature in the Stripe-Signature header matches the payload "
            "(wrong secret, or the body was changed after signing)"
        )
    if tolerance:
        current = int(time.time()) if now is None else int(now)
        age = current - timestamp
        if abs(age) > tolerance:
            when = "old" if age > 0 else "in the future"
            raise SignatureError(
                f"Stripe-Signature timestamp is {abs(age)} s {when}, "
                f"outside the tolerance of {tolerance} s", "stale_signature",
            )
