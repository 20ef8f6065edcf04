"""Sample records to preview and test a flow with.

From four places: the flow's own fixtures, a JSON file (a Stripe event or object, a list of
them, or a Stripe list object), the local sandbox or a connected Stripe account (the newest
``limit`` objects of the flow's source type). Each sample is a plain dict, exactly what the
mapping engine's ``apply`` takes.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import StudioError
from mappings.document.model import Flow
from mappings.schema.model import System

if TYPE_CHECKING:
    from runner.api.connectors import StripeSettings

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
# localstripe lists oldest first: to find the newest we read at most this many.
_LOCAL_SCAN = 5000


class SampleError(StudioError):
    """Samples could not be read: the message names the file or the account and why."""


def fixture_samples(flow: Flow) -> list[dict[str, Any]]:
    """The inputs of the flow's fixtures (copies: the preview must not edit the document)."""
    return [copy.deepcopy(f.input) for f in flow.fixtures]


def file_samples(path: Path | str) -> list[dict[str, Any]]:
    """Samples from a JSON file: an object, an event, a list of them or a Stripe list."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SampleError(f"the sample file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SampleError(f"cannot read the sample file {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SampleError(f"the sample file {path} is not valid JSON: {exc}") from exc
    if isinstance(data, dict) and data.get("object") == "list" and isinstance(
        data.get("data"), list
    ):
        data = data["data"]
    items = data if isinstance(data, list) else [data]
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            where = f"item {index + 1}" if isinstance(data, list) else "the file"
            raise SampleError(
                f"the sample file {path}: {where} is a {type(item).__name__}, not a JSON "
                "object (expected a Stripe object or event, or a list of them)"
            )
    if not items:
        raise SampleError(f"the sample file {path} holds an empty list")
    return items


def _check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise SampleError(f"the number of samples must be between 1 and {MAX_LIMIT}, not {limit}")
    return limit


def stripe_samples(flow: Flow, settings: StripeSettings, limit: int = DEFAULT_LIMIT) -> list[dict]:
    """The newest ``limit`` objects of the flow's source type from a Stripe account.

    Blocking, with the settings' socket timeout on every call.
    """
    _check_limit(limit)
    if flow.source.system is not System.STRIPE:
        raise SampleError(
            f"flow {flow.name!r} reads Salesforce {flow.source.object} records, not Stripe "
            "objects: use its fixtures or a JSON file"
        )
    # Lazy: runner.api.connectors (Stripe SDK, requests) adds ~0.65 s to start-up
    from runner.api.connectors import StripeConnector, complete_lists

    connector = StripeConnector(settings)
    objects: Iterator[dict] = connector.list_objects(flow.source.object)
    if settings.flavor == "localstripe":
        found = list(enumerate(islice(objects, _LOCAL_SCAN)))
        # Newest first; within one second, the later-listed (newer) one first.
        found.sort(key=lambda pair: (pair[1].get("created") or 0, pair[0]), reverse=True)
        newest = [obj for _, obj in found[:limit]]
    else:
        newest = list(islice(objects, limit))  # Stripe lists newest first
    # An invoice's 11th line is as real as its first: a list Stripe cut off (has_more) is
    # fetched whole, as the runner does, so the preview and the test run see every child.
    return [complete_lists(obj, flow, connector) for obj in newest]
