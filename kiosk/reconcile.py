"""End-of-day reconciliation: the kiosk's journal against the gateway's statement for one day.

Pure parts here: statement parsers (Alipay's GBK csv.zip bill, WeChat Pay's
backtick CSV trade bill) and `compare()`, which names every difference:
missing locally, missing at the gateway, amount mismatch, status mismatch.
`python -m kiosk.reconcile [YYYY-MM-DD]` and the MQTT command `reconcile` run
it, write a JSON report, print a summary and raise an `events` message when
anything differs.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import date as calendar_date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class Entry:
    """One money movement: a paid trade, or a refund of one."""

    kind: str  # "trade" or "refund"
    out_trade_no: str
    amount: int  # minor units
    out_request_no: str = ""  # refunds
    trade_id: str = ""
    status: str = ""  # local journal state, for the report


@dataclass
class Report:
    date: str
    gateway: str
    local_trades: int = 0
    gateway_trades: int = 0
    local_total: int = 0
    gateway_total: int = 0
    differences: list[dict[str, Any]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "clean": self.clean}


MONEY_MOVED = ("PAID", "PARTIALLY_REFUNDED", "REFUNDED")  # local states in which the money really moved


def minor_units(yuan: str) -> int:
    """'12.50' or '-1.00' (a statement's yuan) -> 1250 / -100."""
    try:
        return int((Decimal(yuan.strip().replace(",", "")) * 100).to_integral_value())
    except InvalidOperation:
        raise ValueError(f"not an amount: {yuan!r}") from None


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
    return report


# --- statements --------------------------------------------------------------------------------
ALIPAY_COLUMNS = {
    "支付宝交易号": "trade_id",
    "商户订单号": "out_trade_no",
    "业务类型": "kind",
    "订单金额（元）": "amount",
    "退款批次号/请求号": "out_request_no",
}


def parse_alipay_bill(data: bytes) -> list[Entry]:
    """Alipay's trade bill: a zip whose detail CSV (GBK) has '#' comment lines around a header and rows."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = [n for n in z.namelist() if n.endswith(".csv") and "汇总" not in n]
        if not names:
            raise ValueError("no detail CSV in the Alipay bill zip")
        text = z.read(names[0]).decode("gbk")
    rows = [r for r in csv.reader(line for line in text.splitlines() if line and not line.startswith("#"))]
    header = next((i for i, r in enumerate(rows) if "商户订单号" in [c.strip() for c in r]), None)
    if header is None:
        raise ValueError("the Alipay bill has no header row with 商户订单号")
    cols = {ALIPAY_COLUMNS[c.strip()]: i for i, c in enumerate(rows[header]) if c.strip() in ALIPAY_COLUMNS}
    entries = []
    for r in rows[header + 1 :]:
        if len(r) <= max(cols.values()):
            continue  # totals and trailing lines
        kind = {"交易": "trade", "退款": "refund"}.get(r[cols["kind"]].strip())
        if kind is None:
            continue
        entries.append(
            Entry(
                kind,
                r[cols["out_trade_no"]].strip(),
                abs(minor_units(r[cols["amount"]])),
                r[cols.get("out_request_no", cols["out_trade_no"])].strip() if kind == "refund" else "",
                r[cols["trade_id"]].strip(),
            )
        )
    return entries


WECHAT_COLUMNS = {
    "微信订单号": "trade_id",
    "商户订单号": "out_trade_no",
    "交易状态": "state",
    "应结订单金额": "amount",
    "商户退款单号": "out_request_no",
    "退款金额": "refund_amount",
}


def run(store: Any, gateway: Any, date: str) -> Report:
    """Fetch the gateway's statement for `date` and compare it with the journal."""
    return compare(date, gateway.name, store.journal_for(date), gateway.statement(date))


def parse_wechat_bill(text: str) -> list[Entry]:
    """WeChat Pay's trade bill: CSV whose every field starts with a backtick; a totals block follows."""
    lines = text.lstrip("\ufeff").splitlines()
    rows = list(csv.reader(lines))
    if not rows:
        raise ValueError("an empty WeChat bill")
    cols = {WECHAT_COLUMNS[c.strip()]: i for i, c in enumerate(rows[0]) if c.strip() in WECHAT_COLUMNS}
    if "out_trade_no" not in cols:
        raise ValueError("the WeChat bill has no 商户订单号 column")
    entries = []
    for r in rows[1:]:
        if not r or not r[0].startswith("`"):
            break  # the totals block starts: plain header, no backticks
        f = [c.lstrip("`").strip() for c in r]
        if f[cols["state"]] == "REFUND":
            entries.append(
                Entry(
                    "refund",
                    f[cols["out_trade_no"]],
                    minor_units(f[cols["refund_amount"]]),
                    f[cols["out_request_no"]],
                    f[cols["trade_id"]],
                )
            )
        elif f[cols["state"]] == "SUCCESS":
            entries.append(
                Entry("trade", f[cols["out_trade_no"]], minor_units(f[cols["amount"]]), "", f[cols["trade_id"]])
            )
    return entries


def finish(report: Report, store: Any, data_dir: Path) -> Path:
    """Write the JSON report; tell head office (`events`) when anything differs.  Returns the report's path."""
    folder = data_dir / "reconciliation"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{report.date}-{report.gateway}.json"
    path.write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    if not report.clean:
        store.add_event(
            "reconciliation_differences",
            date=report.date,
            gateway=report.gateway,
            count=len(report.differences),
            differences=report.differences[:50],
        )
    return path


def main(argv: list[str] | None = None) -> int:
    """`python -m kiosk.reconcile [YYYY-MM-DD] [--config F] [--print]`: exit 0 when clean, 1 with differences."""
    import argparse
    import sys
    from datetime import date, timedelta

    from kiosk.config import ConfigError, load

    ap = argparse.ArgumentParser(prog="python -m kiosk.reconcile")
    ap.add_argument(
        "date",
        nargs="?",
        default=(date.today() - timedelta(days=1)).isoformat(),
        help="the day, YYYY-MM-DD (default: yesterday)",
    )
    ap.add_argument("--config")
    ap.add_argument("--print", action="store_true", help="also print the summary on the kiosk's printer")
    args = ap.parse_args(argv)
    if parse_day(args.date) is None:
        print(f"not a date: {args.date!r} (YYYY-MM-DD)", file=sys.stderr)
        return 2
    try:
        cfg = load(args.config)
        from kiosk.app import open_store
        from kiosk.payments import make_gateway

        store, gateway = open_store(cfg), make_gateway(cfg)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    try:
        report = run(store, gateway, args.date)
    except (OSError, ValueError) as exc:
        print(f"cannot reconcile {args.date}: {exc}", file=sys.stderr)
        return 2
    path = finish(report, store, Path(cfg.kiosk.data_dir))
    print(
        f"{args.date} {report.gateway}: {report.local_trades} trades here, {report.gateway_trades} at the gateway; "
        f"{len(report.differences)} differences; report {path}"
    )
    for d in report.differences:
        print(f"  {d['difference']}: {d['kind']} {d['out_request_no'] or d['out_trade_no']}")
    if args.print:
        from hardware.printer import open_printer
        from kiosk.fonts import find_cjk_font
        from kiosk.receipts import ReceiptSettings, escpos_job, reconciliation_summary

        s = ReceiptSettings.from_config(cfg, find_cjk_font(cfg.display.font))
        open_printer(cfg.printer, Path(cfg.kiosk.data_dir)).send(
            escpos_job(reconciliation_summary(report.as_dict(), s, cfg.kiosk.default_language, cfg.kiosk.currency), s),
            f"reconcile-{args.date}",
        )
    return 0 if report.clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
