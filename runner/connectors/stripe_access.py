"""What a Stripe key may do for a workspace's flows, checked before anyone saves it.

A restricted key (``rk_...``) carries a permission per resource (none, read or write), and
Stripe has no call that lists them. So each Stripe object the flows need is probed once:

- read (a Stripe -> Salesforce flow's source object): ``GET /v1/<objects>?limit=1``;
- write (a Salesforce -> Stripe flow's target object): ``POST /v1/<objects>/<an id that does
  not exist>`` with no parameters. Stripe checks the key's permission before it looks the
  object up, so a key that may write gets 404 ``resource_missing`` (or a 400) and one that
  may not gets 403; nothing is created or changed either way.

A 403 (the SDK's :class:`stripe.PermissionError`) is a missing permission; anything else is
the connection diagnosis of :func:`runner.connectors.diagnosis.diagnose`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import stripe

from mappings.document.model import MappingDocument
from mappings.schema.model import System
from runner.connectors.diagnosis import diagnose
from runner.connectors.stripe import StripeConnector, StripeSettings, object_path

Access = Literal["read", "write"]
Outcome = Literal["ok", "no_permission", "error"]

# Never a real object's id: a write probe must find nothing to change.
PROBE_ID = "fieldbridge_permission_probe"


@dataclass(frozen=True, slots=True)
class StripeNeed:
    """One Stripe object and access the flows need, and which flows need it."""

    object: str
    access: Access
    flows: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AccessResult:
    need: StripeNeed
    outcome: Outcome
    message: str  # one sentence for a person; "" when ok


def stripe_needs(documents: Iterable[MappingDocument]) -> list[StripeNeed]:
    """The Stripe objects the flows read (their Stripe source) or write (their Stripe target),
    in the order the flows first name them."""
    found: dict[tuple[str, Access], list[str]] = {}
    for doc in documents:
        for flow in doc.flows:
            for ref, access in ((flow.source, "read"), (flow.target, "write")):
                if ref.system is System.STRIPE:
                    names = found.setdefault((ref.object, access), [])  # type: ignore[arg-type]
                    if flow.name not in names:
                        names.append(flow.name)
    return [StripeNeed(obj, access, tuple(flows)) for (obj, access), flows in found.items()]


def resource_label(object_type: str) -> str:
    """``payout`` -> ``Payouts``, ``checkout.session`` -> ``Checkout Sessions``: the names
    Stripe's dashboard gives a restricted key's resources."""
    try:
        path = object_path(object_type)
    except Exception:  # an unknown name: say it as written
        path = object_type
    return " ".join(w.capitalize() for w in path.replace("/", " ").replace("_", " ").split())


def missing_permission_sentence(need: StripeNeed) -> str:
    """"this key cannot read Payouts: the payouts flow will fail"."""
    flows = need.flows
    if len(flows) == 1:
        which = f"the {flows[0]} flow will fail"
    else:
        which = f"the {', '.join(flows[:-1])} and {flows[-1]} flows will fail"
    return f"this key cannot {need.access} {resource_label(need.object)}: {which}"


def outcome_of(http_status: int | None) -> Outcome:
    """A probe's answer: 403 is a missing permission. A write probe's 404 (no such object)
    or 400 (no such id; localstripe's answer) came after the permission check, so the key
    may write. Any other failure is an error."""
    if http_status == 403:
        return "no_permission"
    if http_status in (400, 404):
        return "ok"
    return "error"


def missing_sentences(results: Iterable[AccessResult]) -> list[str]:
    return [r.message for r in results if r.outcome == "no_permission"]


def _probe(connector: StripeConnector, need: StripeNeed) -> None:
    path = f"/v1/{object_path(need.object)}"
    if need.access == "read":
        connector.client.raw_request("get", path, limit=1)
    else:
        connector.client.raw_request("post", f"{path}/{PROBE_ID}")


def check_stripe_access(
    settings: StripeSettings, documents: Iterable[MappingDocument]
) -> list[AccessResult]:
    """Probe every object and access the flows need with this key; blocking, never raises
    (a failure is its result)."""
    needs = stripe_needs(documents)
    if not needs:
        return []
    where = f"Stripe {settings.name!r}"
    try:
        connector = StripeConnector(settings)
    except Exception as exc:  # every failure becomes its reason
        failed = diagnose(exc, where).message
        return [AccessResult(need, "error", failed) for need in needs]
    results: list[AccessResult] = []
    for need in needs:
        try:
            _probe(connector, need)
        except stripe.StripeError as exc:
            outcome = outcome_of(exc.http_status)
            if outcome == "no_permission":
                results.append(AccessResult(need, outcome, missing_permission_sentence(need)))
            elif outcome == "error":
                results.append(AccessResult(need, outcome, diagnose(exc, where).message))
            else:
                results.append(AccessResult(need, "ok", ""))
        except Exception as exc:  # network and the like: its diagnosis
            results.append(AccessResult(need, "error", diagnose(exc, where).message))
        else:
            results.append(AccessResult(need, "ok", ""))
    return results
