"""Anomaly flags become Salesforce Cases (and alerts).

Two forms of the same thing:

- :func:`flag_event` turns a :class:`Flag` into a ``fieldbridge.anomaly`` pseudo-event, the
  shape a mapping template can map to a Case once the integrator ships one;
- until then :func:`write_cases` writes the Cases directly, upserting on
  ``Case.StripeObjectID__c = "anomaly:<rule>:<object id>"`` so a flag raised twice (a replay,
  a second detector run) updates the same Case instead of opening another.

Subject and Description carry the flag's reason, so the person reading the Case can check
it. Origin is "Stripe"; Reason is "Fraud Warning" for early fraud warnings, "Other" otherwise
(the org's picklists, see ``mappings/data/salesforce/fieldbridge.metadata.json``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from runner.alerts import Alert
from runner.finance.anomaly import Flag

if TYPE_CHECKING:
    from runner.connectors.errors import RecordOutcome
    from runner.connectors.salesforce import SalesforceConnector

EVENT_TYPE = "fieldbridge.anomaly"
CASE_KEY = "StripeObjectID__c"
SUBJECT_MAX = 255
PRIORITY = {"high": "High", "medium": "Medium", "low": "Low"}
RULE_TITLES = {
    "amount_outlier": "Unusual payment amount",
    "amount_outlier_global": "Unusual payment amount (new account)",
    "decline_spike": "Spike in declined charges",
    "refund_spike": "Spike in refunds",
    "duplicate_charge": "Possible duplicate charge",
    "early_fraud_warning": "Early fraud warning",
}
_SF_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")


def case_key(flag: Flag) -> str:
    return f"anomaly:{flag.rule}:{flag.object_id}"


def flag_event(flag: Flag) -> dict[str, Any]:
    """The ``fieldbridge.anomaly`` pseudo-event of a flag (its object is the flag itself)."""
    return {"id": f"evt_{case_key(flag)}", "object": "event", "type": EVENT_TYPE,
            "created": flag.created,
            "data": {"object": {"id": case_key(flag), "object": "fieldbridge.anomaly",
                                **flag.to_dict()}}}


def case_record(flag: Flag, account_id: str | None = None) -> dict[str, Any]:
    title = RULE_TITLES.get(flag.rule, flag.rule.replace("_", " ").capitalize())
    subject = f"{title}: {flag.object_id}"
    record: dict[str, Any] = {
        CASE_KEY: case_key(flag),
        "Subject": subject[:SUBJECT_MAX],
        "Description": f"{flag.reason}\n\nRule {flag.rule}, score {flag.score:.2f}, "
                       f"Stripe object {flag.object_id}.",
        "Origin": "Stripe",
        "Reason": "Fraud Warning" if flag.rule == "early_fraud_warning" else "Other",
        "Priority": PRIORITY.get(flag.severity, "Medium"),
        "Status": "New",
    }
    if account_id:
        record["AccountId"] = account_id
    return record


def flag_alert(flag: Flag) -> Alert:
    """The alert that goes with the Case (de-duplicated per Case key by the Alerter)."""
    return Alert(case_key(flag), RULE_TITLES.get(flag.rule, flag.rule), flag.reason)


def write_cases(salesforce: SalesforceConnector, flags: Sequence[Flag]) -> list[RecordOutcome]:
    """Upsert one Case per flag; the flag's account (a Stripe customer or an Account Id)
    links the Case to the Account when Salesforce knows it."""
    customers = sorted({f.account for f in flags
                        if f.account and f.account.startswith("cus_")})
    found = salesforce.find_ids("Account", "StripeCustomerID__c", customers) if customers \
        else {}
    records = []
    for f in flags:
        account_id = None
        if f.account and f.account in found and len(found[f.account]) == 1:
            account_id = found[f.account][0]
        elif f.account and f.account.startswith("001") and _SF_ID.match(f.account):
            account_id = f.account
        records.append(case_record(f, account_id))
    if not records:
        return []
    return salesforce.upsert_many("Case", CASE_KEY, records)
