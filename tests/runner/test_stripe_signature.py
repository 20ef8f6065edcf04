from __future__ import annotations

import hashlib
import hmac
import json

import pytest
import stripe

from runner.errors import RunnerError
from runner.stripe_signature import SignatureError, parse_header, sign_payload, verify_signature

SECRET = "whsec_test_primary"
OLD_SECRET = "whsec_test_previous"
NOW = 1_800_000_000
BODY = json.dumps({"id": "evt_1", "object": "event", "type": "charge.succeeded"}).encode()


def hex_sig(payload: bytes, secret: str, t: int) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()


def test_sign_payload_is_stripes_header_format():
    header = sign_payload(BODY, SECRET, timestamp=NOW)
    assert header == f"t={NOW},v1={hex_sig(BODY, SECRET, NOW)}"


def test_signature_error_is_a_runner_error():
    assert issubclass(SignatureError, RunnerError)


def test_round_trip():
    verify_signature(BODY, sign_payload(BODY, SECRET, NOW), [SECRET], now=NOW)


def test_our_signature_passes_the_stripe_sdk():
    header = sign_payload(BODY, SECRET)
    assert stripe.WebhookSignature.verify_header(BODY, header, SECRET, tolerance=300)
    event = stripe.Webhook.construct_event(BODY, header, SECRET)
    assert event["type"] == "charge.succeeded"


def test_stripe_sdk_signature_passes_ours():
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), SECRET)
    verify_signature(BODY, header, [SECRET])
    with pytest.raises(SignatureError):
        verify_signature(BODY + b" ", header, [SECRET])


def test_non_ascii_body_agrees_with_the_sdk():
    body = json.dumps({"name": "Zoë Ångström — café"}, ensure_ascii=False).encode()
    header = sign_payload(body, SECRET)
    assert stripe.WebhookSignature.verify_header(body, header, SECRET)
    verify_signature(body, stripe.WebhookSignature.generate_signature_header(
        body.decode(), SECRET), [SECRET])


@pytest.mark.parametrize(
    ("age", "tolerance", "ok"),
    [
        (0, 300, True),
        (300, 300, True),
        (301, 300, False),
        (-300, 300, True),
        (-301, 300, False),
        (86_400, 300, False),
        (86_400, None, True),
        (86_400, 0, True),
        (59, 60, True),
        (61, 60, False),
    ],
)
def test_tolerance(age, tolerance, ok):
    header = sign_payload(BODY, SECRET, timestamp=NOW - age)
    if ok:
        verify_signature(BODY, header, [SECRET], tolerance=tolerance, now=NOW)
    else:
        with pytest.raises(SignatureError, match="outside the tolerance"):
            verify_signature(BODY, header, [SECRET], tolerance=tolerance, now=NOW)


@pytest.mark.parametrize(
    ("signed_with", "accepted", "ok"),
    [
        (SECRET, [SECRET], True),
        (OLD_SECRET, [SECRET, OLD_SECRET], True),   # our side mid-rotation
        (SECRET, [OLD_SECRET, SECRET], True),
        (OLD_SECRET, [SECRET], False),              # rotation finished
        ("whsec_other", [SECRET, OLD_SECRET], False),
    ],
)
def test_secret_rotation(signed_with, accepted, ok):
    header = sign_payload(BODY, signed_with, NOW)
    if ok:
        verify_signature(BODY, header, accepted, now=NOW)
    else:
        with pytest.raises(SignatureError, match="no signature .* matches"):
            verify_signature(BODY, header, accepted, now=NOW)


def test_several_v1_values_any_may_match():
    # Stripe sends one v1 per active secret while an endpoint's secret is being rolled.
    header = f"t={NOW},v1={hex_sig(BODY, OLD_SECRET, NOW)},v1={hex_sig(BODY, SECRET, NOW)}"
    verify_signature(BODY, header, [SECRET], now=NOW)
    verify_signature(BODY, header, [OLD_SECRET], now=NOW)


def test_v0_is_ignored():
    header = f"t={NOW},v0={hex_sig(BODY, SECRET, NOW)}"
    with pytest.raises(SignatureError, match="no v1 signature"):
        verify_signature(BODY, header, [SECRET], now=NOW)


def test_tampered_body_is_refused():
    header = sign_payload(BODY, SECRET, NOW)
    tampered = BODY.replace(b"charge.succeeded", b"charge.refunded")
    with pytest.raises(SignatureError, match="body was changed"):
        verify_signature(tampered, header, [SECRET], now=NOW)


def test_signature_for_another_timestamp_is_refused():
    sig = hex_sig(BODY, SECRET, NOW)
    with pytest.raises(SignatureError, match="matches"):
        verify_signature(BODY, f"t={NOW + 1},v1={sig}", [SECRET], now=NOW)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "no Stripe-Signature header"),
        ("", "no Stripe-Signature header"),
        ("   ", "no Stripe-Signature header"),
        ("garbage", "not key=value"),
        ("t=,v1=abc", "not key=value"),
        ("t=abc,v1=00", "timestamp 'abc' is not an integer"),
        ("v1=00", "no timestamp"),
        (f"t={NOW}", "no v1 signature"),
        (f"t={NOW},t={NOW},v1=00", "more than one t="),
        (f"t={NOW},v1=ünïcödé", "matches"),
    ],
)
def test_malformed_headers(header, reason):
    with pytest.raises(SignatureError, match=reason):
        verify_signature(BODY, header, [SECRET], now=NOW)


def test_no_secret_configured():
    header = sign_payload(BODY, SECRET, NOW)
    with pytest.raises(SignatureError, match="no webhook signing secret"):
        verify_signature(BODY, header, [], now=NOW)
    with pytest.raises(SignatureError, match="no webhook signing secret"):
        verify_signature(BODY, header, [""], now=NOW)


def test_a_bare_string_secret_is_one_secret():
    verify_signature(BODY, sign_payload(BODY, SECRET, NOW), SECRET, now=NOW)


def test_sign_refuses_empty_secret():
    with pytest.raises(SignatureError, match="empty secret"):
        sign_payload(BODY, "")


def test_errors_never_contain_the_secret_or_expected_signature():
    header = sign_payload(BODY, "whsec_wrong", NOW)
    with pytest.raises(SignatureError) as info:
        verify_signature(BODY, header, [SECRET], now=NOW)
    assert SECRET not in str(info.value)
    assert hex_sig(BODY, SECRET, NOW) not in str(info.value)


def test_parse_header_tolerates_spaces():
    assert parse_header(f"t={NOW}, v1=aa ,v1=bb") == (NOW, ["aa", "bb"])
