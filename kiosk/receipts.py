"""The receipt: an order -> a picture of the paper (Pillow) -> ESC/POS bytes.

The text is laid out and rasterised with Pillow and a CJK font so any ESC/POS
printer prints Chinese; the order number follows as a native CODE128 barcode
and a native QR of the e-receipt link, then a cut.  The same picture is the
PNG preview.
"""

from __future__ import annotations

import contextlib
import copy
import io
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from escpos.printer import Dummy
from PIL import Image, ImageDraw, ImageFont

from kiosk.money import format_money

DOTS = {58: 384, 80: 576}
CHANNEL_NAMES = {
    "alipay": "Alipay 支付宝",
    "wechat": "WeChat Pay 微信支付",
    "unionpay": "UnionPay 云闪付",
    "emvco": "EMV",
}


@dataclass(frozen=True)
class ReceiptStyle:
    font_path: str
    paper_mm: int = 80
    store_name: str = "Demo Store"
    kiosk_id: str = "kiosk-01"
    receipt_url: str = "https://receipts.example.com/r/{order_no}"

    @property
    def width(self) -> int:
        return DOTS[self.paper_mm]


def display_width(text: str) -> int:
    """Columns a text takes on paper: East Asian wide characters count two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


_LABELS = {
    "zh": {"order": "订单号", "total": "合计", "tax": "含税", "paid": "支付方式", "items": "件", "thanks": "谢谢惠顾"},
    "en": {
        "order": "Order",
        "total": "TOTAL",
        "tax": "incl. tax",
        "paid": "Paid by",
        "items": "items",
        "thanks": "Thank you",
    },
}


def render_image(order: dict[str, Any], style: ReceiptStyle) -> Image.Image:
    """The receipt text as a 1-bit picture exactly as wide as the paper's printable area."""
    lang = "zh" if order["language"].startswith("zh") else "en"
    lab = _LABELS[lang]
    cur = order["currency"]
    width = style.width
    small = ImageFont.truetype(style.font_path, 22 if width < 500 else 24)
    big = ImageFont.truetype(style.font_path, 34 if width < 500 else 40)
    rows: list[tuple[str, str, ImageFont.FreeTypeFont, bool]] = []  # left, right, font, centred

    def row(left: str, right: str = "", font: ImageFont.FreeTypeFont = small, centre: bool = False) -> None:
        rows.append((left, right, font, centre))

    row(style.store_name, font=big, centre=True)
    row(order["paid_at"][:19].replace("T", " ") + " UTC", centre=True)
    row(f"{lab['order']}: {order['order_no']}", centre=True)
    row(f"{style.kiosk_id}", centre=True)
    row("-" * 48)
    for ln in order["lines"]:
        for part in _wrap(ln["name"], small, width):
            row(part)
        row(f"  {ln['qty']} x {format_money(ln['unit_price'], cur)}", format_money(ln["amount"], cur))
    row("-" * 48)
    row(lab["total"], format_money(order["total"], cur), font=big)
    row(lab["tax"], format_money(order["tax"], cur))
    pay = order["payment"]
    row(lab["paid"], CHANNEL_NAMES.get(pay["channel"], pay["channel"]))
    row("", pay["code_masked"])
    row(lab["thanks"], centre=True)

    line_h = [f.getbbox("国Ag")[3] + 8 for _, _, f, _ in rows]
    img = Image.new("1", (width, sum(line_h) + 8), 1)
    draw = ImageDraw.Draw(img)
    y = 4
    for (left, right, font, centre), h in zip(rows, line_h, strict=True):
        if left.startswith("---"):
            draw.line((0, y + h // 2, width, y + h // 2), fill=0, width=2)
        elif centre:
            w = draw.textlength(left, font=font)
            draw.text(((width - w) / 2, y), left, font=font, fill=0)
        else:
            draw.text((0, y), left, font=font, fill=0)
            if right:
                draw.text((width - draw.textlength(right, font=font), y), right, font=font, fill=0)
        y += h
    return img


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    parts, cur = [], ""
    for ch in text:
        if font.getlength(cur + ch) > width:
            parts.append(cur)
            cur = ch
        else:
            cur += ch
    return parts + [cur] if cur else parts


@contextlib.contextmanager
def _job(width: int) -> Iterator[Dummy]:
    """A Dummy printer that knows the paper width (so python-escpos refuses an image too wide for it)."""
    p = Dummy()
    p.profile.profile_data = copy.deepcopy(p.profile.profile_data)
    p.profile.profile_data["media"]["width"]["pixels"] = width
    with contextlib.redirect_stdout(io.StringIO()):  # python-escpos 3.1 print()s which barcode renderer it uses
        yield p


def escpos_bytes(order: dict[str, Any], style: ReceiptStyle) -> bytes:
    """The whole print job: init, the raster text, CODE128 and QR of the order number, feed and cut."""
    with _job(style.width) as p:
        _receipt_job(p, order, style)
        return bytes(p.output)


def _receipt_job(p: Dummy, order: dict[str, Any], style: ReceiptStyle) -> None:
    p.hw("INIT")
    p.image(render_image(order, style), center=False)
    p.set(align="center")
    p.barcode("{B" + order["order_no"], "CODE128", height=64, width=2, pos="BELOW", function_type="B")
    p.qr(style.receipt_url.format(order_no=order["order_no"]), size=6, native=True)
    p.text("\n")
    p.cut()


def test_page_bytes(style: ReceiptStyle, kiosk_id: str) -> bytes:
    """The technician's test page: Chinese and Latin text, a width ruler, CODE128, QR, cut."""
    width = style.width
    font = ImageFont.truetype(style.font_path, 24)
    img = Image.new("1", (width, 150), 1)
    draw = ImageDraw.Draw(img)
    draw.text((0, 0), f"TEST PAGE 测试页  {kiosk_id}", font=font, fill=0)
    draw.text((0, 34), f"{style.paper_mm} mm = {width} dots  中文 English 0123456789", font=font, fill=0)
    for x in range(0, width, 8):  # the ruler: a tick every 8 dots, a long one every 64
        draw.line((x, 110 - (30 if x % 64 == 0 else 12), x, 110), fill=0)
    draw.line((0, 110, width - 1, 110), fill=0)
    draw.line((width - 1, 70, width - 1, 110), fill=0)
    with _job(width) as p:
        p.hw("INIT")
        p.image(img, center=False)
        p.set(align="center")
        p.barcode("{BTEST-" + kiosk_id, "CODE128", height=64, width=2, pos="BELOW", function_type="B")
        p.qr(f"test:{kiosk_id}", size=6, native=True)
        p.text("\n")
        p.cut()
        return bytes(p.output)
