"""Evaluate the mapping suggester against the shipped templates and a list of known-wrong pairs.

Run it as a script (it is not a test)::

    .venv/bin/python tests/benchmarks/suggest_eval.py [--k N] [--limit N] [--show]

Ground truth: every flow of ``mappings/templates/*.yaml`` between Stripe and Salesforce
(either direction) whose source and target objects are in the shipped catalogs. Its pairs
are the field mappings with exactly one source path (``source path -> target field``); a
mapping of several sources (concat, coalesce...) is not something a pair can suggest.

Figures, per flow and overall (summed over flows, so a big flow weighs more):

- precision@k: of the top k suggestions, how many are template pairs. k is the number of
  template pairs of the flow unless ``--k`` fixes it. A template not mapping a pair does not
  make the pair wrong (templates map what their use case needs), so this undercounts;
- recall: how many template pairs appear anywhere in the suggestions (``--limit``, default
  50, the studio's and the CLI's default);
- known wrong: :data:`KNOWN_WRONG` is a hand-labelled list of pairs a person would reject
  on sight (a discount's id into the Contact's Account lookup, a mandate's amount into a
  subscription amount...). It counts how many of them are still suggested at all.

Lookup suggestions (``suggest_lookups``, when the module has it) are measured separately
against the templates' ``lookups`` (``source -> target``), as ``lookup_recall``.

The last line printed is a JSON object: ``{"precision": ..., "recall": ...,
"known_wrong_suggested": ..., ...}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mappings import suggest as suggest_module  # noqa: E402
from mappings.document.yamlio import load_documents  # noqa: E402
from mappings.schema.model import Catalog, ObjectSchema, System  # noqa: E402
from mappings.schema.org_metadata import load_salesforce_catalog  # noqa: E402
from mappings.schema.stripe_catalog import load_stripe_catalog  # noqa: E402

TEMPLATES = ROOT / "mappings" / "templates"

# (source object, target object) -> pairs a person rejects on sight. Written down from the
# suggester's output before the change (and from reading the schemas), not tuned after it:
# each names why it is wrong.
KNOWN_WRONG: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("stripe:customer", "salesforce:Contact"): (
        ("discount.id", "AccountId"),  # a discount's id is no Salesforce Account Id
        ("default_source", "LeadSource"),  # a card/source id is no lead source
        ("individual_name", "IndividualId"),  # a name is no Individual record Id
    ),
    ("stripe:customer", "salesforce:Account"): (
        ("customer_account", "AccountNumber"),  # a Stripe acct_ id, not the account number
        ("customer_account", "AccountSource"),  # an id, not where the account came from
        ("discount.source.type", "Type"),  # the discount's source kind ("coupon")
    ),
    ("salesforce:Account", "stripe:customer"): (
        ("AccountNumber", "customer_account"),  # the reverse of the above
        ("ShippingCity", "shipping.carrier"),  # a city is no carrier
    ),
    ("stripe:charge", "salesforce:Payment__c"): (
        ("source.account", "Account__c"),  # a Connect account id into an Account lookup
        ("payment_method", "Payment_Method_Type__c"),  # a pm_ id, not the method's type
    ),
    ("stripe:dispute", "salesforce:Case"): (
        ("payment_method_details.type", "Type"),  # "card" into Mechanical/Electrical/...
    ),
    ("salesforce:Opportunity", "stripe:customer"): (
        ("StripeSubscriptionID__c", "subscriptions.url"),  # an id into a list's URL
        ("StripeSubscriptionID__c", "discount.subscription"),  # into a discount's field
        ("AccountId", "discount.id"),  # a Salesforce Id as a Stripe discount id
    ),
    ("salesforce:Opportunity", "stripe:subscription"): (
        (
            "Description",
            "payment_settings.payment_method_options.card.mandate_options.description",
        ),
        (
            "Description",
            "payment_settings.payment_method_options.upi.mandate_options.description",
        ),
    ),
    ("stripe:subscription", "salesforce:Subscription_Contract__c"): (
        ("automatic_tax.liability.account", "Account__c"),  # a Connect account id
        ("payment_settings.payment_method_options.card.mandate_options.amount", "Amount__c"),
        ("pending_invoice_item_interval.interval", "Interval__c"),  # not the billing interval
    ),
    ("stripe:invoice", "salesforce:Order"): (
        ("confirmation_secret.type", "Type"),  # a client secret's type
        ("payment_settings.payment_method_options.upi.mandate_options.end_date", "EndDate"),
        ("amount_shipping", "ShippingLongitude"),  # an amount is no longitude
        ("issuer.account", "AccountId"),  # a Connect account id into an Account lookup
        ("customer_shipping.address.city", "BillingCity"),  # shipping address as billing
        ("customer_shipping.address.line1", "BillingStreet"),
    ),
    ("stripe:invoice", "salesforce:Subscription_Contract__c"): (
        ("issuer.account", "Account__c"),
        ("payment_settings.payment_method_options.payto.mandate_options.amount", "Amount__c"),
    ),
}


@dataclass
class FlowResult:
    name: str
    source: str
    target: str
    truth: list[tuple[str, str]]
    suggested: list[tuple[str, str]]
    k: int
    hits_at_k: int
    found: int
    wrong_suggested: list[tuple[str, str]] = field(default_factory=list)
    lookup_truth: list[tuple[str, str]] = field(default_factory=list)
    lookup_found: int = 0


def _catalogs() -> dict[System, Catalog]:
    return {System.STRIPE: load_stripe_catalog(), System.SALESFORCE: load_salesforce_catalog()}


def _lookup_pairs(
    source: ObjectSchema, target: ObjectSchema, catalogs: dict[System, Catalog]
) -> list[tuple[str, str]]:
    suggest_lookups = getattr(suggest_module, "suggest_lookups", None)
    if suggest_lookups is None:
        return []
    found = suggest_lookups(source, target, catalogs[System.SALESFORCE])
    return [(s.lookup.source, s.lookup.target) for s in found]


def evaluate(k_fixed: int | None, limit: int) -> tuple[list[FlowResult], list[str]]:
    catalogs = _catalogs()
    results: list[FlowResult] = []
    skipped: list[str] = []
    for _, document in load_documents(TEMPLATES):
        for flow in document.flows:
            systems = {flow.source.system, flow.target.system}
            if systems != {System.STRIPE, System.SALESFORCE}:
                continue
            source = catalogs[flow.source.system].get(flow.source.object)
            target = catalogs[flow.target.system].get(flow.target.object)
            if source is None or target is None:
                skipped.append(f"{flow.name} ({flow.source} -> {flow.target}: not in the catalogs)")
                continue
            truth = [(m.sources[0], m.target) for m in flow.fields if len(m.sources) == 1]
            if not truth:
                skipped.append(f"{flow.name} (no single-source field mapping)")
                continue
            ranked = suggest_module.suggest_mappings(source, target, limit=limit)
            suggested = [(s.source_path, s.target_field) for s in ranked]
            k = k_fixed or len(truth)
            truth_set = set(truth)
            wrong = KNOWN_WRONG.get((str(flow.source), str(flow.target)), ())
            lookup_truth = [(lk.source, lk.target) for lk in flow.lookups]
            lookups = set(_lookup_pairs(source, target, catalogs))
            results.append(
                FlowResult(
                    name=flow.name,
                    source=str(flow.source),
                    target=str(flow.target),
                    truth=truth,
                    suggested=suggested,
                    k=k,
                    hits_at_k=sum(1 for pair in suggested[:k] if pair in truth_set),
                    found=sum(1 for pair in truth if pair in set(suggested)),
                    wrong_suggested=[pair for pair in wrong if pair in set(suggested)],
                    lookup_truth=lookup_truth,
                    lookup_found=sum(1 for pair in lookup_truth if pair in lookups),
                )
            )
    return results, skipped


def _known_wrong_total(results: list[FlowResult]) -> int:
    # Several flows share an object pair (two Case flows...); count each labelled pair once.
    pairs = {(r.source, r.target) for r in results}
    return sum(len(KNOWN_WRONG.get(p, ())) for p in pairs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, default=None, help="fixed k (default: per flow, #pairs)")
    parser.add_argument("--limit", type=int, default=50, help="suggestions asked for per flow")
    parser.add_argument("--show", action="store_true", help="print every flow's suggestions")
    args = parser.parse_args(argv)
    if args.k is not None and args.k < 1:
        parser.error(f"--k must be at least 1, got {args.k}")
    if args.limit < 1:
        parser.error(f"--limit must be at least 1, got {args.limit}")

    results, skipped = evaluate(args.k, args.limit)
    if not results:
        print("no template flow between Stripe and Salesforce found", file=sys.stderr)
        return 1
    print(f"{'flow':<28} {'pairs':>5} {'P@k':>9} {'recall':>9} {'wrong':>5}  source -> target")
    for r in results:
        p = f"{r.hits_at_k}/{r.k}"
        rec = f"{r.found}/{len(r.truth)}"
        print(
            f"{r.name:<28} {len(r.truth):>5} {p:>9} {rec:>9} {len(r.wrong_suggested):>5}"
            f"  {r.source} -> {r.target}"
        )
        for pair in r.truth:
            if pair not in r.suggested:
                print(f"    missed     {pair[0]} -> {pair[1]}")
        for pair in r.wrong_suggested:
            print(f"    WRONG      {pair[0]} -> {pair[1]}  (rank {r.suggested.index(pair) + 1})")
        if args.show:
            for rank, pair in enumerate(r.suggested, 1):
                mark = "T" if pair in r.truth else ("W" if pair in r.wrong_suggested else " ")
                print(f"    {rank:>3} {mark} {pair[0]} -> {pair[1]}")
    for line in skipped:
        print(f"skipped: {line}")

    hits = sum(r.hits_at_k for r in results)
    ks = sum(r.k for r in results)
    found = sum(r.found for r in results)
    truth = sum(len(r.truth) for r in results)
    # Flows sharing an object pair see the same suggestions: count a wrong pair once.
    wrong = len({(r.source, r.target, p) for r in results for p in r.wrong_suggested})
    lookup_truth = sum(len(r.lookup_truth) for r in results)
    lookup_found = sum(r.lookup_found for r in results)
    summary = {
        "precision": round(hits / ks, 3),
        "recall": round(found / truth, 3),
        "known_wrong_suggested": wrong,
        "known_wrong_total": _known_wrong_total(results),
        "suggestions": sum(len(r.suggested) for r in results),
        "flows": len(results),
        "template_pairs": truth,
        "k": args.k or "pairs per flow",
        "lookup_recall": round(lookup_found / lookup_truth, 3) if lookup_truth else None,
    }
    print(
        f"overall: precision@k {hits}/{ks}, recall {found}/{truth}, "
        f"known wrong still suggested {wrong}/{summary['known_wrong_total']}, "
        f"lookups found {lookup_found}/{lookup_truth}"
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
