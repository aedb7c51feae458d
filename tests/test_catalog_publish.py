"""Issue 10: a catalog published at head office reaches the kiosk signed, is checked before anything is loaded,
changes the prices of the next cart only, survives a stop, and a kiosk waiting for one is "not ready"."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from headoffice import catalog as hq_catalog
from headoffice import publish
from kiosk import signing
from kiosk.checkout import Phase
from kiosk.services.catalog_updates import CatalogRefused, unpack, verify
from kiosk.services.events import CatalogStaged
from tests.conftest import make_kiosk
from tests.test_catalog_import import GOOD, write

WATER = "6901234000016"


@pytest.fixture
def hq_keys(tmp_path):
    private, public = signing.keygen(str(tmp_path / "hq"))
    return signing.load_private_key(str(private)), str(public)


def published(hq_engine, tmp_path, key, text: str = GOOD, store: str = "demo-store") -> dict:
    """Head office imports `text` and publishes it for `store`: the data of the cmd/catalog it sends."""
    hq_catalog.import_file(hq_engine, write(tmp_path, text, f"c{time.monotonic_ns()}.csv"))
    [bundle] = publish.publish(hq_engine, key, [store])
    return publish.command_data(hq_engine, store, bundle.version)


def test_the_kiosk_reads_what_head_office_publishes_with_the_stores_own_prices(hq_engine, tmp_path, hq_keys):
    key, public = hq_keys
    for store, beer_price in (("demo-store", 800), ("store-002", 850)):  # store-002 has a price of its own
        data = published(hq_engine, tmp_path, key, store=store)
        version, label, bundle = verify(data, signing.load_public_key(public), store)
        items = {p.sku: (p, codes) for p, codes in unpack(bundle, version, store)}
        beer, codes = items["P018"]
        assert (beer.price, beer.age_restricted, codes) == (beer_price, True, ["6901234000184", "036000291452"])
        assert (beer.name_zh, beer.name_en, beer.barcode) == ("啤酒 500ml", "Beer 500ml", "6901234000184")
        assert items["F001"][0].unit == "kg"
        assert label == f"{version}-{data['sha256'][:12]}"


def _resign(data: dict, key: Ed25519PrivateKey, bundle: bytes, **manifest) -> dict:
    """A bundle made and signed as head office would, with `bundle` as its content."""
    out = {**data, **manifest, "size": len(bundle), "sha256": hashlib.sha256(bundle).hexdigest()}
    out["bundle"] = base64.b64encode(bundle).decode()
    out["signature"] = base64.b64encode(
        key.sign(publish.canonical(publish.manifest(out["store"], out["version"], out["sha256"], out["size"])))
    ).decode()
    return out


def test_a_tampered_truncated_foreign_or_malformed_catalog_is_refused_with_its_reason(hq_engine, tmp_path, hq_keys):
    key, public = hq_keys
    pub = signing.load_public_key(public)
    data = published(hq_engine, tmp_path, key)
    raw = base64.b64decode(data["bundle"])
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 1
    cases = {
        "SHA-256 does not match": {**data, "bundle": base64.b64encode(bytes(flipped)).decode()},
        "bytes, the manifest says": {**data, "bundle": base64.b64encode(raw[:-10]).decode()},
        "signature does not verify": {**data, "version": data["version"] + 1},
        "is for store 'store-002'": _resign(data, key, raw, store="store-002"),
    }
    other_key = Ed25519PrivateKey.generate()
    cases["signature does not verify "] = _resign(data, other_key, raw)  # signed by someone else
    for reason, body in cases.items():
        with pytest.raises(CatalogRefused, match=reason.strip()):
            verify(body, pub, "demo-store")
    # well signed, but what it holds is wrong: each named
    doc = json.loads(gzip.decompress(raw))
    doc["products"][1]["barcodes"] = ["6901234000185"]
    bad = _resign(data, key, gzip.compress(json.dumps(doc).encode()))
    version, _, bundle = verify(bad, pub, "demo-store")
    with pytest.raises(CatalogRefused, match=r"product 2 \('P001'\): 'barcodes' must be GTINs"):
        unpack(bundle, version, "demo-store")
    bomb = _resign(data, key, gzip.compress(b" " * (300 * 2**20)))
    version, _, bundle = verify(bomb, pub, "demo-store")
    with pytest.raises(CatalogRefused, match="unpacks to more than"):
        unpack(bundle, version, "demo-store")


def deliver(k, data: dict, cmd_id: str = "c1", timeout: float = 10.0) -> dict:
    """Head office's cmd/catalog handled by the kiosk; returns its answer (cmd-result) once the job is done."""
    assert k.commands.handle("catalog", data, cmd_id) is None  # answered when checked and loaded
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for m in k.store.pending_outbox(limit=1000):
            body = json.loads(m["payload"])["data"]
            if m["topic"] == "cmd-result" and body["command_id"] == cmd_id:
                return body
        time.sleep(0.02)
    raise AssertionError("no answer")


def events(k) -> list[dict]:
    return [json.loads(m["payload"])["data"] for m in k.store.pending_outbox(limit=1000) if m["topic"] == "events"]


def pump_until(k, predicate, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        k.controller.pump()
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("never happened")


def test_a_new_catalog_changes_the_next_cart_only(hq_engine, tmp_path, hq_keys):
    key, public = hq_keys
    k = make_kiosk(tmp_path, mqtt={"hq_public_key_file": public})
    co = k.checkout
    k.controller.run_effects(co.scan(WATER, time.monotonic()))
    assert co.cart.line("P001").product.price == 200  # the demo's water
    cheaper = GOOD.replace("Mineral water 550ml,drinks,standard,200", "Mineral water 550ml,drinks,standard,180")
    answer = deliver(k, published(hq_engine, tmp_path, key, cheaper))
    assert answer["ok"] and answer["result"]["products"] == 3
    pump_until(k, lambda: k.controller._next_catalog is not None)
    k.controller.run_effects(co.scan(WATER, time.monotonic()))  # the same shopper scans another bottle
    k.controller.pump()
    assert co.cart.line("P001").qty == 2 and co.cart.line("P001").product.price == 200  # the cart's own price
    assert k.store.catalog_version() != answer["result"]["version"]
    co.tap_start_over(time.monotonic())
    co.confirm_start_over(time.monotonic())
    assert co.phase is Phase.IDLE and not co.cart
    pump_until(k, lambda: k.store.catalog_version() == answer["result"]["version"])
    k.controller.run_effects(co.scan(WATER, time.monotonic()))
    assert co.cart.line("P001").product.price == 180  # the next shopper pays head office's price
    assert k.controller.checkout.catalog.get("6901234000030") is None  # green tea is not in head office's file
    assert k.store.conn().execute("SELECT count(DISTINCT gen) FROM products").fetchone()[0] == 1  # old dropped
    kinds = [
        json.loads(m["payload"])["data"]["kind"] for m in k.store.pending_outbox(limit=1000) if m["topic"] == "events"
    ]
    assert "catalog_switched" in kinds
    repeat = deliver(k, publish.command_data(hq_engine, "demo-store", 1), "c2")  # the same again: not loaded twice
    assert repeat["ok"] and repeat["result"]["already"]
    k.stop()


def test_a_refused_catalog_keeps_the_old_one_and_head_office_hears_why(hq_engine, tmp_path, hq_keys):
    key, public = hq_keys
    k = make_kiosk(tmp_path, mqtt={"hq_public_key_file": public})
    before = k.store.catalog_version()
    data = published(hq_engine, tmp_path, key)
    answer = deliver(k, {**data, "bundle": base64.b64encode(b"x" + base64.b64decode(data["bundle"])[1:]).decode()})
    assert not answer["ok"] and "SHA-256" in answer["error"]
    k.controller.pump()
    assert k.store.catalog_version() == before and k.checkout.catalog.get(WATER).price == 200
    assert any(e["kind"] == "catalog_refused" and "SHA-256" in e["reason"] for e in events(k))
    k.stop()


def test_a_kiosk_for_head_offices_catalog_is_not_ready_until_one_arrives_and_keeps_it_across_a_stop(
    hq_engine, tmp_path, hq_keys
):
    key, public = hq_keys
    k = make_kiosk(tmp_path, kiosk={"catalog": "headoffice"}, mqtt={"hq_public_key_file": public})
    view = k.controller.snapshot()
    assert view.out_of_service and view.not_ready  # not an empty store: a "not ready" screen
    k.controller.run_effects(k.checkout.scan(WATER, time.monotonic()))
    assert not k.checkout.cart  # no demo goods
    answer = deliver(k, published(hq_engine, tmp_path, key))
    assert answer["ok"]
    pump_until(k, lambda: not k.controller.snapshot().out_of_service)
    k.controller.run_effects(k.checkout.scan(WATER, time.monotonic()))
    assert k.checkout.cart.line("P001").product.price == 200
    pump_until(k, lambda: k.store.catalog_version() == answer["result"]["version"])  # recorded on its worker
    version = k.store.catalog_version()
    k.stop()
    again = make_kiosk(tmp_path, kiosk={"catalog": "headoffice"}, mqtt={"hq_public_key_file": public})
    assert not again.controller.snapshot().out_of_service and again.store.catalog_version() == version
    again.stop()


def test_a_catalog_staged_before_a_stop_is_sold_from_at_the_next_start(hq_engine, tmp_path, hq_keys):
    key, public = hq_keys
    k = make_kiosk(tmp_path, mqtt={"hq_public_key_file": public})
    k.controller.run_effects(k.checkout.scan(WATER, time.monotonic()))  # a shopper: the switch waits
    answer = deliver(k, published(hq_engine, tmp_path, key, GOOD.replace("standard,200", "standard,230")))
    pump_until(k, lambda: k.controller._next_catalog is not None)
    assert isinstance(k.controller._next_catalog, CatalogStaged)
    k.stop()  # the kiosk stops before the shopper leaves
    again = make_kiosk(tmp_path, mqtt={"hq_public_key_file": public})
    assert again.store.catalog_version() == answer["result"]["version"]
    assert again.checkout.catalog.get(WATER).price == 230
    again.stop()


def test_a_load_cut_short_leaves_the_current_catalog_and_is_dropped_later(tmp_path):
    from kiosk.catalog import DEMO_PRODUCTS

    k = make_kiosk(tmp_path)
    store = k.store
    with store.tx() as db:  # a load that stopped half way: rows of a generation never marked staged
        db.execute(
            "INSERT INTO products(gen, sku, barcode, name_zh, name_en, price, tax_class)"
            " VALUES (9, 'X', '1', 'x', 'x', 1, 'zero')"
        )
    assert store.switch_catalog() is None and store.catalog_gen() == 0
    assert k.checkout.catalog.get(WATER).price == 200
    items = [(p, [p.barcode]) for p in DEMO_PRODUCTS[:3]]
    gen = store.stage_catalog(items, "10-abc")
    assert gen == 10 and store.switch_catalog() == "10-abc"
    assert store.switch_catalog(9, "9-old") is None  # never back to an older one
    store.drop_unused_catalogs()
    assert [g for (g,) in store.conn().execute("SELECT DISTINCT gen FROM products")] == [10]
    k.stop()


def test_a_catalog_too_big_for_a_command_is_downloaded_from_head_office_and_checked(hq_engine, tmp_path, hq_keys):
    from headoffice.web import WebServer, make_app
    from kiosk.services.hq_http import HqHttp
    from tests.loopback import free_port, wait_until

    key, public = hq_keys
    pub = signing.load_public_key(public)
    inline = published(hq_engine, tmp_path, key)
    port = free_port()
    server = WebServer(make_app(hq_engine, key), "127.0.0.1", port)
    server.start()
    try:
        assert wait_until(lambda: server.started, 10)
        base = f"http://127.0.0.1:{port}"
        data = publish.command_data(hq_engine, "demo-store", inline["version"], inline_max=100, url_base=base)
        assert "bundle" not in data and data["url"].startswith(f"{base}/api/v1/catalog/demo-store/")
        small = publish.command_data(hq_engine, "demo-store", inline["version"], inline_max=10**6, url_base=base)
        assert small == inline  # a small one rides in the command
        fetch = HqHttp().download
        version, label, bundle = verify(data, pub, "demo-store", fetch)
        assert bundle == base64.b64decode(inline["bundle"]) and label.startswith(f"{version}-")
        quick = lambda url, size: HqHttp().download(url, size, timeout=5, retries=())  # noqa: E731
        cases = {
            "answered 404": {**data, "url": data["url"][:-4] + "0000"},  # a guessed address
            "cannot be reached": {**data, "url": f"http://127.0.0.1:{free_port()}/x"},
            "not an http": {**data, "url": "file:///etc/passwd"},
            "longer than the": {**data, "size": data["size"] - 1},  # signature checked first: resigned below
        }
        cases["longer than the"] = {**cases["longer than the"]}
        cases["longer than the"]["signature"] = base64.b64encode(
            key.sign(publish.canonical(publish.manifest("demo-store", version, data["sha256"], data["size"] - 1)))
        ).decode()
        for reason, body in cases.items():
            with pytest.raises(CatalogRefused, match=f"could not be downloaded: .*{reason}"):
                verify(body, pub, "demo-store", quick)
        forged = {**data, "sha256": "0" * 64}  # the manifest changed: nothing is downloaded for it
        asked = []
        with pytest.raises(CatalogRefused, match="signature does not verify"):
            verify(forged, pub, "demo-store", lambda url, size: asked.append(url) or b"")
        assert asked == []
        with pytest.raises(CatalogRefused, match="cannot reach head office"):
            verify(data, pub, "demo-store", None)
    finally:
        server.stop()


def test_head_offices_names_for_japanese_korean_and_taiwanese_shoppers_reach_the_screen(hq_engine, tmp_path, hq_keys):
    """Issue 13: the catalog may name a product for the shoppers' other languages (name_zh_tw, name_ja,
    name_ko); the kiosk shows that name to a shopper who chose the language, else the rule it had (Traditional
    script of name_zh for zh_TW, name_en for ja and ko)."""
    key, public = hq_keys
    text = (
        "sku,barcodes,name_zh,name_en,name_ja,name_ko,name_zh_tw,tax_class,price\n"
        f"P001,{WATER},矿泉水 550ml,Mineral water 550ml,ミネラルウォーター 550ml,생수 550ml,,standard,200\n"
        "P005,6901234000054,纯牛奶 250ml,Whole milk 250ml,牛乳 250ml,,鮮乳 250ml,reduced,380\n"
    )
    k = make_kiosk(tmp_path, mqtt={"hq_public_key_file": public})
    assert deliver(k, published(hq_engine, tmp_path, key, text))["ok"]
    pump_until(k, lambda: k.store.catalog_version().startswith("1-"))
    k.controller.pump()
    co = k.checkout
    seen = {}
    for language in ("ja", "ko", "zh_TW", "en"):
        co.set_language(language, time.monotonic())
        for code in (WATER, "6901234000054"):
            k.controller.run_effects(co.scan(code, time.monotonic()))
        seen[language] = [ln.name for ln in k.controller.snapshot().lines]
        co.tap_start_over(time.monotonic())
        co.confirm_start_over(time.monotonic())
    assert seen == {
        "ja": ["ミネラルウォーター 550ml", "牛乳 250ml"],
        "ko": ["생수 550ml", "Whole milk 250ml"],  # no Korean name for the milk: its English one
        "zh_TW": ["礦泉水 550ml", "鮮乳 250ml"],  # OpenCC where head office gave none; head office's word here
        "en": ["Mineral water 550ml", "Whole milk 250ml"],
    }
    k.stop()
    exported = tmp_path / "back.csv"
    hq_catalog.export_file(hq_engine, exported)
    assert "ミネラルウォーター 550ml" in exported.read_text(encoding="utf-8")  # and back out to the merchandiser
