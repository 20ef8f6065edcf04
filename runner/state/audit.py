"""The admin API's audit log: who (a token's name and hash), what, on what, when.

A token is never stored: :func:`token_hash` is what identifies it here, so a leaked state
database reveals no credential.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from runner.state.database import Repository, insert_returning_id
from runner.state.guard import check_no_secret
from runner.state.models import audit_log as t


def token_hash(token: str) -> str:
    """SHA-256 of the token, hex: enough to tell tokens apart, useless to log in with."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    token_name: str
    token_hash: str
    action: str
    target: str | None
    outcome: str | None

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "at": self.at.isoformat(), "token": self.token_name,
                "action": self.action, "target": self.target, "outcome": self.outcome}


class AuditLog(Repository):
    def audit_add(self, *, token_name: str, token_digest: str, action: str,
                  target: str | None, outcome: str | None) -> int:
        """Record an action; ``token_digest`` is :func:`token_hash` of the token used."""
        if len(token_digest) != 64:
            raise ValueError("the audit log takes a token's hash, not the token")
        check_no_secret(outcome, "outcome")
        row = {"at": self.now(), "token_name": token_name, "token_hash": token_digest,
               "action": action, "target": target, "outcome": outcome}
        with self.db.write() as conn:
            return insert_returning_id(conn, t, row)

    def audit_list(self, limit: int = 100, before: int | None = None) -> list[AuditEntry]:
        """The newest entries first (``before``: older than that id, for paging)."""
        query = select(t).order_by(t.c.id.desc()).limit(max(1, min(limit, 1000)))
        if before is not None:
            query = query.where(t.c.id < before)
        with self.db.read() as conn:
            return [AuditEntry(**row._mapping) for row in conn.execute(query)]
