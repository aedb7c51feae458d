"""The receipt document: blocks of content in the shopper's language, built from an order or a report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.catalog import TAX_RATES_BP
from kiosk.config import Config, in_language
from kiosk.i18n import tr
from kiosk.money import format_money, tax_breakdown
from kiosk.online_order import OnlineOrder
from kiosk.orders import Order

COLUMNS = {58: 32, 80: 48}  # Font A (12x24 dots) columns per line
DOTS = {58: 384, 80: 576}
# what a payment channel is called on paper ("qr": scan-to-pay orders recorded before the gateway named the wallet)
CHANNELS = {"alipay": "Alipay", "wechat": "WeChat Pay", "unionpay": "UnionPay", "emvco": "EMV", "qr": "Scan to pay"}


@dataclass(frozen=True)
class ReceiptSettings:
    font_path: str
    paper_mm: int = 80
    mode: str = "raster"  # or "native": the printer's own GB18030 font
    store_name: str = "Demo Store"
    store_address: str = ""
    tax_id: str = ""
    footer: str = ""
    url: str = "https://receipts.example.com/r/{order_no}"
    kiosk_id: str = "kiosk-01"

    @property
    def columns(self) -> int:
        return COLUMNS[self.paper_mm]

    @property
    def dots(self) -> int:
        return DOTS[self.paper_mm]

    @classmethod
    def from_config(cls, cfg: Config, font_path: str) -> ReceiptSettings:
        r = cfg.receipt
        return cls(
            font_path,
            cfg.printer.paper_width_mm,
            r.mode,
            r.store_name,
            r.store_address,
            r.tax_id,
            r.footer,
            r.url,
            cfg.kiosk.kiosk_id,
        )


# --- blocks ------------------------------------------------------------------------
@dataclass(frozen=True)
class Title:  # large, centred
    text: str


@dataclass(frozen=True)
class Centre:
    text: str


@dataclass(frozen=True)
class Pair:  # label left, value right
    left: str
    right: str


@dataclass(frozen=True)
class Item:  # a line of the sale: the name, then "qty x unit price" and the amount
    name: str
    qty: int
    unit_price: str
    amount: str


@dataclass(frozen=True)
class Total:  # large: label left, value right
    label: str
    value: str


@dataclass(frozen=True)
class Rule:
    pass


Block = Title | Centre | Pair | Item | Total | Rule


@dataclass(frozen=True)
class Receipt:
    blocks: tuple[Block, ...]
    barcode: str | None = None  # CODE128 under the text
    qr: str | None = None  # QR under the barcode


def mask_id(text: str | None) -> str:
    """A trade id shown on paper: enough to find it, not enough to reuse it."""
    if not text:
        return "-"
    return text if len(text) <= 8 else f"{text[:4]}…{text[-4:]}"


def _local_time(rfc3339: str) -> str:
    when = datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).astimezone()
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _header(s: ReceiptSettings, language: str) -> list[Block]:
    blocks: list[Block] = [Title(in_language(s.store_name, language))]
    if s.store_address:
        blocks.append(Centre(in_language(s.store_address, language)))
    if s.tax_id:
        blocks.append(Centre(s.tax_id))
    return blocks


def sale_receipt(order: Order, s: ReceiptSettings, *, reprint: bool = False) -> Receipt:
    lang, cur = order.language, order.currency

    def _(msg: str, **kw: object) -> str:
        return tr(lang, msg, **kw)

    blocks = _header(s, lang)
    if reprint:
        blocks.append(Centre(_("*** REPRINT ***")))
    blocks += [
        Rule(),
        Pair(_("Order"), order.order_no),
        Pair(_("Time"), _local_time(order.paid_at)),
        Pair(_("Kiosk"), s.kiosk_id),
        Rule(),
    ]
    by_class: dict[str, int] = {}
    for ln in order.lines:
        blocks.append(Item(ln.name, ln.qty, format_money(ln.unit_price, cur), format_money(ln.amount, cur)))
        by_class[ln.tax_class] = by_class.get(ln.tax_class, 0) + ln.amount
    blocks += [Rule(), Pair(_("Subtotal"), format_money(order.subtotal, cur))]
    if order.discount:
        blocks.append(Pair(_("Discount"), format_money(-order.discount, cur)))
    for tax_class, tax in tax_breakdown(by_class, TAX_RATES_BP).items():
        rate = TAX_RATES_BP[tax_class] / 100
        blocks.append(Pair(_("incl. VAT {rate}%", rate=f"{rate:g}"), format_money(tax, cur)))
    blocks += [Total(_("TOTAL"), format_money(order.total, cur)), Rule()]
    pay = order.payment
    blocks += [
        Pair(_("Paid by"), _(CHANNELS.get(pay.channel, pay.channel))),
        Pair(_("Payment code"), pay.code_masked),
        Pair(_("Transaction"), mask_id(pay.trade_id)),
        Rule(),
    ]
    if s.footer:
        blocks.append(Centre(in_language(s.footer, lang)))
    return Receipt(tuple(blocks), barcode=order.order_no, qr=s.url.format(order_no=order.order_no))


def collection_ticket(
    order: OnlineOrder, kiosk_order_no: str | None, s: ReceiptSettings, language: str, collected_at: str
) -> Receipt:
    """The ticket of an order made elsewhere, handed over here: its lines, how it was paid, its barcode."""

    def _(msg: str, **kw: object) -> str:
        return tr(language, msg, **kw)

    cur = order.currency
    blocks = _header(s, language)
    blocks += [
        Centre(_("Online order")),
        Rule(),
        Pair(_("Order"), order.order_no),
        Pair(_("Time"), _local_time(collected_at)),
        Pair(_("Kiosk"), s.kiosk_id),
        Rule(),
    ]
    for name, qty, price in order.lines:
        blocks.append(Item(name, qty, format_money(price, cur), format_money(qty * price, cur)))
    blocks += [Total(_("TOTAL"), format_money(order.total, cur)), Rule()]
    paid = _("Paid here: {order_no}", order_no=kiosk_order_no) if kiosk_order_no else _("Paid online")
    blocks += [Centre(paid), Rule()]
    if s.footer:
        blocks.append(Centre(in_language(s.footer, language)))
    return Receipt(tuple(blocks), barcode=order.order_no)


def refund_slip(order: Order, refund: Mapping[str, Any], s: ReceiptSettings) -> Receipt:
    lang, cur = order.language, order.currency

    def _(msg: str, **kw: object) -> str:
        return tr(lang, msg, **kw)

    blocks = [
        *_header(s, lang),
        Centre(_("REFUND")),
        Rule(),
        Pair(_("Order"), order.order_no),
        Pair(_("Refund no."), refund["out_request_no"]),
        Pair(_("Time"), _local_time(refund["updated_at"])),
        Pair(_("Kiosk"), s.kiosk_id),
        Rule(),
        Pair(_("Paid"), format_money(order.total, cur)),
        Total(_("REFUND"), format_money(refund["amount"], cur)),
        Pair(_("Back to"), _(CHANNELS.get(order.payment.channel, order.payment.channel))),
        Rule(),
    ]
    return Receipt(tuple(blocks), barcode=order.order_no)


def reconciliation_summary(report: Mapping[str, Any], s: ReceiptSettings, language: str, currency: str) -> Receipt:
    def _(msg: str, **kw: object) -> str:
        return tr(language, msg, **kw)

    blocks: list[Block] = [
        *_header(s, language),
        Centre(_("RECONCILIATION")),
        Rule(),
        Pair(_("Date"), report["date"]),
        Pair(_("Gateway"), report["gateway"]),
        Rule(),
        Pair(_("Trades here"), str(report["local_trades"])),
        Pair(_("Trades at the gateway"), str(report["gateway_trades"])),
        Pair(_("Net here"), format_money(report["local_total"], currency)),
        Pair(_("Net at the gateway"), format_money(report["gateway_total"], currency)),
        Total(_("Differences"), str(len(report["differences"]))),
        Rule(),
    ]
    for d in report["differences"][:20]:
        blocks.append(Pair(d["difference"], d["out_request_no"] or d["out_trade_no"]))
    return Receipt(tuple(blocks))


def z_report(summary: Mapping[str, Any], s: ReceiptSettings, language: str, currency: str) -> Receipt:
    """The end-of-day report: orders and totals by payment channel, refunds, failed and cancelled payments."""

    def _(msg: str, **kw: object) -> str:
        return tr(language, msg, **kw)

    blocks = [
        *_header(s, language),
        Centre(_("END OF DAY (Z) REPORT")),
        Rule(),
        Pair(_("Date"), summary["date"]),
        Pair(_("Kiosk"), s.kiosk_id),
        Pair(tr(language, "Printed", context="time of printing"), datetime.now().strftime("%Y-%m-%d %H:%M")),
        Rule(),
    ]
    for channel, row in sorted(summary["by_channel"].items()):
        blocks.append(
            Pair(f"{_(CHANNELS.get(channel, channel))} ×{row['count']}", format_money(row["total"], currency))
        )
    blocks += [
        Total(_("TOTAL"), format_money(summary["total"], currency)),
        Pair(_("Orders"), str(summary["orders"])),
        Rule(),
        Pair(_("Refunds") + f" ×{summary['refunds']}", format_money(-summary["refunded"], currency)),
        Pair(_("Failed payments"), str(summary["failed"])),
        Pair(_("Cancelled payments"), str(summary["cancelled"])),
        Pair(_("Receipts not printed"), str(summary["unprinted"])),
    ]
    return Receipt(tuple(blocks), barcode="Z" + summary["date"].replace("-", ""))


def selftest_slip(s: ReceiptSettings, results: dict[str, tuple[str, str]], when: str) -> Receipt:
    """The self-test's results on paper (provisioning/selftest.py): each check PASS / FAIL / SKIP."""
    return Receipt(
        (
            Title("SELF-TEST 自检"),
            Centre(f"{s.kiosk_id} · {when}"),
            Rule(),
            *(Pair(name, verdict) for name, (verdict, _) in results.items()),
            Rule(),
            Centre("ALL PASSED 全部通过" if all(v != "FAIL" for v, _ in results.values()) else "FAILED 未通过"),
        )
    )


def printer_test_page(s: ReceiptSettings) -> Receipt:
    """The technician's page: both scripts, the column grid, a barcode and a QR."""
    cols = s.columns
    ruler = "".join(str(i % 10) for i in range(1, cols + 1))
    return Receipt(
        (
            Title("TEST 测试页"),
            Centre(f"{s.paper_mm} mm · {s.dots} dots · {cols} columns · {s.mode}"),
            Rule(),
            Centre(ruler),
            Centre("中" * (cols // 2)),
            Pair("English left", "right"),
            Pair("中文左", "右"),
            Item("A product name long enough to wrap onto a second line of the paper", 2, "¥1.00", "¥2.00"),
            Item("一个名字很长很长很长需要换行才能放下的中文商品名称示例", 1, "¥9.90", "¥9.90"),
            Total("TOTAL 合计", "¥11.90"),
            Rule(),
            Centre(f"TEST-{s.kiosk_id}"),  # the barcode's text (a long kiosk id's barcode is wider than 58 mm)
        ),
        barcode=f"TEST-{s.kiosk_id}",
        qr=f"test:{s.kiosk_id}",
    )
