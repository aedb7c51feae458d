"""The catalog in the store: products seeded or loaded, the catalog's version, and the look-up the checkout uses.

The checkout never holds the whole catalog: `ProductLookup` reads one product
by its barcode (the products table's unique index) through a bounded cache, so
a store with 10^5 products starts as fast and as small as one with 30.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping

import sqlite_utils

from kiosk.catalog import Product
from kiosk.store.database import Database

COLUMNS = "sku, barcode, name_zh, name_en, price, tax_class"


class ProductLookup(Mapping[str, Product]):
    """Barcode -> Product, read from SQLite on demand; the `cache_size` most recently scanned kept in memory
    (unknown barcodes too: a shopper scanning one again costs nothing).  `forget()` after the catalog changes."""

    def __init__(self, store: CatalogStore, cache_size: int = 4096) -> None:
        self.store = store
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Product | None] = OrderedDict()

    def get(self, barcode: str, default: Product | None = None) -> Product | None:  # type: ignore[override]
        if barcode in self._cache:
            self._cache.move_to_end(barcode)
            found = self._cache[barcode]
        else:
            row = (
                self.store.conn()
                .execute(f"SELECT {COLUMNS} FROM products WHERE barcode=? AND active=1", (barcode,))
                .fetchone()
            )
            found = Product(*row) if row else None
            self._cache[barcode] = found
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return found if found is not None else default

    def __getitem__(self, barcode: str) -> Product:
        found = self.get(barcode)
        if found is None:
            raise KeyError(barcode)
        return found

    def __contains__(self, barcode: object) -> bool:
        return isinstance(barcode, str) and self.get(barcode) is not None

    def __iter__(self) -> Iterator[str]:
        """Every active barcode, streamed from the database (never a list of all of them)."""
        for (barcode,) in self.store.conn().execute("SELECT barcode FROM products WHERE active=1 ORDER BY barcode"):
            yield barcode

    def __len__(self) -> int:
        return int(self.store.conn().execute("SELECT count(*) FROM products WHERE active=1").fetchone()[0])

    def forget(self) -> None:
        self._cache.clear()


class CatalogStore(Database):
    def seed_catalog(self, products: Iterable[Product]) -> int:
        """Insert products that are not there yet; returns how many were added."""
        with self.tx() as db:
            before = db.total_changes  # rows inserted, without counting the table (10^5 products: a scan)
            sqlite_utils.Database(db)["products"].insert_all((p.__dict__ for p in products), pk="sku", ignore=True)
            added = db.total_changes - before
            if added or not self._meta(db, "catalog_version"):
                db.execute(
                    "INSERT INTO meta VALUES ('catalog_version', ?)"
                    " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (_catalog_digest(db),),
                )
            return added

    def catalog_version(self) -> str:
        """What catalog this kiosk sells from: a digest of its products (head office compares kiosks by it)."""
        return self._meta(self.conn(), "catalog_version")

    def catalog(self) -> ProductLookup:
        """The products by barcode, read on demand (see ProductLookup)."""
        return ProductLookup(self)

    def product_codes(self, limit: int = 500) -> list[str]:
        """Some active barcodes (the simulator scans one of them at random)."""
        rows = self.conn().execute("SELECT barcode FROM products WHERE active=1 LIMIT ?", (limit,))
        return [r[0] for r in rows]


def _catalog_digest(db: sqlite3.Connection) -> str:
    rows = db.execute("SELECT sku, barcode, name_zh, name_en, price, tax_class, active FROM products ORDER BY sku")
    return hashlib.sha256(json.dumps([list(r) for r in rows], ensure_ascii=False).encode()).hexdigest()[:12]
