"""The no-secret guard in front of the dead-letter and review tables."""

from __future__ import annotations

import pytest

from runner.state import check_no_secret


def test_ordinary_stripe_and_salesforce_data_passes():
    check_no_secret({"id": "cus_1", "email": "a@b.test", "metadata": {"task_test_1234567": "x"},
                     "lines": [{"price": "price_1", "amount": 100}], "Name": None}, "payload")


@pytest.mark.parametrize(
    ("data", "where", "kind"),
    [
        ({"lines": [{"note": "sk_test_" + "abcdefgh1234"}]}, r"payload\.lines\[0\]\.note",
         "Stripe secret key"),
        ({"meta": {"sk_live_" + "abcdefgh1234": 1}}, r"a key of payload\.meta", "Stripe secret"),
        (["-----BEGIN RSA PRIVATE KEY-----"], r"payload\[0\]", "private key"),
        ("whsec_" + "abcdefgh1234", "payload", "Stripe webhook signing secret"),
    ],
)
def test_secrets_are_refused_naming_the_place(data, where, kind):
    expected = rf"refusing to store {where}: it looks like a {kind}"
    with pytest.raises(ValueError, match=expected) as caught:
        check_no_secret(data, "payload")
    assert "abcdefgh1234" not in str(caught.value)  # the place, never the secret
