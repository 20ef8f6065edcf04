"""The runner's clients for Stripe and Salesforce.

Both raise :class:`ConnectorError` (with a :class:`~runner.classify.Failure`) for a call that
failed as a whole and report batch writes record by record as :class:`RecordOutcome`.
"""

from __future__ import annotations

from runner.connectors.errors import ConnectorError, RecordOutcome

__all__ = ["ConnectorError", "RecordOutcome"]
