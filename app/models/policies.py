"""Deletion policies in words, for the flow settings and the child mapping's header.

The choice itself is the core's :class:`~mappings.document.model.DeletionPolicy`; this module
only says it the way a finance or sales-ops user reads it, in one place for every view.
"""

from __future__ import annotations

from mappings.document.model import DeletionPolicy
from mappings.schema.model import System

SYSTEM_WORDS = {System.STRIPE: "Stripe", System.SALESFORCE: "Salesforce"}
# Offered in this order: mark (the default, nothing lost), delete, leave.
ORDER = (DeletionPolicy.MARK, DeletionPolicy.DELETE, DeletionPolicy.IGNORE)


def on_delete_question(source: System) -> str:
    return f"When the {SYSTEM_WORDS.get(source, source.value)} record is deleted:"


def on_delete_choices(target: System) -> list[tuple[DeletionPolicy, str]]:
    """(policy, words) for a flow's ``on_delete``: "mark the Salesforce record", ..."""
    thing = "record" if target is System.SALESFORCE else "object"
    return [
        (DeletionPolicy.MARK, f"mark the {SYSTEM_WORDS.get(target, target.value)} {thing}"),
        (DeletionPolicy.DELETE, "delete it"),
        (DeletionPolicy.IGNORE, "leave it"),
    ]


def singular(noun: str) -> str:
    """``lines`` -> ``line``, ``items`` -> ``item``, ``refunds`` -> ``refund``."""
    return noun[:-1] if noun.endswith("s") and not noun.endswith("ss") else noun


def on_removed_question(element: str, parent: str) -> str:
    """ "When a line disappears from the invoice:"."""
    article = "an" if element[:1].lower() in "aeiou" else "a"
    return f"When {article} {element} disappears from the {parent}:"


def on_removed_choices() -> list[tuple[DeletionPolicy, str]]:
    return [
        (DeletionPolicy.MARK, "mark it"),
        (DeletionPolicy.DELETE, "delete it"),
        (DeletionPolicy.IGNORE, "leave it"),
    ]
