"""Run history: when each runner process started and stopped, and what it counted."""

from __future__ import annotations

import os
import socket
from typing import Any

from sqlalchemy import insert, select, update

from mappings import __version__ as VERSION
from runner.state.database import Repository
from runner.state.errors import NotFoundError
from runner.state.models import runs as t
from runner.state.records import RunRecord


class Runs(Repository):
    def run_started(self, *, host: str | None = None, pid: int | None = None,
                    version: str | None = None) -> int:
        with self.db.write() as conn:
            return conn.execute(
                insert(t).values(
                    started_at=self.now(), host=host or socket.gethostname(),
                    pid=os.getpid() if pid is None else pid,
                    version=VERSION if version is None else version,
                ).returning(t.c.id)
            ).scalar_one()

    def run_stopped(self, run_id: int, counts: dict[str, Any] | None = None) -> None:
        with self.db.write() as conn:
            if not conn.execute(
                update(t).where(t.c.id == run_id).values(stopped_at=self.now(), counts=counts)
            ).rowcount:
                raise NotFoundError(f"no run with id {run_id}")

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The latest runs, newest first."""
        with self.db.read() as conn:
            return [RunRecord(**row._mapping) for row in conn.execute(
                select(t).order_by(t.c.id.desc()).limit(limit))]
