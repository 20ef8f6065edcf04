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
  may hold once aliases are expanded, which bounds any walk over it. The largest shipped
  document, a bundle's Stripe schema snapshot, holds about 24,000.

Records (what one flow maps from one input):

- :data:`CHILD_RECORDS_MAX`: elements of one child collection's array in one input (invoice
  lines, subscription items, refunds). Stripe allows 250 lines on an invoice and 20 items on
  a subscription; mapping one line takes about 50 µs, so 10,000 bound a hostile payload to
  about half a second instead of the ten seconds 100,000 lines take.

The bundle's zip limits (member sizes, counts, compression ratio) sit with the zip reader in
:mod:`mappings.bundle.reader`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import yaml

EXPRESSION_TIMEOUT_MS = 500
EXPRESSION_MAX_DEPTH = 1000

DOCUMENT_MAX_DEPTH = 64
DOCUMENT_MAX_NODES = 500_000
YAML_MAX_ALIASES = 100
YAML_MAX_BYTES = 4 * 1024 * 1024

CHILD_RECORDS_MAX = 10_000


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
    if not within_bounds_by_text(text, limit):
        check_depth(data, limit)
    return data


def within_bounds_by_text(text: str | bytes, limit: int = DOCUMENT_MAX_DEPTH,
                          max_nodes: int = DOCUMENT_MAX_NODES) -> bool:
    """True when the JSON ``text`` cannot exceed :func:`check_depth`'s bounds, judged from
    its characters alone: it cannot nest deeper than it has ``{`` and ``[``, nor hold more
    values than one (the root) plus one per container plus one per comma. Brackets and
    commas inside strings only make the estimate larger. Counting takes microseconds where
    walking a webhook's event takes about 0.1 ms (issue 12: a fifth of the ingest loop)."""
    if isinstance(text, bytes):
        openers = text.count(b"{") + text.count(b"[")
        values = 1 + openers + text.count(b",")
    else:
        openers = text.count("{") + text.count("[")
        values = 1 + openers + text.count(",")
    return openers <= limit and values <= max_nodes


if TYPE_CHECKING:
    # To the type checker the loader is what it behaves as: a SafeLoader (the stubs type
    # yaml.load's Loader as one of PyYAML's own loader classes).
    _SafeLoaderBase = yaml.SafeLoader
elif yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _SafeLoaderBase(  # type: ignore[misc]
        yaml.composer.Composer, CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver
    ):
        """SafeLoader with libyaml scanning and parsing (about 6x faster on a big workspace,
        issue 12) but PyYAML's composer, so that the limits below still see every node."""

        def __init__(self, stream: Any) -> None:
            CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            yaml.composer.Composer.__init__(self)

else:  # pragma: no cover - PyYAML built without libyaml
    _SafeLoaderBase = yaml.SafeLoader


class BoundedYamlLoader(_SafeLoaderBase):
    """PyYAML's SafeLoader with the document limits above.

    Nesting is checked while composing (PyYAML composes recursively, so a 100,000-deep
    document would otherwise end in a RecursionError), and the composed node graph is
    measured with its aliases expanded before anything is constructed: a "billion laughs"
    is a few hundred bytes whose expansion no walk over it would ever finish. Raises
    :class:`TooDeepError` or :class:`TooLargeError`; subclass it to add constructors.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > YAML_MAX_ALIASES:
                raise TooLargeError(f"uses more than {YAML_MAX_ALIASES} aliases (*name)")
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > DOCUMENT_MAX_DEPTH:
                raise TooDeepError(f"is nested deeper than {DOCUMENT_MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self) -> Any:
        try:
            node = super().get_single_node()
        except yaml.MarkedYAMLError as exc:
            # libyaml stops at its own nesting limit (1,000) before the composer sees it.
            if "maximum nesting depth" in str(exc.problem):
                raise TooDeepError(f"is nested deeper than {DOCUMENT_MAX_DEPTH} levels") from None
            raise
        if node is not None:
            _measure(node, 0, {})
        return node


def _measure(node: yaml.Node, depth: int, seen: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """(values, height) of ``node`` with its aliases expanded; raises past the limits.

    Memoised per node, so a shared (aliased) node is measured once however often it is
    used; a node that contains itself runs past the depth limit and is refused as too deep.
    Recursion is bounded by :data:`DOCUMENT_MAX_DEPTH`.
    """
    if depth > DOCUMENT_MAX_DEPTH:
        raise TooDeepError(f"is nested deeper than {DOCUMENT_MAX_DEPTH} levels")
    known = seen.get(id(node))
    if known is None:
        size, height = 1, 0
        if isinstance(node, yaml.SequenceNode):
            children: list[yaml.Node] = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        for child in children:
            child_size, child_height = _measure(child, depth + 1, seen)
            size += child_size
            height = max(height, child_height + 1)
            if size > DOCUMENT_MAX_NODES:
                raise TooLargeError(f"holds more than {DOCUMENT_MAX_NODES:,} values")
        known = seen[id(node)] = (size, height)
    if depth + known[1] > DOCUMENT_MAX_DEPTH:
        raise TooDeepError(f"is nested deeper than {DOCUMENT_MAX_DEPTH} levels")
    return known


def check_yaml_size(text: str) -> None:
    """Raise :class:`TooLargeError` for YAML text longer than :data:`YAML_MAX_BYTES`."""
    if len(text) > YAML_MAX_BYTES:
        raise TooLargeError(f"is larger than {YAML_MAX_BYTES:,} bytes")
