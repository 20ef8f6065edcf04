"""Ingress under a burst: N simultaneous signed webhook POSTs against a running runner.

Run: ``.venv/bin/python tests/benchmarks/bench_ingress.py [--concurrent 1000]``.

As ``bench_runner.py`` (whose sandboxes, runner process and events it reuses): the
sandboxes and the runner (``run`` with the charges template, SQLite state) are subprocesses;
this one opens N connections at once (one asyncio task each, all connecting in the same
instant behind one gate), sends one signed ``charge.succeeded`` delivery on each (distinct
events) and reads the answer. Nothing is retried: a delivery whose connection was refused or
reset is counted in ``connection_errors`` and is what Stripe would have to send again.

Then it waits until the runner has processed every acknowledged event, and counts the
Payment__c rows in the org: ``landed`` is the charges of this burst that have a row,
``duplicates`` the rows beyond one per charge. The target (issue 11) is every delivery
acknowledged and landed once: ``acknowledged == landed == N``, 0 errors, 0 duplicates.

``--root DIR`` runs the sandboxes and the runner from another checkout (e.g. a worktree of
an older commit, with ``PYTHONPATH=DIR``), to compare its server with this one on the same
machine. The last line is JSON: ``{"concurrent": N, "acknowledged": A,
"connection_errors": E, "landed": L, "duplicates": D, "posts_per_s": R}`` (+ details).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from runner.sandbox.stripe_events import signed_delivery  # noqa: E402
from tests.benchmarks import bench_runner  # noqa: E402
from tests.benchmarks.bench_runner import (  # noqa: E402
    CUSTOMER,
    RunnerProc,
    Sandboxes,
    _events,
    request_bytes,
    wait_written,
)


def listen_overflows() -> int | None:
    """The kernel's count of connections dropped because a listen backlog was full
    (TcpExt ListenOverflows; Linux only). A dropped SYN is sent again by the client after
    1 s, 3 s, ...: with ``tcp_abort_on_overflow=0`` (the default) an overflowing backlog shows
    as latency, with 1 as resets."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return int(table.get("ListenOverflows", 0))
    return None


async def burst(url: str, requests: list[bytes], timeout: float
                ) -> tuple[list[int], float, list[float]]:
    """Send every request on its own connection, all at once; each one's HTTP status (0: the
    connection failed: refused, reset, closed without an answer or timed out), the seconds
    from the gate opening to the last answer, and each answered request's seconds."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    gate = asyncio.Event()

    latencies: list[float] = []

    async def one(request: bytes) -> int:
        await gate.wait()
        begun = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port)
                try:
                    writer.write(request)
                    await writer.drain()
                    status_line = await reader.readline()
                    await reader.read()  # the rest, until the server closes
                finally:
                    writer.close()
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            return 0
        latencies.append(time.monotonic() - begun)
        fields = status_line.split()
        return int(fields[1]) if len(fields) >= 2 and fields[1].isdigit() else 0

    tasks = [asyncio.create_task(one(r)) for r in requests]
    await asyncio.sleep(0.1)  # every task waiting at the gate
    started = time.monotonic()
    gate.set()
    statuses = await asyncio.gather(*tasks)
    return list(statuses), time.monotonic() - started, latencies


def charge_rows(sf: Any, charge_ids: list[str]) -> Counter[str]:
    """Payment__c rows per charge id among ``charge_ids``."""
    rows: Counter[str] = Counter()
    for start in range(0, len(charge_ids), 200):
        quoted = ", ".join(f"'{c}'" for c in charge_ids[start:start + 200])
        for row in sf.query_all("SELECT StripeChargeID__c FROM Payment__c "
                                f"WHERE StripeChargeID__c IN ({quoted})")["records"]:
            rows[row["StripeChargeID__c"]] += 1
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=1000,
                        help="simultaneous deliveries, one connection each")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds one delivery may take before it counts as failed")
    parser.add_argument("--root", type=Path, default=None,
                        help="run the sandboxes and the runner from this checkout")
    args = parser.parse_args(argv)
    if args.root is not None:
        bench_runner.ROOT = args.root.resolve()  # the subprocesses' working directory

    from tests.runner.e2e.helpers import build_template_bundle

    with tempfile.TemporaryDirectory(prefix="bench-ingress-") as tmp:
        state = Path(tmp)
        bundle = build_template_bundle(state / "charges.fbz", ("charges-payments",))
        sandboxes = Sandboxes(state)
        runner: RunnerProc | None = None
        try:
            sf = sandboxes.client()
            sf.Account.create({"Name": "Bench Customer", "StripeCustomerID__c": CUSTOMER})
            runner = RunnerProc(bundle, sandboxes.json_path, state)
            secret = sandboxes.config["stripe"]["webhook_secret"]
            host = urlsplit(runner.url).netloc

            # Warm-up: the Account lookup, the first Salesforce session.
            warm = [signed_delivery(e, secret) for e in _events(20, "warm")]
            warm_requests = [request_bytes(host, *d, keep_alive=False) for d in warm]
            statuses, _, _ = asyncio.run(burst(runner.url, warm_requests, args.timeout))
            wait_written(runner, statuses.count(200), 60)

            events = _events(args.concurrent, "ingress")
            requests = [request_bytes(host, *signed_delivery(e, secret), keep_alive=False)
                        for e in events]
            base = runner.written()
            overflows = listen_overflows()
            statuses, seconds, latencies = asyncio.run(burst(runner.url, requests,
                                                             args.timeout))
            after = listen_overflows()
            dropped = after - overflows if after is not None and overflows is not None \
                else None
            latencies.sort()
            p50 = latencies[len(latencies) // 2] if latencies else 0.0
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] \
                if latencies else 0.0
            acknowledged = statuses.count(200)
            errors = statuses.count(0)
            others = Counter(s for s in statuses if s not in (0, 200))
            print(f"burst: {args.concurrent} simultaneous deliveries answered in "
                  f"{seconds:.2f} s: {acknowledged} acknowledged, {errors} connection "
                  f"errors, other answers {dict(others) or 'none'}; per delivery p50 "
                  f"{p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms; listen backlog "
                  f"overflows (SYNs dropped, sent again): {dropped}")
            try:
                wait_written(runner, base + acknowledged, 300)
            except SystemExit as exc:  # report what did land
                print(exc)
            time.sleep(1.0)  # anything beyond the acknowledged (a late commit) lands too
            charge_ids = [e["data"]["object"]["id"] for e in events]
            rows = charge_rows(sf, charge_ids)
            landed = len(rows)
            duplicates = sum(n - 1 for n in rows.values())
            print(f"landed: {landed} of {args.concurrent} charges in Salesforce, "
                  f"{duplicates} duplicate rows")
        finally:
            if runner is not None:
                runner.stop()
            sandboxes.stop()

    print(json.dumps({
        "concurrent": args.concurrent,
        "acknowledged": acknowledged,
        "connection_errors": errors,
        "landed": landed,
        "duplicates": duplicates,
        "posts_per_s": round(args.concurrent / seconds, 1),
        "other_answers": {str(k): v for k, v in sorted(others.items())},
        "burst_seconds": round(seconds, 3),
        "p50_ms": round(p50 * 1000, 1),
        "p99_ms": round(p99 * 1000, 1),
        "listen_overflows": dropped,
        "root": str(bench_runner.ROOT),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
