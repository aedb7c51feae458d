"""The receipt: ESC/POS bytes of a known order, and its picture at both paper widths."""

import numpy as np
import pytest

from kiosk.catalog import DEMO_PRODUCTS
from kiosk.fonts import find_cjk_font
from kiosk.receipts import ReceiptStyle, escpos_bytes, render_image
from kiosk.store import Identity, Store
from tests.factories import begin_payment


@pytest.fixture
def order(tmp_path):
    store = Store(tmp_path / "k.sqlite", Identity("demo-store", "kiosk-01", "K01", "CNY"))
    store.seed_catalog(DEMO_PRODUCTS)
    otn = begin_payment(store, DEMO_PRODUCTS[:5], language="zh_CN", channel="wechat", masked="1345********6789")
    return store.complete_payment(otn, trade_id="T")


def test_escpos_job_has_init_raster_barcode_qr_and_cut(order):
    style = ReceiptStyle(find_cjk_font(), 80, receipt_url="https://r.example/r/{order_no}")
    data = escpos_bytes(order, style)
    no = order["order_no"].encode()
    assert data.startswith(b"\x1b@")  # ESC @ init
    assert b"\x1dv0" in data  # GS v 0 raster image (the text, Chinese included)
    assert b"\x1dkI" + bytes([len(no) + 2]) + b"{B" + no in data  # GS k CODE128, code set B
    assert b"\x1d(k" in data and b"https://r.example/r/" + no in data  # GS ( k native QR
    assert data.endswith(b"\x1bd\x06\x1dV\x00")  # feed 6 lines, GS V 0 full cut
    assert data.index(b"\x1dv0") < data.index(b"\x1dkI") < data.index(b"\x1d(k")


@pytest.mark.parametrize(("mm", "dots"), [(58, 384), (80, 576)])
@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_receipt_picture_fits_the_paper(order, mm, dots, language):
    order = {**order, "language": language}
    img = render_image(order, ReceiptStyle(find_cjk_font(), mm))
    assert img.width == dots and 400 < img.height < 3000
    ink = np.array(img.convert("L")) < 128
    assert ink.mean() > 0.02  # not blank
    cols = np.where(ink.any(axis=0))[0]
    assert cols.min() >= 0 and cols.max() < dots
