"""Every bound the mapping core puts on what it is given, in one place.

Mapping documents, bundles and the records a flow maps come from elsewhere: a hostile or
merely unlucky input must end in one sentence, never a hang, a traceback or a full disk.
The values below are the ones the docs list under "limits"; change them here only.

Expression budget (every JSONata evaluation, transform step or condition):

- :data:`EXPRESSION_TIMEOUT_MS`: wall-clock time one evaluation may take. A record's whole
  20-field JSONata mapping takes about 3 ms; a budget a hundred times that only stops
  runaway loops (JSONata turns tail recursion into a loop, so ``$f($x)`` calling itself
  never overflows a stack: only time stops it).
- :data:`EXPRESSION_MAX_DEPTH`: nested evaluation steps. One level of a non-tail recursive
  function costs about three, and each step about five Python frames, so 1,000 steps
  (~330 levels of recursion) stays well under the interpreter's recursion limit.

Documents (mapping YAML, bundle manifest, signature and schema snapshots):

- :data:`DOCUMENT_MAX_DEPTH`: nesting of mappings and lists. Real documents nest about ten
  deep (a flow's field's transform's arguments); 64 leaves room for any honest one.
- :data:`YAML_MAX_ALIASES`: alias uses (``*name``) in one YAML document. Documents written
  by the studio have none; a "billion laughs" needs thousands to expand exponentially.
- :data:`YAML_MAX_BYTES`: the size of one YAML document's text.
- :data:`DOCUMENT_MAX_NODES`: values (strings, numbers, mappings, lists) one parsed document
  may hold once aliases are expanded, which bounds any walk over it.

The bundle's zip limits (member sizes, counts, compression ratio) sit with the zip reader in
:mod:`mappings.bundle.reader`.
"""

from __future__ import annotations

import json
from typing import Any

EXPRESSION_TIMEOUT_MS = 500
EXPRESSION_MAX_DEPTH = 1000

DOCUMENT_MAX_DEPTH = 64
DOCUMENT_MAX_NODES = 1_000_000
YAML_MAX_ALIASES = 100
YAML_MAX_BYTES = 4 * 1024 * 1024


class TooDeepError(ValueError):
    """A document is nested deeper than allowed. Callers re-raise it as their package's
    own error with the document's name (the message is a clause: "nested deeper than N")."""


class TooLargeError(ValueError):
    """A document holds more values than allowed once its aliases are expanded."""


def check_depth(
    obj: Any, limit: int = DOCUMENT_MAX_DEPTH, max_nodes: int = DOCUMENT_MAX_NODES
) -> None:
    """Raise :class:`TooDeepError` if ``obj`` nests dicts/lists deeper than ``limit``, or
    :class:`TooLargeError` if it holds more than ``max_nodes`` values (a value reached twice
    through a shared reference counts twice, as every later walk would visit it twice).

    Iterative, so that checking a 100,000-deep document cannot itself overflow the stack.
    """
    stack: list[tuple[Any, int]] = [(obj, 0)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            raise TooLargeError(f"holds more than {max_nodes:,} values")
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list | tuple):
            children = value
        else:
            continue
        if depth >= limit:
            raise TooDeepError(f"is nested deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children)


def loads_json(text: str | bytes, limit: int = DOCUMENT_MAX_DEPTH) -> Any:
    """``json.loads`` that refuses a document nested deeper than ``limit`` with
    :class:`TooDeepError` (the decoder's own RecursionError included) and otherwise raises
    what ``json.loads`` raises (:class:`json.JSONDecodeError`, :class:`UnicodeDecodeError`)."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise TooDeepError(f"is nested deeper than {limit} levels") from None
    check_depth(data, limit)
    return data
