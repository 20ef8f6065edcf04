"""Admin tokens: Bearer only, compared as digests in constant time, read-only may not act,
failures rate-limited per client."""

from __future__ import annotations

import hmac

import pytest

from runner.admin import auth as auth_module
from runner.admin.auth import AdminAuth, AuthError, FailureLimiter, Role
from runner.errors import ConfigError

ADMIN = "admin-token-0123456789abcdef"
READ = "read-token-0123456789abcdef"


def test_the_right_tokens_name_their_role() -> None:
    auth = AdminAuth(ADMIN, READ)
    assert auth.authenticate(f"Bearer {ADMIN}", "c").role is Role.ADMIN
    reader = auth.authenticate(f"bearer {READ}", "c")
    assert reader.role is Role.READ and reader.name == "read"
    assert ADMIN not in repr(auth.authenticate(f"Bearer {ADMIN}", "c"))


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic abc", f"Token {ADMIN}",
                                    "Bearer wrong-token-0123456789", f"Bearer {ADMIN}x"])
def test_a_missing_or_wrong_token_is_401(header) -> None:
    with pytest.raises(AuthError) as err:
        AdminAuth(ADMIN).authenticate(header, "c")
    assert err.value.status == 401
    assert ADMIN not in str(err.value)


def test_the_read_only_token_may_not_act() -> None:
    auth = AdminAuth(ADMIN, READ)
    with pytest.raises(AuthError) as err:
        auth.require_action(auth.authenticate(f"Bearer {READ}", "c"))
    assert err.value.status == 403
    auth.require_action(auth.authenticate(f"Bearer {ADMIN}", "c"))


def test_comparison_is_constant_time(monkeypatch) -> None:
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest
    auth = AdminAuth(ADMIN, READ)

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth_module.hmac, "compare_digest", spy)
    auth.authenticate(f"Bearer {ADMIN}", "c")
    # Every configured token was compared, as equal-length digests, never the token itself.
    assert len(calls) == 2
    assert all(len(a) == len(b) == 64 and ADMIN not in (a, b) for a, b in calls)


def test_failures_are_rate_limited_per_client_then_forgiven() -> None:
    now = [0.0]
    auth = AdminAuth(ADMIN, limiter=FailureLimiter(3, 60.0, clock=lambda: now[0]))
    for _ in range(3):
        with pytest.raises(AuthError):
            auth.authenticate("Bearer nope-nope-nope-nope", "10.0.0.1")
    with pytest.raises(AuthError) as err:  # even the right token, while blocked
        auth.authenticate(f"Bearer {ADMIN}", "10.0.0.1")
    assert err.value.status == 429 and err.value.retry_after == 60
    assert auth.authenticate(f"Bearer {ADMIN}", "10.0.0.2").role is Role.ADMIN
    now[0] = 61.0
    assert auth.authenticate(f"Bearer {ADMIN}", "10.0.0.1").role is Role.ADMIN


@pytest.mark.parametrize(("admin", "read", "match"), [
    ("short", None, "at least 16"),
    (ADMIN, "short", "admin_read_token must be at least"),
    (ADMIN, ADMIN, "must differ"),
])
def test_weak_or_equal_tokens_are_refused_at_start(admin, read, match) -> None:
    with pytest.raises(ConfigError, match=match):
        AdminAuth(admin, read)
