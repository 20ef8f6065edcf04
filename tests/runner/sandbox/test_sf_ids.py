from __future__ import annotations

import pytest

from runner.sandbox.salesforce import ids


@pytest.mark.parametrize(
    ("id15", "suffix"),
    [
        ("001000000000000", "AAA"),  # no upper case letters at all
        ("AAAAA00000aaaaa", "5AA"),  # first chunk all upper
        ("00000AAAAA00000", "A5A"),
        ("0000000000AAAAA", "AA5"),
        ("A0000000000000A", "BAQ"),  # bit 0 of chunk 1, bit 4 of chunk 3
        ("0015g00000ABCDe", "AAP"),
        ("001A0000006Vm9r", "IAC"),  # a documented real-world pair
    ],
)
def test_checksum_table(id15: str, suffix: str) -> None:
    assert ids.checksum(id15) == suffix
    assert ids.to_18(id15) == id15 + suffix


def test_to_18_restores_case_of_an_18_char_id_typed_in_lower_case() -> None:
    canonical = ids.to_18("0015g00000ABCDe")
    assert ids.to_18(canonical.lower()) == canonical
    assert ids.to_18(canonical) == canonical


@pytest.mark.parametrize(
    "bad", ["", "001", "001000000000000A", "00100000000000!", "0015g00000ABCDeZZZ", 123, None]
)
def test_malformed_ids_are_refused(bad: object) -> None:
    assert not ids.is_valid(bad)
    with pytest.raises(ids.MalformedIdError):
        ids.to_18(bad)  # type: ignore[arg-type]


def test_make_id_uses_the_prefix_and_is_unique_and_valid() -> None:
    made = {ids.make_id("001", n) for n in range(1, 2000)}
    assert len(made) == 1999
    for value in made:
        assert len(value) == 18 and value.startswith("001")
        assert ids.to_18(value[:15]) == value


def test_make_id_refuses_a_bad_prefix() -> None:
    with pytest.raises(ValueError, match="key prefix"):
        ids.make_id("01", 1)
