"""SOQL over the org: parse a query and run it against the org's records.

The REST query resource and Bulk 2.0 query jobs both answer through :class:`Queries`, so a
query means the same in both and neither handler needs the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.sandbox.salesforce import soql
from runner.sandbox.salesforce.errors import api_error
from runner.sandbox.salesforce.org import Org


class Queries:
    def __init__(self, org: Org) -> None:
        self.org = org

    @staticmethod
    def parse(text: str) -> soql.Query:
        """The parsed query, or MALFORMED_QUERY (and friends) as an ApiError."""
        try:
            return soql.parse(text)
        except soql.SoqlError as exc:
            raise api_error(400, exc.error_code, exc.message) from None

    def run(self, query: soql.Query, *, include_deleted: bool,
            version: str) -> soql.QueryResult:
        """Run a parsed query over the org; SOQL errors become the ApiError Salesforce sends."""
        try:
            meta = self.org.meta.find(query.object)
            if meta is None:
                raise api_error(400, "INVALID_TYPE",
                                f"sObject type '{query.object}' is not supported. If you are "
                                "attempting to use a custom object, be sure to append the "
                                "'__c' after the entity name.")
            with self.org.lock:
                rows = self.org.rows(meta, include_deleted=include_deleted)

                def child_rows(object_name: str) -> list[dict]:
                    child = self.org.meta.find(object_name)
                    if child is None:
                        return []
                    return self.org.rows(child, include_deleted=include_deleted)

                return soql.execute(query, rows, resolve_parent=self._parent,
                                    describe=self.describe, api_version=version,
                                    child_rows=child_rows)
        except soql.SoqlError as exc:
            raise api_error(400, exc.error_code, exc.message) from None

    def _parent(self, row: Mapping[str, Any], relationship: str) -> dict | None:
        return self.org.parent_of(row, relationship)

    def describe(self, name: str) -> dict | None:
        meta = self.org.meta.find(name)
        return None if meta is None else meta.describe
