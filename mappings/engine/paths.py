"""Dot-path access to nested records, compiled once into small getter functions.

``billing_details.address.city`` reads nested dicts; numeric segments index lists
(``items.data.0.price.id``); anything missing reads as ``None``. The engine resolves paths
for every field of every record, so a path is split once at compile time and the common case
(no list index) is one chain of subscripts inside a single ``try``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Getter = Callable[[Any], Any]

MISSING_ERRORS = (KeyError, TypeError, IndexError, AttributeError)


def split_path(path: str) -> tuple[str, ...]:
    if not path or any(not part for part in path.split(".")):
        raise ValueError(f"{path!r} is not a valid field path (empty segment)")
    return tuple(path.split("."))


def compile_path(path: str) -> Getter:
    """A function reading ``path`` from a record; ``None`` when any step is missing."""
    parts = split_path(path)
    if any(p.isdigit() for p in parts):
        return _indexed_getter(parts)
    if len(parts) == 1:
        (a,) = parts

        def get1(rec: Any) -> Any:
            try:
                return rec[a]
            except MISSING_ERRORS:
                return None

        return get1
    if len(parts) == 2:
        a, b = parts

        def get2(rec: Any) -> Any:
            try:
                return rec[a][b]
            except MISSING_ERRORS:
                return None

        return get2
    if len(parts) == 3:
        a, b, c = parts

        def get3(rec: Any) -> Any:
            try:
                return rec[a][b][c]
            except MISSING_ERRORS:
                return None

        return get3

    def get_n(rec: Any) -> Any:
        cur = rec
        try:
            for p in parts:
                cur = cur[p]
        except MISSING_ERRORS:
            return None
        return cur

    return get_n


def _indexed_getter(parts: tuple[str, ...]) -> Getter:
    # A digit segment indexes a list, but a dict may also have a key "0": try the key first.
    steps = tuple((p, int(p) if p.isdigit() else None) for p in parts)

    def get(rec: Any) -> Any:
        cur = rec
        for key, index in steps:
            # Plain dicts and lists (every JSON payload) first: isinstance costs 3x a type test.
            kind = type(cur)
            if kind is dict:
                cur = cur.get(key)
                continue
            if kind is list:
                if index is None or index >= len(cur):
                    return None
                cur = cur[index]
                continue
            if cur is None:
                return None
            if isinstance(cur, list):
                if index is None or index >= len(cur):
                    return None
                cur = cur[index]
            elif isinstance(cur, str | bytes):
                return None
            else:
                try:
                    cur = cur[key]
                except MISSING_ERRORS:
                    return None
        return cur

    return get


def get_path(record: Any, path: str) -> Any:
    """Read ``path`` once (compiles on every call: use :func:`compile_path` in loops)."""
    return compile_path(path)(record)


def set_path(target: dict[str, Any], parts: tuple[str, ...], value: Any) -> None:
    """Set a nested value, creating the dicts on the way (``metadata.salesforceid``)."""
    cur = target
    for p in parts[:-1]:
        nxt = cur.get(p)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[p] = nxt
        cur = nxt
    cur[parts[-1]] = value
