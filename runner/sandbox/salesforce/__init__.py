"""A local Salesforce org emulator that the unmodified simple-salesforce talks to.

``start_emulator(state_dir)`` serves HTTPS on loopback in a background thread and returns an
:class:`EmulatorHandle`; ``salesforce_client(handle)`` gives a ``simple_salesforce.Salesforce``
bound to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.sandbox.salesforce.server import (
        EmulatorHandle,
        salesforce_client,
        start_emulator,
    )

__all__ = ["EmulatorHandle", "FaultSpec", "salesforce_client", "start_emulator"]


def __getattr__(name: str) -> Any:
    # Lazy, so the pure submodules (soql, ids, formula) import without the server stack.
    if name in ("EmulatorHandle", "salesforce_client", "start_emulator"):
        from runner.sandbox.salesforce import server

        return getattr(server, name)
    if name == "FaultSpec":
        from runner.sandbox.salesforce.faults import FaultSpec

        return FaultSpec
    raise AttributeError(name)
