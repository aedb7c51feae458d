"""The chain's catalog at head office: products read from a merchandiser's CSV or XLSX file, checked row by row,
kept in head office's tables, and written back out in the same format.

A file is all or nothing: every problem is reported (file, row, column, reason) and nothing is stored unless the
whole file is clean.  A product's row replaces what head office had for that sku (its barcodes and store prices
too); products not in the file stay as they were (set `active` to `no` to stop selling one).

Columns (the header row names them; order does not matter, names are case-insensitive):

    sku             the chain's own product id (required, unique in the file)
    barcodes        one or more GTIN-8/12/13/14 with a valid check digit, separated by spaces, ";" or "|"
    name_zh, name_en  the product's name in Simplified Chinese and in English (both required)
    name_zh_tw, name_ja, name_ko  its name for shoppers who chose Traditional Chinese, Japanese or Korean
                    (optional: without one the kiosk shows name_zh in Traditional script, or name_en)
    category        free text, for the kiosk's look-up screen and head office's statistics
    tax_class       standard, reduced or zero (the kiosk's tax classes)
    price           the chain's price in minor units (fen): 380 for 3.80
    unit            piece (default) or kg
    age_restricted  yes / no (default no)
    image           the product's picture (optional): a file name in head office's catalog.pictures_dir or an
                    http(s) address (headoffice/pictures.py makes the kiosks' picture of it at publish)
    active          yes / no (default yes)
    price@STORE     that store's price, where it differs from the chain's (one column per store)
    stock@STORE     that store's stock as counted (headoffice/stock.py); low@STORE its low-stock threshold

A barcode in a number-formatted spreadsheet cell loses its leading zeros: the report says so.
"""

from __future__ import annotations

import csv
import json
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biip.checksums import gs1_standard_check_digit
from sqlalchemy import Engine, delete, select

from headoffice import stock
from headoffice.db import catalog_barcodes, catalog_products, catalog_store_prices

LANGUAGES = {"name_zh": "zh_CN", "name_en": "en"}  # column -> the language it names the product in (required)
# optional: the product's name for the kiosks' other shoppers' languages (without one: OpenCC's Traditional
# script of name_zh for zh_TW, name_en for ja and ko)
MORE_LANGUAGES = {"name_zh_tw": "zh_TW", "name_ja": "ja", "name_ko": "ko"}
MAX_NAME = 200
TAX_CLASSES = ("standard", "reduced", "zero")  # the kiosk's (kiosk/catalog.py; a test holds them equal)
COLUMNS = (
    "sku",
    "barcodes",
    *LANGUAGES,
    *MORE_LANGUAGES,
    "category",
    "tax_class",
    "price",
    "unit",
    "age_restricted",
    "image",
    "active",
)
REQUIRED = ("sku", "barcodes", *LANGUAGES, "tax_class", "price")
STORE_PRICE = "price@"
PER_STORE = (STORE_PRICE, "stock@", "low@")  # columns with a store's name after the @
UNITS = ("piece", "kg")
YES, NO = {"yes", "y", "true", "1", "是"}, {"no", "n", "false", "0", "否"}
MAX_IMAGE = 2000  # characters of an `image` file name or address
MAX_PRICE = 10**9  # minor units: ten million yuan is a typo, not a price
_SPLIT = re.compile(r"[\s;|,]+")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a catalog file: where (row 1 is the header, as a spreadsheet numbers it) and why."""

    file: str
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}, row {self.row}, column {self.column}: {self.reason}"


class CatalogFileError(ValueError):
    """The file was not imported; `problems` says every reason, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} problem(s); nothing was imported:\n{shown}{more}")


@dataclass(frozen=True)
class CatalogProduct:
    sku: str
    barcodes: tuple[str, ...]
    names: dict[str, str]  # language -> name
    price: int
    tax_class: str
    category: str = ""
    unit: str = "piece"
    age_restricted: bool = False
    image: str = ""
    active: bool = True
    store_prices: dict[str, int] = field(default_factory=dict)
    gtins: tuple[str, ...] = field(default=(), compare=False)  # the barcodes as GTIN-14, found once when read
    stock: dict[str, int] = field(default_factory=dict, compare=False)  # counted, per store (import only)
    low: dict[str, int] = field(default_factory=dict, compare=False)  # low-stock threshold, per store


@dataclass(frozen=True)
class Imported:
    products: int
    barcodes: int
    store_prices: int


# --- reading a file ---------------------------------------------------------------------------------------------
def read_table(path: Path) -> Iterator[list[str]]:
    """The file's rows as lists of text: a CSV (UTF-8, with or without BOM) or the first sheet of an XLSX.  A
    spreadsheet's whole number (an integer-valued float) reads without ".0"; an empty cell as ""."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        try:
            for row in book.worksheets[0].iter_rows(values_only=True):
                yield [_cell(v) for v in row]
        finally:
            book.close()
        return
    with path.open(encoding="utf-8-sig", newline="") as f:
        yield from csv.reader(f)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


@dataclass
class Parsed:
    products: list[CatalogProduct]
    problems: list[Problem]  # empty: the file is clean
    rows: dict[str, int] = field(default_factory=dict)  # sku -> its row in the file


def parse(path: Path) -> Parsed:
    """Every product of the file, and every problem found in it."""
    name = path.name
    problems: list[Problem] = []
    try:
        rows = read_table(path)
        header = [h.strip().lower() for h in next(rows, [])]
    except (OSError, UnicodeDecodeError, csv.Error, ValueError, KeyError) as exc:  # openpyxl: zip/xml errors too
        return Parsed([], [Problem(name, 1, "-", f"cannot read the file: {exc}")])
    except Exception as exc:  # noqa: BLE001 - a corrupt XLSX raises whatever its zip or XML parser raises
        return Parsed([], [Problem(name, 1, "-", f"cannot read the file as {path.suffix or 'CSV'}: {exc}")])
    columns: dict[str, int] = {}
    for i, h in enumerate(header):
        if not h:
            continue
        if h in columns:
            problems.append(Problem(name, 1, h, "the column appears twice"))
        elif h not in COLUMNS and not any(h.startswith(p) and len(h) > len(p) for p in PER_STORE):
            known = ", ".join((*COLUMNS, "price@STORE", "stock@STORE", "low@STORE"))
            problems.append(Problem(name, 1, h, f"unknown column (known: {known})"))
        columns[h] = i
    problems += [Problem(name, 1, c, "required column missing") for c in REQUIRED if c not in columns]
    if problems:
        return Parsed([], problems)
    stores = [c for c in columns if c.startswith(PER_STORE)]
    products: list[CatalogProduct] = []
    skus: dict[str, int] = {}
    barcodes: dict[str, tuple[int, str]] = {}  # GTIN-14 -> (row, sku)
    for n, raw in enumerate(rows, start=2):
        if not any(v.strip() for v in raw):
            continue  # a blank line
        row = {c: (raw[i].strip() if i < len(raw) else "") for c, i in columns.items()}
        found = _product(name, n, row, stores)
        problems += found[1]
        p = found[0]
        if p is None:
            continue
        if p.sku in skus:
            problems.append(Problem(name, n, "sku", f"{p.sku} is on row {skus[p.sku]} too"))
            continue
        skus[p.sku] = n
        for code, key in zip(p.barcodes, p.gtins, strict=True):
            if key in barcodes:
                other_row, other_sku = barcodes[key]
                problems.append(
                    Problem(name, n, "barcodes", f"duplicate barcode {code}: row {other_row} ({other_sku}) has it")
                )
            else:
                barcodes[key] = (n, p.sku)
        products.append(p)
    return Parsed(products, problems, skus)


def _product(file: str, n: int, row: dict[str, str], stores: list[str]) -> tuple[CatalogProduct | None, list[Problem]]:
    problems: list[Problem] = []

    def bad(column: str, reason: str) -> None:
        problems.append(Problem(file, n, column, reason))

    sku = row["sku"]
    if not sku:
        bad("sku", "empty")
    elif len(sku) > 64 or not sku.isprintable():
        bad("sku", "longer than 64 characters or not printable")
    codes = [c for c in _SPLIT.split(row["barcodes"]) if c]
    if not codes:
        bad("barcodes", "no barcode")
    gtins = []
    for code in codes:
        key = gtin14(code)
        if key is None:
            bad("barcodes", barcode_problem(code))
        gtins.append(key or code)
    names = {}
    for column, language in LANGUAGES.items():
        if not row[column]:
            bad(column, f"missing name for {language}")
        names[language] = row[column]
    for column, language in MORE_LANGUAGES.items():
        if row.get(column):
            names[language] = row[column]
    for column, language in {**LANGUAGES, **MORE_LANGUAGES}.items():
        if len(names.get(language, "")) > MAX_NAME:
            bad(column, f"longer than {MAX_NAME} characters")
    tax_class = row["tax_class"]
    if tax_class not in TAX_CLASSES:
        bad("tax_class", f"unknown tax class {tax_class!r} (known: {', '.join(TAX_CLASSES)})")
    price = _price(row["price"], "price", bad)
    per_store: dict[str, dict[str, int]] = {p: {} for p in PER_STORE}
    for column in stores:
        if row[column]:
            kind, store_id = column.split("@", 1)
            amount = _price(row[column], column, bad) if kind == "price" else _count(row[column], column, bad)
            if amount is not None:
                per_store[kind + "@"][store_id] = amount
    unit = row.get("unit", "").lower() or "piece"
    if unit not in UNITS:
        bad("unit", f"unknown unit {row['unit']!r} (piece or kg)")
    flags = {}
    for column, default in (("age_restricted", False), ("active", True)):
        text = row.get(column, "").lower()
        flags[column] = default if not text else text in YES
        if text and text not in YES | NO:
            bad(column, f"{row[column]!r} is neither yes nor no")
    image = row.get("image", "")
    if len(image) > MAX_IMAGE:
        bad("image", f"longer than {MAX_IMAGE} characters")
    if problems or price is None:
        return None, problems
    return (
        CatalogProduct(
            sku=sku,
            barcodes=tuple(codes),
            names=names,
            price=price,
            tax_class=tax_class,
            category=row.get("category", ""),
            unit=unit,
            age_restricted=flags["age_restricted"],
            image=image,
            active=flags["active"],
            store_prices=per_store[STORE_PRICE],
            gtins=tuple(gtins),
            stock=per_store["stock@"],
            low=per_store["low@"],
        ),
        [],
    )


def barcode_problem(code: str) -> str:
    """Why `code` is not a GTIN-8/12/13/14 a kiosk can sell by, or "" if it is one."""
    if not code.isascii() or not code.isdigit():
        return f"{code!r} is not all digits"
    if len(code) not in (8, 12, 13, 14):
        hint = (
            " (a number-formatted spreadsheet cell drops leading zeros: format the column as text)"
            if len(code) in (7, 11, 12)
            else ""
        )
        return f"{code} has {len(code)} digits; a GTIN has 8, 12, 13 or 14{hint}"
    if gtin14(code) is None:
        return f"{code}: wrong check digit"
    return ""


def gtin14(code: str) -> str | None:
    """A GTIN-8/12/13/14 as GTIN-14 (so UPC-A and its EAN-13 form are one barcode), None if it is not a valid one.
    The check digit is biip's (a GS1 library): its full parse costs 30 µs a code, too much for 10^5 rows."""
    if not code.isascii() or not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return None
    return code.zfill(14) if gs1_standard_check_digit(code[:-1]) == int(code[-1]) else None


def _count(text: str, column: str, bad) -> int | None:
    if not re.fullmatch(r"-?\d+", text):
        bad(column, f"{text!r} is not a whole number")
        return None
    return int(text)


def _price(text: str, column: str, bad) -> int | None:
    if not text:
        bad(column, "empty")
        return None
    if not re.fullmatch(r"\d+", text):
        hint = f" (minor units: write {round(float(text) * 100)} for {text})" if re.fullmatch(r"\d+\.\d+", text) else ""
        bad(column, f"{text!r} is not an integer amount of minor units{hint}")
        return None
    value = int(text)
    if value > MAX_PRICE:
        bad(column, f"{value} is more than {MAX_PRICE} minor units")
        return None
    return value


# --- head office's tables -----------------------------------------------------------------------------------------
def import_file(engine: Engine, path: Path) -> Imported:
    """Check the whole file, then store it in one transaction; CatalogFileError (and nothing stored) otherwise."""
    parsed = parse(path)
    products, problems = parsed.products, parsed.problems
    if not problems and not products:
        problems = [Problem(path.name, 2, "-", "no products in the file")]
    with engine.begin() as conn:
        if not problems:
            problems = _clashes(conn, path.name, parsed)
        if problems:
            raise CatalogFileError(problems)
        store(conn, products)
        stock.counted(
            conn,
            [(s, p.sku, qty, p.low.get(s)) for p in products for s, qty in p.stock.items()],
        )
    return Imported(len(products), sum(len(p.barcodes) for p in products), sum(len(p.store_prices) for p in products))


def _clashes(conn, file: str, parsed: Parsed) -> list[Problem]:
    """Barcodes of the file that head office has on a product the file does not list."""
    skus = parsed.rows
    wanted = {key: (p, code) for p in parsed.products for code, key in zip(p.barcodes, p.gtins, strict=True)}
    problems = []
    keys = list(wanted)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        query = select(catalog_barcodes.c.gtin, catalog_barcodes.c.sku).where(catalog_barcodes.c.gtin.in_(chunk))
        for gtin, sku in conn.execute(query):
            if sku not in skus:
                p, code = wanted[gtin]
                problems.append(
                    Problem(file, skus[p.sku], "barcodes", f"{code} belongs to {sku} at head office (not in this file)")
                )
    return sorted(problems, key=lambda p: p.row)


def store(conn, products: list[CatalogProduct]) -> None:
    """Replace these skus' rows (product, barcodes, store prices) in the caller's transaction."""
    now = time.time()
    skus = [p.sku for p in products]
    for start in range(0, len(skus), 500):
        chunk = skus[start : start + 500]
        for table in (catalog_barcodes, catalog_store_prices, catalog_products):
            conn.execute(delete(table).where(table.c.sku.in_(chunk)))
    conn.execute(
        catalog_products.insert(),
        [
            {
                "sku": p.sku,
                "names": p.names,
                "category": p.category,
                "tax_class": p.tax_class,
                "price": p.price,
                "unit": p.unit,
                "age_restricted": p.age_restricted,
                "image": p.image,
                "active": p.active,
                "updated_at": now,
            }
            for p in products
        ],
    )
    conn.execute(
        catalog_barcodes.insert(),
        [
            {"gtin": key, "barcode": code, "sku": p.sku, "position": i}
            for p in products
            for i, (code, key) in enumerate(zip(p.barcodes, p.gtins or map(gtin14, p.barcodes), strict=True))
        ],
    )
    prices = [{"store": s, "sku": p.sku, "price": v} for p in products for s, v in p.store_prices.items()]
    if prices:
        conn.execute(catalog_store_prices.insert(), prices)


def products(engine: Engine) -> list[CatalogProduct]:
    """Head office's whole catalog, by sku."""
    with engine.connect() as conn:
        codes: dict[str, list[str]] = {}
        for sku, code in conn.execute(
            select(catalog_barcodes.c.sku, catalog_barcodes.c.barcode).order_by(
                catalog_barcodes.c.sku, catalog_barcodes.c.position
            )
        ):
            codes.setdefault(sku, []).append(code)
        prices: dict[str, dict[str, int]] = {}
        t = catalog_store_prices.c
        for sku, store_id, price in conn.execute(select(t.sku, t.store, t.price)):
            prices.setdefault(sku, {})[store_id] = price
        out = []
        for r in conn.execute(select(catalog_products).order_by(catalog_products.c.sku)):
            names = r.names if isinstance(r.names, dict) else json.loads(r.names)
            out.append(
                CatalogProduct(
                    sku=r.sku,
                    barcodes=tuple(codes.get(r.sku, ())),
                    names=names,
                    price=r.price,
                    tax_class=r.tax_class,
                    category=r.category,
                    unit=r.unit,
                    age_restricted=r.age_restricted,
                    image=r.image,
                    active=r.active,
                    store_prices=prices.get(r.sku, {}),
                )
            )
    return out


def export_file(engine: Engine, path: Path) -> int:
    """Head office's catalog as a file `import_file` reads back unchanged (CSV, or XLSX by the suffix)."""
    items = products(engine)
    stores = sorted({s for p in items for s in p.store_prices})
    header = [*COLUMNS, *(STORE_PRICE + s for s in stores)]
    rows = [_row(p, stores) for p in items]
    if path.suffix.lower() == ".xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("catalog")
        sheet.append(header)
        for row in rows:
            sheet.append(row)  # every cell as text: barcodes keep their leading zeros
        book.save(path)
    else:
        with path.open("w", encoding="utf-8", newline="") as f:
            out = csv.writer(f)
            out.writerow(header)
            out.writerows(rows)
    return len(items)


def _row(p: CatalogProduct, stores: Iterable[str]) -> list[str]:
    by_column = {
        "sku": p.sku,
        "barcodes": " ".join(p.barcodes),
        **{column: p.names.get(language, "") for column, language in {**LANGUAGES, **MORE_LANGUAGES}.items()},
        "category": p.category,
        "tax_class": p.tax_class,
        "price": str(p.price),
        "unit": p.unit,
        "age_restricted": "yes" if p.age_restricted else "no",
        "image": p.image,
        "active": "yes" if p.active else "no",
    }
    return [by_column[c] for c in COLUMNS] + [str(p.store_prices[s]) if s in p.store_prices else "" for s in stores]
