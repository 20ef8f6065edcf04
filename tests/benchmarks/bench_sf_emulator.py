"""Throughput of the Salesforce org emulator through the real simple-salesforce client.

Run: ``.venv/bin/python tests/benchmarks/bench_sf_emulator.py [--records N]``. Prints
single-record upserts/s and 200-record collection upserts (records/s); the last line is
JSON, so runner benchmarks can check they are not bound by the emulator.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from runner.sandbox.salesforce import salesforce_client, start_emulator  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--records", type=int, default=1000, help="records per measurement (default 1000)"
    )
    args = parser.parse_args(argv)
    count = max(200, args.records)
    with tempfile.TemporaryDirectory() as state:
        handle = start_emulator(Path(state), reset=True)
        try:
            sf = salesforce_client(handle)
            sf.limits()  # warm the connection
            started = time.perf_counter()
            for n in range(count):
                sf.Account.upsert(
                    f"StripeCustomerID__c/cus_single{n}",
                    {"Name": f"Single {n}", "NumberOfEmployees": n},
                )
            single = count / (time.perf_counter() - started)
            print(f"single upserts:          {single:8.0f} records/s ({count} records)")

            batches = max(1, count // 200)
            started = time.perf_counter()
            for batch in range(batches):
                records = [
                    {
                        "attributes": {"type": "Account"},
                        "Name": f"Coll {batch}-{n}",
                        "StripeCustomerID__c": f"cus_coll{batch}_{n}",
                    }
                    for n in range(200)
                ]
                results = sf.restful(
                    "composite/sobjects/Account/StripeCustomerID__c",
                    method="PATCH",
                    json={"allOrNone": False, "records": records},
                )
                if not all(r["success"] for r in results):
                    raise SystemExit(f"collection upsert failed: {results[:1]}")
            collection = batches * 200 / (time.perf_counter() - started)
            print(
                f"collection upserts (200): {collection:8.0f} records/s ({batches * 200} records)"
            )
        finally:
            handle.stop()
    print(
        json.dumps(
            {"single_upsert_rps": round(single, 1), "collection_upsert_rps": round(collection, 1)}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
