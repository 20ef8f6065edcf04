"""Salesforce record ids: key prefixes, the case-safe 18-character form and its checksum.

A 15-character id is case-sensitive; the 3-character suffix of the 18-character form encodes
which of the 15 characters are upper case, so the 18-character id survives case-insensitive
systems (spreadsheets, CSV tools). Both forms are accepted as input everywhere.

The checksum and the normalisation are the runner's own (:mod:`runner.salesforce_ids`, which
the state store uses for its cross references too); this module adds what only the emulator
needs: key prefixes and minting new ids.
"""

from __future__ import annotations

import string

from runner.salesforce_ids import MalformedIdError, checksum, is_valid, to_18

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


__all__ = ["STANDARD_KEY_PREFIXES", "MalformedIdError", "checksum", "encode_counter",
           "is_valid", "key_prefix", "make_id", "to_18"]
