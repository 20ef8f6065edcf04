"""Salesforce record ids: key prefixes, the case-safe 18-character form and its checksum.

A 15-character id is case-sensitive; the 3-character suffix of the 18-character form encodes
which of the 15 characters are upper case, so the 18-character id survives case-insensitive
systems (spreadsheets, CSV tools). Both forms are accepted as input everywhere.
"""

from __future__ import annotations

import string

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_ALNUM = frozenset(string.ascii_letters + string.digits)

# Standard objects' key prefixes; custom objects take theirs from their describe.
STANDARD_KEY_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "Opportunity": "006",
    "Case": "500",
    "Lead": "00Q",
    "Order": "801",
    "OrderItem": "802",
    "Product2": "01t",
    "Pricebook2": "01s",
    "PricebookEntry": "01u",
    "OpportunityLineItem": "00k",
    "User": "005",
    "Organization": "00D",
    "RecordType": "012",
    "Group": "00G",
}

# Fixed characters after the key prefix: a pod-like marker so our ids look like real ones.
_INSTANCE = "Fb0"
_COUNTER_WIDTH = 15 - 3 - len(_INSTANCE)


class MalformedIdError(ValueError):
    """The text is not a Salesforce id."""


def checksum(id15: str) -> str:
    """The 3-character case-safe suffix of a 15-character id."""
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
    """Normalise a 15- or 18-character id to the canonical 18-character form.

    An 18-character id's case is restored from its suffix, so ``001fb0...AAA`` typed in
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


def key_prefix(record_id: str) -> str:
    return record_id[:3]


def encode_counter(counter: int) -> str:
    """The base-62 counter part of an id, fixed width."""
    if counter < 0 or counter >= 62**_COUNTER_WIDTH:
        raise ValueError(f"id counter out of range: {counter}")
    digits = []
    for _ in range(_COUNTER_WIDTH):
        counter, rem = divmod(counter, 62)
        digits.append(_BASE62[rem])
    return "".join(reversed(digits))


def make_id(prefix: str, counter: int) -> str:
    """The 18-character id number ``counter`` of the object with key prefix ``prefix``."""
    if len(prefix) != 3 or not set(prefix) <= _ALNUM:
        raise ValueError(f"a key prefix has 3 letters or digits, got {prefix!r}")
    return to_18(prefix + _INSTANCE + encode_counter(counter))
