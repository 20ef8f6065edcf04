"""Heavy: the local Stripe sandbox and Salesforce org emulator behind the studio's built-in
"Local sandbox" connections. Imported when the studio first starts them."""

from __future__ import annotations

from runner.sandbox.up import SandboxSession, sandbox_up

__all__ = ["SandboxSession", "sandbox_up"]
