"""Dedup on create: match by external id, then by each ``dedup_on`` field in order.

For a flow with ``operation.dedup_on`` (Contact by Email), a record whose external id no
Salesforce record holds yet is looked for by each dedup field: exactly one match links the
existing record (it is updated and given the external id) instead of creating a duplicate;
several matches go to the review queue; none creates. Every question is one query per field
for the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from runner.connectors.salesforce import SalesforceConnector
    from runner.metrics import Metrics
    from runner.pipeline.lookups import XrefTable

DedupKind = Literal["existing", "link", "review", "create"]


@dataclass(slots=True)
class DedupDecision:
    kind: DedupKind
    sf_id: str | None = None  # existing / link: the record to write
    candidates: list[dict[str, Any]] = field(default_factory=list)  # review
    matched_on: str | None = None


def decide_dedup(salesforce: SalesforceConnector, xrefs: XrefTable, obj: str,
                 external_id: str, dedup_on: Sequence[str], records: Sequence[dict[str, Any]],
                 *, metrics: Metrics | None = None) -> list[DedupDecision]:
    """One decision per record (same order)."""
    decisions: list[DedupDecision | None] = [None] * len(records)
    keys = {i: r.get(external_id) for i, r in enumerate(records)}
    wanted = [v for v in keys.values() if isinstance(v, str) and v]
    known = xrefs.xref_get_many(obj, wanted) if wanted else {}
    missing = sorted({v for v in wanted if v not in known})
    if missing:
        if metrics is not None:
            metrics.api_call("query")
        for value, ids in salesforce.find_ids(obj, external_id, missing).items():
            if ids:
                known[value] = ids[0]
    pending: list[int] = []
    for i, value in keys.items():
        if isinstance(value, str) and value in known:
            decisions[i] = DedupDecision("existing", known[value], matched_on=external_id)
        else:
            pending.append(i)
    for dedup_field in dedup_on:
        if not pending:
            break
        values = {i: records[i].get(dedup_field) for i in pending}
        asked = sorted({v for v in values.values() if v not in (None, "")}, key=str)
        if not asked:
            continue
        if metrics is not None:
            metrics.api_call("query")
        found = salesforce.find_ids(obj, dedup_field, asked)
        folded = {k.casefold() if isinstance(k, str) else k: ids for k, ids in found.items()}
        still: list[int] = []
        for i in pending:
            value = values[i]
            ids = found.get(value) or (folded.get(value.casefold()) if isinstance(value, str)
                                       else None) or []
            if len(ids) == 1:
                decisions[i] = DedupDecision("link", ids[0], matched_on=dedup_field)
            elif len(ids) > 1:
                decisions[i] = DedupDecision(
                    "review", candidates=[{"Id": sf_id, "field": dedup_field, "value": value}
                                          for sf_id in ids],
                    matched_on=dedup_field)
            else:
                still.append(i)
        pending = still
    for i in pending:
        decisions[i] = DedupDecision("create")
    return [d for d in decisions if d is not None]
