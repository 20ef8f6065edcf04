"""The runner's processing: Stripe events -> Salesforce (``Processor``) and Salesforce
changes -> Stripe (``SalesforcePoller``), over a bundle compiled once (``LoadedBundle``)."""

from __future__ import annotations

from runner.pipeline.bundle_runtime import CompiledFlow, LoadedBundle
from runner.pipeline.outcomes import Observer, ProcessedRecord, ProcessReport
from runner.pipeline.processor import Processor
from runner.pipeline.sf_poller import PollReport, SalesforcePoller

__all__ = [
    "CompiledFlow",
    "LoadedBundle",
    "Observer",
    "PollReport",
    "ProcessReport",
    "ProcessedRecord",
    "Processor",
    "SalesforcePoller",
]
