"""The reconciliation report for people: plain text tables and a self-contained HTML file.

Both are rendered from :class:`ReconciliationReport`; the JSON form is its ``to_dict``. The
HTML file has no external resources (inline CSS, no scripts) and every value is escaped: ids,
names and reasons come from Stripe and Salesforce and are not trusted markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from runner.finance.reconcile import (
    PROBLEMS,
    STATUSES,
    ReconciliationReport,
    Totals,
)

LABELS = {
    "matched": "matched",
    "missing_in_salesforce": "missing in Salesforce",
    "amount_mismatch": "amount mismatch",
    "orphan_in_salesforce": "orphan in Salesforce",
    "not_synced": "not synced",
}
_TOTAL_HEADERS = [*(LABELS[s] for s in STATUSES), "gross", "fees", "net"]


def _day(ts: int | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _last_day(until: int | None) -> str:
    """The period's end is exclusive (midnight after it); people read the last day in it."""
    return _day(None if until is None else until - 1)


def _totals_row(t: Totals) -> list[str]:
    return [*(str(t.counts[s]) for s in STATUSES), str(t.gross), str(t.fees), str(t.net)]


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in headers], *[[("" if c is None else str(c)) for c in r]
                                          for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = []
    for n, r in enumerate(cells):
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def render_text(report: ReconciliationReport) -> str:
    """The readable report: summary, per currency, per Account, payouts, flagged lines."""
    parts = [f"Reconciliation {_day(report.since)} .. {_last_day(report.until)}: "
             + ("everything reconciles" if report.ok else "problems found"),
             "  " + ", ".join(f"{LABELS[s]} {report.count(s)}" for s in STATUSES), ""]
    parts += ["Per currency", _table(["currency", *_TOTAL_HEADERS],
                                     [[c, *_totals_row(t)]
                                      for c, t in sorted(report.by_currency.items())]), ""]
    parts += ["Per Account", _table(["account", "currency", *_TOTAL_HEADERS],
                                    [[a, c, *_totals_row(t)]
                                     for (a, c), t in sorted(report.by_account.items())]), ""]
    if report.payouts:
        parts += ["Payouts", _table(
            ["payout", "currency", "amount", "net of transactions", "transactions", "check"],
            [[p.payout, p.currency, p.amount, p.bt_net_total, p.transactions,
              "ok" if p.ok else "; ".join(p.problems)] for p in report.payouts]), ""]
    flagged = report.problems()
    if flagged:
        parts += ["Flagged", _table(["status", "currency", "account", "stripe id", "reason"],
                                    [[LABELS[x.status], x.currency, x.account, x.stripe_id,
                                      x.reason] for x in flagged]), ""]
    return "\n".join(parts).rstrip() + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em;color:#1d2430}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #d0d5dd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f2f4f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#067647}.bad{color:#b42318;font-weight:600}
tr.missing_in_salesforce td,tr.amount_mismatch td,tr.orphan_in_salesforce td{background:#fef3f2}
"""


def _h(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *,
                numeric_from: int | None = None, row_classes: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{_h(h)}</th>" for h in headers)
    body = []
    for n, r in enumerate(rows):
        cls = f' class="{_h(row_classes[n])}"' if n < len(row_classes) else ""
        cells = []
        for i, c in enumerate(r):
            num = ' class="num"' if numeric_from is not None and i >= numeric_from else ""
            cells.append(f"<td{num}>{_h(c)}</td>")
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(report: ReconciliationReport, *, title: str = "Payout reconciliation") -> str:
    """One self-contained HTML page (inline CSS, no scripts, every value escaped)."""
    status = ('<span class="ok">everything reconciles</span>' if report.ok
              else '<span class="bad">problems found</span>')
    summary = ", ".join(f"{_h(LABELS[s])}: {report.count(s)}" for s in STATUSES)
    sections = [
        f"<h1>{_h(title)}</h1>",
        f"<p>Period {_h(_day(report.since))} to {_h(_last_day(report.until))}: {status}</p>",
        f"<p>{summary}</p>",
        "<h2>Per currency</h2>",
        _html_table(["currency", *_TOTAL_HEADERS],
                    [[c, *_totals_row(t)] for c, t in sorted(report.by_currency.items())],
                    numeric_from=1),
        "<h2>Per Account</h2>",
        _html_table(["account", "currency", *_TOTAL_HEADERS],
                    [[a, c, *_totals_row(t)]
                     for (a, c), t in sorted(report.by_account.items())], numeric_from=2),
    ]
    if report.payouts:
        sections += ["<h2>Payouts</h2>", _html_table(
            ["payout", "currency", "amount", "net of transactions", "difference",
             "transactions", "Payout__c", "check"],
            [[p.payout, p.currency, p.amount, p.bt_net_total, p.difference, p.transactions,
              p.sf_id or "-", "ok" if p.ok else "; ".join(p.problems)]
             for p in report.payouts])]
    flagged = report.problems()
    sections.append(f"<h2>Flagged lines ({len(flagged)})</h2>")
    if flagged:
        sections.append(_html_table(
            ["status", "currency", "account", "Stripe id", "balance transaction", "payout",
             "Stripe amount", "Salesforce amount", "reason"],
            [[LABELS[x.status], x.currency, x.account, x.stripe_id, x.balance_transaction,
              x.payout, x.stripe_amount, x.sf_amount, x.reason] for x in flagged],
            row_classes=[x.status for x in flagged]))
    else:
        sections.append("<p>None.</p>")
    sections.append(f"<h2>All lines ({len(report.lines)})</h2>")
    sections.append(_html_table(
        ["status", "currency", "account", "kind", "Stripe id", "payout", "amount", "fee", "net",
         "Payment__c", "reason"],
        [[LABELS[x.status], x.currency, x.account, x.kind, x.stripe_id, x.payout,
          x.stripe_amount if x.stripe_amount is not None else x.sf_amount, x.fee, x.net,
          x.sf_id, x.reason] for x in report.lines],
        row_classes=[x.status if x.status in PROBLEMS else "" for x in report.lines]))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_h(title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(sections) + "</body></html>\n")
