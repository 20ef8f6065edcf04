"""Fieldbridge studio: the desktop mapping application (PySide6 + qasync)."""

from __future__ import annotations
