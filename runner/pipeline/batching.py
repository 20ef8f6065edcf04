"""Micro-batches of Salesforce writes: one sObject Collections call per 200 records.

Records of a batch are grouped by what they do to Salesforce, ``(object, key, kind)``: an
upsert by an external id field, an insert, or an update by Id. Each group goes out in chunks
of at most ``size`` records, and every record gets its own :class:`RecordOutcome` back.
A call that fails as a whole becomes the same failure for each record of its chunk.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

from runner.connectors.errors import ConnectorError, RecordOutcome

if TYPE_CHECKING:
    from runner.connectors.salesforce import SalesforceConnector
    from runner.metrics import Metrics

WriteKind = Literal["upsert", "insert", "update", "delete"]
MAX_BATCH = 200  # sObject Collections' limit per call

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    for start in range(0, len(items), size):
        yield items[start:start + size]


def check_batch_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_BATCH:
        raise ValueError(f"batch_size must be a whole number from 1 to {MAX_BATCH}, got {size!r}")
    return size


def write_chunk(salesforce: SalesforceConnector, kind: WriteKind, obj: str, key: str | None,
                records: Sequence[dict], *, metrics: Metrics | None = None
                ) -> list[RecordOutcome] | ConnectorError:
    """One collections call; the per-record outcomes, or the error of the whole call."""
    if metrics is not None:
        metrics.api_call("collections")
    try:
        if kind == "upsert":
            if not key:
                raise ValueError(f"an upsert of {obj} needs an external id field")
            return salesforce.upsert_many(obj, key, records)
        if kind == "insert":
            return salesforce.insert_many(obj, records)
        if kind == "delete":  # records carry only their Id
            return salesforce.delete_many(obj, [str(r["Id"]) for r in records])
        return salesforce.update_many(obj, records)
    except ConnectorError as exc:
        return exc


class Transport(Protocol):
    """How the writer's planned writes reach Salesforce: calls of ``size_for(kind)``
    records, each answered per record or failing as a whole.

    A whole-call failure that is returned becomes each record's outcome; one that is
    raised stops the writer's caller (a backfill stops there and resumes later)."""

    def size_for(self, kind: WriteKind) -> int: ...

    def send(self, kind: WriteKind, obj: str, key: str | None,
             records: Sequence[dict]) -> list[RecordOutcome] | ConnectorError: ...


class Collections:
    """The runner's transport: sObject Collections calls of up to ``batch_size`` records."""

    def __init__(self, salesforce: SalesforceConnector, batch_size: int = MAX_BATCH, *,
                 metrics: Metrics | None = None) -> None:
        self.salesforce = salesforce
        self.batch_size = check_batch_size(batch_size)
        self.metrics = metrics

    def size_for(self, kind: WriteKind) -> int:
        return self.batch_size

    def send(self, kind: WriteKind, obj: str, key: str | None,
             records: Sequence[dict]) -> list[RecordOutcome] | ConnectorError:
        return write_chunk(self.salesforce, kind, obj, key, records, metrics=self.metrics)
