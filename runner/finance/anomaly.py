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
from bisect import bisect_left, bisect_right, insort
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from mappings.schema.stripe_events import split_event
from mappings.transforms.currency import currency_exponent

# Scales a MAD to a standard deviation for normal data (Iglewicz and Hoaglin's modified z).
MAD_SCALE = 0.6745
DAY = 86_400
GLOBAL = "*"  # the scope key of the all-accounts windows

Kind = Literal["charge", "refund", "dispute", "efw"]
Severity = Literal["high", "medium", "low"]
_DupKey = tuple[str, Decimal, str]  # (customer, amount, currency)


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
        if not self.min_log_mad > 0:
            raise ValueError(f"anomaly setting min_log_mad must be above 0, "
                             f"got {self.min_log_mad}")
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


class _Times:
    """Event times of one scope: an arrival-order queue (what trimming pops) mirrored by a
    sorted list, so "how many in [start, end)" is two bisections instead of a scan of every
    charge of the last 15 days. The sorted list holds exactly the queue's values, so counts
    are those of a scan even when events arrive slightly out of order."""

    __slots__ = ("arrived", "ordered")

    def __init__(self) -> None:
        self.arrived: deque[int] = deque()
        self.ordered: list[int] = []

    def __len__(self) -> int:
        return len(self.arrived)

    def append(self, t: int) -> None:
        self.arrived.append(t)
        if not self.ordered or t >= self.ordered[-1]:
            self.ordered.append(t)  # the usual case: in time order
        else:
            insort(self.ordered, t)

    def trim(self, cutoff: int) -> None:
        while self.arrived and self.arrived[0] < cutoff:
            t = self.arrived.popleft()
            del self.ordered[bisect_left(self.ordered, t)]

    def count(self, start: int, end: int) -> int:
        if end <= start:
            return 0
        return bisect_left(self.ordered, end) - bisect_left(self.ordered, start)


class _Sorted:
    """A multiset of floats kept sorted (bisect insort/remove): median in O(1) and MAD, the
    median absolute deviation from it, in O(log^2 n) without building the deviations."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: list[float] = []

    def add(self, v: float) -> None:
        insort(self.values, v)

    def remove(self, v: float) -> None:
        del self.values[bisect_left(self.values, v)]

    def median(self) -> float:
        return _median(self.values)

    def mad(self) -> float:
        """median(|v - median|), the same number as sorting the deviations would give."""
        values, n = self.values, len(self.values)
        med = _median(values)
        # The deviations are two ascending runs: med - v leftwards of the median, v - med
        # rightwards; the k-th smallest deviation is the k-th of their merge.
        split = bisect_right(values, med)

        def left(i: int) -> float:
            return med - values[split - 1 - i]

        def right(j: int) -> float:
            return values[split + j] - med

        def kth(k: int) -> float:
            return _kth_of_two(left, split, right, n - split, k)

        mid = n // 2
        return kth(mid) if n % 2 else (kth(mid - 1) + kth(mid)) / 2


def _kth_of_two(a: Callable[[int], float], m: int, b: Callable[[int], float], n: int,
                k: int) -> float:
    """The k-th smallest (from 0) of two ascending sequences of lengths m and n, read through
    index functions: binary search on how many of the k + 1 smallest come from ``a``."""
    take = k + 1
    lo, hi = max(0, take - n), min(take, m)
    while True:
        i = (lo + hi) // 2
        j = take - i
        if i < m and j > 0 and b(j - 1) > a(i):
            lo = i + 1  # a(i) belongs among the smallest: take more from a
        elif i > 0 and j < n and a(i - 1) > b(j):
            hi = i - 1  # took too many from a
        else:
            if i == 0:
                return b(j - 1)
            if j == 0:
                return a(i - 1)
            return max(a(i - 1), b(j - 1))


class _Amounts:
    """Recent succeeded charge amounts of one scope: arrival order (for trimming) and the
    amounts and their logs kept sorted, so a charge costs O(log n) comparisons plus a
    list insert, not four sorts of the whole history."""

    __slots__ = ("items", "raw", "logs")

    def __init__(self) -> None:
        self.items: deque[tuple[int, float]] = deque()  # (created, amount)
        self.raw = _Sorted()
        self.logs = _Sorted()

    def __len__(self) -> int:
        return len(self.items)

    def append(self, created: int, amount: float) -> None:
        self.items.append((created, amount))
        self.raw.add(amount)
        self.logs.add(math.log(amount))

    def trim(self, now: int, horizon: int, cap: int) -> None:
        while self.items and (self.items[0][0] < now - horizon or len(self.items) > cap):
            self._pop()

    def cap(self, cap: int) -> None:
        """Drop the oldest beyond ``cap``: what any later :meth:`trim` would drop too,
        whatever its ``now``."""
        while len(self.items) > cap:
            self._pop()

    def _pop(self) -> None:
        _, amount = self.items.popleft()
        self.raw.remove(amount)
        self.logs.remove(math.log(amount))


@dataclass(slots=True)
class _Rate:
    """Events and trials of one scope over time, for "failed per attempt" style rates."""

    trials: _Times = field(default_factory=_Times)  # created times
    hits: _Times = field(default_factory=_Times)
    flagged_until: int = -1  # one flag per spike: quiet until the window has moved on

    def trim(self, now: int, horizon: int) -> None:
        self.trials.trim(now - horizon)
        self.hits.trim(now - horizon)

    def window(self, start: int, end: int) -> tuple[int, int]:
        return self.trials.count(start, end), self.hits.count(start, end)


class AnomalyDetector:
    """Feed observations with :meth:`observe`; each call returns the flags it raised."""

    def __init__(self, config: AnomalyConfig | None = None) -> None:
        self.config = config or AnomalyConfig()
        # A scope's state is made on its first charge (``setdefault(scope, _Rate())`` built
        # and dropped a fresh history for every charge, most of the detector's cost).
        self._accounts: defaultdict[str, _Amounts] = defaultdict(_Amounts)
        self._global: defaultdict[str, _Amounts] = defaultdict(_Amounts)
        self._declines: defaultdict[str, _Rate] = defaultdict(_Rate)
        self._refunds: defaultdict[str, _Rate] = defaultdict(_Rate)
        # Duplicate detection: (customer, amount, currency) -> that key's recent charges,
        # plus every recent charge in arrival order to expire them: O(1) per charge.
        self._recent: deque[tuple[int, _DupKey]] = deque()
        self._by_key: dict[_DupKey, deque[tuple[int, str]]] = {}

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
            rate = self._declines[scope]
            rate.trials.append(p.created)
            if failed:
                rate.hits.append(p.created)
            rate.trim(p.created, self.config.baseline_window + self.config.decline_window)
            # Refund rates are per charge too: count the charge there as a trial.
            ref = self._refunds[scope]
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
            rate = self._refunds[scope]
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
        recent, by_key = self._recent, self._by_key
        while recent and recent[0][0] < p.created - window:
            _, old = recent.popleft()
            expired = by_key[old]
            expired.popleft()  # arrival order in both queues: the oldest of its key
            if not expired:
                del by_key[old]
        key = (p.account, p.amount, p.currency.lower())
        same = by_key.get(key)
        found: Flag | None = None
        if same is None:
            same = by_key[key] = deque()
        elif same:
            created, oid = same[-1]  # the latest earlier charge of the same key
            gap = p.created - created
            found = Flag("duplicate_charge", "medium", p.id, p.account,
                         f"same customer {p.account}, amount {_fmt(p.amount, p.currency)} "
                         f"as charge {oid} {gap} seconds earlier "
                         f"(window {_days(window)})", 1.0, p.created)
        same.append((p.created, p.id))
        recent.append((p.created, key))
        return found

    def _amount(self, p: PaymentObservation) -> Flag | None:
        cfg = self.config
        amount = float(p.amount)
        currency = p.currency.lower()
        horizon = cfg.history_days * DAY
        flag: Flag | None = None
        hist = self._accounts[f"{p.account or ''}|{currency}"]
        hist.trim(p.created, horizon, cfg.history_max)
        if p.account and len(hist) >= cfg.min_history:
            flag = self._outlier(p, amount, hist, cfg.account_z, cfg.account_ratio,
                                 "amount_outlier",
                                 f"this account's median of {cfg.history_days} days")
        else:
            shared = self._global[currency]
            shared.trim(p.created, horizon, cfg.global_max)
            if len(shared) >= cfg.global_min_history:
                flag = self._outlier(p, amount, shared, cfg.global_z, cfg.global_ratio,
                                     "amount_outlier_global",
                                     f"the median of all {currency.upper()} charges of "
                                     f"{cfg.history_days} days (account has "
                                     f"{len(hist)} charges, too few to compare)")
        # A flagged amount stays out of the history: one outlier must not hide the next.
        if flag is None:
            hist.append(p.created, amount)
            shared = self._global[currency]
            shared.append(p.created, amount)
            # The currency's history is trimmed by time when it is read (accounts without
            # history); bound it here too, or it grows while every account has its own.
            shared.cap(cfg.global_max)
        return flag

    def _outlier(self, p: PaymentObservation, amount: float, hist: _Amounts, z_bar: float,
                 ratio_bar: float, rule: str, against: str) -> Flag | None:
        # Cheapest test first: most charges are nowhere near ratio_bar x the median, and
        # the MADs are computed only for those that are (the decision is the same).
        med = hist.raw.median()
        if med <= 0:
            return None
        ratio = amount / med
        if ratio < ratio_bar:
            return None
        lmed, lmad = hist.logs.median(), hist.logs.mad()
        z = MAD_SCALE * (math.log(amount) - lmed) / max(lmad, self.config.min_log_mad)
        if z < z_bar:
            return None
        mad = hist.raw.mad()
        reason = (f"amount {_fmt(amount, p.currency)} is {ratio:.1f}x {against} "
                  f"(median {_fmt(med, p.currency)}, MAD {_fmt(mad, p.currency)}, "
                  f"{len(hist)} charges; robust z {z:.1f})")
        return Flag(rule, "high" if ratio >= 3 * ratio_bar else "medium", p.id, p.account,
                    reason, z, p.created)


# -- from Stripe objects -------------------------------------------------------------------
def to_major(amount_minor: Any, currency: str) -> Decimal:
    """Stripe's integer minor units as a Decimal in major units (1999 usd -> 19.99)."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int | str):
        raise ValueError(f"amount {amount_minor!r} is not an integer count of minor units")
    return Decimal(int(amount_minor)).scaleb(-currency_exponent(currency))


def observation_from_event(event: Mapping[str, Any]) -> PaymentObservation | None:
    """The observation a Stripe event carries, or None for events no rule reads.

    ``charge.refunded`` counts as a refund (the charge itself was seen at
    ``charge.succeeded``); the account is the charge's customer.
    """
    obj, envelope = split_event(event)
    if envelope is None or obj is None:
        return None  # not an event carrying an object
    etype = envelope.get("type")
    created = int(envelope.get("created") or obj.get("created") or 0)
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
