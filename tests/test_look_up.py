"""Issue 13: items without a barcode (the look-up screen: by category, by search in pinyin initials, pinyin or
English), a barcode that will not scan typed on a keypad, and the bag button."""

from __future__ import annotations

import pytest

from kiosk.catalog import DEMO_PRODUCTS, Product
from kiosk.checkout import Beep, Checkout, Phase
from kiosk.i18n import LANGUAGES
from kiosk.store import Store
from tests.test_pictures import put_picture
from tests.test_shopper_screen import SIZES
from tests.test_ui import overlaps, run_until, tap

CATALOG = {p.barcode: p for p in DEMO_PRODUCTS}
WATER = CATALOG["6901234000016"]


@pytest.fixture
def store(tmp_path):
    from tests.test_store import ID

    s = Store(tmp_path / "kiosk.sqlite", ID)
    s.seed_catalog(DEMO_PRODUCTS)
    return s


def names(products) -> list[str]:
    return [p.name_en for p in products]


def test_search_finds_by_pinyin_initials_pinyin_english_and_chinese(store):
    assert "Whole milk 250ml" in names(store.browse(query="cnn"))  # 纯牛奶: chun niu nai
    assert "Whole milk 250ml" in names(store.browse(query="NN"))  # initials of 牛奶, any case
    assert names(store.browse(query="kele")) == ["Cola 330ml"]
    assert names(store.browse(query="milk")) == ["Whole milk 250ml"]  # an English word's start
    assert names(store.browse(query="ilk")) == []  # not the middle of one
    assert names(store.browse(query="牛奶")) == ["Whole milk 250ml"]
    assert store.browse(query="%") == [] and store.browse(query="_") == []  # typed, not wildcards
    assert names(store.browse("fruit")) == ["Apples 1kg", "Bananas 1kg"]
    drinks = store.browse("drinks", limit=4)
    assert len(drinks) == 4 and names(store.browse("drinks", limit=4, offset=4)) == [
        n for n in names(store.browse("drinks")) if n not in names(drinks)
    ]
    assert "drinks" in store.categories() and "bags" in store.categories()


def test_a_catalog_from_head_office_carries_its_search_words(tmp_path):
    from headoffice.publish import search_words

    assert search_words("纯牛奶 250ml") == "cnn chunniunai" and search_words("绿茶") == "lc lvcha"
    assert search_words("Cola") == ""


def test_the_look_up_screen_in_the_domain():
    co = Checkout(CATALOG, now=0)
    co.open_look_up(1)
    assert co.look_up is not None and co.look_up.tab == "browse"
    co.look_up_tab("search", 2)
    for key in "Kele!":
        co.look_up_key(key, 3)
    assert co.look_up.query == "kele"  # letters only, lower case
    co.look_up_key("⌫", 4)
    assert co.look_up.query == "kel"
    assert co.add_looked_up(WATER, 5) == [Beep("ok")]
    assert co.look_up is None and co.phase is Phase.CART and co.notice.key == "added"
    kg = Product("P900", "2000000000008", "散装苹果", "Loose apples", 1290, "reduced", unit="kg")
    co.open_look_up(6)
    assert co.add_looked_up(kg, 7) == [Beep("error")] and co.notice.key == "weigh_first"
    assert co.look_up is not None and co.cart.totals().items == 1  # weighed goods need the scale's label
    co.look_up_tab("code", 8)
    for key in "6901234000017":  # one digit wrong: the check digit refuses it
        co.look_up_key(key, 9)
    assert co.submit_typed_code(10) == [Beep("error")] and co.look_up is not None
    co.look_up_key("⌫", 11)
    co.look_up_key("6", 11)
    assert co.submit_typed_code(12) == [Beep("ok")] and co.look_up is None
    assert co.cart.line("P001").qty == 2
    bag = CATALOG["6901234000320"]
    assert co.add_bag(bag, 13) == [Beep("ok")] and co.cart.line("P032").qty == 1
    co.tap_pay(14)
    assert co.open_look_up(15) == [] and co.look_up is None  # not on the payment screen


def test_a_shopper_finds_an_item_by_touch_types_a_damaged_barcode_and_adds_a_bag(ui_for):
    k, ui = ui_for(kiosk={"default_language": "en", "bag_barcode": "6901234000320"})
    ui.frame()
    tap(ui, "look_up:browse")  # from the welcome screen
    assert run_until(ui, lambda: k.controller.snapshot().look_up.categories)
    tap(ui, "look_up_category:fruit")
    assert run_until(ui, lambda: k.controller.snapshot().look_up.items)
    tap(ui, "look_up_add:6901234000160")  # bananas
    assert k.checkout.cart.line("P016") is not None and k.checkout.look_up is None
    tap(ui, "look_up:browse")
    tap(ui, "look_up_tab:search")
    for key in "cnn":
        tap(ui, f"look_up_key:{key}")
    assert run_until(ui, lambda: k.controller.snapshot().look_up.items)
    assert [i.name for i in k.controller.snapshot().look_up.items] == ["Whole milk 250ml"]
    tap(ui, "look_up_add:6901234000054")
    tap(ui, "look_up:code")
    for key in "6901234000030":
        tap(ui, f"look_up_key:{key}")
    tap(ui, "look_up_code_ok")  # green tea, typed from the digits under its barcode
    assert k.checkout.cart.line("P003") is not None
    tap(ui, "bag")
    assert k.checkout.cart.line("P032").qty == 1 and k.checkout.totals().total == 890 + 380 + 400 + 50


@pytest.mark.parametrize("large_text", [False, True])
@pytest.mark.parametrize("language", list(LANGUAGES))
@pytest.mark.parametrize("size", SIZES)
def test_the_look_up_screen_fits_every_size(ui_for, size, language, large_text):
    k, ui = ui_for(display={"size": size}, kiosk={"default_language": language, "bag_barcode": "6901234000320"})
    k.checkout.large_text = large_text
    for sku in ("P001", *(p.sku for p in DEMO_PRODUCTS if p.category == "household")):  # pictures: see test_pictures
        put_picture(k, sku, (40, 120, 200))
    k.panel.scan("6901234000016")
    assert run_until(ui, lambda: k.checkout.cart and ui.painter.pictures)
    assert overlaps(ui) == [] and ui.button_rect("bag") is not None, "cart with its tools, the item's picture"
    tap(ui, "look_up:browse")
    assert run_until(ui, lambda: k.controller.snapshot().look_up.categories)
    assert overlaps(ui) == [] and ui.button_rect("look_up_next") is not None, "categories, two pages"
    tap(ui, "look_up_next")
    assert run_until(ui, lambda: k.controller.snapshot().look_up.categories)
    assert ui.button_rect("look_up_category:stationery") is not None
    tap(ui, "look_up_prev")
    assert run_until(ui, lambda: not k.controller.snapshot().look_up.loading)
    tap(ui, "look_up_category:household")
    assert run_until(ui, lambda: len(ui.painter.pictures) == len(k.controller.snapshot().look_up.items) > 1)
    assert overlaps(ui) == [], "a category's items with their pictures"
    tap(ui, "look_up_tab:search")
    for key in "an":
        tap(ui, f"look_up_key:{key}")
    assert run_until(ui, lambda: k.controller.snapshot().look_up.items)
    assert overlaps(ui) == [], "search"
    tap(ui, "look_up_tab:code")
    tap(ui, "look_up_key:1")
    tap(ui, "look_up_code_ok")
    assert overlaps(ui) == [], "typed code refused"
