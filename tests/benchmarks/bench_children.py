"""Benchmark: what child collections cost in the engine (not a test; run it as a script)::

    .venv/bin/python tests/benchmarks/bench_children.py

The shipped ``invoices-orders`` template's flow with children (invoice -> Order) is applied to its own
12-line invoice fixture, compiled against the shipped catalogs, in one run:

- ``parent_only``: the same flow with its child collection removed (the baseline: what an
  invoice cost before children existed);
- ``with_children``: the flow as shipped, the Order and its 12 OrderItems;
- ``hand_loop``: the parent plan, then the child plan applied to each line in a plain loop
  (what the children cost with no bookkeeping; ``with_children`` should be close to it).

Each is warmed up, then timed in five alternating rounds of about ``BENCH_SECONDS``
(default 0.5 s), the best round counting. Last, one invoice carrying as many lines as
``CHILD_RECORDS_MAX`` allows, and one carrying 100,000 (a hostile payload, refused), are
mapped once each and their times printed. The last line is a JSON object.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mappings.document.yamlio import load_document  # noqa: E402
from mappings.engine import compile_flow  # noqa: E402
from mappings.limits import CHILD_RECORDS_MAX  # noqa: E402
from mappings.schema.model import System  # noqa: E402
from mappings.schema.org_metadata import load_salesforce_catalog  # noqa: E402
from mappings.schema.stripe_catalog import load_stripe_catalog  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SECONDS", "0.5"))
TEMPLATE = ROOT / "mappings" / "templates" / "invoices-orders.yaml"


def best_rate(fn: Callable[[], Any], rounds: int = 5) -> float:
    """Calls per second of ``fn``: the best of ``rounds`` rounds of about SECONDS each."""
    for _ in range(50):
        fn()
    best = 0.0
    for _ in range(rounds):
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < SECONDS:
            for _ in range(20):
                fn()
            n += 20
        best = max(best, n / elapsed)
    return best


def main() -> None:
    catalogs = {System.STRIPE: load_stripe_catalog(), System.SALESFORCE: load_salesforce_catalog()}

    def schemas(system: System, name: str) -> Any:
        return catalogs[system].get(name)

    doc = load_document(TEMPLATE)
    flow = next((f for f in doc.flows if f.children), None)
    assert flow is not None, f"{TEMPLATE.name} has no flow with child collections"
    event = next(
        fx.input
        for fx in flow.fixtures
        if len(fx.input.get("data", {}).get("object", {}).get("lines", {}).get("data", [])) == 12
    )
    invoice = event["data"]["object"]

    def compiled(f: Any) -> Any:
        return compile_flow(
            f,
            doc,
            schemas(f.target.system, f.target.object),
            source_schema=schemas(f.source.system, f.source.object),
            schemas=schemas,
        )

    full = compiled(flow)
    bare = copy.deepcopy(flow)
    bare.children = []
    parent = compiled(bare)
    (relationship,) = full.children
    child_plan = full.children[relationship]
    lines = invoice["lines"]["data"]

    result = full.apply(event)
    assert len(result.children[relationship]) == 12 and result.ok, result.issues

    def hand_loop() -> None:
        parent.apply(event)
        for line in lines:
            child_plan.apply(line)

    parent_rate = best_rate(lambda: parent.apply(event))
    full_rate = best_rate(lambda: full.apply(event))
    hand_rate = best_rate(hand_loop)

    def timed_lines(count: int) -> tuple[float, Any]:
        big = copy.deepcopy(event)
        big["data"]["object"]["lines"]["data"] = [
            dict(lines[0], id=f"il_{i}") for i in range(count)
        ]
        start = time.perf_counter()
        mapped = full.apply(big)
        return time.perf_counter() - start, mapped

    most_seconds, most = timed_lines(CHILD_RECORDS_MAX)
    huge_seconds, huge = timed_lines(100_000)
    refused = [i.code for i in huge.issues if i.code == "CHILD_LIMIT"]

    per_child_us = (1 / full_rate - 1 / parent_rate) / 12 * 1e6
    print(f"parent only (baseline)       {parent_rate:10,.0f} invoices/s")
    print(f"with 12 OrderItems           {full_rate:10,.0f} invoices/s  "
          f"({per_child_us:.1f} µs per child)")
    print(f"hand loop over the 12 lines  {hand_rate:10,.0f} invoices/s  "
          f"(with_children / hand_loop = {full_rate / hand_rate:.2f})")
    print(f"one invoice of {CHILD_RECORDS_MAX:,} lines (the limit): {most_seconds:.2f} s, "
          f"{len(most.children[relationship]):,} children")
    print(f"one invoice of 100,000 lines: {huge_seconds:.3f} s, refused ({', '.join(refused)})")
    print(json.dumps({
        "parent_only_rps": round(parent_rate),
        "with_children_rps": round(full_rate),
        "hand_loop_rps": round(hand_rate),
        "per_child_us": round(per_child_us, 1),
        "with_children_vs_hand_loop": round(full_rate / hand_rate, 3),
        "limit_lines_s": round(most_seconds, 2),
        "hundred_thousand_lines_s": round(huge_seconds, 3),
    }))


if __name__ == "__main__":
    main()
