"""The mapping canvas: source fields on the left, target fields on the right, links between."""

from __future__ import annotations
