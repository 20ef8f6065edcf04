"""Document limits: deeply nested, alias-bombed or oversized documents are refused with one
sentence wherever the mapping core reads them (issue 11, finding 4)."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from mappings.bundle import load_bundle
from mappings.bundle.secrets import check_no_secrets
from mappings.document.yamlio import load_document, loads_document
from mappings.errors import BundleError, DocumentError
from mappings.limits import (
    DOCUMENT_MAX_DEPTH,
    DOCUMENT_MAX_NODES,
    YAML_MAX_ALIASES,
    YAML_MAX_BYTES,
    TooDeepError,
    TooLargeError,
    check_depth,
    loads_json,
    within_bounds_by_text,
)
from mappings.schema.org_metadata import OrgMetadataError, load_overlay
from tests.mappings.test_bundle import DOC, _build, _rewrite

DEEP = 100_000


def deep_json(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


def deep_yaml(depth: int = DEEP) -> str:
    return "format: 1\nname: deep\nflows: " + "[" * depth + "]" * depth + "\n"


def laughs(levels: int = 9, fan: int = 10) -> str:
    """The YAML "billion laughs": a few hundred bytes that expand to fan**levels strings."""
    lines = ['a0: &a0 "lol"']
    for i in range(1, levels + 1):
        refs = ", ".join([f"*a{i - 1}"] * fan)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "format: 1\nname: laughs\n" + "\n".join(lines) + f"\nflows: *a{levels}\n"


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


# -- the limits themselves ---------------------------------------------------------------


def test_check_depth_allows_the_limit_and_refuses_one_more() -> None:
    check_depth(nested(DOCUMENT_MAX_DEPTH))
    with pytest.raises(TooDeepError, match=f"nested deeper than {DOCUMENT_MAX_DEPTH} levels"):
        check_depth(nested(DOCUMENT_MAX_DEPTH + 1))


def test_check_depth_never_recurses_itself() -> None:
    check_depth(nested(DEEP), limit=DEEP)  # no RecursionError at 100,000 levels
    with pytest.raises(TooDeepError):
        check_depth(nested(DEEP))


def test_check_depth_counts_shared_values_as_every_walk_would() -> None:
    shared: Any = ["x"] * 1000
    for _ in range(3):
        shared = [shared] * 1000  # 10**12 values reachable, a few kilobytes in memory
    with pytest.raises(TooLargeError, match=f"{DOCUMENT_MAX_NODES:,} values"):
        check_depth(shared)


def test_loads_json_turns_the_decoder_s_recursion_error_into_too_deep() -> None:
    with pytest.raises(TooDeepError):
        loads_json(deep_json())
    with pytest.raises(TooDeepError):
        loads_json(deep_json(DOCUMENT_MAX_DEPTH + 1))
    assert loads_json('{"a": [1, 2]}') == {"a": [1, 2]}
    with pytest.raises(json.JSONDecodeError):
        loads_json("{")


def _random_json(rng: random.Random, depth: int) -> Any:
    kind = rng.random()
    if depth <= 0 or kind < 0.3:
        return rng.choice([1, "a", "{[,", None, 2.5, True, "]]"])
    if kind < 0.65:
        return [_random_json(rng, depth - 1) for _ in range(rng.randint(0, 4))]
    return {f"k{n}": _random_json(rng, depth - 1) for n in range(rng.randint(0, 4))}


def test_the_text_bound_never_passes_a_document_the_walk_refuses() -> None:
    """The ingest skips the walk when the text's brackets and commas bound the document
    within limits: for random documents (brackets inside strings too) and tight limits, a
    text the bound passes is one ``check_depth`` passes."""
    rng = random.Random(12)
    passed = refused = 0
    for _ in range(3000):
        text = json.dumps(_random_json(rng, rng.randint(0, 9)))
        limit, max_nodes = rng.randint(1, 12), rng.randint(1, 60)
        if within_bounds_by_text(text, limit, max_nodes):
            passed += 1
            check_depth(json.loads(text), limit, max_nodes)  # must not raise
            assert within_bounds_by_text(text.encode(), limit, max_nodes)
        else:
            refused += 1
    assert passed > 300 and refused > 300  # both sides of the bound were exercised


def test_loads_json_still_walks_what_the_text_bound_cannot_vouch_for() -> None:
    at_limit = deep_json(DOCUMENT_MAX_DEPTH)
    assert not within_bounds_by_text("[" + at_limit + "]")
    with pytest.raises(TooDeepError):
        loads_json("[" + at_limit + "]")
    # Brackets in strings defeat the bound but not the limit: the walk decides.
    noisy = json.dumps({"note": "[" * 200, "list": [1, 2]})
    assert not within_bounds_by_text(noisy)
    assert loads_json(noisy)["list"] == [1, 2]
    wide = "[" + ",".join(["0"] * (DOCUMENT_MAX_NODES + 1)) + "]"
    with pytest.raises(TooLargeError):
        loads_json(wide)


# -- mapping YAML ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (deep_yaml(), f"nested deeper than {DOCUMENT_MAX_DEPTH} levels"),
        (deep_yaml(DOCUMENT_MAX_DEPTH + 1), f"nested deeper than {DOCUMENT_MAX_DEPTH} levels"),
        (laughs(), f"more than {DOCUMENT_MAX_NODES:,} values"),
        (laughs(levels=3, fan=YAML_MAX_ALIASES), f"more than {YAML_MAX_ALIASES} aliases"),
        ("format: 1\nname: self\nflows: &a [*a]\n", "nested deeper than"),
        ("format: 1\nname: big\n# " + "x" * YAML_MAX_BYTES + "\n", "larger than"),
    ],
    ids=["100k-deep", "one-too-deep", "billion-laughs", "many-aliases", "self-reference", "big"],
)
def test_a_hostile_mapping_document_is_one_sentence(text: str, words: str) -> None:
    started = time.monotonic()
    with pytest.raises(DocumentError) as caught:
        loads_document(text, source_name="evil.yaml")
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert message.startswith("evil.yaml: the document ") and words in message
    assert caught.value.__cause__ is None  # nothing for the CLI to append


def test_honest_anchors_and_the_shipped_templates_still_load() -> None:
    doc = loads_document(
        DOC.replace("defaults: {Source__c: Stripe}", "defaults: &d {Source__c: Stripe}")
    )
    assert doc.flows[0].defaults == {"Source__c": "Stripe"}
    for path in sorted(Path("mappings/templates").glob("*.yaml")):
        load_document(path)


def test_a_hostile_org_metadata_overlay_is_one_sentence(tmp_path: Path) -> None:
    for name, text in (("o.json", deep_json()), ("o.yaml", laughs())):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(OrgMetadataError, match="refusing it"):
            load_overlay(path)


# -- bundles -----------------------------------------------------------------------------


def _members_edit(member: str, data: bytes):  # type: ignore[no-untyped-def]
    def edit(members: dict[str, bytes]) -> None:
        members[member] = data

    return edit


@pytest.mark.parametrize(
    ("member", "data", "rehash"),
    [
        ("manifest.json", deep_json().encode(), False),
        ("signature.json", deep_json().encode(), False),
        ("schemas/stripe.json", deep_json().encode(), True),
        ("mappings/charges.yaml", deep_yaml().encode(), True),
        ("mappings/charges.yaml", laughs().encode(), True),
    ],
    ids=["manifest", "signature", "schema", "yaml-deep", "yaml-laughs"],
)
def test_a_bundle_with_a_hostile_member_is_one_sentence(
    tmp_path: Path, member: str, data: bytes, rehash: bool
) -> None:
    path = _build(tmp_path / "x.fbz")
    _rewrite(path, _members_edit(member, data), rehash=rehash)
    with pytest.raises(BundleError) as caught:
        load_bundle(path)
    message = str(caught.value)
    assert message.startswith("x.fbz: ") and member in message
    assert "deeper than" in message or "more than" in message


def test_the_secret_scan_refuses_deep_or_exploding_data_before_walking_it() -> None:
    with pytest.raises(BundleError, match="nested deeper than"):
        check_no_secrets(nested(DEEP), "document 'x'")
    shared: Any = ["sk"] * 100
    for _ in range(6):
        shared = [shared] * 100
    started = time.monotonic()
    with pytest.raises(BundleError, match="more than"):
        check_no_secrets(shared, "document 'x'")
    assert time.monotonic() - started < 5
