"""Benchmark: a ~20-field Charge -> Payment__c flow through the engine, by hand, and in JSONata.

Run it as a script (it is not a test)::

    .venv/bin/python tests/benchmarks/bench_engine.py

Three ways of producing the same Payment__c record from a ``charge.succeeded`` event are
timed in one run: the engine (compiled plan, applied with validation against the target
schema, no lookup resolver), a hand-written Python function doing the same conversions
(our practical upper limit), and jsonata-python evaluating one equivalent expression. Each
is warmed up, then run for about ``BENCH_SECONDS`` (default 1.5 s) or exactly
``BENCH_ITERATIONS`` records. The last line printed is a JSON object with ``engine_rps``,
``handwritten_rps``, ``jsonata_rps`` and the two ratios the target is stated in
(engine >= 0.5x hand-written, >= 20x JSONata).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mappings.document.model import (  # noqa: E402
    Action,
    FieldMapping,
    Flow,
    Lookup,
    MappingDocument,
    ObjectRef,
    Operation,
    TransformStep,
    Trigger,
)
from mappings.engine import compile_flow, json_safe  # noqa: E402
from mappings.schema.model import FieldKind, FieldSchema, ObjectSchema, System  # noqa: E402

STATUS = {"succeeded": "Completed", "failed": "Failed", "pending": "Pending"}


def load_event() -> dict[str, Any]:
    resources = json.loads((ROOT / "mappings/data/stripe/fixtures3.json").read_text())["resources"]
    charge = dict(resources["charge"])
    charge.update(amount=1999, amount_captured=1999, customer="cus_bench")
    charge["billing_details"] = {
        "address": {
            "city": "Paris",
            "country": "FR",
            "line1": "1 rue de Rivoli",
            "line2": None,
            "postal_code": "75001",
            "state": None,
        },
        "email": "jenny@example.com",
        "name": "Jenny Rosen",
        "phone": None,
        "tax_id": None,
    }
    return {
        "object": "event",
        "id": "evt_bench",
        "type": "charge.succeeded",
        "created": charge["created"],
        "data": {"object": charge},
    }


def _step(name: str, **args: Any) -> TransformStep:
    return TransformStep(name, args)


MONEY = _step("minor_to_decimal", currency_path="currency")

FIELDS: list[tuple[str, str, list[TransformStep], FieldSchema]] = [
    (
        "StripeChargeID__c",
        "id",
        [],
        FieldSchema(
            "StripeChargeID__c", FieldKind.STRING, length=255, external_id=True, unique=True
        ),
    ),
    (
        "Amount__c",
        "amount",
        [MONEY],
        FieldSchema("Amount__c", FieldKind.CURRENCY, precision=18, scale=2, required=True),
    ),
    (
        "Amount_Captured__c",
        "amount_captured",
        [MONEY],
        FieldSchema("Amount_Captured__c", FieldKind.CURRENCY, precision=18, scale=2),
    ),
    (
        "Amount_Refunded__c",
        "amount_refunded",
        [MONEY],
        FieldSchema("Amount_Refunded__c", FieldKind.CURRENCY, precision=18, scale=2),
    ),
    (
        "Currency__c",
        "currency",
        [_step("upper")],
        FieldSchema("Currency__c", FieldKind.STRING, length=3),
    ),
    (
        "Status__c",
        "status",
        [_step("map", table="charge_status")],
        FieldSchema(
            "Status__c",
            FieldKind.PICKLIST,
            enum_values=("Completed", "Failed", "Pending"),
            restricted=True,
        ),
    ),
    (
        "Paid_At__c",
        "created",
        [_step("unix_to_datetime")],
        FieldSchema("Paid_At__c", FieldKind.DATETIME),
    ),
    (
        "Payment_Date__c",
        "created",
        [_step("unix_to_date")],
        FieldSchema("Payment_Date__c", FieldKind.DATE),
    ),
    (
        "Description__c",
        "description",
        [_step("truncate", length=255)],
        FieldSchema("Description__c", FieldKind.STRING, length=255),
    ),
    (
        "Customer_Name__c",
        "billing_details.name",
        [],
        FieldSchema("Customer_Name__c", FieldKind.STRING, length=120),
    ),
    (
        "Billing_Email__c",
        "billing_details.email",
        [],
        FieldSchema("Billing_Email__c", FieldKind.EMAIL, length=80),
    ),
    (
        "Billing_City__c",
        "billing_details.address.city",
        [],
        FieldSchema("Billing_City__c", FieldKind.STRING, length=40),
    ),
    (
        "Billing_Country__c",
        "billing_details.address.country",
        [],
        FieldSchema("Billing_Country__c", FieldKind.STRING, length=80),
    ),
    (
        "Card_Brand__c",
        "payment_method_details.card.brand",
        [],
        FieldSchema("Card_Brand__c", FieldKind.STRING, length=40),
    ),
    (
        "Card_Last4__c",
        "payment_method_details.card.last4",
        [],
        FieldSchema("Card_Last4__c", FieldKind.STRING, length=4),
    ),
    ("Paid__c", "paid", [], FieldSchema("Paid__c", FieldKind.BOOLEAN, nullable=False)),
    ("Refunded__c", "refunded", [], FieldSchema("Refunded__c", FieldKind.BOOLEAN, nullable=False)),
    ("Livemode__c", "livemode", [], FieldSchema("Livemode__c", FieldKind.BOOLEAN, nullable=False)),
    ("Receipt_URL__c", "receipt_url", [], FieldSchema("Receipt_URL__c", FieldKind.URL, length=255)),
    (
        "Failure_Message__c",
        "failure_message",
        [],
        FieldSchema("Failure_Message__c", FieldKind.STRING, length=255),
    ),
    (
        "Balance_Transaction__c",
        "balance_transaction",
        [],
        FieldSchema("Balance_Transaction__c", FieldKind.STRING, length=255),
    ),
    (
        "Stripe_Event_ID__c",
        "$event.id",
        [],
        FieldSchema("Stripe_Event_ID__c", FieldKind.STRING, length=255),
    ),
]


def build_schema() -> ObjectSchema:
    extra = [
        FieldSchema(
            "Account__c",
            FieldKind.REFERENCE,
            reference_to=("Account",),
            relationship_name="Account__r",
        ),
        FieldSchema("Source__c", FieldKind.STRING, length=40),
    ]
    fields = {fs.path: fs for fs in [f[3] for f in FIELDS] + extra}
    return ObjectSchema(
        System.SALESFORCE, "Payment__c", label="Payment", fields=fields, custom=True
    )


def build_flow() -> tuple[Flow, MappingDocument]:
    flow = Flow(
        name="charge-to-payment",
        trigger=Trigger(stripe_events=["charge.succeeded", "charge.failed"]),
        source=ObjectRef(System.STRIPE, "charge"),
        target=ObjectRef(System.SALESFORCE, "Payment__c"),
        operation=Operation(Action.UPSERT, external_id="StripeChargeID__c"),
        fields=[FieldMapping(target, [source], steps) for target, source, steps, _ in FIELDS],
        lookups=[Lookup("Account__c", "Account", "StripeCustomerID__c", "customer")],
        defaults={"Source__c": "Stripe"},
    )
    return flow, MappingDocument("bench", [flow], value_maps={"charge_status": STATUS})


# -- the hand-written mapping: what a developer would write for this one flow -------------

_ZERO_DECIMAL = {
    "bif",
    "clp",
    "djf",
    "gnf",
    "jpy",
    "kmf",
    "krw",
    "mga",
    "pyg",
    "rwf",
    "ugx",
    "vnd",
    "vuv",
    "xaf",
    "xof",
    "xpf",
}
_THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _money(minor: int | None, currency: str) -> Decimal | None:
    if minor is None:
        return None
    exponent = 0 if currency in _ZERO_DECIMAL else 3 if currency in _THREE_DECIMAL else 2
    return Decimal(minor).scaleb(-exponent)


def handwritten(event: dict[str, Any]) -> dict[str, Any]:
    c = event["data"]["object"]
    currency = c["currency"]
    created = _EPOCH + timedelta(seconds=c["created"])
    bd = c.get("billing_details") or {}
    address = bd.get("address") or {}
    card = (c.get("payment_method_details") or {}).get("card") or {}
    description = c.get("description")
    record = {
        "StripeChargeID__c": c["id"],
        "Amount__c": _money(c.get("amount"), currency),
        "Amount_Captured__c": _money(c.get("amount_captured"), currency),
        "Amount_Refunded__c": _money(c.get("amount_refunded"), currency),
        "Currency__c": currency.upper(),
        "Status__c": STATUS.get(c.get("status"), c.get("status")),
        "Paid_At__c": f"{created:%Y-%m-%dT%H:%M:%S}.000+0000",
        "Payment_Date__c": f"{created:%Y-%m-%d}",
        "Description__c": description[:255] if description is not None else None,
        "Customer_Name__c": bd.get("name"),
        "Billing_Email__c": bd.get("email"),
        "Billing_City__c": address.get("city"),
        "Billing_Country__c": address.get("country"),
        "Card_Brand__c": card.get("brand"),
        "Card_Last4__c": card.get("last4"),
        "Paid__c": c.get("paid"),
        "Refunded__c": c.get("refunded"),
        "Livemode__c": c.get("livemode"),
        "Receipt_URL__c": c.get("receipt_url"),
        "Failure_Message__c": c.get("failure_message"),
        "Balance_Transaction__c": c.get("balance_transaction"),
        "Stripe_Event_ID__c": event["id"],
    }
    if c.get("customer"):
        record["Account__r"] = {"StripeCustomerID__c": c["customer"]}
    record["Source__c"] = "Stripe"
    return record


# -- the same mapping as one JSONata expression --------------------------------------------

JSONATA = """
(
  $c := data.object;
  $exp := $lookup({"jpy": 0, "krw": 0, "vnd": 0, "clp": 0, "bhd": 3, "jod": 3, "kwd": 3,
                   "omr": 3, "tnd": 3}, $c.currency);
  $div := $power(10, $exists($exp) ? $exp : 2);
  $status := {"succeeded": "Completed", "failed": "Failed", "pending": "Pending"};
  {
    "StripeChargeID__c": $c.id,
    "Amount__c": $c.amount / $div,
    "Amount_Captured__c": $c.amount_captured / $div,
    "Amount_Refunded__c": $c.amount_refunded / $div,
    "Currency__c": $uppercase($c.currency),
    "Status__c": $lookup($status, $c.status),
    "Paid_At__c": $fromMillis($c.created * 1000, "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001]+0000"),
    "Payment_Date__c": $fromMillis($c.created * 1000, "[Y0001]-[M01]-[D01]"),
    "Description__c": $substring($c.description, 0, 255),
    "Customer_Name__c": $c.billing_details.name,
    "Billing_Email__c": $c.billing_details.email,
    "Billing_City__c": $c.billing_details.address.city,
    "Billing_Country__c": $c.billing_details.address.country,
    "Card_Brand__c": $c.payment_method_details.card.brand,
    "Card_Last4__c": $c.payment_method_details.card.last4,
    "Paid__c": $c.paid,
    "Refunded__c": $c.refunded,
    "Livemode__c": $c.livemode,
    "Receipt_URL__c": $c.receipt_url,
    "Failure_Message__c": $c.failure_message,
    "Balance_Transaction__c": $c.balance_transaction,
    "Stripe_Event_ID__c": id,
    "Account__r": $c.customer ? {"StripeCustomerID__c": $c.customer},
    "Source__c": "Stripe"
  }
)
"""


def measure(fn: Callable[[], Any], seconds: float, fixed: int | None) -> tuple[float, int]:
    """Records per second of ``fn``: warm up, then run ``fixed`` times or for ``seconds``."""
    for _ in range(min(fixed or 200, 200)):
        fn()
    if fixed is not None:
        start = time.perf_counter()
        for _ in range(fixed):
            fn()
        elapsed = time.perf_counter() - start
        return fixed / max(elapsed, 1e-9), fixed
    done, batch = 0, 50
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            fn()
        done += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed, done
        batch = min(batch * 2, 20_000)


def main() -> int:
    import jsonata

    event = load_event()
    flow, document = build_flow()
    plan = compile_flow(flow, document, build_schema())
    expression = jsonata.Jsonata(JSONATA)

    engine_out = plan.apply(event)
    hand_out = handwritten(event)
    if plan.static_issues or not engine_out.ok:
        print("engine issues:", [str(i) for i in engine_out.issues], file=sys.stderr)
        return 1
    if json_safe(engine_out.record) != json_safe(hand_out):
        print("engine and hand-written outputs differ:", file=sys.stderr)
        print(json.dumps(json_safe(engine_out.record), indent=1), file=sys.stderr)
        print(json.dumps(json_safe(hand_out), indent=1), file=sys.stderr)
        return 1
    jsonata_out = expression.evaluate(event)
    # JSONata has no decimals: compare the amounts by value, everything else exactly.
    if json.dumps(json_safe(hand_out), sort_keys=True) != json.dumps(jsonata_out, sort_keys=True):
        mismatched = sorted(
            k for k in hand_out if json_safe(hand_out[k]) != (jsonata_out or {}).get(k)
        )
        print(f"note: jsonata output differs from the hand-written one in {mismatched}")

    fixed_env = os.environ.get("BENCH_ITERATIONS")
    fixed = int(fixed_env) if fixed_env else None
    seconds = float(os.environ.get("BENCH_SECONDS", "1.5"))

    engine_rps, engine_n = measure(lambda: plan.apply(event), seconds, fixed)
    hand_rps, hand_n = measure(lambda: handwritten(event), seconds, fixed)
    jsonata_rps, jsonata_n = measure(lambda: expression.evaluate(event), seconds, fixed)

    fields = len(flow.fields) + len(flow.lookups) + len(flow.defaults)
    print(f"Charge -> Payment__c, {fields} target fields, one charge.succeeded event")
    print(f"  engine (with validation) {engine_rps:>12,.0f} records/s  ({engine_n:,} records)")
    print(f"  hand-written Python      {hand_rps:>12,.0f} records/s  ({hand_n:,} records)")
    print(f"  jsonata-python           {jsonata_rps:>12,.0f} records/s  ({jsonata_n:,} records)")
    vs_hand = engine_rps / hand_rps
    vs_jsonata = engine_rps / jsonata_rps
    print(f"  engine / hand-written = {vs_hand:.2f}x (target >= 0.5x)")
    print(f"  engine / jsonata      = {vs_jsonata:.1f}x (target >= 20x)")
    summary = {
        "engine_rps": round(engine_rps, 1),
        "handwritten_rps": round(hand_rps, 1),
        "jsonata_rps": round(jsonata_rps, 1),
        "engine_vs_handwritten": round(vs_hand, 3),
        "engine_vs_jsonata": round(vs_jsonata, 2),
        "fields": fields,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
