"""Studio windows, panels and dialogs."""

from __future__ import annotations
