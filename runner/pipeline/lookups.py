"""Lookup resolution for a batch: cross-reference table first, then one SOQL per field.

A flow's lookup (``Payment__c.Account__c`` from ``Account.StripeCustomerID__c = customer``)
needs a Salesforce Id. The runner knows most of them already: every record it wrote put its
Stripe id <-> Salesforce Id pair in the cross-reference table. The rest are found with one
``SELECT Id, F FROM O WHERE F IN (...)`` per (object, field) for the whole batch, never one
query per record. Answers are cached for the batch (a new resolver per batch, so a record
that did not exist a moment ago is looked for again next time).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from mappings.document.model import Lookup
from mappings.engine.paths import Getter, compile_path
from mappings.engine.plan import Reader, lookup_reader
from mappings.errors import MappingError

if TYPE_CHECKING:
    from mappings.document.model import Flow
    from runner.connectors.salesforce import SalesforceConnector
    from runner.metrics import Metrics

log = logging.getLogger(__name__)

# cus_QXg1o8vcGmoR32, sub_..., in_..., py_...: what the cross-reference table holds.
STRIPE_ID = re.compile(r"^[a-z]+(?:_[a-z]+)*_[A-Za-z0-9]{6,}$")


class XrefTable(Protocol):
    """Stripe id <-> Salesforce Id pairs: the state store's cross-reference table, the
    runner's batch ledger (the table plus the batch's own new pairs), or the studio's
    in-memory ledger."""

    def xref_get_many(self, sf_object: str, stripe_ids: Iterable[str]) -> dict[str, str]: ...

    def xref_put(self, sf_object: str, stripe_id: str, sf_id: str, flow: str) -> None: ...


def lookup_values(flow: Flow, obj: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """``(object, match_field, value)`` of each lookup of ``flow`` on one source object."""
    out = []
    for lk in flow.lookups:
        if lk.constant:
            out.append((lk.object, lk.match_field, lk.value))
            continue
        if lk.expr is not None:
            try:
                value = _computed(lk.expr)(obj, None)
            except MappingError:
                continue  # the plan reports it as the record's issue
        elif lk.source.startswith("$event"):
            continue  # rare; resolved one by one when the plan asks
        else:
            value = _getter(lk.source)(obj)
        if isinstance(value, dict):
            value = value.get("id")  # an expanded Stripe object
        if isinstance(value, str) and value:
            out.append((lk.object, lk.match_field, value))
    return out


@functools.lru_cache(maxsize=256)
def _getter(source: str) -> Getter:
    """A lookup's source path, compiled once (it is read for every record of every batch)."""
    return compile_path(source)


@functools.lru_cache(maxsize=256)
def _computed(expr: str) -> Reader:
    """A computed lookup's reader, compiled once per expression (batches reuse it)."""
    return lookup_reader(Lookup("", "", "", "", expr=expr))


class LookupResolver:
    """The ``resolver(object, match_field, value) -> Id | None`` the engine calls."""

    def __init__(self, xrefs: XrefTable, salesforce: SalesforceConnector, *,
                 metrics: Metrics | None = None) -> None:
        # The runner's processor passes its batch ledger: what a query finds then joins the
        # batch's one commit, and the batch's own new cross references are found first.
        self.xrefs = xrefs
        self.salesforce = salesforce
        self.metrics = metrics
        self._cache: dict[tuple[str, str, Any], str | None] = {}
        self.queries = 0

    def prefetch(self, wanted: Iterable[tuple[str, str, Any]]) -> None:
        """Resolve many at once: the cross-reference table, then one query per field."""
        by_field: dict[tuple[str, str], set[Any]] = {}
        for obj, match_field, value in wanted:
            if (obj, match_field, value) not in self._cache:
                by_field.setdefault((obj, match_field), set()).add(value)
        for (obj, match_field), values in by_field.items():
            stripe_ids = [v for v in values if isinstance(v, str) and STRIPE_ID.match(v)]
            if stripe_ids:
                for stripe_id, sf_id in self.xrefs.xref_get_many(obj, stripe_ids).items():
                    self._cache[(obj, match_field, stripe_id)] = sf_id
            rest = sorted((v for v in values if (obj, match_field, v) not in self._cache),
                          key=str)
            if rest:
                self._query(obj, match_field, rest)

    def _query(self, obj: str, match_field: str, values: list[Any]) -> None:
        self.queries += 1
        if self.metrics is not None:
            self.metrics.api_call("query")
        found = self.salesforce.find_ids(obj, match_field, values)
        for value in values:
            ids = found.get(value) or []
            if len(ids) == 1:
                self._cache[(obj, match_field, value)] = ids[0]
                if isinstance(value, str) and STRIPE_ID.match(value):
                    # Remember it: the next batch needs no query for this customer.
                    self.xrefs.xref_put(obj, value, ids[0], "lookup")
            else:
                if len(ids) > 1:
                    log.warning("lookup %s.%s = %s matches %d records; left empty",
                                obj, match_field, value, len(ids))
                self._cache[(obj, match_field, value)] = None

    def remember(self, obj: str, match_field: str, value: str, sf_id: str) -> None:
        """A record this batch just wrote (so a later flow in the batch finds it)."""
        self._cache[(obj, match_field, value)] = sf_id

    def __call__(self, obj: str, match_field: str, value: Any) -> str | None:
        # A constant lookup's bool or number stays one (SOQL ``IsStandard IN (true)``).
        if not isinstance(value, str | bool | int | float):
            value = str(value)
        key = (obj, match_field, value)
        if key not in self._cache:
            self.prefetch([key])
        return self._cache.get(key)
