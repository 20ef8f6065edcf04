"""Salesforce record Ids: the case-safe 18-character form and its checksum (pure, no I/O).

A 15-character Id is case-sensitive; the 3-character suffix of the 18-character form encodes
which of the 15 characters are upper case, so the 18-character Id survives case-insensitive
systems (spreadsheets, CSV tools). Salesforce accepts both forms as input and answers with
the 18-character one, so the runner keeps Ids in that form (:func:`to_18`) wherever it
compares them: ``001...AAA`` from an API answer and ``001...`` typed by a person are the
same record. The local org emulator (``runner.sandbox.salesforce.ids``) uses the same code.
"""

from __future__ import annotations

import string

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ALNUM = frozenset(string.ascii_letters + string.digits)


class MalformedIdError(ValueError):
    """The text is not a Salesforce Id."""


def checksum(id15: str) -> str:
    """The 3-character case-safe suffix of a 15-character Id."""
    if len(id15) != 15:
        raise MalformedIdError(f"a checksum needs a 15-character id, got {len(id15)}: {id15!r}")
    out = []
    for chunk in range(3):
        flags = 0
        for i, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                flags |= 1 << i
        out.append(_SUFFIX_ALPHABET[flags])
    return "".join(out)


def to_18(value: str) -> str:
    """Normalise a 15- or 18-character Id to the canonical 18-character form.

    An 18-character Id's case is restored from its suffix, so ``001fb0...AAA`` typed in
    lower case still names the same record. Raises :class:`MalformedIdError`.
    """
    if not isinstance(value, str) or len(value) not in (15, 18) or not set(value) <= _ALNUM:
        raise MalformedIdError(f"invalid id: {value!r}")
    if len(value) == 15:
        return value + checksum(value)
    body, suffix = value[:15], value[15:].upper()
    restored = []
    for chunk in range(3):
        index = _SUFFIX_ALPHABET.find(suffix[chunk])
        if index < 0:
            raise MalformedIdError(f"invalid id: {value!r}")
        for i, char in enumerate(body[chunk * 5 : chunk * 5 + 5]):
            restored.append(char.upper() if index & (1 << i) else char.lower())
    id15 = "".join(restored)
    if checksum(id15) != suffix:
        raise MalformedIdError(f"invalid id: {value!r}")
    return id15 + suffix


def is_valid(value: object) -> bool:
    try:
        to_18(value)  # type: ignore[arg-type]
    except MalformedIdError:
        return False
    return True


def looks_like_id(value: object) -> bool:
    """15 or 18 letters and digits: the shape of an Id (its suffix not yet checked)."""
    return isinstance(value, str) and len(value) in (15, 18) and set(value) <= _ALNUM


def canonical_id(value: str) -> str:
    """The 18-character form of anything shaped like an Id; other text unchanged.

    For stores that key on Ids but also hold values no org issued (test doubles, ids of
    other systems): those are kept as given, while an Id-shaped value whose suffix is not
    the checksum of its first 15 characters is refused (:class:`MalformedIdError`), since
    it cannot be matched reliably either way.
    """
    if not looks_like_id(value):
        return value
    try:
        return to_18(value)
    except MalformedIdError:
        raise MalformedIdError(
            f"{value!r} is not a valid Salesforce Id: its last 3 characters are not the "
            "case-safe checksum of the first 15") from None
