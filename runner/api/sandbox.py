"""Heavy: the local Stripe sandbox and Salesforce org emulator behind the studio's built-in
"Local sandbox" connections. Imported when the studio first starts them."""

from __future__ import annotations

from runner.sandbox.child import SandboxChild, start_sandbox_child
from runner.sandbox.up import SandboxSession, sandbox_up

__all__ = ["SandboxChild", "SandboxSession", "sandbox_up", "start_sandbox_child"]
