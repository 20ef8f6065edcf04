"""Who may use the admin API: a full token (read and act) and a read-only one.

Tokens are compared as SHA-256 digests with :func:`hmac.compare_digest`, so neither the
comparison's time nor a token's length tells a guesser anything. Failed attempts are counted
per client address; past :data:`MAX_FAILURES` in :data:`FAILURE_WINDOW` seconds the address
is answered 429 until the window has passed, a right token included (a guesser cannot tell).
Only the digest leaves this module (for the audit log); a token is never logged.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from runner.errors import ConfigError
from runner.state.audit import token_hash

MAX_FAILURES = 10
FAILURE_WINDOW = 60.0
# A token shorter than this is guessable; refused at start-up.
MIN_TOKEN_LENGTH = 16


class Role(StrEnum):
    ADMIN = "admin"  # read and act
    READ = "read"  # read only


@dataclass(frozen=True)
class Principal:
    """Whoever presented a valid token: its name (for the audit log), role and digest."""

    name: str
    role: Role
    digest: str

    @property
    def may_act(self) -> bool:
        return self.role is Role.ADMIN


class AuthError(Exception):
    """Refused: ``status`` 401 (no or wrong token), 403 (read-only acting), 429 (too many
    failures; ``retry_after`` seconds)."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class FailureLimiter:
    """Failed attempts per client within a sliding window (thread-safe)."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: float = FAILURE_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.setdefault(client, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def blocked_for(self, client: str) -> int:
        """Seconds ``client`` must wait (0: not blocked)."""
        with self._lock:
            now = self.clock()
            times = self._recent(client, now)
            if len(times) < self.max_failures:
                if not times:
                    self._failures.pop(client, None)
                return 0
            return max(1, int(times[0] + self.window - now + 0.999))

    def failed(self, client: str) -> None:
        with self._lock:
            now = self.clock()
            self._recent(client, now).append(now)
            if len(self._failures) > 10_000:  # a flood of addresses: forget the oldest
                self._failures.pop(next(iter(self._failures)))


class AdminAuth:
    """Checks ``Authorization: Bearer <token>`` against the configured tokens."""

    def __init__(self, admin_token: str, read_token: str | None = None, *,
                 limiter: FailureLimiter | None = None) -> None:
        for label, token in (("runner.admin_token", admin_token),
                             ("runner.admin_read_token", read_token)):
            if token is not None and len(token) < MIN_TOKEN_LENGTH:
                raise ConfigError(f"{label} must be at least {MIN_TOKEN_LENGTH} characters "
                                  "(a long random string: `openssl rand -hex 32`)")
        if read_token is not None and hmac.compare_digest(admin_token, read_token):
            raise ConfigError("runner.admin_read_token must differ from runner.admin_token")
        self._tokens = [Principal("admin", Role.ADMIN, token_hash(admin_token))]
        if read_token:
            self._tokens.append(Principal("read", Role.READ, token_hash(read_token)))
        self.limiter = limiter or FailureLimiter()

    def authenticate(self, header: str | None, client: str) -> Principal:
        """The principal of a valid header, or :class:`AuthError` (401 or 429)."""
        wait = self.limiter.blocked_for(client)
        if wait:
            raise AuthError(429, f"too many failed attempts; try again in {wait} s", wait)
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            self.limiter.failed(client)
            raise AuthError(401, "this endpoint needs an 'Authorization: Bearer <token>' "
                                 "header")
        digest = token_hash(token.strip())
        found = None
        for principal in self._tokens:  # every token compared: no early exit to time
            if hmac.compare_digest(digest, principal.digest):
                found = principal
        if found is None:
            self.limiter.failed(client)
            raise AuthError(401, "the admin token is not valid")
        return found

    @staticmethod
    def require_action(principal: Principal) -> None:
        if not principal.may_act:
            raise AuthError(403, f"the {principal.name} token may read but not act")
