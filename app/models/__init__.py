"""Qt item models over the mapping core's objects (schemas, transform chains)."""

from __future__ import annotations
