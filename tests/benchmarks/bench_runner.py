"""End-to-end throughput, latency and API economy of the runner on the local sandboxes.

Run: ``.venv/bin/python tests/benchmarks/bench_runner.py [--burst N] [--rate R --seconds S]``.

Three processes, as in production: the sandboxes (``sandbox up --json``), the runner
(``run`` with the charges template, SQLite state; or ``--runners N`` processes sharing a
fresh schema of ``--state postgresql+psycopg://...``, each POST going to the next one) and
this one, which only sends signed ``charge.succeeded`` webhooks and measures:

- burst: N events posted as fast as 8 keep-alive connections allow (prebuilt requests written
  from one asyncio loop, so that the sender costs little of the CPU it shares with the
  runner); events/s from the first post to the last Payment__c row written; Salesforce
  API calls per record from the org's daily-usage counter (``/limits``) before and after
  (the reading call itself subtracted);
- steady: R events/s for S seconds; webhook-to-Salesforce latency per record = the row's
  ``CreatedDate`` (millisecond precision, same clock) minus the moment its POST started;
- baseline: the naive way, in this process: map each event with the same compiled plan and
  upsert it with its own REST call.

The last line is JSON: ``events_per_s``, ``p50_ms``, ``p99_ms``, ``api_calls_per_record``,
``baseline_api_calls_per_record``, ``baseline_events_per_s`` (+ details, among them
``load_avg_1m``: the machine's 1-minute load average before and after the run, and the CPU
each party spent per burst event: ``runner_cpu_ms_per_event`` (every runner process),
``sandbox_cpu_ms_per_event`` (the Salesforce emulator and localstripe),
``sender_cpu_ms_per_event`` (this process's sender), ``postgresql_cpu_ms_per_event`` (the
machine's PostgreSQL server, whoever uses it: near 0 on SQLite). On two shared cores,
1,000 events/s needs their sum well under 2 ms.

``--invoices-with-lines L`` adds a phase with the invoices-orders template (a runner of its
own, after the charges): ``--invoices`` ``invoice.paid`` webhooks whose invoices have L lines
each (Stripe's shapes, complete payloads) become Orders with L OrderItems, one all-or-none
composite graph per invoice. It reports Salesforce API calls per parent (invoice) beside the
naive integration measured in the same run: one REST upsert per record, the Order and then
each of its items (L + 1 calls). JSON keys ``invoice_calls_per_parent`` and
``invoice_naive_calls_per_parent`` (null without the flag), ``invoice_lines``,
``invoice_parents``, ``invoices_per_s``.

``--profile FILE`` samples the runner with py-spy (``pip install py-spy``; not a project
dependency) while it runs: collapsed stacks per thread of whoever holds the GIL, i.e. where
the runner's CPU goes. Profiling slows the runner: take the figures from a run without it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from runner.sandbox.stripe_events import make_event, signed_delivery  # noqa: E402

WRITTEN = re.compile(r'^fieldbridge_events_processed_total\{[^}]*outcome="written"[^}]*\} '
                     r'([0-9.e+]+)$', re.M)
CUSTOMER = "cus_benchCustomer01"


def _events(n: int, tag: str) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        event = make_event("charge.succeeded", overrides={
            "id": f"ch_{tag}{i:06d}", "customer": CUSTOMER, "amount": 1000 + i,
            "currency": "usd", "description": f"bench {tag} {i}"})
        out.append(event)
    return out


class Sandboxes:
    def __init__(self, state: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runner.cli", "sandbox", "up", "--json", "--reset",
             "--state-dir", str(state / "sandbox")],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("{"):
            self.stop()
            raise SystemExit("sandbox up did not print its JSON")
        self.config = json.loads(line)
        self.json_path = state / "sandbox.json"
        self.json_path.write_text(line)
        self.json_path.chmod(0o600)

    def client(self) -> Any:
        from simple_salesforce import Salesforce

        sf = self.config["salesforce"]
        session = requests.Session()
        session.verify = sf["ca_file"]
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        return Salesforce(instance_url=sf["instance_url"], session_id=sf["access_token"],
                          session=session, version=sf.get("api_version", "62.0"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class RunnerProc:
    def __init__(self, bundle: Path, sandbox_json: Path, state: Path,
                 profile: Path | None = None, *, state_url: str | None = None,
                 name: str = "runner") -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = state / f"{name}.log"
        self.log = self.log_path.open("wb")
        env = dict(os.environ, FIELDBRIDGE_LOG_LEVEL="WARNING")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runner.cli", "run", str(bundle), "--sandbox",
             str(sandbox_json), "--state", state_url or f"sqlite:///{state / 'state.sqlite'}",
             "--listen", f"127.0.0.1:{port}"], cwd=ROOT, env=env, stderr=self.log)
        self.profiler: subprocess.Popen[bytes] | None = None
        if profile is not None:
            # Collapsed stacks of every thread (idle ones left out), to find the costs.
            self.profiler = subprocess.Popen(
                [str(Path(sys.executable).with_name("py-spy")), "record", "--format", "raw",
                 "--threads", "--gil", "--rate", "250", "-o", str(profile), "--pid",
                 str(self.proc.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the runner exited with {self.proc.returncode}; see "
                                 f"{self.log_path}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise SystemExit("the runner did not become healthy")

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid)

    def written(self) -> int:
        text = requests.get(f"{self.url}/metrics", timeout=5).text
        return int(sum(float(m) for m in WRITTEN.findall(text)))

    def stop(self) -> None:
        if self.profiler is not None:
            self.profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            try:
                self.profiler.wait(30)
            except subprocess.TimeoutExpired:
                self.profiler.kill()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


class Fleet:
    """Several runner processes on one state database, behind a round-robin balancer (each
    POST goes to the next runner): ``written()`` is their sum."""

    def __init__(self) -> None:
        self.runners: list[RunnerProc] = []
        self.hooks: list[str] = []

    def add(self, runner: RunnerProc) -> None:
        self.runners.append(runner)
        self.hooks.append(f"{runner.url}/webhooks/stripe")

    def written(self) -> int:
        return sum(r.written() for r in self.runners)

    def cpu_seconds(self) -> float:
        return sum(r.cpu_seconds() for r in self.runners)

    def stop(self) -> None:
        for runner in self.runners:
            runner.stop()


@contextmanager
def fresh_state(url: str | None, state: Path) -> Iterator[str]:
    """The state URL for this run: a SQLite file in ``state``, or for PostgreSQL a fresh
    schema on ``url``'s database (dropped afterwards), so that every run starts empty."""
    if url is None or url.startswith("sqlite"):
        yield url or f"sqlite:///{state / 'state.sqlite'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    schema = f"bench_{os.getpid()}_{int(time.time())}"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(url).update_query_dict(
            {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def _process_stats() -> dict[int, tuple[str, int, float]]:
    """pid -> (command name, parent pid, user + system CPU seconds), from Linux ``/proc``
    (empty elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[str, int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, rest = (entry / "stat").read_text().split(" (", 1)[1].rsplit(")", 1)
        except (OSError, ValueError):
            continue
        fields = rest.split()
        stats[int(entry.name)] = (name, int(fields[1]),
                                  (int(fields[11]) + int(fields[12])) / tick)
    return stats


def database_cpu_seconds() -> float:
    """CPU seconds of the machine's PostgreSQL server processes (the shared state database
    runs beside the runners, on the same cores)."""
    return sum(cpu for name, _, cpu in _process_stats().values() if name == "postgres")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and every live descendant (Linux
    ``/proc``; 0 elsewhere): what a process costs whatever else the shared machine runs."""
    stats = {p: (parent, cpu) for p, (_, parent, cpu) in _process_stats().items()}
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo.extend(child for child, (parent, _) in stats.items() if parent == current)
    return total


def api_used(sf: Any) -> int:
    limits = sf.restful("limits")["DailyApiRequests"]
    return int(limits["Max"]) - int(limits["Remaining"])


def request_bytes(host: str, body: bytes, headers: dict[str, str], *,
                  path: str = "/webhooks/stripe", keep_alive: bool = True) -> bytes:
    """One whole HTTP/1.1 POST, built before the clock starts (as Stripe's sender would have
    its delivery ready): the load generator then only writes bytes and reads answers."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}",
             *([] if keep_alive else ["Connection: close"]),
             *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """One HTTP/1.1 answer: its status, body and whether the server keeps the connection."""
    status_line = await reader.readuntil(b"\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    length, keep = 0, True
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
    body = await reader.readexactly(length) if length else b""
    return int(status_line.split()[1]), body, keep


def post_all(url: str | list[str], bodies: list[tuple[bytes, dict]], threads: int,
             pace: float | None = None) -> list[float]:
    """POST every body over ``threads`` keep-alive connections (spread over several URLs,
    body i going to URL i mod their number); the wall-clock time each POST started
    (index-aligned). ``pace``: body i is sent no earlier than i/pace seconds after the start.

    One asyncio loop writing prebuilt requests: with requests' Session in 8 threads the
    generator took about 1.1 ms of CPU per POST, as much as the runner it measures, on the
    same two cores (issue 12)."""
    return asyncio.run(_post_all([url] if isinstance(url, str) else url, bodies, threads,
                                 pace))


async def _post_all(urls: list[str], bodies: list[tuple[bytes, dict]], connections: int,
                    pace: float | None) -> list[float]:
    started = [0.0] * len(bodies)
    targets = [urlsplit(u) for u in urls]
    raw = [request_bytes(targets[i % len(urls)].netloc, body, headers,
                         path=targets[i % len(urls)].path)
           for i, (body, headers) in enumerate(bodies)]
    queues = [deque(range(k, len(bodies), len(urls))) for k in range(len(urls))]
    t0 = time.monotonic()

    async def connection(k: int) -> None:
        target, queue = targets[k], queues[k]
        reader = writer = None
        try:
            while queue:
                i = queue.popleft()
                if pace:
                    delay = t0 + i / pace - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                if writer is None:
                    reader, writer = await asyncio.open_connection(target.hostname,
                                                                   target.port)
                    writer.get_extra_info("socket").setsockopt(
                        socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                started[i] = time.time()
                writer.write(raw[i])
                assert reader is not None
                status, answer, keep = await asyncio.wait_for(read_answer(reader), 30)
                if status != 200:
                    raise RuntimeError(f"webhook answered {status}: {answer[:200]!r}")
                if not keep:
                    writer.close()
                    reader = writer = None
        finally:
            if writer is not None:
                writer.close()

    per_url = max(1, -(-connections // len(urls)))
    await asyncio.gather(*(connection(k) for k in range(len(urls)) for _ in range(per_url)))
    return started


def wait_written(runner: RunnerProc | Fleet, target: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runner.written() >= target:
            return time.time()
        time.sleep(0.02)
    raise SystemExit(f"only {runner.written()} of {target} records written in {timeout:g} s")


def created_times(sf: Any, charge_ids: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for start in range(0, len(charge_ids), 200):
        quoted = ", ".join(f"'{c}'" for c in charge_ids[start:start + 200])
        for row in sf.query_all("SELECT StripeChargeID__c, CreatedDate FROM Payment__c "
                                f"WHERE StripeChargeID__c IN ({quoted})")["records"]:
            stamp = row["CreatedDate"].replace("+0000", "+00:00").replace("Z", "+00:00")
            out[row["StripeChargeID__c"]] = datetime.fromisoformat(stamp).timestamp()
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def baseline(sf: Any, bundle: Path, events: list[dict]) -> tuple[float, float]:
    """Map with the same plan, one upsert call per record; (events/s, calls per record)."""
    from mappings.bundle import load_bundle
    from mappings.engine.result import json_safe
    from runner.pipeline.bundle_runtime import LoadedBundle

    compiled = LoadedBundle.from_bundle(load_bundle(bundle)).flow("charge-to-payment")
    account = sf.query(f"SELECT Id FROM Account WHERE StripeCustomerID__c = '{CUSTOMER}'")
    account_id = account["records"][0]["Id"]
    before = api_used(sf)
    t0 = time.monotonic()
    for event in events:
        # The naive integration looks the Account up for every record, then upserts it.
        sf.query(f"SELECT Id FROM Account WHERE StripeCustomerID__c = '{CUSTOMER}'")
        result = compiled.plan.apply(event, lambda *_: account_id)
        record = {k: v for k, v in json_safe(result.record).items() if k != "StripeChargeID__c"}
        sf.Payment__c.upsert(f"StripeChargeID__c/{event['data']['object']['id']}", record)
    seconds = time.monotonic() - t0
    calls = api_used(sf) - before - 1  # the reading call itself
    return len(events) / seconds, calls / len(events)


def seed_prices(sf: Any, lines: int) -> dict[str, str]:
    """One Product2 with an active standard USD PricebookEntry per invoice line (keyed by
    its Stripe product and currency, as the invoices-orders lines look it up); price id ->
    entry Id."""
    standard = sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0]["Id"]
    entries = {}
    for n in range(lines):
        product = sf.Product2.create({"Name": f"Bench seat pack {n}", "IsActive": True})["id"]
        price = f"price_benchLine{n:04d}"
        entries[price] = sf.PricebookEntry.create({
            "Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 10 + n,
            "IsActive": True, "StripePriceID__c": price,
            "StripeProductCurrency__c": f"prod_benchLine{n:04d}|USD"})["id"]
    return entries


def _invoices(count: int, lines: int, tag: str, first: int) -> list[dict[str, Any]]:
    """Invoices ``first``.. of ``lines`` lines; line ids are unique across calls whose ranges
    do not overlap (as Stripe's are)."""
    from mappings.templates.tools.invoice_fixtures import event, invoice_with_lines, line

    out = []
    for k in range(first, first + count):
        invoice = f"in_bench{tag}{k:06d}"
        items = [line(1000 * k + n, invoice=invoice, price=f"price_benchLine{n:04d}",
                      product=f"prod_benchLine{n:04d}",
                      quantity=1 + n % 3, unit_amount=500 + 100 * n) for n in range(lines)]
        data = event("invoice.paid", invoice_with_lines(items, id=invoice, customer=CUSTOMER),
                     k)
        data["id"] = f"evt_bench{tag}{k:06d}"
        out.append(data)
    return out


def invoice_phase(sandboxes: Sandboxes, sf: Any, state: Path, args: argparse.Namespace
                  ) -> dict[str, Any]:
    """Invoices with ``args.invoices_with_lines`` lines through the invoices-orders template,
    and the naive one-call-per-record way; Salesforce API calls per invoice for each."""
    from tests.runner.e2e.helpers import build_template_bundle

    lines = args.invoices_with_lines
    bundle = build_template_bundle(state / "invoices.fbz", ("invoices-orders",))
    seed_prices(sf, lines)
    secret = sandboxes.config["stripe"]["webhook_secret"]
    runner = RunnerProc(bundle, sandboxes.json_path, state,
                        state_url=f"sqlite:///{state / 'invoices.sqlite'}", name="invoices")
    try:
        hook = f"{runner.url}/webhooks/stripe"
        # Warm-up: connections; the Account, the standard price book and the entries looked
        # up once (then the Account and entries are in the cross-reference table).
        warm = _invoices(10, lines, "Warm", 0)
        post_all(hook, [signed_delivery(e, secret) for e in warm], args.threads)
        wait_written(runner, len(warm), 120)
        invoices = _invoices(args.invoices, lines, "Run", 10)
        bodies = [signed_delivery(e, secret) for e in invoices]
        used_before = api_used(sf)
        base = runner.written()
        t0 = time.time()
        post_all(hook, bodies, args.threads)
        t_end = wait_written(runner, base + len(invoices), 300)
        calls = api_used(sf) - used_before - 1  # the reading call itself
    finally:
        runner.stop()
    items = sf.query("SELECT COUNT() FROM OrderItem WHERE Order.StripeInvoiceID__c LIKE "
                     "'in_benchRun%'")["totalSize"]
    if items != len(invoices) * lines:
        raise SystemExit(f"{items} OrderItems written, {len(invoices) * lines} expected")
    per_parent = calls / len(invoices)
    rate = len(invoices) / (t_end - t0)
    print(f"invoices: {len(invoices)} invoices of {lines} lines: {rate:.0f} invoices/s, "
          f"{calls} Salesforce API calls ({per_parent:.3f} per invoice)")
    naive = naive_invoices(sf, bundle, _invoices(args.invoice_baseline, lines, "Naive",
                                                 10 + args.invoices))
    print(f"invoices, naive (one call per record): {naive:.2f} API calls per invoice")
    return {"invoice_calls_per_parent": round(per_parent, 4),
            "invoice_naive_calls_per_parent": round(naive, 3),
            "invoice_lines": lines, "invoice_parents": len(invoices),
            "invoices_per_s": round(rate, 1)}


def naive_invoices(sf: Any, bundle: Path, events: list[dict]) -> float:
    """Map with the same plan (lookups answered in this process, as a cache would), then one
    REST upsert per record: the Order, then each item naming its Order by external id."""
    from mappings.bundle import load_bundle
    from mappings.engine.result import json_safe
    from runner.pipeline.bundle_runtime import LoadedBundle

    compiled = LoadedBundle.from_bundle(load_bundle(bundle)).flow("invoice-to-order-with-items")
    found: dict[tuple[str, str, str], str] = {}
    for obj, field, soql in (
            ("Account", "StripeCustomerID__c",
             f"SELECT Id, StripeCustomerID__c FROM Account WHERE StripeCustomerID__c = "
             f"'{CUSTOMER}'"),
            ("Pricebook2", "IsStandard", "SELECT Id, IsStandard FROM Pricebook2 WHERE "
                                         "IsStandard = true"),
            ("PricebookEntry", "StripeProductCurrency__c", "SELECT Id, "
             "StripeProductCurrency__c FROM PricebookEntry WHERE StripeProductCurrency__c "
             "LIKE 'prod_benchLine%'")):
        for row in sf.query_all(soql)["records"]:
            found[(obj, field, str(row[field]))] = row["Id"]
    before = api_used(sf)
    for event in events:
        result = compiled.plan.apply(event, lambda o, f, v: found.get((o, f, str(v))))
        invoice = event["data"]["object"]["id"]
        order = {k: v for k, v in json_safe(result.record).items() if k != "StripeInvoiceID__c"}
        sf.Order.upsert(f"StripeInvoiceID__c/{invoice}", order)
        for child in result.children["OrderItems"]:
            item = json_safe(child.record)
            key = item.pop("StripeLineItemID__c")
            sf.OrderItem.upsert(f"StripeLineItemID__c/{key}",
                                {**item, "Order": {"StripeInvoiceID__c": invoice}})
    calls = api_used(sf) - before - 1  # the reading call itself
    return calls / len(events)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=3000, help="events in the burst")
    parser.add_argument("--rate", type=float, default=100.0, help="steady events/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="steady duration")
    parser.add_argument("--baseline", type=int, default=300, help="baseline records")
    parser.add_argument("--threads", type=int, default=8, help="sender connections")
    parser.add_argument("--profile", type=Path, default=None,
                        help="run the runner under py-spy and write its collapsed stacks here")
    parser.add_argument("--runners", type=int, default=1,
                        help="runner processes sharing the state database (round-robin)")
    parser.add_argument("--state", default=None,
                        help="state database: a fresh schema is made on a PostgreSQL URL "
                             "(default: a SQLite file)")
    parser.add_argument("--invoices-with-lines", type=int, default=0, metavar="L",
                        help="also measure invoices of L lines through the invoices-orders "
                             "template (API calls per invoice beside one call per record)")
    parser.add_argument("--invoices", type=int, default=200,
                        help="invoices sent with --invoices-with-lines")
    parser.add_argument("--invoice-baseline", type=int, default=20,
                        help="invoices written the naive way with --invoices-with-lines")
    args = parser.parse_args(argv)
    if args.runners < 1:
        parser.error("--runners must be at least 1")
    if not 0 <= args.invoices_with_lines <= 499:
        parser.error("--invoices-with-lines must be from 0 to 499 (an invoice and its lines "
                     "are one graph of at most 500 records)")
    if args.invoices < 1 or args.invoice_baseline < 1:
        parser.error("--invoices and --invoice-baseline must be at least 1")

    from tests.runner.e2e.helpers import build_template_bundle

    load_before = os.getloadavg()[0]  # the machine is shared: read figures beside its load
    with tempfile.TemporaryDirectory(prefix="bench-runner-") as tmp, \
            fresh_state(args.state, Path(tmp)) as state_url:
        state = Path(tmp)
        bundle = build_template_bundle(state / "charges.fbz", ("charges-payments",))
        sandboxes = Sandboxes(state)
        runner: Fleet | None = None
        try:
            sf = sandboxes.client()
            sf.Account.create({"Name": "Bench Customer", "StripeCustomerID__c": CUSTOMER})
            runner = Fleet()  # stopped in `finally` even if a later one fails to start
            for n in range(args.runners):
                runner.add(RunnerProc(
                    bundle, sandboxes.json_path, state, args.profile if n == 0 else None,
                    state_url=state_url, name=f"runner{n}"))
            secret = sandboxes.config["stripe"]["webhook_secret"]
            hook = runner.hooks

            # Warm-up: connections, the Account lookup (then in the cross-reference table).
            warm = _events(50, "warm")
            post_all(hook, [signed_delivery(e, secret) for e in warm], args.threads)
            wait_written(runner, len(warm), 60)

            # Burst.
            burst = _events(args.burst, "burst")
            bodies = [signed_delivery(e, secret) for e in burst]
            used_before = api_used(sf)
            base = runner.written()
            cpu_before = (runner.cpu_seconds(), cpu_seconds(sandboxes.proc.pid),
                          database_cpu_seconds())
            t0 = time.time()
            sender_cpu = time.process_time()
            post_all(hook, bodies, args.threads)
            sender_cpu = time.process_time() - sender_cpu
            posted = time.time()
            t_end = wait_written(runner, base + len(burst), 300)
            cpu_ms = {  # CPU per event of each party: the machine's load does not move these
                "runner_cpu_ms_per_event": runner.cpu_seconds() - cpu_before[0],
                "sandbox_cpu_ms_per_event": cpu_seconds(sandboxes.proc.pid) - cpu_before[1],
                "sender_cpu_ms_per_event": sender_cpu,
                "postgresql_cpu_ms_per_event": database_cpu_seconds() - cpu_before[2]}
            cpu_ms = {k: round(v * 1000 / len(burst), 3) for k, v in cpu_ms.items()}
            burst_calls = api_used(sf) - used_before - 1
            events_per_s = len(burst) / (t_end - t0)
            print(f"burst: {len(burst)} events posted in {posted - t0:.2f} s, all written "
                  f"after {t_end - t0:.2f} s: {events_per_s:.0f} events/s; "
                  f"{burst_calls} Salesforce API calls "
                  f"({burst_calls / len(burst):.4f} per record); CPU per event: runner "
                  f"{cpu_ms['runner_cpu_ms_per_event']:.2f} ms, Salesforce and Stripe "
                  f"sandboxes {cpu_ms['sandbox_cpu_ms_per_event']:.2f} ms, sender "
                  f"{cpu_ms['sender_cpu_ms_per_event']:.2f} ms, PostgreSQL "
                  f"{cpu_ms['postgresql_cpu_ms_per_event']:.2f} ms")
            burst_ids = [e["data"]["object"]["id"] for e in burst]
            created = created_times(sf, burst_ids)
            if len(created) != len(burst):
                raise SystemExit(f"{len(burst) - len(created)} burst records missing")

            # Steady rate.
            steady = _events(int(args.rate * args.seconds), "steady")
            bodies = [signed_delivery(e, secret) for e in steady]
            base = runner.written()
            sent = post_all(hook, bodies, args.threads, pace=args.rate)
            wait_written(runner, base + len(steady), 120)
            ids = [e["data"]["object"]["id"] for e in steady]
            created = created_times(sf, ids)
            latencies = [(created[c] - sent[i]) * 1000 for i, c in enumerate(ids)]
            p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
            print(f"steady: {len(steady)} events at {args.rate:g}/s: webhook-to-Salesforce "
                  f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {max(latencies):.0f} ms")
        finally:
            if runner is not None:
                runner.stop()

        invoice_figures: dict[str, Any] = {"invoice_calls_per_parent": None,
                                           "invoice_naive_calls_per_parent": None}
        try:
            base_events = _events(args.baseline, "naive")
            base_rate, base_calls = baseline(sf, bundle, base_events)
            print(f"baseline (one call per record): {base_rate:.0f} events/s, "
                  f"{base_calls:.2f} API calls per record")
            if args.invoices_with_lines:
                invoice_figures = invoice_phase(sandboxes, sf, state, args)
        finally:
            sandboxes.stop()

    print(json.dumps({
        "events_per_s": round(events_per_s, 1),
        "p50_ms": round(p50, 1),
        "p99_ms": round(p99, 1),
        "api_calls_per_record": round(burst_calls / len(burst), 4),
        "baseline_api_calls_per_record": round(base_calls, 3),
        "baseline_events_per_s": round(base_rate, 1),
        "burst_events": len(burst),
        "steady_rate": args.rate,
        "steady_events": len(steady),
        "runners": args.runners,
        "state": "sqlite" if state_url.startswith("sqlite") else "postgresql",
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        **cpu_ms,
        **invoice_figures,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
