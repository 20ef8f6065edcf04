"""Fieldbridge mapping core: schemas, mapping documents, transforms, engine, bundles.

Pure Python: no Qt, no HTTP, no database. The studio and the runner both build on it.
"""

from __future__ import annotations

__version__ = "0.1.0"
