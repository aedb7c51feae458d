"""Head office's catalog arriving at the kiosk (`cmd/catalog`): checked, loaded beside the current one, and sold from
from the next shopper on.

The command carries a manifest (format `kiosk-catalog/1`, version, store, sha256 and size of the bundle), head
office's Ed25519 signature of it (canonical JSON: sorted keys, no spaces, UTF-8; Base64), and the bundle (Base64)
or, for a big one, the `url` to download it from head office's HTTP API.  The bundle is the
gzip of one JSON document with the version, the store and the products (headoffice/publish.py writes it; this
side is written apart, and the tests run one against the other).

Before anything is loaded: the bundle's size and SHA-256 match the manifest, the signature verifies with head
office's public key (`mqtt.hq_public_key_file`), the manifest is for this store, the version is newer than the
one sold (the same version again is answered "already", never loaded twice), the bundle unpacks to at most
MAX_UNPACKED bytes, and every product is well formed (a GTIN with its check digit, a whole non-negative price,
a known tax class and unit, a name in each language, a picture named by its sha256 and a size up to
MAX_PICTURE).  Any failure: the catalog is refused, head office gets the reason on `cmd-result` and as an event,
and the kiosk keeps selling the catalog it had.  Once loaded, its pictures are fetched (kiosk.services.pictures).

Loading runs on the back-office worker (kiosk.store.catalog stages it in short transactions); the controller
switches to it when no shopper is using the kiosk, so a cart keeps the prices it was scanned at.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import io
import json
import logging
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk.catalog import TAX_RATES_BP, Product, gtin_valid
from kiosk.services.events import CatalogStaged, Event
from kiosk.services.jobs import Worker
from kiosk.services.pictures import MAX_PICTURE, SHA256, ProductPictures
from kiosk.store import Store

log = logging.getLogger(__name__)

FORMAT = "kiosk-catalog/1"
MAX_UNPACKED = 256 * 2**20  # a catalog of 10^5 products is ~25 MB of JSON; more is a mistake or an attack
UNITS = ("piece", "kg")
MORE_LANGUAGES = ("zh_TW", "ja", "ko")  # names head office may give besides zh_CN and en (others are ignored)


class CatalogRefused(ValueError):
    """The catalog was not loaded; the message says why (for head office and the log)."""


def signed_bytes(manifest: dict[str, Any]) -> bytes:
    fields = {k: manifest.get(k) for k in ("format", "version", "store", "sha256", "size")}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def verify(
    body: dict[str, Any], key: Ed25519PublicKey | None, store_id: str, fetch: Callable[[str, int], bytes] | None = None
) -> tuple[int, str, bytes]:
    """The command's bundle checked against its manifest and head office's signature: (version, label, bundle).
    The bundle rides in the command (`bundle`, Base64) or is downloaded from `url` with `fetch(url, size)`, only
    after the manifest's signature is good.  CatalogRefused otherwise."""
    if key is None:
        raise CatalogRefused("this kiosk has no head-office key (mqtt.hq_public_key_file) to check a catalog with")
    if body.get("format") != FORMAT:
        raise CatalogRefused(f"unknown catalog format {body.get('format')!r} (this kiosk reads {FORMAT})")
    version, size, sha = body.get("version"), body.get("size"), body.get("sha256")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CatalogRefused("'version' must be a whole number from 1")
    inline, url = body.get("bundle"), body.get("url")
    if not isinstance(size, int) or size < 0 or not isinstance(sha, str) or not isinstance(inline or url, str):
        raise CatalogRefused("the manifest needs 'size', 'sha256' and 'bundle' or 'url'")
    try:
        signature = base64.b64decode(str(body.get("signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raise CatalogRefused("the signature is not Base64") from None
    try:
        key.verify(signature, signed_bytes(body))
    except InvalidSignature:
        raise CatalogRefused("the manifest's signature does not verify with head office's key") from None
    if body.get("store") != store_id:
        raise CatalogRefused(f"the catalog is for store {body.get('store')!r}, this kiosk is in {store_id!r}")
    if isinstance(inline, str):
        try:
            data = base64.b64decode(inline, validate=True)
        except (binascii.Error, ValueError):
            raise CatalogRefused("the bundle is not Base64") from None
    elif fetch is None:
        raise CatalogRefused("the catalog is to be downloaded, and this kiosk cannot reach head office's HTTP API")
    else:
        log.info("catalog %d: downloading %d bytes from head office", version, size)
        try:
            data = fetch(str(url), size)
        except OSError as exc:
            raise CatalogRefused(f"the catalog could not be downloaded: {exc}") from None
    if len(data) != size:
        raise CatalogRefused(f"the bundle is {len(data)} bytes, the manifest says {size}: truncated or altered")
    if hashlib.sha256(data).hexdigest() != sha:
        raise CatalogRefused("the bundle's SHA-256 does not match the manifest: altered")
    return version, f"{version}-{sha[:12]}", data


def unpack(data: bytes, version: int, store_id: str) -> list[tuple[Product, list[str]]]:
    """The bundle's products, each with all its barcodes; CatalogRefused for anything malformed."""
    try:
        raw = gzip.GzipFile(fileobj=io.BytesIO(data)).read(MAX_UNPACKED + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise CatalogRefused(f"the bundle does not unpack: {exc}") from None
    if len(raw) > MAX_UNPACKED:
        raise CatalogRefused(f"the bundle unpacks to more than {MAX_UNPACKED // 2**20} MB")
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CatalogRefused(f"the bundle is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CatalogRefused("the bundle is not a kiosk catalog")
    if doc.get("version") != version or doc.get("store") != store_id:
        raise CatalogRefused("the bundle's version or store differs from its manifest")
    items = doc.get("products")
    if not isinstance(items, list) or not items:
        raise CatalogRefused("the catalog has no products")
    return list(_products(items))


def _products(items: list[Any]) -> Iterator[tuple[Product, list[str]]]:
    for n, item in enumerate(items, start=1):
        try:
            yield _product(item)
        except (KeyError, TypeError, ValueError) as exc:
            sku = item.get("sku") if isinstance(item, dict) else None
            raise CatalogRefused(f"product {n} ({sku!r}): {exc}") from None


def _product(item: dict[str, Any]) -> tuple[Product, list[str]]:
    sku, codes, names, price = item["sku"], item["barcodes"], item["names"], item["price"]
    if not isinstance(sku, str) or not sku or len(sku) > 64:
        raise ValueError("'sku' must be text of 1 to 64 characters")
    if not isinstance(codes, list) or not codes or not all(isinstance(c, str) and gtin_valid(c) for c in codes):
        raise ValueError("'barcodes' must be GTINs with valid check digits")
    if not isinstance(names, dict) or not all(isinstance(names.get(k), str) and names[k] for k in ("zh_CN", "en")):
        raise ValueError("a name in zh_CN and en is needed")
    if not isinstance(price, int) or isinstance(price, bool) or price < 0:
        raise ValueError("'price' must be a whole number of minor units")
    if item["tax_class"] not in TAX_RATES_BP:
        raise ValueError(f"unknown tax class {item['tax_class']!r}")
    unit = item.get("unit", "piece")
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}")
    picture = item.get("picture")
    if picture is not None and not (
        isinstance(picture, dict)
        and isinstance(picture.get("sha256"), str)
        and SHA256.fullmatch(picture["sha256"])
        and isinstance(picture.get("size"), int)
        and 0 < picture["size"] <= MAX_PICTURE
    ):
        raise ValueError(f"'picture' must name a sha256 and a size up to {MAX_PICTURE} bytes")
    product = Product(
        sku,
        codes[0],
        names["zh_CN"],
        names["en"],
        price,
        item["tax_class"],
        unit=unit,
        age_restricted=bool(item.get("age_restricted", False)),
        category=str(item.get("category", ""))[:200],
        search=str(item.get("search", ""))[:500].lower(),
        picture=picture["sha256"] if picture else "",
        names=tuple(
            (lang, names[lang][:200]) for lang in MORE_LANGUAGES if isinstance(names.get(lang), str) and names[lang]
        ),
    )
    return product, codes


class CatalogUpdates:
    def __init__(
        self,
        store: Store,
        worker: Worker,
        post: Callable[[Event], None],
        *,
        key: Ed25519PublicKey | None,
        store_id: str,
        fetch: Callable[[str, int], bytes] | None = None,
        pictures: ProductPictures | None = None,
    ) -> None:
        """`fetch(url, size)`: downloads a bundle that comes as an address (kiosk.services.hq_http); `pictures`
        fetches the new catalog's pictures once it is loaded."""
        self.store, self.worker, self.post = store, worker, post
        self.key, self.store_id, self.fetch, self.pictures = key, store_id, fetch, pictures

    def receive(self, body: dict[str, Any], command_id: str) -> dict[str, Any] | None:
        """`cmd/catalog`: checked and loaded on the back-office worker, which answers head office."""
        self.worker.submit("catalog", str(body.get("version", "")), self._load, body, command_id)
        return None

    def _load(self, body: dict[str, Any], command_id: str) -> None:
        try:
            version, label, data = verify(body, self.key, self.store_id, self.fetch)
            running = self.store.catalog_version()
            if label in (running, self.store.staged_catalog()):
                self.store.add_command_result(command_id, "catalog", {"ok": True, "version": label, "already": True})
                return
            if _number(running) >= version or _number(self.store.staged_catalog()) >= version:
                raise CatalogRefused(f"version {version} is not newer than this kiosk's {running}")
            items = unpack(data, version, self.store_id)
            gen = self.store.stage_catalog(items, label)
        except (CatalogRefused, ValueError) as exc:
            log.warning("catalog refused: %s", exc)
            self.store.add_event("catalog_refused", version=body.get("version"), reason=str(exc)[:300])
            self.store.add_command_result(command_id, "catalog", {"ok": False, "error": str(exc)[:300]})
            return
        log.info("catalog %s loaded (%d products): sold from the next shopper on", label, len(items))
        self.store.add_command_result(command_id, "catalog", {"ok": True, "version": label, "products": len(items)})
        self.post(CatalogStaged(label, gen))
        if self.pictures is not None:
            self.pictures.fetch_soon()  # on its own worker: a sale or a refund never waits behind the pictures


def _number(label: str) -> int:
    """The version number of a head-office catalog label ("7-ab12cd34ef56"); 0 for the demo's digest or none."""
    head = label.split("-", 1)[0]
    return int(head) if "-" in label and head.isdigit() else 0
