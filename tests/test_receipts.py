"""Receipts: the document, display-width layout, ESC/POS bytes (raster and native), pictures at both widths."""

import dataclasses

import numpy as np
import pytest

from kiosk.catalog import DEMO_PRODUCTS, Product
from kiosk.fonts import find_cjk_font
from kiosk.i18n import LANGUAGES
from kiosk.receipts import ReceiptSettings, escpos_job, preview_image, printer_test_page, sale_receipt, z_report
from kiosk.receipts.document import Centre, Item, Pair, Receipt, Title, Total
from kiosk.receipts.layout import display_width, layout, wrap
from kiosk.receipts.render import code128, code128_modules, text_image
from kiosk.store import Identity, Store
from tests.factories import begin_payment

LONG = Product(
    "P900",
    "6901234009002",
    "超长名字的进口有机特级初榨橄榄油礼盒装限量版本",
    "Imported organic extra virgin olive oil gift box, limited edition",
    12900,
    "reduced",
)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "k.sqlite", Identity("demo-store", "kiosk-01", "K01", "CNY"))
    s.seed_catalog([*DEMO_PRODUCTS, LONG])
    return s


@pytest.fixture
def order(store):
    otn = begin_payment(
        store, [*DEMO_PRODUCTS[:5], LONG], language="zh_CN", channel="wechat", masked="1345********6789"
    )
    return store.complete_payment(otn, trade_id="4200001234202611240000001")


def settings(mm=80, **kw):
    kw = {"store_address": "上海市静安区南京西路88号", "footer": "谢谢惠顾 Thank you", **kw}
    return ReceiptSettings(find_cjk_font(), mm, tax_id="91310000DEMO00000X", url="https://r.example/r/{order_no}", **kw)


def test_sale_receipt_has_everything_head_office_and_the_shopper_need(order):
    r = sale_receipt(order, settings())
    pairs = {b.left: b.right for b in r.blocks if isinstance(b, Pair)}
    assert pairs["订单号"] == order.order_no and pairs["终端"] == "kiosk-01"
    assert pairs["支付方式"] == "微信支付" and pairs["付款码"] == "1345********6789"
    assert pairs["交易号"] == "4200…0001"  # the gateway's id, masked
    assert pairs["小计"] == "¥155.20"
    assert pairs["含增值税 13%"] == "¥2.58" and pairs["含增值税 9%"] == "¥10.97"  # per class, half up
    assert [b for b in r.blocks if isinstance(b, Total)] == [Total("合计", "¥155.20")]
    assert [b.name for b in r.blocks if isinstance(b, Item)][-1] == LONG.name_zh
    assert isinstance(r.blocks[0], Title) and r.blocks[0].text == "Demo Store"
    assert r.barcode == order.order_no and r.qr == f"https://r.example/r/{order.order_no}"
    reprint = sale_receipt(order, settings(), reprint=True)
    assert Centre("*** 补打小票 ***") in reprint.blocks


@pytest.mark.parametrize(("mm", "columns"), [(58, 32), (80, 48)])
@pytest.mark.parametrize("language", list(LANGUAGES))
def test_layout_fits_the_columns_and_aligns_amounts(order, mm, columns, language):
    rows = layout(sale_receipt(dataclasses.replace(order, language=language), settings(mm)), columns)
    for row in rows:
        assert display_width(row.text) <= (columns // 2 if row.big else columns), row
    amounts = [r.text for r in rows if r.text.startswith("  ") and "x ¥" in r.text]
    assert len(amounts) == 6 and all(display_width(t) == columns for t in amounts)  # amounts end at the last column
    names = [r.text for r in rows]
    long_name = LONG.name_zh  # lines keep the language the order was placed in
    assert "".join(n.replace(" ", "") for n in names).count(long_name.replace(" ", "")) == 1  # wrapped, whole


def test_wrap_counts_cjk_as_two_columns():
    assert wrap("矿泉水矿泉水", 6) == ["矿泉水", "矿泉水"]
    assert wrap("Mineral water 550ml", 10) == ["Mineral", "water", "550ml"]
    assert wrap("ABCDEFGHIJKL", 5) == ["ABCDE", "FGHIJ", "KL"]
    assert display_width("可乐 330ml") == 10


def test_raster_job_bytes(order):
    data = escpos_job(sale_receipt(order, settings()), settings())
    no = order.order_no.encode()
    assert data.startswith(b"\x1b@")  # ESC @ init
    assert b"\x1dv0" in data  # GS v 0: the text as a raster picture
    packed = code128(order.order_no)
    assert packed.startswith(b"{BK01-{C")  # the date and the number packed two digits to a symbol
    assert b"\x1dkI" + bytes([len(packed)]) + packed in data  # GS k CODE128
    assert b"\x1d(k" in data and b"https://r.example/r/" + no in data  # GS ( k native QR
    assert data.endswith(b"\x1bd\x06\x1dV\x00")  # feed, GS V 0 full cut
    assert data.index(b"\x1dv0") < data.index(b"\x1dkI") < data.index(b"\x1d(k")


def test_native_job_sends_gb18030_text(order):
    s = settings(mode="native")
    data = escpos_job(sale_receipt(order, s), s)
    assert data.startswith(b"\x1b@\x1c&")  # init, FS & Chinese character mode
    assert "矿泉水 550ml".encode("gb18030") in data and LONG.name_zh[:10].encode("gb18030") in data
    assert b"\x1d!\x11" in data  # double size for the title and the total
    assert b"\x1dv0" not in data  # no raster
    assert code128(order.order_no) in data and data.endswith(b"\x1dV\x00")


@pytest.mark.parametrize(("mm", "dots"), [(58, 384), (80, 576)])
@pytest.mark.parametrize("language", list(LANGUAGES))
def test_receipt_picture_fits_the_paper(order, mm, dots, language, tmp_path):
    s = settings(mm)
    receipt = sale_receipt(dataclasses.replace(order, language=language), s)
    text = text_image(layout(receipt, s.columns), s)
    assert text.width == dots
    ink = np.array(text.convert("L")) < 128
    assert ink.mean() > 0.03  # not blank
    assert not ink[:, -2:].all(axis=0).any()  # nothing is cut off at the right edge: no solid column there
    page = preview_image(receipt, s)
    assert page.width == dots and page.height > text.height + 200  # the barcode and the QR follow the text
    page.save(tmp_path / f"receipt-{language}-{mm}.png")


def test_columns_line_up_on_paper(order):
    """Amounts end at the same dot on every line, whatever script the names are in."""
    s = settings(80)
    rows = [r for r in layout(sale_receipt(order, s), s.columns) if r.text.startswith("  ") and "x ¥" in r.text]
    img = np.array(text_image(rows, s).convert("L")) < 128
    right_edges = []
    for n in range(len(rows)):
        band = img[4 + n * 30 : 4 + (n + 1) * 30]
        right_edges.append(np.where(band.any(axis=0))[0].max())
    assert max(right_edges) - min(right_edges) <= 3 and max(right_edges) < s.dots


def test_z_report_and_test_page(store, order):
    from datetime import date

    s = settings(58)
    z = z_report(store.day_summary(date.today().isoformat()), s, "en", "CNY")
    pairs = {b.left: b.right for b in z.blocks if isinstance(b, Pair)}
    assert pairs["WeChat Pay ×1"] == "¥155.20" and pairs["Orders"] == "1" and pairs["Receipts not printed"] == "1"
    assert [b for b in z.blocks if isinstance(b, Total)] == [Total("TOTAL", "¥155.20")]
    assert escpos_job(z, s).endswith(b"\x1dV\x00")
    page = printer_test_page(s)
    rows = layout(page, 32)
    assert any(r.text == "12345678901234567890123456789012" for r in rows)  # the column ruler, full width
    assert preview_image(page, dataclasses.replace(s, paper_mm=80)).width == 576
    assert isinstance(Receipt((Title("x"),)), Receipt)


def test_barcodes_fit_58_mm_paper_and_everything_printed_decodes(order):
    """The longest order number fits 58 mm at 2 dots a module; the preview's barcode and QR read back."""
    from hardware.decoder import Decoder

    assert code128_modules(code128("ABCDEF-991231863999")) * 2 <= 384  # the longest prefix fits 58 mm
    assert code128("x123") == b"{Bx123"  # short digit runs stay in set B
    s = settings(58)
    page = np.array(preview_image(sale_receipt(order, s), s).convert("L"))
    texts = {sym.text for sym in Decoder().decode(np.pad(page, 20, constant_values=255))}
    assert order.order_no in texts and f"https://r.example/r/{order.order_no}" in texts
    data = escpos_job(sale_receipt(order, s), s)
    i = data.index(b"\x1dkI")
    assert b"\x1dw\x02" in data[i - 20 : i]  # GS w 2: two dots a module, no narrower


def test_native_mode_prints_the_yuan_sign_printers_have(order):
    """GB18030 has no two-byte ¥ (U+00A5 is the 4-byte 81 30 84 36): native mode sends GBK's full-width ￥."""
    from kiosk.receipts.render import for_native_font

    s = settings(58, mode="native")
    data = escpos_job(sale_receipt(order, s), s)
    assert "¥".encode("gb18030") not in data
    assert "￥155.20".encode("gbk") in data
    rows = layout(for_native_font(sale_receipt(order, s)), s.columns)
    assert all(display_width(r.text) <= (s.columns // 2 if r.big else s.columns) for r in rows)
    amounts = [r.text for r in rows if "x ￥" in r.text]
    assert amounts and all(display_width(t) == s.columns for t in amounts)  # still flush right


@pytest.mark.parametrize("kiosk_id", ["k1", "checkout-lane-12", "a-very-long-kiosk-id-of-32-chars"])
@pytest.mark.parametrize("mm", [58, 80])
def test_the_test_page_prints_whatever_the_kiosk_id(kiosk_id, mm):
    s = dataclasses.replace(settings(mm), kiosk_id=kiosk_id)
    page = printer_test_page(s)
    data = escpos_job(page, s)  # no BarcodeSizeError: a barcode wider than the paper is left out
    assert data.endswith(b"\x1dV\x00") and preview_image(page, s).width == s.dots
    printed = "".join(r.text.strip() for r in layout(page, s.columns))
    assert f"TEST-{kiosk_id}" in printed  # its text is always printed


def test_receipts_interrupted_by_a_stop_are_reported_not_printed(tmp_path):
    """Paid, its receipt queued, then the power went: after the restart it is not printed, and head office knows."""
    import json

    from kiosk.runtime.wiring import Runtime
    from tests.test_payments import quiet_kiosk_config

    cfg = quiet_kiosk_config(tmp_path)
    k = Runtime(cfg)
    order = k.store.complete_payment(begin_payment(k.store, DEMO_PRODUCTS[:1]), trade_id="T1")  # not printed yet
    k.stop()
    k.store.close()
    again = Runtime(cfg)
    try:
        row = again.store.order(order.order_no)
        assert row.receipt_status == "not_printed" and not row.receipt_printed
        fates = [json.loads(r["payload"])["data"] for r in again.store.pending_outbox() if r["topic"] == "receipts"]
        assert fates == [{"order_no": order.order_no, "outcome": "not_printed", "reason": "interrupted"}]
    finally:
        again.stop()
    third = Runtime(cfg)  # reported once
    try:
        fates = [json.loads(r["payload"])["data"] for r in third.store.pending_outbox() if r["topic"] == "receipts"]
        assert len(fates) == 1
    finally:
        third.stop()


def test_texts_with_two_meanings_and_scan_to_pay_channels_on_paper(store):
    """Issue 13, defect 7: the Z report's "Printed" is a time (打印时间), the staff's is a state (已打印); a
    scan-to-pay order names its wallet, and one recorded as "qr" before that reads "scan to pay", not "qr"."""
    from datetime import date

    from kiosk.i18n import tr

    otn = begin_payment(store, DEMO_PRODUCTS[:1], language="zh_CN", channel="qr", masked="-")
    old = store.complete_payment(otn, trade_id="2026112422001")
    assert {b.left: b.right for b in sale_receipt(old, settings()).blocks if isinstance(b, Pair)}[
        "支付方式"
    ] == "扫码支付"
    z = z_report(store.day_summary(date.today().isoformat()), settings(), "zh_CN", "CNY")
    pairs = {b.left: b.right for b in z.blocks if isinstance(b, Pair)}
    assert "打印时间" in pairs and "扫码支付 ×1" in pairs and not any("qr" in left for left in pairs)
    assert tr("zh_CN", "Printed") == "已打印"


def test_store_texts_follow_the_shoppers_language(order):
    """Issue 13, defect 7: store name, address and footer given per language print in the receipt's language."""
    from kiosk.config import Localized

    s = settings(
        store_name=Localized({"zh_CN": "示范便利店", "en": "Demo Store"}),
        store_address=Localized({"zh_CN": "上海市静安区南京西路88号", "en": "88 West Nanjing Road, Shanghai"}),
        footer=Localized({"zh_CN": "谢谢惠顾", "en": "Thank you"}),
    )
    zh = sale_receipt(order, s)
    en = sale_receipt(dataclasses.replace(order, language="en"), s)
    assert zh.blocks[0] == Title("示范便利店") and Centre("谢谢惠顾") in zh.blocks
    assert en.blocks[0] == Title("Demo Store") and Centre("Thank you") in en.blocks
    assert Centre("88 West Nanjing Road, Shanghai") in en.blocks
    plain = sale_receipt(dataclasses.replace(order, language="en"), dataclasses.replace(s, footer="谢谢 Thanks"))
    assert Centre("谢谢 Thanks") in plain.blocks  # one text for every language


@pytest.mark.parametrize("width", [576, 384, 203])
def test_raster_bytes_are_python_escpos_own(order, width):
    """The kiosk packs the receipt picture into GS v 0 itself (issue 14: python-escpos's image splitting was most
    of a long receipt's time); the bytes are the ones python-escpos's image() sends for the same picture, bands
    of 960 rows included."""
    from escpos.printer import Dummy
    from PIL import Image

    from kiosk.receipts.render import raster

    s = settings()
    long = dataclasses.replace(order, lines=order.lines * 40)  # 240 lines: more than one band
    picture = text_image(layout(sale_receipt(long, s), s.columns), s)
    assert picture.height > 2 * 960
    picture = picture.crop((0, 0, width, picture.height)) if width != 576 else picture
    odd = Image.new("1", (width, 17), 1)
    odd.putpixel((0, 0), 0)
    odd.putpixel((width - 1, 16), 0)
    for img in (picture, odd):
        p = Dummy()
        p.image(img, center=False)
        assert raster(img) == bytes(p.output)


@pytest.mark.parametrize(("language", "word"), [("ja", "合計"), ("ko", "합계"), ("zh_TW", "合計")])
def test_a_receipt_in_the_shoppers_language(store, language, word):
    """Issue 13: receipts in the shopper's language too.  A printer's own font (GBK) has kana and Traditional
    characters but no Hangul: a Korean receipt goes out as a picture even in native mode."""
    cola = dataclasses.replace(DEMO_PRODUCTS[1], names=(("ja", "コーラ 330ml"), ("ko", "콜라 330ml")))  # head office's
    products = [DEMO_PRODUCTS[0], cola]
    otn = begin_payment(store, products, language=language, channel="alipay", masked="2812****7788")
    order = store.complete_payment(otn, trade_id="T-" + language)
    receipt = sale_receipt(order, settings())
    assert word in "".join(r.text for r in layout(receipt, 48))
    if language == "zh_TW":
        assert order.lines[0].name == "礦泉水 550ml"  # the name in Traditional script, as the shopper saw it
    elif language in ("ja", "ko"):
        assert order.lines[0].name == "Mineral water 550ml"  # none in the shopper's language: the English one
        assert order.lines[1].name == dict(cola.names)[language]
    s = settings(mode="native")
    data = escpos_job(sale_receipt(order, s), s)
    assert (b"\x1dv0" in data) == (language == "ko")  # raster only where the printer's font falls short
    if language != "ko":
        assert word.encode("gb18030") in data
