"""Anomaly flags as ``fieldbridge.anomaly`` pseudo-events and alerts.

:func:`flag_event` turns a :class:`Flag` into the event the ``anomaly-to-case`` flow (the
bundle's own, or the shipped ``mappings/templates/anomaly-cases.yaml``) maps to a Case; the
Case itself is whatever that mapping says (see :class:`runner.finance.runtime.FinanceMonitor`).
The event's object id is :func:`case_key`, ``anomaly:<rule>:<object id>``, which the template
upserts on, so a flag raised twice (a replay, a second detector run) updates the same Case
instead of opening another. :func:`flag_alert` is the alert that goes with it.
"""

from __future__ import annotations

from typing import Any

from runner.alerts import Alert
from runner.finance.anomaly import Flag

EVENT_TYPE = "fieldbridge.anomaly"
# Alert titles; the anomaly-cases template spells the same titles in its Case Subject.
RULE_TITLES = {
    "amount_outlier": "Unusual payment amount",
    "amount_outlier_global": "Unusual payment amount (new account)",
    "decline_spike": "Spike in declined charges",
    "refund_spike": "Spike in refunds",
    "duplicate_charge": "Possible duplicate charge",
    "early_fraud_warning": "Early fraud warning",
}


def case_key(flag: Flag) -> str:
    return f"anomaly:{flag.rule}:{flag.object_id}"


def flag_event(flag: Flag) -> dict[str, Any]:
    """The ``fieldbridge.anomaly`` pseudo-event of a flag (its object is the flag itself)."""
    return {"id": f"evt_{case_key(flag)}", "object": "event", "type": EVENT_TYPE,
            "created": flag.created,
            "data": {"object": {"id": case_key(flag), "object": "fieldbridge.anomaly",
                                **flag.to_dict()}}}


def flag_alert(flag: Flag) -> Alert:
    """The alert that goes with the Case (de-duplicated per Case key by the Alerter)."""
    return Alert(case_key(flag), RULE_TITLES.get(flag.rule, flag.rule), flag.reason)
