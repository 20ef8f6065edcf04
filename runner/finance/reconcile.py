"""Payout reconciliation: Stripe balance transactions against the Payment__c rows in Salesforce.

:func:`reconcile` is pure. For each payout of the period it walks the payout's balance
transactions (Stripe lists them with ``GET /v1/balance_transactions?payout=po_...``; a payout
does not list its charges) and classifies each one:

- ``matched``: a Payment__c row with the charge id (or balance transaction id) holds the
  same amount and currency (and fee/net when Salesforce has them);
- ``missing_in_salesforce``: no Payment__c row for the charge;
- ``amount_mismatch``: the row exists but amount, currency, fee, net or refunded amount
  differ; the reason names each difference;
- ``not_synced``: a balance transaction no flow writes (Stripe fees, adjustments,
  disputes): counted in fees and nets, never an error.

Payment__c rows of the period that no balance transaction explains are
``orphan_in_salesforce``. Per payout the sum of the balance transactions' nets must equal the
payout amount, and a Payout__c row must mirror it. Totals come per currency and per
(Account, currency): amounts in different currencies are never added up.

Balance transactions under the payout key ``None`` are those of the period not (yet) in a
payout; they are reconciled the same way, without a payout check. The Stripe sandbox has no
payout links at all, so there everything lands there.

:func:`gather` collects the inputs through the connectors; :func:`fix` resyncs the missing
and mismatched charges through the normal flows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal

from mappings.transforms.currency import currency_exponent
from runner.errors import RunnerError

if TYPE_CHECKING:
    from runner.connectors.salesforce import SalesforceConnector
    from runner.connectors.stripe import StripeConnector
    from runner.pipeline.processor import Processor, ProcessReport
    from runner.state.store import StateStore

log = logging.getLogger(__name__)

Status = Literal["matched", "missing_in_salesforce", "amount_mismatch", "orphan_in_salesforce",
                 "not_synced"]
STATUSES: tuple[Status, ...] = ("matched", "missing_in_salesforce", "amount_mismatch",
                                "orphan_in_salesforce", "not_synced")
PROBLEMS = ("missing_in_salesforce", "amount_mismatch", "orphan_in_salesforce")
# Balance transaction types a Payment__c row stands for.
PAYMENT_TYPES = frozenset({"charge", "payment"})
REFUND_TYPES = frozenset({"refund", "payment_refund"})
NO_ACCOUNT = "(no account)"
FIX_SOURCE = "reconcile"


class ReconcileError(RunnerError):
    """The reconciliation inputs are unusable."""


def to_major(minor: Any, currency: str) -> Decimal:
    """Stripe minor units to a Decimal in major units."""
    if isinstance(minor, bool) or not isinstance(minor, int | str):
        raise ReconcileError(f"amount {minor!r} is not an integer count of minor units")
    try:
        return Decimal(int(minor)).scaleb(-currency_exponent(currency))
    except (ValueError, InvalidOperation) as exc:
        raise ReconcileError(f"amount {minor!r} is not an integer count of minor units") \
            from exc
    except Exception as exc:  # an unknown currency code (TransformError)
        raise ReconcileError(f"unknown currency {currency!r}") from exc


def _decimal(value: Any) -> Decimal | None:
    """A Salesforce number (JSON float or text) as a Decimal; None when empty."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _money(value: Decimal | None, currency: str) -> str:
    if value is None:
        return "-"
    try:
        places = currency_exponent(currency)
    except Exception:  # noqa: BLE001 - display only
        places = 2
    return f"{value:,.{places}f} {currency.upper()}"


@dataclass(slots=True)
class ReconLine:
    status: Status
    currency: str  # upper case
    account: str
    stripe_id: str | None  # the charge (refund, fee...) the balance transaction is for
    balance_transaction: str | None
    payout: str | None
    kind: str  # the balance transaction type, or "payment" for an orphan row
    stripe_amount: Decimal | None = None
    sf_amount: Decimal | None = None
    fee: Decimal = Decimal(0)
    net: Decimal = Decimal(0)
    sf_id: str | None = None
    charge: str | None = None  # the charge to resync (refunds: the refunded charge)
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "currency": self.currency, "account": self.account,
            "stripe_id": self.stripe_id, "balance_transaction": self.balance_transaction,
            "payout": self.payout, "kind": self.kind,
            "stripe_amount": _json_num(self.stripe_amount), "sf_amount": _json_num(self.sf_amount),
            "fee": _json_num(self.fee), "net": _json_num(self.net), "sf_id": self.sf_id,
            "charge": self.charge, "reason": self.reason,
        }


def _json_num(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass(slots=True)
class PayoutCheck:
    payout: str
    currency: str
    amount: Decimal
    bt_net_total: Decimal
    transactions: int
    arrival_date: int | None = None
    sf_id: str | None = None
    sf_amount: Decimal | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def difference(self) -> Decimal:
        return self.bt_net_total - self.amount

    def to_dict(self) -> dict[str, Any]:
        return {"payout": self.payout, "currency": self.currency, "amount": str(self.amount),
                "bt_net_total": str(self.bt_net_total), "difference": str(self.difference),
                "transactions": self.transactions, "arrival_date": self.arrival_date,
                "sf_id": self.sf_id, "sf_amount": _json_num(self.sf_amount), "ok": self.ok,
                "problems": list(self.problems)}


@dataclass(slots=True)
class Totals:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    gross: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    net: Decimal = Decimal(0)

    def add(self, line: ReconLine) -> None:
        self.counts[line.status] += 1
        if line.status != "orphan_in_salesforce":
            self.gross += line.stripe_amount or Decimal(0)
            self.fees += line.fee
            self.net += line.net

    def to_dict(self) -> dict[str, Any]:
        return {**self.counts, "gross": str(self.gross), "fees": str(self.fees),
                "net": str(self.net)}


@dataclass(slots=True)
class ReconciliationReport:
    lines: list[ReconLine] = field(default_factory=list)
    payouts: list[PayoutCheck] = field(default_factory=list)
    by_currency: dict[str, Totals] = field(default_factory=dict)
    by_account: dict[tuple[str, str], Totals] = field(default_factory=dict)  # (account, cur)
    since: int | None = None
    until: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems() and all(p.ok for p in self.payouts)

    def problems(self) -> list[ReconLine]:
        return [line for line in self.lines if line.status in PROBLEMS]

    def count(self, status: Status) -> int:
        return sum(1 for line in self.lines if line.status == status)

    def charges_to_fix(self) -> list[str]:
        """Charges whose Payment__c is missing or wrong, in report order, each once."""
        seen: dict[str, None] = {}
        for line in self.lines:
            if line.status in ("missing_in_salesforce", "amount_mismatch") and line.charge:
                seen.setdefault(line.charge, None)
        return list(seen)

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since, "until": self.until, "ok": self.ok,
            "summary": {s: self.count(s) for s in STATUSES},
            "by_currency": {c: t.to_dict() for c, t in sorted(self.by_currency.items())},
            "by_account": [{"account": a, "currency": c, **t.to_dict()}
                           for (a, c), t in sorted(self.by_account.items())],
            "payouts": [p.to_dict() for p in self.payouts],
            "lines": [line.to_dict() for line in self.lines],
        }


def _account_name(row: Mapping[str, Any]) -> str | None:
    rel = row.get("Account__r")
    if isinstance(rel, Mapping) and isinstance(rel.get("Name"), str):
        return rel["Name"]
    for key in ("AccountName", "Account"):
        if isinstance(row.get(key), str):
            return row[key]
    return row.get("Account__c") if isinstance(row.get("Account__c"), str) else None


def _source_id(bt: Mapping[str, Any]) -> str | None:
    src = bt.get("source")
    if isinstance(src, Mapping):
        return src.get("id")
    return src if isinstance(src, str) else None


def _refunded_charge(bt: Mapping[str, Any], refunds: Mapping[str, str]) -> str | None:
    src = bt.get("source")
    if isinstance(src, Mapping):
        charge = src.get("charge")
        return charge.get("id") if isinstance(charge, Mapping) else charge
    return refunds.get(src) if isinstance(src, str) else None


def _check_list(name: str, value: Any) -> None:
    if not isinstance(value, list | tuple):
        raise ReconcileError(f"{name} must be a list, got {type(value).__name__}")
    for item in value:
        if not isinstance(item, Mapping):
            raise ReconcileError(f"{name} must hold objects, found {item!r}")


def reconcile(payouts: Sequence[Mapping[str, Any]],
              balance_transactions: Mapping[str | None, Sequence[Mapping[str, Any]]],
              sf_payments: Sequence[Mapping[str, Any]],
              sf_payouts: Sequence[Mapping[str, Any]] = (), *,
              refunds: Mapping[str, str] | None = None,
              charges: Mapping[str, Mapping[str, Any]] | None = None,
              since: int | None = None, until: int | None = None) -> ReconciliationReport:
    """Classify every balance transaction of the period and every Payment__c row.

    ``refunds`` maps refund id -> charge id (for refund balance transactions whose source is
    not expanded); ``charges`` maps charge id -> charge, used to name the customer of a
    charge Salesforce does not have.
    """
    _check_list("payouts", payouts)
    _check_list("sf_payments", sf_payments)
    _check_list("sf_payouts", sf_payouts)
    if not isinstance(balance_transactions, Mapping):
        raise ReconcileError("balance_transactions must map payout ids to lists")
    refunds = refunds or {}
    charges = charges or {}
    by_charge: dict[str, Mapping[str, Any]] = {}
    by_bt: dict[str, Mapping[str, Any]] = {}
    for row in sf_payments:
        if isinstance(row.get("StripeChargeID__c"), str):
            by_charge[row["StripeChargeID__c"]] = row
        if isinstance(row.get("StripeBalanceTransactionID__c"), str):
            by_bt[row["StripeBalanceTransactionID__c"]] = row
    report = ReconciliationReport(since=since, until=until)
    explained: set[int] = set()  # id() of the rows some balance transaction accounts for
    refunded_in_period: dict[str, Decimal] = {}

    known_payouts = {p.get("id") for p in payouts}
    order: list[str | None] = [p.get("id") for p in payouts]
    order += [k for k in balance_transactions if k not in known_payouts]
    for payout_id in order:
        for bt in balance_transactions.get(payout_id, ()):
            if not isinstance(bt, Mapping) or not isinstance(bt.get("id"), str):
                raise ReconcileError(f"balance transaction without an id under payout "
                                     f"{payout_id}: {bt!r}")
            if bt.get("type") == "payout":
                continue  # the payout's own transaction: it is the sum, not a part
            line = _classify(bt, payout_id, by_charge, by_bt, refunds, charges,
                             refunded_in_period, explained)
            report.lines.append(line)

    for row in sf_payments:
        if id(row) in explained:
            continue
        status = str(row.get("Status__c") or "")
        if status in ("Failed", "Pending"):
            continue  # no money moved: no balance transaction to expect
        currency = str(row.get("Currency__c") or "").upper()
        report.lines.append(ReconLine(
            "orphan_in_salesforce", currency, _account_name(row) or NO_ACCOUNT,
            row.get("StripeChargeID__c"), row.get("StripeBalanceTransactionID__c"), None,
            "payment", None, _decimal(row.get("Amount__c")), sf_id=row.get("Id"),
            reason=f"Payment__c {row.get('Id')} ({row.get('StripeChargeID__c')}, "
                   f"{_money(_decimal(row.get('Amount__c')), currency or 'usd')}) has no "
                   "balance transaction in the period"))

    sf_payout_rows = {r.get("StripePayoutID__c"): r for r in sf_payouts}
    for payout in payouts:
        report.payouts.append(_check_payout(payout, balance_transactions.get(payout.get("id"),
                                                                             ()),
                                            sf_payout_rows.get(payout.get("id"))))
    for line in report.lines:
        report.by_currency.setdefault(line.currency, Totals()).add(line)
        report.by_account.setdefault((line.account, line.currency), Totals()).add(line)
    return report


def _classify(bt: Mapping[str, Any], payout_id: str | None,
              by_charge: Mapping[str, Mapping[str, Any]], by_bt: Mapping[str, Mapping[str, Any]],
              refunds: Mapping[str, str], charges: Mapping[str, Mapping[str, Any]],
              refunded_in_period: dict[str, Decimal], explained: set[int]) -> ReconLine:
    currency = str(bt.get("currency") or "")
    cur = currency.upper()
    kind = str(bt.get("type") or "")
    amount = to_major(bt.get("amount", 0), currency)
    fee = to_major(bt.get("fee", 0) or 0, currency)
    net = to_major(bt.get("net", bt.get("amount", 0)), currency)
    source = _source_id(bt)
    line = ReconLine("matched", cur, NO_ACCOUNT, source, bt["id"], payout_id, kind, amount,
                     fee=fee, net=net)
    if kind in PAYMENT_TYPES:
        row = by_bt.get(bt["id"]) or (by_charge.get(source) if source else None)
        line.charge = source
    elif kind in REFUND_TYPES:
        charge_id = _refunded_charge(bt, refunds)
        row = by_charge.get(charge_id) if charge_id else None
        line.charge = charge_id
    else:
        line.status = "not_synced"
        line.reason = f"{kind or 'unknown'} balance transaction: no flow writes it"
        return line

    charge = charges.get(line.charge or "") or {}
    if row is None:
        customer = charge.get("customer")
        line.account = customer if isinstance(customer, str) else NO_ACCOUNT
        line.status = "missing_in_salesforce"
        what = f"charge {source}" if kind in PAYMENT_TYPES else \
            f"refund {source} of charge {line.charge or '(unknown charge)'}"
        line.reason = f"{what} ({_money(amount, cur)}) has no Payment__c in Salesforce"
        return line

    explained.add(id(row))
    line.sf_id = row.get("Id")
    line.account = _account_name(row) or NO_ACCOUNT
    sf_cur = str(row.get("Currency__c") or "").upper()
    diffs: list[str] = []
    if kind in PAYMENT_TYPES:
        line.sf_amount = _decimal(row.get("Amount__c"))
        converted = sf_cur and sf_cur != cur and bt.get("exchange_rate") not in (None, 0)
        if sf_cur and sf_cur != cur and not converted:
            diffs.append(f"currency {sf_cur} in Salesforce, {cur} in Stripe")
        if not converted and line.sf_amount != amount:
            diffs.append(f"amount {_money(line.sf_amount, cur)} in Salesforce, "
                         f"{_money(amount, cur)} in Stripe")
        for label, key, value in (("fee", "Fee__c", fee), ("net", "Net__c", net)):
            held = _decimal(row.get(key))
            if held is not None and not converted and held != value:
                diffs.append(f"{label} {_money(held, cur)} in Salesforce, "
                             f"{_money(value, cur)} in Stripe")
    else:
        # A refund: Salesforce shows it as the charge's refunded amount.
        refunded = refunded_in_period.get(line.charge or "", Decimal(0)) + abs(amount)
        refunded_in_period[line.charge or ""] = refunded
        line.sf_amount = _decimal(row.get("Amount_Refunded__c"))
        if (line.sf_amount or Decimal(0)) < refunded:
            diffs.append(f"refunded {_money(line.sf_amount or Decimal(0), cur)} in Salesforce, "
                         f"at least {_money(refunded, cur)} in Stripe")
    if diffs:
        line.status = "amount_mismatch"
        line.reason = f"Payment__c {line.sf_id} for {line.charge}: " + "; ".join(diffs)
    else:
        line.reason = f"Payment__c {line.sf_id}"
    return line


def _check_payout(payout: Mapping[str, Any], bts: Iterable[Mapping[str, Any]],
                  sf_row: Mapping[str, Any] | None) -> PayoutCheck:
    currency = str(payout.get("currency") or "")
    amount = to_major(payout.get("amount", 0), currency)
    parts = [bt for bt in bts if bt.get("type") != "payout"]
    total = sum((to_major(bt.get("net", 0), str(bt.get("currency") or currency))
                 for bt in parts), Decimal(0))
    check = PayoutCheck(str(payout.get("id")), currency.upper(), amount, total, len(parts),
                        payout.get("arrival_date"))
    cur = currency.upper()
    if not parts:
        check.problems.append("no balance transactions listed for this payout")
    elif total != amount:
        check.problems.append(f"balance transactions net {_money(total, cur)}, payout is "
                              f"{_money(amount, cur)} (difference "
                              f"{_money(total - amount, cur)})")
    if sf_row is None:
        check.problems.append("no Payout__c in Salesforce")
    else:
        check.sf_id = sf_row.get("Id")
        check.sf_amount = _decimal(sf_row.get("Amount__c"))
        if check.sf_amount != amount:
            check.problems.append(f"Payout__c {check.sf_id} says "
                                  f"{_money(check.sf_amount, cur)}")
    return check


# -- gathering through the connectors ------------------------------------------------------
def _soql_time(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _soql_in(values: Iterable[str]) -> str:
    quoted = []
    for v in values:
        text = v.replace("\\", "\\\\").replace("'", "\\'")
        quoted.append(f"'{text}'")
    return ", ".join(quoted)


PAYMENT_FIELDS = ("Id, StripeChargeID__c, StripeBalanceTransactionID__c, Amount__c, "
                  "Amount_Refunded__c, Currency__c, Fee__c, Net__c, Status__c, Paid_At__c, "
                  "Account__c, Account__r.Name")


@dataclass(slots=True)
class Gathered:
    payouts: list[dict]
    balance_transactions: dict[str | None, list[dict]]
    sf_payments: list[dict]
    sf_payouts: list[dict]
    refunds: dict[str, str]
    charges: dict[str, dict]
    since: int
    until: int

    def reconcile(self) -> ReconciliationReport:
        return reconcile(self.payouts, self.balance_transactions, self.sf_payments,
                         self.sf_payouts, refunds=self.refunds, charges=self.charges,
                         since=self.since, until=self.until)


def gather(stripe: StripeConnector, salesforce: SalesforceConnector, since: int,
           until: int, *, include_unpaid: bool = True) -> Gathered:
    """Everything :func:`reconcile` needs for payouts created in ``[since, until)``.

    Balance transactions come per payout through the ``payout`` filter. With
    ``include_unpaid`` the balance transactions created in the period that no payout of the
    period lists are reconciled too (under payout None): charges not paid out yet, and on
    the sandbox (whose payouts link no transactions) every charge.
    """
    if until <= since:
        raise ReconcileError("the period is empty: --to must be after --from")
    local = getattr(getattr(stripe, "settings", None), "flavor", "stripe") == "localstripe"
    payouts = [p for p in stripe.list_objects("payout", created_gte=since)
               if since <= int(p.get("created") or 0) < until]
    bts: dict[str | None, list[dict]] = {}
    seen: set[str] = set()
    for p in payouts:
        listed = [] if local else list(stripe.balance_transactions(p["id"]))
        bts[p["id"]] = listed
        seen.update(bt["id"] for bt in listed)
    if include_unpaid:
        unpaid = [bt for bt in stripe.list_objects("balance_transaction", created_gte=since)
                  if since <= int(bt.get("created") or 0) < until and bt["id"] not in seen
                  and bt.get("type") != "payout"]
        if unpaid:
            bts[None] = unpaid
    every = [bt for group in bts.values() for bt in group]
    charge_ids = {s for bt in every if bt.get("type") in PAYMENT_TYPES
                  for s in [_source_id(bt)] if s}
    refund_ids = [s for bt in every if bt.get("type") in REFUND_TYPES
                  for s in [_source_id(bt)] if s and not isinstance(bt.get("source"), Mapping)]
    refunds: dict[str, str] = {}
    for rid in refund_ids:
        refund = stripe.retrieve("refund", rid)
        if isinstance(refund.get("charge"), str):
            refunds[rid] = refund["charge"]
            charge_ids.add(refund["charge"])
    charges: dict[str, dict] = {}
    for cid in sorted(charge_ids):
        charges[cid] = stripe.retrieve("charge", cid)
    # Payment__c rows: those of the charges in question, and those paid in the period (the
    # latter reveal orphans: rows no balance transaction explains).
    rows: dict[str, dict] = {}
    ids = sorted(charge_ids)
    for start in range(0, len(ids), 200):
        chunk = ids[start:start + 200]
        for row in salesforce.query_all(f"SELECT {PAYMENT_FIELDS} FROM Payment__c WHERE "
                                        f"StripeChargeID__c IN ({_soql_in(chunk)})"):
            rows[row["Id"]] = row
    window = [int(bt.get("created") or 0) for bt in every] or [since]
    lo, hi = min([since, *window]), max([until, *window])
    for row in salesforce.query_all(
            f"SELECT {PAYMENT_FIELDS} FROM Payment__c WHERE Paid_At__c >= {_soql_time(lo)} "
            f"AND Paid_At__c < {_soql_time(hi)}"):
        rows[row["Id"]] = row
    sf_payouts: list[dict] = []
    payout_ids = [p["id"] for p in payouts]
    for start in range(0, len(payout_ids), 200):
        chunk = payout_ids[start:start + 200]
        sf_payouts += salesforce.query_all(
            "SELECT Id, StripePayoutID__c, Amount__c, Currency__c, Status__c FROM Payout__c "
            f"WHERE StripePayoutID__c IN ({_soql_in(chunk)})")
    return Gathered(payouts, bts, list(rows.values()), sf_payouts, refunds, charges, since,
                    until)


# -- fixing through the normal flows -------------------------------------------------------
@dataclass(slots=True)
class FixReport:
    queued: list[str] = field(default_factory=list)  # event ids added to the inbox
    duplicates: int = 0
    processed: ProcessReport | None = None

    def to_dict(self) -> dict[str, Any]:
        processed = None
        if self.processed is not None:
            processed = {k: v for k, v in vars(self.processed).items()
                         if isinstance(v, int | float | str)} \
                if hasattr(self.processed, "__dict__") else str(self.processed)
        return {"queued": list(self.queued), "duplicates": self.duplicates,
                "processed": processed}


def resync_event(charge: Mapping[str, Any], *, now: int | None = None) -> dict[str, Any]:
    """A synthetic Stripe event carrying the charge as Stripe has it now.

    The type follows the charge's state so the flows triggered by it are the usual ones.
    The id is derived from the charge and the time, so a repeated fix is a new event (the
    inbox would refuse the same id) while one run never queues a charge twice.
    """
    created = int(time.time()) if now is None else int(now)
    if charge.get("refunded") or int(charge.get("amount_refunded") or 0) > 0:
        etype = "charge.refunded"
    elif charge.get("status") == "failed":
        etype = "charge.failed"
    else:
        etype = "charge.succeeded"
    return {"id": f"evt_reconcile_{charge['id']}_{created}", "object": "event",
            "type": etype, "created": created, "livemode": bool(charge.get("livemode")),
            "api_version": None, "data": {"object": dict(charge)},
            "request": {"id": None, "idempotency_key": None}}


def fix(report: ReconciliationReport, stripe: StripeConnector, store: StateStore, *,
        processor: Processor | None = None, now: int | None = None) -> FixReport:
    """Queue the missing and mismatched charges as fresh events; process them if asked.

    Each charge is re-fetched from Stripe (the report's numbers may be stale) and put into
    the inbox with ``source="reconcile"``. With a ``processor`` the events are processed
    right away through the bundle's flows; otherwise the running runner picks them up.
    """
    result = FixReport()
    for charge_id in report.charges_to_fix():
        charge = stripe.retrieve("charge", charge_id)
        event = resync_event(charge, now=now)
        if store.add_event(event, source=FIX_SOURCE):
            result.queued.append(event["id"])
        else:
            result.duplicates += 1
    if processor is not None and result.queued:
        events = [store.get_event(eid) for eid in result.queued]
        result.processed = processor.process_events(events)
    return result
