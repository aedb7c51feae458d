"""The catalog in the store: the products the kiosk sells, the catalog's version, the look-up the checkout uses, and
the loading of head office's next catalog beside the current one.

The checkout never holds the whole catalog: `ProductLookup` reads one product by its barcode (a primary key)
through a bounded cache, so a store with 10^5 products starts as fast and as small as one with 30.

Catalogs live in generations (`products` and `product_barcodes` are keyed by `gen`).  The kiosk sells from one
(meta `catalog_gen`).  A new catalog is loaded into the next generation in short transactions that no shopper
sees (a sale never waits long behind it), marked staged once complete, and made current between shoppers by
`switch_catalog()`: one small transaction.  A kiosk killed while loading keeps its current catalog (the
incomplete generation is dropped once a newer one is sold from); killed after staging, it switches on its
next start.  Generations older than the current are dropped after each switch.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence

from kiosk.catalog import Product, lookup_key
from kiosk.store.database import Database

COLUMNS = (
    "p.sku, p.barcode, p.name_zh, p.name_en, p.price, p.tax_class, p.unit, p.age_restricted, p.category, p.picture,"
    " p.names"
)
STAGE_BATCH = 2000  # products per loading transaction: a sale waits behind one at most (a few ms)


def _product(row: Sequence) -> Product:
    names = tuple(json.loads(row[10]).items()) if row[10] else ()
    return Product(*row[:7], age_restricted=bool(row[7]), category=row[8], picture=row[9], names=names)


class ProductLookup(Mapping[str, Product]):
    """Barcode -> Product of the current catalog, read from SQLite on demand; the `cache_size` most recently
    scanned kept in memory (unknown barcodes too: a shopper scanning one again costs nothing).  `forget()` after
    the catalog changes."""

    def __init__(self, store: CatalogStore, cache_size: int = 4096) -> None:
        self.store = store
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Product | None] = OrderedDict()
        self._gen = store.catalog_gen()

    def get(self, barcode: str, default: Product | None = None) -> Product | None:  # type: ignore[override]
        if barcode in self._cache:
            self._cache.move_to_end(barcode)
            found = self._cache[barcode]
        else:
            row = (
                self.store.conn()
                .execute(
                    f"SELECT {COLUMNS} FROM product_barcodes b JOIN products p ON p.gen = b.gen AND p.sku = b.sku"
                    " WHERE b.gen = ? AND b.code = ? AND p.active = 1",
                    (self._gen, lookup_key(barcode)),
                )
                .fetchone()
            )
            found = _product(row) if row else None
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
        """Every active product's first barcode, streamed from the database (never a list of all of them)."""
        rows = self.store.conn().execute(
            "SELECT barcode FROM products WHERE gen = ? AND active = 1 ORDER BY sku", (self._gen,)
        )
        for (barcode,) in rows:
            yield barcode

    def __len__(self) -> int:
        sql = "SELECT count(*) FROM products WHERE gen = ? AND active = 1"
        return int(self.store.conn().execute(sql, (self._gen,)).fetchone()[0])

    def forget(self) -> None:
        """The catalog changed (or may have): read products again, from the current generation."""
        self.use(self.store.catalog_gen())

    def use(self, gen: int) -> None:
        """Read products from generation `gen` from now on (the one just switched to)."""
        self._cache.clear()
        self._gen = gen


class CatalogStore(Database):
    def catalog_gen(self) -> int:
        return int(self._meta(self.conn(), "catalog_gen") or 0)

    def seed_catalog(self, products: Iterable[Product]) -> int:
        """Add products that are not in the current catalog yet (the demo's); returns how many were added."""
        with self.tx() as db:
            gen = int(self._meta(db, "catalog_gen") or 0)
            added = _insert(db, gen, ((p, (p.barcode,)) for p in products), ignore=True)
            if added or not self._meta(db, "catalog_version"):
                self._set_meta(db, "catalog_version", _catalog_digest(db, gen))
            return added

    def catalog_version(self) -> str:
        """What catalog this kiosk sells from: head office's version, or a digest of the seeded products."""
        return self._meta(self.conn(), "catalog_version")

    def has_headoffice_catalog(self) -> bool:
        """The kiosk sells a catalog head office published (its version reads "7-ab12cd34ef56")."""
        return re.fullmatch(r"\d+-[0-9a-f]{12}", self.catalog_version()) is not None

    def has_catalog(self) -> bool:
        row = self.conn().execute("SELECT 1 FROM products WHERE gen = ? LIMIT 1", (self.catalog_gen(),)).fetchone()
        return row is not None

    def catalog(self) -> ProductLookup:
        """The products by barcode, read on demand (see ProductLookup)."""
        return ProductLookup(self)

    def product_codes(self, limit: int = 500) -> list[str]:
        """Some active barcodes of items anyone may buy (the simulator scans one at random; age-restricted items
        wait for staff, so they are scanned on purpose only)."""
        sql = "SELECT barcode FROM products WHERE gen = ? AND active = 1 AND age_restricted = 0 LIMIT ?"
        return [r[0] for r in self.conn().execute(sql, (self.catalog_gen(), limit))]

    # -- the look-up screen -------------------------------------------------------------------------------------
    def categories(self) -> list[str]:
        """The catalog's categories that hold an active product ("" for products without one)."""
        sql = "SELECT DISTINCT category FROM products WHERE gen = ? AND active = 1 ORDER BY category"
        return [r[0] for r in self.conn().execute(sql, (self.catalog_gen(),))]

    def browse(self, category: str | None = None, query: str = "", limit: int = 60, offset: int = 0) -> list[Product]:
        """Active products of `category` (None: any) found by `query` (pinyin initials or pinyin anywhere, an
        English word's start, Chinese anywhere: "nn", "cnn", "chun", "milk", "牛奶"), by English name."""
        sql = f"SELECT {COLUMNS} FROM products p WHERE p.gen = ? AND p.active = 1"
        args: list[object] = [self.catalog_gen()]
        if category is not None:
            sql += " AND p.category = ?"
            args.append(category)
        q = query.strip().lower()
        if q:
            escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            # pinyin anywhere ("nn" finds 纯牛奶 "cnn"), English from a word's start ("milk"), Chinese anywhere
            sql += " AND (p.search LIKE ? ESCAPE '\\' OR ' ' || lower(p.name_en) LIKE ? ESCAPE '\\'"
            sql += " OR p.name_zh LIKE ? ESCAPE '\\')"
            args += [f"%{escaped}%", f"% {escaped}%", f"%{escaped}%"]
        sql += " ORDER BY p.name_en LIMIT ? OFFSET ?"
        args += [limit, offset]
        return [_product(r) for r in self.conn().execute(sql, args)]

    # -- head office's next catalog ------------------------------------------------------------------------------
    def stage_catalog(self, items: Iterable[tuple[Product, Sequence[str]]], version: str) -> int:
        """Load a catalog (each product with all its barcodes) into the next generation, STAGE_BATCH products a
        transaction, then mark it staged with its `version`; returns the generation.  Nobody sells from it until
        `switch_catalog()`.  ValueError (and nothing staged) if two products share a barcode or a sku."""
        with self.tx() as db:
            gen = int(db.execute("SELECT COALESCE(MAX(gen), 0) + 1 FROM products").fetchone()[0])
            gen = max(gen, int(self._meta(db, "catalog_gen") or 0) + 1)
        batch: list[tuple[Product, Sequence[str]]] = []
        try:
            for item in items:
                batch.append(item)
                if len(batch) >= STAGE_BATCH:
                    with self.tx() as db:
                        _insert(db, gen, batch)
                    batch = []
            with self.tx() as db:
                _insert(db, gen, batch)
                self._set_meta(db, "catalog_staged", json.dumps({"gen": gen, "version": version}))
        except sqlite3.IntegrityError as exc:
            self._drop_generation(gen)
            raise ValueError(f"two products share a sku or a barcode ({exc})") from None
        return gen

    def name_pictures(self, pictures: Mapping[str, str]) -> int:
        """Give the products of the catalog sold from that have no picture theirs (sku -> sha256); how many."""
        with self.tx() as db:
            gen = int(self._meta(db, "catalog_gen") or 0)
            sql = "UPDATE products SET picture = ? WHERE gen = ? AND sku = ? AND picture = ''"
            return sum(db.execute(sql, (sha, gen, sku)).rowcount for sku, sha in pictures.items())

    def pictures_wanted(self) -> set[str]:
        """The pictures of the catalog sold from and of any loaded after it (staged, or being loaded)."""
        sql = "SELECT DISTINCT picture FROM products WHERE gen >= ? AND picture != ''"
        return {sha for (sha,) in self.conn().execute(sql, (self.catalog_gen(),))}

    def staged_catalog(self) -> str:
        """The version loaded and waiting for the next shopper ("" when none)."""
        raw = self._meta(self.conn(), "catalog_staged")
        return json.loads(raw)["version"] if raw else ""

    def switch_catalog(self, gen: int | None = None, version: str = "") -> str | None:
        """Sell from generation `gen` (default: the staged one) from now on; call between shoppers.  Returns its
        version, or None when there is nothing newer to switch to."""
        with self.tx() as db:
            raw = self._meta(db, "catalog_staged")
            staged = json.loads(raw) if raw else None
            if gen is None:
                if staged is None:
                    return None
                gen, version = int(staged["gen"]), str(staged["version"])
            if gen <= int(self._meta(db, "catalog_gen") or 0):
                return None
            self._set_meta(db, "catalog_gen", str(gen))
            self._set_meta(db, "catalog_version", version)
            if staged is not None and int(staged["gen"]) <= gen:
                db.execute("DELETE FROM meta WHERE key = 'catalog_staged'")
        return version

    def drop_unused_catalogs(self, batch: int = 5000) -> int:
        """Delete the products of generations older than the one sold from (a load replaced before it was sold
        from, or cut short by a stop, is older once a newer one is sold from), a batch a transaction; returns
        how many rows went."""
        db = self.conn()
        current = self.catalog_gen()
        gens = {g for (g,) in db.execute("SELECT DISTINCT gen FROM products WHERE gen < ?", (current,))}
        gens |= {g for (g,) in db.execute("SELECT DISTINCT gen FROM product_barcodes WHERE gen < ?", (current,))}
        return sum(self._drop_generation(g, batch) for g in sorted(gens))

    def _drop_generation(self, gen: int, batch: int = 5000) -> int:
        done = 0
        for table, key in (("product_barcodes", "code"), ("products", "sku")):
            done += self.in_batches(
                f"DELETE FROM {table} WHERE gen = ? AND {key} IN (SELECT {key} FROM {table} WHERE gen = ? LIMIT ?)",
                gen,
                gen,
                batch=batch,
            )
        return done

    @staticmethod
    def _set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))


def _insert(
    db: sqlite3.Connection, gen: int, items: Iterable[tuple[Product, Sequence[str]]], ignore: bool = False
) -> int:
    """Products with their barcodes into generation `gen`; returns how many products were added."""
    verb = "INSERT OR IGNORE" if ignore else "INSERT"
    added = 0
    for p, codes in items:
        cur = db.execute(
            f"{verb} INTO products(gen, sku, barcode, name_zh, name_en, price, tax_class, active, unit,"
            " age_restricted, category, search, picture, names) VALUES (?,?,?,?,?,?,?,1,?,?,?,?,?,?)",
            (
                gen,
                p.sku,
                p.barcode,
                p.name_zh,
                p.name_en,
                p.price,
                p.tax_class,
                p.unit,
                int(p.age_restricted),
                p.category,
                p.search,
                p.picture,
                json.dumps(dict(p.names), ensure_ascii=False) if p.names else "",
            ),
        )
        if cur.rowcount:
            added += 1
            db.executemany(
                f"{verb} INTO product_barcodes(gen, code, sku) VALUES (?,?,?)",
                [(gen, lookup_key(c), p.sku) for c in dict.fromkeys(codes or (p.barcode,))],
            )
    return added


def _catalog_digest(db: sqlite3.Connection, gen: int) -> str:
    rows = db.execute(
        "SELECT sku, barcode, name_zh, name_en, price, tax_class, active FROM products WHERE gen = ? ORDER BY sku",
        (gen,),
    )
    return hashlib.sha256(json.dumps([list(r) for r in rows], ensure_ascii=False).encode()).hexdigest()[:12]
