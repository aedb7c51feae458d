"""Publishing the catalog: a numbered version for the chain, one signed bundle per store, and sending each kiosk the
newest bundle of its store until it runs it.

A bundle is the gzip of one JSON document (format `kiosk-catalog/1`): the version, the store, and every active
product with its barcodes, names, tax class, unit, age flag, category, the price resolved for that store, and
its picture's sha256 and size when it has one (headoffice/pictures.py made it; kiosks download it by its hash).
Its manifest (format, version, store, sha256 and size of the bundle) is signed with head office's Ed25519 key:
canonical JSON (sorted keys, no spaces, UTF-8), the signature in Base64.  The kiosk (kiosk/services/
catalog_updates.py, written apart) checks size, hash and signature before it loads anything.

Delivery: `cmd/catalog` carrying the manifest, its signature and either the bundle in Base64 (bundles up to
`commands.catalog_inline_max` bytes) or `url`, where the kiosk downloads it from head office's HTTP API
(`GET /api/v1/catalog/{store}/{version}/{token}`: the token is an HMAC of store and version under a secret of
head office's, so only a kiosk told by an authenticated command knows the address; the bytes are checked against
the signed manifest anyway).  `catch_up()` sends it to
every kiosk whose reported catalog_version is not its store's newest and that has not been sent that version
yet (kiosks offline at publishing get it when they are back; a refused one is not sent again).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, and_, func, insert, select

from headoffice import catalog, pictures
from headoffice.db import catalog_bundles, catalog_versions, commands, hq_secret, kiosks
from headoffice.signing import canonical

FORMAT = "kiosk-catalog/1"


@dataclass(frozen=True)
class Bundle:
    store: str
    version: int
    label: str
    sha256: str
    size: int
    signature: str


def manifest(store: str, version: int, sha256: str, size: int) -> dict[str, Any]:
    return {"format": FORMAT, "version": version, "store": store, "sha256": sha256, "size": size}


def search_words(name_zh: str) -> str:
    """What a shopper types on the kiosk's look-up screen to find a Chinese name: its pinyin initials and its
    pinyin ("纯牛奶 250ml" -> "cnn chunniunai"; ü as v, as Chinese keyboards type it)."""
    from pypinyin import Style, lazy_pinyin  # loaded by the publisher only (its dictionaries are large)

    han = "".join(c for c in name_zh if "\u4e00" <= c <= "\u9fff")
    if not han:
        return ""
    initials = "".join(lazy_pinyin(han, style=Style.FIRST_LETTER))
    return f"{initials} {''.join(lazy_pinyin(han, v_to_u=False))}".lower()


def build(
    products: list[catalog.CatalogProduct],
    store: str,
    version: int,
    published_at: str,
    shown: dict[str, pictures.Picture] | None = None,
) -> bytes:
    """The gzip'd JSON of the store's catalog: active products, the store's own price where it has one, and the
    picture `shown` has for its `image`."""
    shown = shown or {}
    doc = {
        "format": FORMAT,
        "version": version,
        "store": store,
        "published_at": published_at,
        "products": [
            {
                "sku": p.sku,
                "barcodes": list(p.barcodes),
                "names": p.names,
                "price": p.store_prices.get(store, p.price),
                "tax_class": p.tax_class,
                "unit": p.unit,
                "age_restricted": p.age_restricted,
                "category": p.category,
                "search": search_words(p.names.get("zh_CN", "")),
                **_picture(shown.get(p.image) if p.image else None),
            }
            for p in products
            if p.active
        ],
    }
    return gzip.compress(canonical(doc), compresslevel=6, mtime=0)


def _picture(picture: pictures.Picture | None) -> dict[str, Any]:
    return {"picture": {"sha256": picture.sha256, "size": picture.size}} if picture else {}


def publish(engine: Engine, key: Ed25519PrivateKey, stores: list[str] | None = None) -> list[Bundle]:
    """Make the next version of head office's catalog for `stores` (default: every store with a kiosk or a price
    of its own); returns its bundles.  The service's catch_up() delivers them.  Pictures: those pictures.prepare()
    made."""
    items = catalog.products(engine)
    shown = pictures.published(engine)
    if not items:
        raise ValueError("head office has no catalog to publish: import one first")
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    with engine.begin() as conn:
        if stores is None:
            known = {s for (s,) in conn.execute(select(kiosks.c.store).distinct())}
            stores = sorted(known | {s for p in items for s in p.store_prices})
        if not stores:
            raise ValueError("no store to publish for: no kiosk has reported yet; name the stores")
        version = int(conn.execute(select(func.coalesce(func.max(catalog_versions.c.version), 0))).scalar()) + 1
        conn.execute(insert(catalog_versions).values(version=version, published_at=now, products=len(items)))
        out = []
        for store in stores:
            data = build(items, store, version, stamp, shown)
            sha = hashlib.sha256(data).hexdigest()
            signature = base64.b64encode(key.sign(canonical(manifest(store, version, sha, len(data))))).decode()
            b = Bundle(store, version, f"{version}-{sha[:12]}", sha, len(data), signature)
            conn.execute(insert(catalog_bundles).values(**b.__dict__, bundle=data))
            out.append(b)
    return out


def download_token(secret: str, store: str, version: int) -> str:
    return hmac.new(secret.encode(), f"{store}/{version}".encode(), hashlib.sha256).hexdigest()[:32]


def command_data(
    engine: Engine, store: str, version: int, inline_max: int = 2**20, url_base: str = ""
) -> dict[str, Any]:
    """What `cmd/catalog` carries for this store's bundle of `version`: the manifest, its signature, and the
    bundle itself when it is at most `inline_max` bytes (or no `url_base` is known), else its download address."""
    with engine.connect() as conn:
        head = select(catalog_bundles.c.sha256, catalog_bundles.c.size, catalog_bundles.c.signature).where(
            and_(catalog_bundles.c.store == store, catalog_bundles.c.version == version)
        )
        row = conn.execute(head).one()
        out = {**manifest(store, version, row.sha256, row.size), "signature": row.signature}
        if row.size > inline_max and url_base:
            token = download_token(hq_secret(engine, "download_secret"), store, version)
            return {**out, "url": f"{url_base.rstrip('/')}/api/v1/catalog/{store}/{version}/{token}"}
        data = conn.execute(select(catalog_bundles.c.bundle).where(head.whereclause)).scalar_one()
    return {**out, "bundle": base64.b64encode(data).decode("ascii")}


def download(engine: Engine, store: str, version: int, token: str) -> bytes | None:
    """The bundle a download address names, or None when there is none or the token is not its."""
    if not hmac.compare_digest(token, download_token(hq_secret(engine, "download_secret"), store, version)):
        return None
    with engine.connect() as conn:
        return conn.execute(
            select(catalog_bundles.c.bundle).where(
                and_(catalog_bundles.c.store == store, catalog_bundles.c.version == version)
            )
        ).scalar()


def newest(engine: Engine) -> dict[str, tuple[int, str]]:
    """Each store's newest bundle: store -> (version, label)."""
    with engine.connect() as conn:
        top = select(catalog_bundles.c.store, func.max(catalog_bundles.c.version).label("v")).group_by(
            catalog_bundles.c.store
        )
        tops = {s: v for s, v in conn.execute(top)}
        labels = conn.execute(select(catalog_bundles.c.store, catalog_bundles.c.version, catalog_bundles.c.label))
        return {s: (v, label) for s, v, label in labels if tops.get(s) == v}


def behind(engine: Engine) -> list[tuple[str, str, int]]:
    """(store, kiosk, version) for every kiosk not on its store's newest catalog and not yet sent it."""
    latest = newest(engine)
    if not latest:
        return []
    with engine.connect() as conn:
        fleet = conn.execute(select(kiosks.c.store, kiosks.c.kiosk, kiosks.c.catalog_version)).all()
        sent = {
            (r.store, r.kiosk, (r.data or {}).get("version"))
            for r in conn.execute(
                select(commands.c.store, commands.c.kiosk, commands.c.data).where(commands.c.name == "catalog")
            )
        }
    out = []
    for store, kiosk, running in fleet:
        if store not in latest:
            continue
        version, label = latest[store]
        if running != label and (store, kiosk, version) not in sent:
            out.append((store, kiosk, version))
    return out
