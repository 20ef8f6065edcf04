"""Streaming anomaly detection on payments, every flag with a reason a person can check.

Pure: observations in, :class:`Flag` out, no I/O. The detector keeps bounded per-account
and per-currency histories and is fed in ``created`` order (small disorder is harmless).

Rules (each can be checked by hand from the numbers in its reason):

- ``amount_outlier``: a succeeded charge far above this account's usual amounts (robust
  z-score of the log amount against the median/MAD of the account's last ``history_days``,
  once it has ``min_history`` charges). Accounts without enough history are compared with
  every charge in the same currency (``amount_outlier_global``) with a stricter bar, since
  accounts differ in their typical amounts. Log amounts because payment amounts are
  multiplicative (lognormal): "10x the median" is as unusual for a 20 USD account as for a
  2,000 USD one.
- ``decline_spike``: the share of failed charges in the last ``decline_window`` is far above
  the baseline of the ``baseline_window`` before it (per account, and over all accounts).
- ``refund_spike``: the same for refunds per charge over ``refund_window``.
- ``duplicate_charge``: a succeeded charge with the same customer, amount and currency as
  another one less than ``duplicate_window`` seconds earlier.
- ``early_fraud_warning``: always flagged; the issuer has already said it is fraud.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from mappings.transforms.currency import currency_exponent

# Scales a MAD to a standard deviation for normal data (Iglewicz and Hoaglin's modified z).
MAD_SCALE = 0.6745
DAY = 86_400
GLOBAL = "*"  # the scope key of the all-accounts windows

Kind = Literal["charge", "refund", "dispute", "efw"]
Severity = Literal["high", "medium", "low"]


@dataclass(frozen=True, slots=True)
class PaymentObservation:
    """One payment fact: a charge attempt, a refund, a dispute or an early fraud warning."""

    id: str
    account: str | None  # the Salesforce Account or Stripe customer it belongs to
    amount: Decimal  # in the currency's major units
    currency: str
    created: int  # unix seconds
    status: Literal["succeeded", "failed"] = "succeeded"
    refunded: bool = False
    kind: Kind = "charge"
    charge: str | None = None  # refunds, disputes, warnings: the charge concerned


@dataclass(frozen=True, slots=True)
class Flag:
    rule: str
    severity: Severity
    object_id: str
    account: str | None
    reason: str
    score: float
    created: int

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "object_id": self.object_id,
                "account": self.account, "reason": self.reason,
                "score": round(self.score, 3), "created": self.created}


@dataclass(slots=True)
class AnomalyConfig:
    # Amount outliers.
    min_history: int = 8
    history_days: int = 30
    history_max: int = 500  # charges kept per account (the most recent)
    account_z: float = 6.0  # robust z of the log amount
    account_ratio: float = 12.0  # and at least this many times the median
    global_min_history: int = 30
    global_z: float = 5.0
    global_ratio: float = 40.0
    global_max: int = 2000
    min_log_mad: float = 0.1  # an account charging one price has MAD 0; ~10% spread floor
    # Decline and refund spikes.
    decline_window: int = 3600
    decline_min_failed: int = 5
    decline_min_rate: float = 0.5
    refund_window: int = DAY
    refund_min_count: int = 4
    refund_min_rate: float = 0.5
    baseline_window: int = 14 * DAY
    baseline_min_count: int = 20  # attempts (charges) needed to trust a scope's own baseline
    spike_factor: float = 4.0  # recent rate at least this times the baseline rate
    global_spike_min: int = 12  # failed/refunds in the window for the all-accounts scope
    # Duplicate charges.
    duplicate_window: int = 600

    def __post_init__(self) -> None:
        for name in ("min_history", "history_days", "history_max", "decline_window",
                     "refund_window", "baseline_window", "duplicate_window",
                     "decline_min_failed", "refund_min_count", "global_min_history"):
            if getattr(self, name) < 1:
                raise ValueError(f"anomaly setting {name} must be at least 1, "
                                 f"got {getattr(self, name)}")
        for name in ("account_ratio", "global_ratio", "spike_factor"):
            if getattr(self, name) <= 1:
                raise ValueError(f"anomaly setting {name} must be above 1, "
                                 f"got {getattr(self, name)}")


def _median(sorted_values: list[float]) -> float:
    n = len(sorted_values)
    mid = n // 2
    return sorted_values[mid] if n % 2 else (sorted_values[mid - 1] + sorted_values[mid]) / 2


def _fmt(amount: float | Decimal, currency: str) -> str:
    try:
        places = currency_exponent(currency)
    except Exception:  # noqa: BLE001 - an unknown code still gets a readable amount
        places = 2
    return f"{float(amount):,.{places}f} {currency.upper()}"


def _days(seconds: int) -> str:
    days = seconds / DAY
    if days >= 1:
        return f"{days:g} day" + ("" if days == 1 else "s")
    hours = seconds / 3600
    if hours >= 1:
        return f"{hours:g} hour" + ("" if hours == 1 else "s")
    return f"{seconds / 60:g} minutes"


@dataclass(slots=True)
class _Amounts:
    """Recent succeeded charge amounts of one scope, in arrival order."""

    items: deque[tuple[int, float]] = field(default_factory=deque)  # (created, amount)

    def trim(self, now: int, horizon: int, cap: int) -> None:
        while self.items and (self.items[0][0] < now - horizon or len(self.items) > cap):
            self.items.popleft()

    def stats(self) -> tuple[float, float, float, float]:
        """(median, MAD) of the amounts and of their logs."""
        raw = sorted(a for _, a in self.items)
        logs = sorted(math.log(a) for a in raw)
        med, lmed = _median(raw), _median(logs)
        mad = _median(sorted(abs(a - med) for a in raw))
        lmad = _median(sorted(abs(v - lmed) for v in logs))
        return med, mad, lmed, lmad


@dataclass(slots=True)
class _Rate:
    """Events and trials of one scope over time, for "failed per attempt" style rates."""

    trials: deque[int] = field(default_factory=deque)  # created times
    hits: deque[int] = field(default_factory=deque)
    flagged_until: int = -1  # one flag per spike: quiet until the window has moved on

    def trim(self, now: int, horizon: int) -> None:
        for q in (self.trials, self.hits):
            while q and q[0] < now - horizon:
                q.popleft()

    @staticmethod
    def _count(q: deque[int], start: int, end: int) -> int:
        return sum(1 for t in q if start <= t < end)

    def window(self, start: int, end: int) -> tuple[int, int]:
        return self._count(self.trials, start, end), self._count(self.hits, start, end)


class AnomalyDetector:
    """Feed observations with :meth:`observe`; each call returns the flags it raised."""

    def __init__(self, config: AnomalyConfig | None = None) -> None:
        self.config = config or AnomalyConfig()
        self._accounts: dict[str, _Amounts] = {}
        self._global: dict[str, _Amounts] = {}
        self._declines: dict[str, _Rate] = {}
        self._refunds: dict[str, _Rate] = {}
        self._recent: deque[tuple[int, str, str, Decimal, str]] = deque()

    def observe_all(self, observations: Iterable[PaymentObservation]) -> list[Flag]:
        flags: list[Flag] = []
        for obs in observations:
            flags.extend(self.observe(obs))
        return flags

    def observe(self, payment: PaymentObservation) -> list[Flag]:
        if not isinstance(payment, PaymentObservation):
            raise TypeError(f"observe() takes a PaymentObservation, got {type(payment).__name__}")
        flags: list[Flag] = []
        if payment.kind == "efw":
            flags.append(self._efw(payment))
        elif payment.kind == "charge":
            flags.extend(self._charge(payment))
        elif payment.kind == "refund":
            flags.extend(self._refund(payment))
        return flags

    # -- rules ---------------------------------------------------------------------------
    def _efw(self, p: PaymentObservation) -> Flag:
        on = f" on charge {p.charge}" if p.charge else ""
        return Flag("early_fraud_warning", "high", p.id, p.account,
                    f"card issuer sent an early fraud warning{on} "
                    f"({_fmt(p.amount, p.currency)}); refund it before it becomes a dispute",
                    1.0, p.created)

    def _charge(self, p: PaymentObservation) -> list[Flag]:
        flags: list[Flag] = []
        failed = p.status == "failed"
        for scope in self._scopes(p):
            rate = self._declines.setdefault(scope, _Rate())
            rate.trials.append(p.created)
            if failed:
                rate.hits.append(p.created)
            rate.trim(p.created, self.config.baseline_window + self.config.decline_window)
            # Refund rates are per charge too: count the charge there as a trial.
            ref = self._refunds.setdefault(scope, _Rate())
            if not failed:
                ref.trials.append(p.created)
                ref.trim(p.created, self.config.baseline_window + self.config.refund_window)
            if failed:
                flag = self._spike(p, scope, rate, "decline_spike", self.config.decline_window,
                                   self.config.decline_min_failed,
                                   self.config.decline_min_rate, "declined", "charges")
                if flag:
                    flags.append(flag)
        if failed or p.amount <= 0:
            return flags
        dup = self._duplicate(p)
        if dup:
            flags.append(dup)
        outlier = self._amount(p)
        if outlier:
            flags.append(outlier)
        return flags

    def _refund(self, p: PaymentObservation) -> list[Flag]:
        flags: list[Flag] = []
        for scope in self._scopes(p):
            rate = self._refunds.setdefault(scope, _Rate())
            rate.hits.append(p.created)
            rate.trim(p.created, self.config.baseline_window + self.config.refund_window)
            flag = self._spike(p, scope, rate, "refund_spike", self.config.refund_window,
                               self.config.refund_min_count, self.config.refund_min_rate,
                               "refunded", "charges")
            if flag:
                flags.append(flag)
        return flags

    def _scopes(self, p: PaymentObservation) -> list[str]:
        return [p.account, GLOBAL] if p.account else [GLOBAL]

    def _spike(self, p: PaymentObservation, scope: str, rate: _Rate, rule: str, window: int,
               min_hits: int, min_rate: float, verb: str, noun: str) -> Flag | None:
        cfg = self.config
        if p.created < rate.flagged_until:
            return None
        now = p.created
        trials, hits = rate.window(now - window + 1, now + 1)
        if scope == GLOBAL:
            min_hits = max(min_hits, cfg.global_spike_min)
        if hits < min_hits:
            return None
        base_trials, base_hits = rate.window(now - window - cfg.baseline_window, now - window + 1)
        # Few charges in the window (quiet night, traffic stopped) must not make a handful
        # of refunds look like 1000%: divide by at least this scope's usual number.
        usual = base_trials * window / cfg.baseline_window
        where = "this account" if scope != GLOBAL else "all accounts"
        if base_trials < cfg.baseline_min_count and scope != GLOBAL:
            # Too little history of its own: measure against every account.
            shared = (self._declines if rule == "decline_spike" else self._refunds).get(GLOBAL)
            if shared is not None:
                base_trials, base_hits = shared.window(now - window - cfg.baseline_window,
                                                       now - window + 1)
                where = "all accounts"
        if base_trials < cfg.baseline_min_count:
            return None
        baseline = base_hits / base_trials
        recent = hits / max(trials, usual, 1)
        threshold = max(min_rate if scope != GLOBAL else baseline * cfg.spike_factor,
                        baseline * cfg.spike_factor)
        if recent < threshold:
            return None
        rate.flagged_until = now + window
        who = f"account {scope}" if scope != GLOBAL else "all accounts"
        score = recent / max(baseline, 1e-6)
        reason = (f"{hits} of {trials} {noun} {verb} in the last {_days(window)} on {who} "
                  f"({recent:.0%}), against a baseline of {baseline:.1%} over the previous "
                  f"{_days(cfg.baseline_window)} ({base_hits} of {base_trials}, {where})")
        return Flag(rule, "high" if recent >= 2 * threshold else "medium", p.id,
                    scope if scope != GLOBAL else None, reason, score, now)

    def _duplicate(self, p: PaymentObservation) -> Flag | None:
        if not p.account:
            return None
        window = self.config.duplicate_window
        while self._recent and self._recent[0][0] < p.created - window:
            self._recent.popleft()
        found: Flag | None = None
        for created, oid, account, amount, currency in self._recent:
            if account == p.account and amount == p.amount and currency == p.currency.lower():
                gap = p.created - created
                found = Flag("duplicate_charge", "medium", p.id, p.account,
                             f"same customer {p.account}, amount {_fmt(p.amount, p.currency)} "
                             f"as charge {oid} {gap} seconds earlier "
                             f"(window {_days(window)})", 1.0, p.created)
        self._recent.append((p.created, p.id, p.account, p.amount, p.currency.lower()))
        return found

    def _amount(self, p: PaymentObservation) -> Flag | None:
        cfg = self.config
        amount = float(p.amount)
        currency = p.currency.lower()
        horizon = cfg.history_days * DAY
        flag: Flag | None = None
        hist = self._accounts.setdefault(f"{p.account or ''}|{currency}", _Amounts())
        hist.trim(p.created, horizon, cfg.history_max)
        if p.account and len(hist.items) >= cfg.min_history:
            flag = self._outlier(p, amount, hist, cfg.account_z, cfg.account_ratio,
                                 "amount_outlier",
                                 f"this account's median of {cfg.history_days} days")
        else:
            shared = self._global.setdefault(currency, _Amounts())
            shared.trim(p.created, horizon, cfg.global_max)
            if len(shared.items) >= cfg.global_min_history:
                flag = self._outlier(p, amount, shared, cfg.global_z, cfg.global_ratio,
                                     "amount_outlier_global",
                                     f"the median of all {currency.upper()} charges of "
                                     f"{cfg.history_days} days (account has "
                                     f"{len(hist.items)} charges, too few to compare)")
        # A flagged amount stays out of the history: one outlier must not hide the next.
        if flag is None:
            hist.items.append((p.created, amount))
            self._global.setdefault(currency, _Amounts()).items.append((p.created, amount))
        return flag

    def _outlier(self, p: PaymentObservation, amount: float, hist: _Amounts, z_bar: float,
                 ratio_bar: float, rule: str, against: str) -> Flag | None:
        med, mad, lmed, lmad = hist.stats()
        if med <= 0:
            return None
        ratio = amount / med
        z = MAD_SCALE * (math.log(amount) - lmed) / max(lmad, self.config.min_log_mad)
        if ratio < ratio_bar or z < z_bar:
            return None
        reason = (f"amount {_fmt(amount, p.currency)} is {ratio:.1f}x {against} "
                  f"(median {_fmt(med, p.currency)}, MAD {_fmt(mad, p.currency)}, "
                  f"{len(hist.items)} charges; robust z {z:.1f})")
        return Flag(rule, "high" if ratio >= 3 * ratio_bar else "medium", p.id, p.account,
                    reason, z, p.created)


# -- from Stripe objects -------------------------------------------------------------------
def to_major(amount_minor: Any, currency: str) -> Decimal:
    """Stripe's integer minor units as a Decimal in major units (1999 usd -> 19.99)."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int | str):
        raise ValueError(f"amount {amount_minor!r} is not an integer count of minor units")
    return Decimal(int(amount_minor)).scaleb(-currency_exponent(currency))


def observation_from_event(event: dict) -> PaymentObservation | None:
    """The observation a Stripe event carries, or None for events no rule reads.

    ``charge.refunded`` counts as a refund (the charge itself was seen at
    ``charge.succeeded``); the account is the charge's customer.
    """
    etype = event.get("type")
    obj = (event.get("data") or {}).get("object") or {}
    created = int(event.get("created") or obj.get("created") or 0)
    currency = obj.get("currency") or "usd"
    if etype in ("charge.succeeded", "charge.failed"):
        return PaymentObservation(
            id=obj["id"], account=obj.get("customer"),
            amount=to_major(obj.get("amount") or 0, currency), currency=currency,
            created=int(obj.get("created") or created),
            status="succeeded" if etype == "charge.succeeded" else "failed",
            refunded=bool(obj.get("refunded")), kind="charge")
    if etype == "charge.refunded":
        return PaymentObservation(
            id=f"{obj['id']}:refund:{obj.get('amount_refunded')}", account=obj.get("customer"),
            amount=to_major(obj.get("amount_refunded") or 0, currency), currency=currency,
            created=created, refunded=True, kind="refund", charge=obj["id"])
    if etype == "radar.early_fraud_warning.created":
        charge = obj.get("charge")
        return PaymentObservation(id=obj["id"], account=None, amount=Decimal(0),
                                  currency=currency, created=int(obj.get("created") or created),
                                  kind="efw", charge=charge if isinstance(charge, str) else None)
    if etype == "charge.dispute.created":
        return PaymentObservation(id=obj["id"], account=None,
                                  amount=to_major(obj.get("amount") or 0, currency),
                                  currency=currency, created=int(obj.get("created") or created),
                                  kind="dispute", charge=obj.get("charge"))
    return None
