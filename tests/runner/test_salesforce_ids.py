"""The shared Salesforce Id code: the 18-character case-safe form, used by the state store's
cross references and by the org emulator alike."""

from __future__ import annotations

import pytest

from runner import salesforce_ids
from runner.salesforce_ids import MalformedIdError, canonical_id, checksum, looks_like_id, to_18
from runner.sandbox.salesforce import ids as sandbox_ids

REAL_15, REAL_18 = "001A0000006Vm9r", "001A0000006Vm9rIAC"  # a documented real-world pair


def test_the_emulator_uses_the_shared_code() -> None:
    assert sandbox_ids.to_18 is salesforce_ids.to_18
    assert sandbox_ids.checksum is salesforce_ids.checksum
    assert sandbox_ids.MalformedIdError is salesforce_ids.MalformedIdError
    minted = sandbox_ids.make_id("001", 7)
    assert to_18(minted) == minted and sandbox_ids.is_valid(minted)


@pytest.mark.parametrize(("given", "canonical"), [
    (REAL_15, REAL_18),
    (REAL_18, REAL_18),
    (REAL_18.lower(), REAL_18),  # case restored from the suffix
    (REAL_18.upper()[:15] + "iac", REAL_18),
    ("001000000000001", "001000000000001AAA"),
])
def test_canonical_id_is_the_18_character_form(given: str, canonical: str) -> None:
    assert canonical_id(given) == canonical == to_18(given)
    assert checksum(canonical[:15]) == canonical[15:]


@pytest.mark.parametrize("other", ["001KNOWN", "a01ch_0", "sub_123456789012", "", "x" * 16])
def test_values_not_shaped_like_an_id_are_kept(other: str) -> None:
    assert not looks_like_id(other)
    assert canonical_id(other) == other


@pytest.mark.parametrize("bad", ["0015g00000ABCDeZZZ", "001A0000006Vm9rIA9",
                                 "000000000000000BAA"])  # a digit flagged upper case
def test_an_id_shaped_value_with_a_wrong_checksum_is_refused_by_name(bad: str) -> None:
    with pytest.raises(MalformedIdError, match="not a valid Salesforce Id") as exc:
        canonical_id(bad)
    assert repr(bad) in str(exc.value) and "checksum" in str(exc.value)
