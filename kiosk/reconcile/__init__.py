"""End-of-day reconciliation: the kiosk's journal against the gateway's statement for one day.

Pure parts here: statement parsers (Alipay's GBK csv.zip bill, WeChat Pay's
backtick CSV trade bill) and `compare()`, which names every difference:
missing locally, missing at the gateway, amount mismatch, status mismatch.
`python -m kiosk.reconcile [YYYY-MM-DD]` (kiosk/reconcile/__main__.py) and the
MQTT command `reconcile` run it, write a JSON report, print a summary and raise an `events` message when
anything differs.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date as calendar_date
from pathlib import Path
from typing import Any

from kiosk.payments import Entry

DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits only (\d would take full-width ones)


def parse_day(text: object) -> str | None:
    """`text` if it is a real calendar day written YYYY-MM-DD (ASCII digits), else None."""
    if not isinstance(text, str) or not DATE_RE.fullmatch(text):
        return None
    try:
        calendar_date.fromisoformat(text)
    except ValueError:
        return None
    return text


@dataclass
class Report:
    date: str
    gateway: str
    local_trades: int = 0
    gateway_trades: int = 0
    local_total: int = 0
    gateway_total: int = 0
    differences: list[dict[str, Any]] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)  # out_trade_nos whose trade agrees on both sides

    @property
    def clean(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "clean": self.clean}


MONEY_MOVED = ("PAID", "PARTIALLY_REFUNDED", "REFUNDED")  # local states in which the money really moved


def _key(e: Entry) -> tuple[str, str]:
    return (e.kind, e.out_request_no if e.kind == "refund" else e.out_trade_no)


def compare(date: str, gateway: str, local: list[Entry], remote: list[Entry]) -> Report:
    """Every difference between what the kiosk recorded and what the gateway says happened."""
    report = Report(date, gateway)
    moved = [e for e in local if e.status in MONEY_MOVED]
    report.local_trades = sum(1 for e in moved if e.kind == "trade")
    report.gateway_trades = sum(1 for e in remote if e.kind == "trade")
    report.local_total = sum(e.amount if e.kind == "trade" else -e.amount for e in moved)
    report.gateway_total = sum(e.amount if e.kind == "trade" else -e.amount for e in remote)
    mine = {_key(e): e for e in local}
    theirs = {_key(e): e for e in remote}
    for key in sorted(set(mine) | set(theirs)):
        a, b = mine.get(key), theirs.get(key)
        base = {"kind": key[0], "out_trade_no": (a or b).out_trade_no, "out_request_no": (a or b).out_request_no}
        if a is None:
            report.differences.append(
                {**base, "difference": "missing_locally", "gateway_amount": b.amount, "trade_id": b.trade_id}
            )
        elif b is None:
            if a.status not in MONEY_MOVED:
                continue  # failed or cancelled here, unknown there: consistent
            report.differences.append(
                {**base, "difference": "missing_at_gateway", "local_amount": a.amount, "local_status": a.status}
            )
        elif a.status not in MONEY_MOVED:
            report.differences.append(
                {
                    **base,
                    "difference": "status_mismatch",
                    "local_status": a.status,
                    "gateway_status": "paid" if key[0] == "trade" else "refunded",
                }
            )
        elif a.amount != b.amount:
            report.differences.append(
                {**base, "difference": "amount_mismatch", "local_amount": a.amount, "gateway_amount": b.amount}
            )
        elif key[0] == "trade":
            report.matched.append(key[1])
    return report


# --- statements --------------------------------------------------------------------------------
def journal_for(store: Any, day: str) -> list[Entry]:
    """The day's payments and refunds as reconciliation entries (payments by creation, refunds by completion)."""
    payments, refunds = store.journal_rows(day)
    entries = []
    for p in payments:
        reversed_ = p["state"] == "CANCELLED" and p["reason"] == "REFUNDED_BY_CANCEL"
        status = "PAID" if reversed_ else p["state"]  # paid, then the cancel refunded it
        entries.append(Entry("trade", p["out_trade_no"], p["amount"], "", p["trade_id"] or "", status))
        if reversed_:
            entries.append(
                Entry(
                    "refund",
                    p["out_trade_no"],
                    p["amount"],
                    f"cancel:{p['out_trade_no']}",
                    p["trade_id"] or "",
                    "REFUNDED",
                )
            )
    for r in refunds:
        entries.append(Entry("refund", r["out_trade_no"], r["amount"], r["out_request_no"], "", r["state"]))
    return entries


def run(store: Any, gateway: Any, date: str) -> Report:
    """Fetch the gateway's statement for `date` and compare it with the journal."""
    return compare(date, gateway.name, journal_for(store, date), gateway.statement(date))


def finish(report: Report, store: Any, data_dir: Path) -> Path:
    """Write the JSON report; tell head office (`events`) when anything differs.  Returns the report's path."""
    folder = data_dir / "reconciliation"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{report.date}-{report.gateway}.json"
    path.write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    # every order of the day learns its reconciliation at head office (matched, or which ones differ)
    store.add_event(
        "reconciled",
        date=report.date,
        gateway=report.gateway,
        clean=report.clean,
        matched=report.matched[:2000],
        differing=sorted({d["out_trade_no"] for d in report.differences})[:2000],
        truncated=len(report.matched) > 2000 or len(report.differences) > 2000,
    )
    if not report.clean:
        store.add_event(
            "reconciliation_differences",
            date=report.date,
            gateway=report.gateway,
            count=len(report.differences),
            differences=report.differences[:50],
        )
    return path
