"""Fixtures the sandbox tests share.

``sandbox`` is one local Stripe sandbox per test module. ``sf`` and ``http`` talk to the
module's Salesforce emulator: each module starts its own ``handle`` (its state folder and
metadata overlays differ), and these build on whichever the module defines.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from runner.sandbox.salesforce import salesforce_client
from runner.sandbox.stripe_sandbox import StripeSandbox, start_stripe_sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[StripeSandbox]:
    sb = start_stripe_sandbox()
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture(scope="module")
def sf(handle: Any) -> Any:
    """simple-salesforce signed in to the module's emulator."""
    return salesforce_client(handle)


@pytest.fixture(scope="module")
def http(handle: Any) -> requests.Session:
    """Raw HTTPS to the module's emulator as its signed-in user (its CA, no proxies)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = handle.ca_file
    session.headers["Authorization"] = f"Bearer {handle.access_token}"
    return session
