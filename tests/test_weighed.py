"""Issue 10: weighed and price-embedded goods.  A scale's label (an in-store EAN-13, GS1 prefixes 20-29) is read
by the chain's layout: the item, and the price or the weight it prints; the price verifier digit is checked
against biip (a GS1 library) for every 4- and 5-digit value."""

from __future__ import annotations

import time

import pytest
from biip.checksums import gs1_price_weight_check_digit, gs1_standard_check_digit

from headoffice import stock
from headoffice.ingest import Ingest, Received
from kiosk.catalog import Product
from kiosk.checkout import StartPayment
from kiosk.codes import Scheme
from kiosk.weighed import (
    LabelError,
    LayoutError,
    parse_layouts,
    price_check_digit,
    priced_by,
    read_label,
    weighed_price,
)
from tests.conftest import make_kiosk

# The layouts documented in kiosk.example.toml: Chinese retail scales' "FF WWWWW JJJJJ C" (flag, item, price in
# fen) and its weight form, and the European form with a price verifier digit over a 4-digit price
LAYOUTS = "20:PPIIIIIVVVVVC:price 21:PPIIIIIVVVVVC:weight 28:PPIIIIIQVVVVC:price 22:PPIIIIQVVVVVC:price"


def ean13(body12: str) -> str:
    return body12 + str(gs1_standard_check_digit(body12))


def test_the_price_verifier_digit_agrees_with_biip_for_every_value():
    for n in (4, 5):
        for i in range(10**n):
            value = str(i).zfill(n)
            assert price_check_digit(value) == gs1_price_weight_check_digit(value), value


def test_a_price_label_gives_its_item_and_price():
    layouts = parse_layouts(LAYOUTS)
    label = read_label(ean13("200000101234"), layouts)  # item 00001, price 01234 fen
    assert (label.base, label.price, label.grams) == (ean13("200000100000"), 1234, None)
    weight = read_label(ean13("210004200532"), layouts)  # item 00042, 532 g
    assert (weight.base, weight.price, weight.grams) == (ean13("210004200000"), None, 532)
    assert read_label("6901234000016", layouts) is None  # an ordinary product
    assert read_label(ean13("230000101234"), layouts) is None  # prefix 23: not a configured layout


def test_a_label_whose_price_verifier_digit_is_wrong_is_a_misread():
    layouts = parse_layouts(LAYOUTS)
    q = gs1_price_weight_check_digit("0875")
    good = ean13(f"2800123{q}0875")
    assert read_label(good, layouts).price == 875
    assert read_label(good, layouts).base == ean13("280012300000")
    wrong = ean13(f"2800123{(q + 1) % 10}0875")  # its EAN check digit is right; the price's is not
    with pytest.raises(LabelError, match="price verifier digit"):
        read_label(wrong, layouts)
    q5 = gs1_price_weight_check_digit("14685")
    assert read_label(ean13(f"220042{q5}14685"), layouts).price == 14685


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("20:PPIIIIIVVVVV:price", "13 letters"),
        ("30:PPIIIIIVVVVVC:price", "20-29"),
        ("20:PPIIIIIVVVVVC:volume", "price or weight"),
        ("20:PPIIIIIVVVVVC:price 20:PPIIIIIVVVVVC:weight", "has a layout already"),
        ("20:PPIIIIIIQVVVC:price", "4 or 5 digits"),
        ("20-PPIIIIIVVVVVC", "PREFIX:PATTERN:VALUE"),
    ],
)
def test_a_wrong_layout_is_refused_by_name(text, reason):
    with pytest.raises(LayoutError, match=reason):
        parse_layouts(text)


def test_weighed_prices_round_half_up():
    assert weighed_price(890, 532) == 473  # 473.48
    assert weighed_price(1000, 1) == 1 and weighed_price(999, 500) == 500  # 0.999 -> 1, 499.5 -> 500


def test_two_labels_of_loose_fruit_are_two_lines_priced_by_their_labels_and_recorded_by_their_item(tmp_path, hq_engine):
    k = make_kiosk(tmp_path, weighed={"layouts": LAYOUTS})
    bananas = Product("F001", ean13("210000100000"), "香蕉", "Bananas", 890, "reduced", unit="kg")
    cake = Product("B007", ean13("200000700000"), "蛋糕", "Cake", 0, "standard")
    k.store.seed_catalog([bananas, cake])
    k.checkout.catalog.forget()
    co, now = k.checkout, time.monotonic()
    co.language = "en"
    for code in (ean13("210000100532"), ean13("210000101250"), ean13("200000701899"), ean13("210000100532")):
        k.controller.run_effects(co.scan(code, now))
    lines = [
        (ln.product.sku, ln.product.barcode, ln.product.price, ln.qty, ln.product.name("en")) for ln in co.cart.lines
    ]
    assert lines == [
        ("F001", ean13("210000100532"), 473, 2, "Bananas 0.532 kg"),  # the same label twice: two of it
        ("F001", ean13("210000101250"), 1113, 1, "Bananas 1.250 kg"),
        ("B007", ean13("200000701899"), 1899, 1, "Cake"),
    ]
    assert co.cart.totals().total == 473 * 2 + 1113 + 1899
    r = k.driver.pay(
        StartPayment("281234567890123451", Scheme.ALIPAY, co.cart.snapshot(), co.cart.totals()),
        language="en",
        subject="",
    )
    recorded = k.store.conn().execute(
        "SELECT sku, barcode, name, qty, unit_price, amount FROM order_lines WHERE order_no=? ORDER BY line_no",
        (r.order.order_no,),
    )
    assert [tuple(row) for row in recorded] == [  # head office counts stock by the item, the label names the line
        ("F001", ean13("210000100532"), "Bananas 0.532 kg", 2, 473, 946),
        ("F001", ean13("210000101250"), "Bananas 1.250 kg", 1, 1113, 1113),
        ("B007", ean13("200000701899"), "Cake", 1, 1899, 1899),
    ]
    k.controller.run_effects(co.scan(ean13("210009900532"), now))  # a label of an item the catalog lacks
    assert co.notice.key == "unknown_barcode"
    k.stop()
    grams = k.store.conn().execute(
        "SELECT grams FROM order_lines WHERE order_no=? ORDER BY line_no", (r.order.order_no,)
    )
    assert [g for (g,) in grams] == [532, 1250, None]  # the cake is sold by the piece
    # head office counts bananas in grams (2 x 532 g + 1250 g sold) and cakes in pieces
    stock.set_counts(hq_engine, [("demo-store", "F001", 10_000, 2_000), ("demo-store", "B007", 5, None)])
    Ingest(hq_engine).store_batch(
        [
            Received(f"kiosk/v1/demo-store/kiosk-01/{m['topic']}", m["payload"].encode())
            for m in k.store.pending_outbox(limit=1000)
        ]
    )
    assert {r["sku"]: r["qty"] for r in stock.levels(hq_engine, "demo-store")} == {"F001": 7686, "B007": 4}
    assert stock.return_to_shelf(hq_engine, "demo-store", "kiosk-01", r.order.order_no) == {"F001": 2314, "B007": 1}


def test_a_price_label_of_an_item_sold_by_kg_weighs_its_price_over_the_price_per_kg():
    layouts = parse_layouts(LAYOUTS)
    bananas = Product("F001", ean13("210000100000"), "香蕉", "Bananas", 890, "reduced", unit="kg")
    cake = Product("B007", ean13("200000700000"), "蛋糕", "Cake", 0, "standard")
    by_price = priced_by(bananas, read_label(ean13("200000100473"), layouts))  # ¥4.73 of bananas at ¥8.90/kg
    assert (by_price.price, by_price.grams) == (473, 531)
    assert priced_by(cake, read_label(ean13("200000701899"), layouts)).grams is None


def test_a_misread_label_adds_nothing_and_says_so(tmp_path):
    k = make_kiosk(tmp_path, weighed={"layouts": LAYOUTS})
    q = gs1_price_weight_check_digit("0875")
    k.controller.run_effects(k.checkout.scan(ean13(f"2800123{(q + 3) % 10}0875"), time.monotonic()))
    assert not k.checkout.cart and k.checkout.notice.key == "label_misread"
    k.stop()


def test_a_bad_layout_in_the_config_is_named(tmp_path):
    from kiosk.config import ConfigError, from_dict

    with pytest.raises(ConfigError, match=r"weighed.layouts: '20:PPIIIIIVVVVVC:volume'"):
        from_dict({"weighed": {"layouts": "20:PPIIIIIVVVVVC:volume"}})
