"""Fieldbridge runner: executes mapping bundles against Stripe and Salesforce (headless, no Qt)."""

from __future__ import annotations
