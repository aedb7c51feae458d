"""Issue 13: product pictures.  Head office makes each product's picture small once (Pillow: a file in its
pictures folder or an address), names it by SHA-256 in the signed catalog and serves it by that name; the kiosk
fetches each picture over HTTP, keeps only bytes that hash to the name, drops those no catalog names, and the
look-up tiles and the scanned item's card draw them (decoded off the UI thread)."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pygame
import pytest
from PIL import Image

from headoffice import catalog as hq_catalog
from headoffice import pictures as hq_pictures
from headoffice import publish
from kiosk import signing
from kiosk.services.catalog_updates import CatalogRefused, unpack, verify
from kiosk.services.hq_http import HqHttp
from kiosk.services.jobs import Worker
from kiosk.services.pictures import ProductPictures
from kiosk.ui.pictures import PictureCache
from kiosk.ui.widgets import DrawnPicture
from tests.test_catalog_import import write
from tests.test_catalog_publish import _resign
from tests.test_ui import run_until, tap

HEADER = "sku,barcodes,name_zh,name_en,category,tax_class,price,image\n"
ROWS = (
    "P001,6901234000016,矿泉水 550ml,Mineral water 550ml,drinks,standard,200,water.jpg\n"
    "P002,6901234000023,可乐 330ml,Cola 330ml,drinks,standard,350,cola.png\n"
    "P003,6901234000030,绿茶 500ml,Green tea 500ml,drinks,standard,400,shelf/tea.jpg\n"
    "P005,6901234000054,纯牛奶 250ml,Whole milk 250ml,dairy,reduced,380,milk.png\n"  # not in the folder
    "P006,6901234000061,酸奶,Yoghurt,dairy,reduced,600,notes.png\n"  # not a picture
    "P007,6901234000078,面包,Bread,bakery,standard,650,../outside.jpg\n"  # outside the folder
    "P008,6901234000085,香蕉,Banana,fruit,standard,300,\n"  # no picture
)


def photo(path: Path, size=(1200, 800), colour=(200, 30, 30), exif_orientation: int | None = None) -> Path:
    """A phone photo: a big JPEG (optionally with an EXIF orientation, as phones write them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, colour)
    exif = Image.Exif()
    if exif_orientation:
        exif[0x0112] = exif_orientation
    img.save(path, "JPEG", exif=exif.tobytes())
    return path


@pytest.fixture
def shelf(tmp_path) -> Path:
    """Head office's pictures folder as a merchandiser fills it."""
    folder = tmp_path / "pictures"
    photo(folder / "water.jpg")
    photo(folder / "shelf" / "tea.jpg", size=(300, 100), exif_orientation=6)  # shot turned: stored on its side
    Image.new("RGBA", (500, 500), (0, 0, 0, 0)).save(folder / "cola.png")  # a cut-out on transparency
    (folder / "notes.png").write_text("not a picture")
    photo(tmp_path / "outside.jpg")
    return folder


def test_head_office_makes_each_picture_small_once_names_it_in_the_bundle_and_says_what_it_could_not(
    hq_engine, tmp_path, shelf
):
    hq_catalog.import_file(hq_engine, write(tmp_path, HEADER + ROWS))
    problems = hq_pictures.prepare(hq_engine, str(shelf))
    assert len(problems) == 3, problems
    said = "\n".join(problems)
    assert "milk.png (P005): no such file in the pictures folder" in said
    assert "notes.png (P006): not a picture Pillow can read" in said
    assert "../outside.jpg (P007): not a file in the pictures folder" in said

    made = hq_pictures.published(hq_engine)
    assert set(made) == {"water.jpg", "cola.png", "shelf/tea.jpg"}
    water, media = hq_pictures.data(hq_engine, made["water.jpg"].sha256)
    assert media == "image/jpeg" and hashlib.sha256(water).hexdigest() == made["water.jpg"].sha256
    assert Image.open(io.BytesIO(water)).size == (240, 160)  # fitted into 240x240, its shape kept
    cola, media = hq_pictures.data(hq_engine, made["cola.png"].sha256)
    assert media == "image/png" and Image.open(io.BytesIO(cola)).mode == "RGBA"  # its transparency kept
    tea, _ = hq_pictures.data(hq_engine, made["shelf/tea.jpg"].sha256)
    assert Image.open(io.BytesIO(tea)).size == (80, 240)  # turned upright by its EXIF orientation
    assert not Image.open(io.BytesIO(tea)).getexif()  # the phone's metadata stays at head office

    # read again only when the file changed: same size and time -> not read (the old picture stays)
    stat = (shelf / "water.jpg").stat()
    photo(shelf / "water.jpg", colour=(30, 30, 200))
    os.utime(shelf / "water.jpg", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    hq_pictures.prepare(hq_engine, str(shelf))
    assert hq_pictures.published(hq_engine)["water.jpg"] == made["water.jpg"]
    os.utime(shelf / "water.jpg", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    hq_pictures.prepare(hq_engine, str(shelf))
    assert hq_pictures.published(hq_engine)["water.jpg"] != made["water.jpg"]
    (shelf / "shelf" / "tea.jpg").unlink()  # a picture taken away: said, and published without one
    assert any(p.startswith("shelf/tea.jpg (P003): no such file") for p in hq_pictures.prepare(hq_engine, str(shelf)))
    assert "shelf/tea.jpg" not in hq_pictures.published(hq_engine)
    photo(shelf / "shelf" / "tea.jpg", size=(300, 100), exif_orientation=6)  # and back
    hq_pictures.prepare(hq_engine, str(shelf))

    # the bundle names each picture; the kiosk's reader (written apart) gets its hash on the product
    key, public = signing.keygen(str(tmp_path / "hq"))
    [bundle] = publish.publish(hq_engine, signing.load_private_key(str(key)), ["s1"])
    data = publish.command_data(hq_engine, "s1", bundle.version)
    version, _, raw = verify(data, signing.load_public_key(str(public)), "s1")
    shown = {p.sku: p.picture for p, _ in unpack(raw, version, "s1")}
    now = hq_pictures.published(hq_engine)
    assert shown["P001"] == now["water.jpg"].sha256 and shown["P003"] == now["shelf/tea.jpg"].sha256
    assert shown["P005"] == shown["P006"] == shown["P007"] == shown["P008"] == ""


def test_a_picture_at_an_address_is_downloaded_once(hq_engine, tmp_path):
    served = []
    body = io.BytesIO()
    Image.new("RGB", (640, 640), (0, 128, 0)).save(body, "JPEG")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            served.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body.getvalue())))
            self.end_headers()
            self.wfile.write(body.getvalue())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/p/lime.jpg"
        hq_catalog.import_file(
            hq_engine, write(tmp_path, HEADER + f"P009,6901234000092,青柠,Lime,fruit,standard,90,{url}\n")
        )
        assert hq_pictures.prepare(hq_engine, str(tmp_path)) == []
        assert hq_pictures.prepare(hq_engine, str(tmp_path)) == []
        assert served == ["/p/lime.jpg"]
        assert Image.open(
            io.BytesIO(hq_pictures.data(hq_engine, hq_pictures.published(hq_engine)[url].sha256)[0])
        ).size == (240, 240)
    finally:
        server.shutdown()


def test_a_catalog_with_a_malformed_picture_is_refused(hq_engine, tmp_path):
    import gzip
    import json

    key, public = signing.keygen(str(tmp_path / "hq"))
    private = signing.load_private_key(str(key))
    hq_catalog.import_file(hq_engine, write(tmp_path, HEADER + ROWS))
    [bundle] = publish.publish(hq_engine, private, ["s1"])
    data = publish.command_data(hq_engine, "s1", bundle.version)
    _, _, raw = verify(data, signing.load_public_key(str(public)), "s1")
    for bad in ({"sha256": "../../etc/passwd", "size": 10}, {"sha256": "a" * 64, "size": 10**7}, "a" * 64):
        doc = json.loads(gzip.decompress(raw))
        doc["products"][0]["picture"] = bad
        body = _resign(data, private, gzip.compress(json.dumps(doc).encode()))
        version, _, altered = verify(body, signing.load_public_key(str(public)), "s1")
        with pytest.raises(CatalogRefused, match="'picture' must name a sha256"):
            unpack(altered, version, "s1")


class PictureServer:
    """Head office's picture address as a test controls it: `pictures` sha -> bytes to answer with."""

    def __init__(self) -> None:
        self.pictures: dict[str, bytes] = {}
        self.asked: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                sha = self.path.rsplit("/", 1)[-1]
                outer.asked.append(sha)
                data = outer.pictures.get(sha)
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()
                self.wfile.write(data or b"")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()


def jpeg(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (240, 160), colour).save(out, "JPEG")
    return out.getvalue()


def give_pictures(store, pictures: dict[str, str]) -> None:
    """The current catalog's products (sku -> sha256) named with pictures, as a head-office catalog names them."""
    with store.tx() as db:
        for sku, sha in pictures.items():
            db.execute("UPDATE products SET picture = ? WHERE sku = ?", (sha, sku))


def test_the_kiosk_keeps_only_pictures_that_hash_to_their_name_and_drops_those_no_catalog_names(tmp_path):
    from kiosk.catalog import DEMO_PRODUCTS
    from kiosk.store import Store
    from tests.test_store import ID

    store = Store(tmp_path / "kiosk.sqlite", ID)
    store.seed_catalog(DEMO_PRODUCTS)
    good, swapped, missing = jpeg((200, 0, 0)), jpeg((0, 200, 0)), jpeg((0, 0, 200))
    sha = {
        name: hashlib.sha256(b).hexdigest() for name, b in (("good", good), ("swapped", swapped), ("missing", missing))
    }
    give_pictures(store, {"P001": sha["good"], "P002": sha["swapped"], "P003": sha["missing"]})
    server = PictureServer()
    server.pictures = {sha["good"]: good, sha["swapped"]: good}  # P002's address answers another picture
    worker = Worker("pictures", lambda e: None)
    folder = tmp_path / "pictures"
    try:
        pictures = ProductPictures(store, folder, HqHttp(server.url), worker, min_free_bytes=0)
        assert pictures.fetch_missing() == (1, 2)
        assert sorted(p.name for p in folder.iterdir()) == [sha["good"]]
        assert (folder / sha["good"]).read_bytes() == good
        assert oct(folder.stat().st_mode & 0o777) == "0o700"

        server.pictures[sha["missing"]] = missing  # head office has it now: the next fetch gets only what is missing
        server.asked.clear()
        assert pictures.fetch_missing() == (1, 1)
        assert sorted(server.asked) == sorted([sha["missing"], sha["swapped"]])

        give_pictures(store, {"P001": ""})  # the next catalog drops water's picture
        assert pictures.prune() == 1 and not (folder / sha["good"]).exists() and (folder / sha["missing"]).exists()

        # no room: nothing fetched, the disk is left to the sales
        full = ProductPictures(store, folder, HqHttp(server.url), worker, min_free_bytes=2**62)
        server.pictures[sha["swapped"]] = swapped
        assert full.fetch_missing() == (0, 1)
        # no head-office address: said, nothing tried
        assert ProductPictures(store, folder, HqHttp(""), worker, min_free_bytes=0).fetch_missing() == (0, 1)
    finally:
        worker.shutdown()
        server.close()


def put_picture(k, sku: str, colour) -> str:
    """A picture in the kiosk's folder, named for `sku` in its catalog (as fetched from head office)."""
    data = jpeg(colour)
    sha = hashlib.sha256(data).hexdigest()
    k.pictures.folder.mkdir(exist_ok=True)
    (k.pictures.folder / sha).write_bytes(data)
    give_pictures(k.store, {sku: sha})
    k.catalog.forget()
    return sha


def pictures_drawn(ui) -> list[DrawnPicture]:
    ui.painter.audit = []
    ui.frame()
    drawn, ui.painter.audit = ui.painter.audit, None
    return [d for d in drawn if isinstance(d, DrawnPicture)]


def test_the_look_up_tiles_and_the_scanned_items_card_show_the_products_pictures(ui_for):
    k, ui = ui_for(kiosk={"default_language": "en"})
    water = put_picture(k, "P001", (30, 90, 200))
    cola = put_picture(k, "P002", (200, 30, 30))
    (k.pictures.folder / ("f" * 64)).write_bytes(b"\xff\xd8 not really a jpeg")  # a damaged file: no picture
    give_pictures(k.store, {"P003": "f" * 64})
    k.catalog.forget()
    tap(ui, "look_up:browse")
    assert run_until(ui, lambda: k.controller.snapshot().look_up.categories)
    tap(ui, "look_up_category:drinks")
    assert run_until(ui, lambda: {water, cola} <= {d.picture for d in pictures_drawn(ui)})  # decoded off the UI thread
    drawn = {d.picture: d.rect for d in pictures_drawn(ui)}
    if os.environ.get("KIOSK_SHOT"):
        ui.screenshot(Path(os.environ["KIOSK_SHOT"] + ".tiles.png"))
    tea = ui.button_rect("look_up_add:6901234000030")
    assert not any(tea.colliderect(r) for r in drawn.values())  # its damaged file: drawn without, no harm done
    assert len(drawn) == len(k.controller.snapshot().look_up.items) - 1  # the others: head office's or the demo's
    tile = ui.button_rect("look_up_add:6901234000016")
    assert tile.contains(drawn[water]) and max(drawn[water].size) >= 48
    # what the shopper sees there is the picture: its colour at its centre
    assert ui.surface.get_at(drawn[water].center)[:3] == pytest.approx((30, 90, 200), abs=12)
    tap(ui, "look_up_add:6901234000016")
    assert run_until(ui, lambda: [d.picture for d in pictures_drawn(ui)] == [water])  # the card of the item added
    [card] = pictures_drawn(ui)
    assert ui.surface.get_at(card.rect.center)[:3] == pytest.approx((30, 90, 200), abs=12)
    if os.environ.get("KIOSK_SHOT"):
        ui.screenshot(Path(os.environ["KIOSK_SHOT"]))


def test_a_picture_is_decoded_once_and_never_by_the_frame_that_asks(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    data = jpeg((10, 200, 10))
    sha = hashlib.sha256(data).hexdigest()
    (folder / sha).write_bytes(data)
    gate = threading.Event()
    worker = Worker("look-up", lambda e: None)
    worker.submit("hold", "", gate.wait, 5)  # the worker busy: the frame must not wait for it
    cache = PictureCache(folder, worker)
    try:
        start = time.perf_counter()
        assert cache.get(sha, 96) is None
        assert time.perf_counter() - start < 0.05
        gate.set()
        deadline = time.monotonic() + 5
        while cache.get(sha, 96) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        picture = cache.get(sha, 96)
        assert isinstance(picture, pygame.Surface) and picture.get_size() == (96, 64)
        assert cache.get(sha, 96) is picture  # kept
        assert cache.get("0" * 64, 96) is None  # not fetched yet: asked again only after a while
    finally:
        worker.shutdown()


def test_the_simulators_demo_catalog_has_pictures_drawn_once_and_given_way_to_head_offices(tmp_path):
    from kiosk import demo_pictures
    from tests.conftest import make_kiosk

    k = make_kiosk(tmp_path)
    folder = k.pictures.folder
    files = sorted(p.name for p in folder.iterdir())
    assert len(files) == len(demo_pictures.LOOKS) == 32  # each product its own
    water = k.catalog.get("6901234000016")
    assert water is not None and water.picture in files
    picture = Image.open(folder / water.picture)
    assert (picture.format, picture.size) == ("PNG", (240, 240))
    assert hashlib.sha256((folder / water.picture).read_bytes()).hexdigest() == water.picture
    k.stop()
    again = make_kiosk(tmp_path)  # a restart: the same files, nothing drawn twice on disk
    assert sorted(p.name for p in folder.iterdir()) == files
    # a head-office catalog without pictures replaces the demo's: once sold from, their files go
    from kiosk.catalog import Product

    gen = again.store.stage_catalog(
        [(Product("P001", "6901234000016", "水", "Water", 200), ["6901234000016"])], "1-abc"
    )
    again.store.switch_catalog(gen, "1-abc")
    again.pictures.prune()
    assert list(folder.iterdir()) == []
    again.stop()
