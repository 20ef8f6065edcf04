"""The studio document: the open workspace, its undo commands and the canvas gestures."""

from __future__ import annotations
