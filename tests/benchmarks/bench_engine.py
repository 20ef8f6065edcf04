"""Benchmark: a ~20-field Charge -> Payment__c flow through the engine, by hand, and in JSONata.

Run it as a script (it is not a test)::

    .venv/bin/python tests/benchmarks/bench_engine.py

Three ways of producing the same Payment__c record from a ``charge.succeeded`` event are
timed in one run: the engine (compiled plan, applied with validation against the target
schema, no lookup resolver), a hand-written Python function doing the same conversions
(our practical upper limit), and jsonata-python evaluating one equivalent expression. Each
is warmed up, then run for about ``BENCH_SECONDS`` (default 1.5 s) in five alternating
rounds, the best round counting (or exactly ``BENCH_ITERATIONS`` records in all).

Then, per template: every flow of every shipped template (``mappings/templates``), loaded
from its YAML and compiled against the shipped catalog, is applied to its own fixtures,
repeated and varied (ids, amounts, currencies, statuses, long and missing texts), for about
``BENCH_TEMPLATE_SECONDS`` (default 0.4 s) each. The ``charges-payments`` flow
``charge-to-payment`` is also timed against a hand-written function producing the same
record, checked equal to the engine's on every varied record first.

The last line printed is a JSON object with ``engine_rps``, ``handwritten_rps``,
``jsonata_rps``, the two ratios the target is stated in (engine >= 0.5x hand-written, >= 20x
JSONata), ``templates`` (records/s of each shipped flow, by flow name) and
``charge_template_vs_hand`` (target >= 0.5). Only public APIs are used, so the same script
measures an older checkout on today's templates: ``BENCH_ROOT=/path/to/checkout
BENCH_TEMPLATES=mappings/templates python bench_engine.py``.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(os.environ.get("BENCH_ROOT") or Path(__file__).resolve().parents[2])
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
from mappings.document.yamlio import load_document  # noqa: E402
from mappings.engine import compile_flow, json_safe  # noqa: E402
from mappings.schema.model import FieldKind, FieldSchema, ObjectSchema, System  # noqa: E402
from mappings.schema.org_metadata import load_salesforce_catalog  # noqa: E402
from mappings.schema.stripe_catalog import load_stripe_catalog  # noqa: E402

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


def _text(name: str, length: int, kind: FieldKind = FieldKind.STRING, **kw: Any) -> FieldSchema:
    return FieldSchema(name, kind, length=length, **kw)


def _money(name: str, **kw: Any) -> FieldSchema:
    return FieldSchema(name, FieldKind.CURRENCY, precision=16, scale=2, **kw)


# target, sources, transforms, and the target field as the shipped Payment__c describes it
# (used when the Salesforce catalog is not importable).
FIELDS: list[tuple[str, list[str], list[TransformStep], FieldSchema]] = [
    ("Name", ["id"], [], _text("Name", 80, required=True)),
    ("StripeChargeID__c", ["id"], [], _text("StripeChargeID__c", 255, external_id=True)),
    ("Amount__c", ["amount"], [MONEY], _money("Amount__c", required=True)),
    ("Amount_Refunded__c", ["amount_refunded"], [MONEY], _money("Amount_Refunded__c")),
    ("Fee__c", ["application_fee_amount"], [MONEY], _money("Fee__c")),
    ("Currency__c", ["currency"], [_step("upper")], _text("Currency__c", 3, required=True)),
    (
        "Status__c",
        ["status"],
        [_step("map", table="charge_status")],
        _text(
            "Status__c",
            255,
            FieldKind.PICKLIST,
            enum_values=("Completed", "Failed", "Pending", "Refunded"),
            restricted=True,
            required=True,
        ),
    ),
    (
        "Paid_At__c",
        ["created"],
        [_step("unix_to_datetime")],
        FieldSchema("Paid_At__c", FieldKind.DATETIME),
    ),
    (
        "Description__c",
        ["description"],
        [_step("truncate", length=255)],
        _text("Description__c", 255),
    ),
    (
        "Receipt_Email__c",
        ["receipt_email", "billing_details.email"],
        [_step("coalesce")],
        _text("Receipt_Email__c", 80, FieldKind.EMAIL),
    ),
    ("Failure_Message__c", ["failure_message"], [], _text("Failure_Message__c", 255)),
    (
        "Payment_Method_Type__c",
        ["payment_method_details.type"],
        [],
        _text("Payment_Method_Type__c", 40),
    ),
    ("Card_Brand__c", ["payment_method_details.card.brand"], [], _text("Card_Brand__c", 40)),
    ("Card_Last4__c", ["payment_method_details.card.last4"], [], _text("Card_Last4__c", 4)),
    (
        "StripeBalanceTransactionID__c",
        ["balance_transaction"],
        [],
        _text("StripeBalanceTransactionID__c", 255),
    ),
    ("StripeCustomerID__c", ["customer"], [], _text("StripeCustomerID__c", 255)),
    (
        "Livemode__c",
        ["livemode"],
        [],
        FieldSchema("Livemode__c", FieldKind.BOOLEAN, nullable=False),
    ),
    ("Receipt_URL__c", ["receipt_url"], [], _text("Receipt_URL__c", 255, FieldKind.URL)),
]


def build_schema() -> tuple[ObjectSchema, str]:
    """The shipped Payment__c describe when the catalog is there, else the same by hand."""
    found = load_salesforce_catalog().get("Payment__c")
    if found is not None:
        return found, "Payment__c from the shipped Salesforce catalog"
    account = FieldSchema(
        "Account__c", FieldKind.REFERENCE, reference_to=("Account",), relationship_name="Account__r"
    )
    fields = {fs.path: fs for fs in [f[3] for f in FIELDS] + [account]}
    schema = ObjectSchema(System.SALESFORCE, "Payment__c", fields=fields, custom=True)
    return schema, "Payment__c built by hand (catalog not available)"


def build_flow() -> tuple[Flow, MappingDocument]:
    flow = Flow(
        name="charge-to-payment",
        trigger=Trigger(stripe_events=["charge.succeeded", "charge.failed"]),
        source=ObjectRef(System.STRIPE, "charge"),
        target=ObjectRef(System.SALESFORCE, "Payment__c"),
        operation=Operation(Action.UPSERT, external_id="StripeChargeID__c"),
        fields=[FieldMapping(target, sources, steps) for target, sources, steps, _ in FIELDS],
        lookups=[Lookup("Account__c", "Account", "StripeCustomerID__c", "customer")],
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
    details = c.get("payment_method_details") or {}
    card = details.get("card") or {}
    description = c.get("description")
    email = c.get("receipt_email")
    if email is None or email == "":
        email = (c.get("billing_details") or {}).get("email") or None
    record = {
        "Name": c["id"],
        "StripeChargeID__c": c["id"],
        "Amount__c": _money(c.get("amount"), currency),
        "Amount_Refunded__c": _money(c.get("amount_refunded"), currency),
        "Fee__c": _money(c.get("application_fee_amount"), currency),
        "Currency__c": currency.upper(),
        "Status__c": STATUS.get(c.get("status"), c.get("status")),
        "Paid_At__c": f"{created:%Y-%m-%dT%H:%M:%S}.000+0000",
        "Description__c": description[:255] if description is not None else None,
        "Receipt_Email__c": email,
        "Failure_Message__c": c.get("failure_message"),
        "Payment_Method_Type__c": details.get("type"),
        "Card_Brand__c": card.get("brand"),
        "Card_Last4__c": card.get("last4"),
        "StripeBalanceTransactionID__c": c.get("balance_transaction"),
        "StripeCustomerID__c": c.get("customer"),
        "Livemode__c": c.get("livemode"),
        "Receipt_URL__c": c.get("receipt_url"),
    }
    if c.get("customer"):
        record["Account__r"] = {"StripeCustomerID__c": c["customer"]}
    return record


# -- the same mapping as one JSONata expression --------------------------------------------

JSONATA = """
(
  $c := data.object;
  $exp := $lookup({"jpy": 0, "krw": 0, "vnd": 0, "clp": 0, "bhd": 3, "jod": 3, "kwd": 3,
                   "omr": 3, "tnd": 3}, $c.currency);
  $div := $power(10, $exists($exp) ? $exp : 2);
  $status := {"succeeded": "Completed", "failed": "Failed", "pending": "Pending"};
  $email := $c.receipt_email ? $c.receipt_email : $c.billing_details.email;
  {
    "Name": $c.id,
    "StripeChargeID__c": $c.id,
    "Amount__c": $c.amount / $div,
    "Amount_Refunded__c": $c.amount_refunded / $div,
    "Fee__c": $type($c.application_fee_amount) = "number" ? $c.application_fee_amount / $div : null,
    "Currency__c": $uppercase($c.currency),
    "Status__c": $lookup($status, $c.status),
    "Paid_At__c": $fromMillis($c.created * 1000, "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001]+0000"),
    "Description__c": $substring($c.description, 0, 255),
    "Receipt_Email__c": $email,
    "Failure_Message__c": $c.failure_message,
    "Payment_Method_Type__c": $c.payment_method_details.type,
    "Card_Brand__c": $c.payment_method_details.card.brand,
    "Card_Last4__c": $c.payment_method_details.card.last4,
    "StripeBalanceTransactionID__c": $c.balance_transaction,
    "StripeCustomerID__c": $c.customer,
    "Livemode__c": $c.livemode,
    "Receipt_URL__c": $c.receipt_url,
    "Account__r": $c.customer ? {"StripeCustomerID__c": $c.customer}
  }
)
"""


ROUNDS = 5


def _timed(fn: Callable[[], Any], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        fn()
    return time.perf_counter() - start


def measure(
    contenders: dict[str, Callable[[], Any]], seconds: float, fixed: int | None
) -> dict[str, tuple[float, int]]:
    """Records per second of each contender, and how many records were timed in all.

    Each contender is warmed up and calibrated to a batch of about ``seconds / ROUNDS``; the
    rounds then alternate between contenders so that a burst of load from elsewhere on the
    machine hits all of them alike, and the best round counts (the usual way to time code
    on a shared machine: noise only ever makes a round slower).
    """
    batches: dict[str, int] = {}
    for name, fn in contenders.items():
        for _ in range(min(fixed or 200, 200)):
            fn()
        if fixed is not None:
            batches[name] = max(fixed // ROUNDS, 1)
            continue
        count = 10
        while (elapsed := _timed(fn, count)) < 0.05:
            count *= 4
        batches[name] = max(int(count * (seconds / ROUNDS) / elapsed), 1)
    best = dict.fromkeys(contenders, 0.0)
    for _ in range(ROUNDS):
        for name, fn in contenders.items():
            elapsed = _timed(fn, batches[name])
            best[name] = max(best[name], batches[name] / max(elapsed, 1e-9))
    return {name: (best[name], batches[name] * ROUNDS) for name in contenders}


# -- per template: every shipped flow on its own fixtures, varied ------------------------------

# BENCH_TEMPLATES: another checkout's templates (to time an older engine on today's flows).
TEMPLATES = Path(os.environ.get("BENCH_TEMPLATES") or ROOT / "mappings" / "templates")
CHARGE_FLOW = "charge-to-payment"
CURRENCIES = ["usd", "jpy", "krw", "kwd", "bhd", "eur", "gbp"]
STATUSES = ["succeeded", "failed", "pending", "paid"]
VARIANTS = 200  # varied copies of each fixture


def _object_of(data: dict[str, Any]) -> dict[str, Any]:
    """The object a fixture maps: an event's data.object, or the record itself."""
    inner = data.get("data")
    if (
        data.get("object") == "event"
        and isinstance(inner, dict)
        and isinstance(inner.get("object"), dict)
    ):
        return inner["object"]
    return data


def vary(data: dict[str, Any], i: int, charge: bool) -> dict[str, Any]:
    """Copy ``i`` of a fixture input: its ids and amounts differ, and for the charge flow its
    currency, status, refund flag, description and e-mail cycle through the real cases."""
    out = copy.deepcopy(data)
    obj = _object_of(out)
    for key, value in list(obj.items()):
        if key in ("id", "Id") and isinstance(value, str):
            obj[key] = f"{value}{i:04d}"[-18:] if key == "Id" else f"{value}_{i}"
        elif "amount" in key and type(value) is int:
            obj[key] = value + 7 * i
    if out is not obj and isinstance(out.get("id"), str):
        out["id"] = f"{out['id']}_{i}"
    if charge:
        obj["currency"] = CURRENCIES[i % len(CURRENCIES)]
        obj["status"] = STATUSES[i % len(STATUSES)]
        obj["refunded"] = i % 5 == 0
        obj["description"] = None if i % 3 == 0 else ("Order " * 60 if i % 7 == 0 else f"Order {i}")
        obj["receipt_email"] = None if i % 2 else f"buyer{i}@example.com"
        obj["customer"] = None if i % 11 == 0 else f"cus_{i}"
    return out


def template_flows() -> list[tuple[str, Any, Any, Any]]:
    """(template name, document, flow, target schema) for every flow of every template."""
    salesforce, stripe = load_salesforce_catalog(), load_stripe_catalog()
    out = []
    for path in sorted(TEMPLATES.glob("*.yaml")):
        doc = load_document(path)
        for flow in doc.flows:
            catalog = salesforce if flow.target.system is System.SALESFORCE else stripe
            out.append((doc.name, doc, flow, catalog.get(flow.target.object)))
    return out


def _compile_template_flow(flow: Any, doc: Any, schema: Any) -> Any:
    """The flow's plan; a flow with child collections gives them their schemas too (a child's
    ``truncate`` takes its length from the child field). An older checkout's flows have no
    children, and its compile_flow no ``schemas``."""
    if not getattr(flow, "children", None):
        return compile_flow(flow, doc, schema)
    salesforce, stripe = load_salesforce_catalog(), load_stripe_catalog()
    return compile_flow(
        flow,
        doc,
        schema,
        schemas=lambda system, name: (
            salesforce if system is System.SALESFORCE else stripe
        ).get(name),
    )


CHARGE_STATUS = {
    "succeeded": "Completed",
    "paid": "Completed",
    "failed": "Failed",
    "pending": "Pending",
}


def _cut(text: str | None, length: int) -> str | None:
    return text[:length] if text is not None else None


def hand_charge(event: dict[str, Any]) -> dict[str, Any]:
    """The shipped ``charge-to-payment`` flow written by hand for Payment__c."""
    c = event["data"]["object"]
    currency = c.get("currency")
    description = c.get("description")
    name = description if description is not None and description != "" else c.get("id")
    email = c.get("receipt_email")
    if email is None or email == "":
        email = (c.get("billing_details") or {}).get("email")
        email = None if email == "" else email
    details = c.get("payment_method_details") or {}
    card = details.get("card") or {}
    created = c.get("created")
    record = {
        "StripeChargeID__c": c.get("id"),
        "Name": _cut(name, 80),
        "Amount__c": _money(c.get("amount"), currency),
        "Amount_Refunded__c": _money(c.get("amount_refunded"), currency),
        "Currency__c": currency.upper() if currency is not None else None,
        "Status__c": "Refunded"
        if c.get("refunded") is True
        else CHARGE_STATUS.get(c.get("status")),
        "Paid_At__c": (
            f"{_EPOCH + timedelta(seconds=created):%Y-%m-%dT%H:%M:%S}.000+0000"
            if created is not None
            else None
        ),
        "Description__c": _cut(description, 255),
        "Receipt_Email__c": email,
        "Failure_Message__c": _cut(c.get("failure_message"), 255),
        "Payment_Method_Type__c": details.get("type"),
        "Card_Brand__c": card.get("brand"),
        "Card_Last4__c": card.get("last4"),
        "StripeBalanceTransactionID__c": c.get("balance_transaction"),
        "StripeCustomerID__c": c.get("customer"),
        "Livemode__c": c.get("livemode"),
        "Receipt_URL__c": _cut(c.get("receipt_url"), 255),
    }
    customer = c.get("customer")
    if type(customer) is str and customer:
        record["Account__r"] = {"StripeCustomerID__c": customer}
    return record


def _cycling(fn: Callable[[Any], Any], records: list[Any]) -> Callable[[], Any]:
    """A contender mapping the next record of ``records`` on each call."""
    it = itertools.cycle(records)
    return lambda: fn(next(it))


def bench_templates(seconds: float, fixed: int | None) -> tuple[dict[str, float], float, list[str]]:
    """Records/s of every shipped flow on its varied fixtures, the charge flow's ratio to the
    hand-written mapping, and the report lines. Raises SystemExit on a disagreement."""
    rates: dict[str, float] = {}
    lines: list[str] = []
    ratio = 0.0
    for template, doc, flow, schema in template_flows():
        plan = _compile_template_flow(flow, doc, schema)
        charge = flow.name == CHARGE_FLOW
        records = [vary(fx.input, i, charge) for fx in flow.fixtures for i in range(VARIANTS)]
        if not records:
            lines.append(f"  {template}/{flow.name}: no fixtures")
            continue
        contenders = {"engine": _cycling(plan.apply, records)}
        if charge:
            for data in records:
                engine = plan.apply(data)
                if engine.skipped:
                    continue
                if json_safe(engine.record) != json_safe(hand_charge(data)):
                    print(f"{flow.name}: engine and hand-written records differ:", file=sys.stderr)
                    print(json.dumps(json_safe(engine.record), indent=1), file=sys.stderr)
                    print(json.dumps(json_safe(hand_charge(data)), indent=1), file=sys.stderr)
                    raise SystemExit(1)
            contenders["hand"] = _cycling(hand_charge, records)
        figures = measure(contenders, seconds * (3 if charge else 1), fixed)
        rates[flow.name] = round(figures["engine"][0], 1)
        line = f"  {template}/{flow.name:<34} {figures['engine'][0]:>10,.0f} records/s"
        if charge:
            ratio = figures["engine"][0] / figures["hand"][0]
            line += f"   hand-written {figures['hand'][0]:,.0f}/s, engine/hand = {ratio:.2f}x"
        lines.append(line + f"  ({len(records)} varied records)")
    return rates, ratio, lines


def main() -> int:
    import jsonata

    event = load_event()
    flow, document = build_flow()
    schema, schema_note = build_schema()
    plan = compile_flow(flow, document, schema)
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

    figures = measure(
        {
            "engine": lambda: plan.apply(event),
            "handwritten": lambda: handwritten(event),
            "jsonata": lambda: expression.evaluate(event),
        },
        seconds,
        fixed,
    )
    engine_rps, engine_n = figures["engine"]
    hand_rps, hand_n = figures["handwritten"]
    jsonata_rps, jsonata_n = figures["jsonata"]

    fields = len(flow.target_fields())
    print(f"Charge -> Payment__c, {fields} target fields, one charge.succeeded event")
    print(f"  validated against {schema_note}")
    print(
        f"  engine (with validation) {engine_rps:>12,.0f} records/s  (best of {ROUNDS} rounds, {engine_n:,} records)"
    )
    print(f"  hand-written Python      {hand_rps:>12,.0f} records/s  ({hand_n:,} records)")
    print(f"  jsonata-python           {jsonata_rps:>12,.0f} records/s  ({jsonata_n:,} records)")
    vs_hand = engine_rps / hand_rps
    vs_jsonata = engine_rps / jsonata_rps
    print(f"  engine / hand-written = {vs_hand:.2f}x (target >= 0.5x)")
    print(f"  engine / jsonata      = {vs_jsonata:.1f}x (target >= 20x)")

    template_seconds = float(os.environ.get("BENCH_TEMPLATE_SECONDS", "0.4"))
    rates, charge_ratio, lines = bench_templates(template_seconds, fixed)
    print("Shipped templates, every flow on its own fixtures (varied), engine records/s:")
    print("\n".join(lines))
    print(f"  {CHARGE_FLOW}: engine / hand-written = {charge_ratio:.2f}x (target >= 0.5x)")
    summary = {
        "engine_rps": round(engine_rps, 1),
        "handwritten_rps": round(hand_rps, 1),
        "jsonata_rps": round(jsonata_rps, 1),
        "engine_vs_handwritten": round(vs_hand, 3),
        "engine_vs_jsonata": round(vs_jsonata, 2),
        "fields": fields,
        "templates": rates,
        "charge_template_vs_hand": round(charge_ratio, 3),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
