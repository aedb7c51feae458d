"""Issue 10: the chain's catalog at head office, imported from a merchandiser's CSV or XLSX file: every wrong row is
named with its file, row, column and reason, an invalid file changes nothing, and an export reads back the same."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from headoffice import catalog
from headoffice.db import catalog_barcodes, catalog_products
from tests.conftest import headoffice_cli

REPO = Path(__file__).resolve().parent.parent
HEADER = "sku,barcodes,name_zh,name_en,category,tax_class,price,unit,age_restricted,active,price@store-002\n"
GOOD = (
    HEADER
    + "P001,6901234000016,矿泉水 550ml,Mineral water 550ml,drinks,standard,200,piece,no,yes,\n"
    + 'P018,"6901234000184; 036000291452",啤酒 500ml,Beer 500ml,drinks,standard,800,,yes,,850\n'
    + "F001,2000001000007,香蕉,Bananas,fruit,reduced,890,kg,,,\n"
)


def write(tmp_path: Path, text: str, name: str = "catalog.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_clean_file_is_imported_with_barcodes_names_and_store_prices(hq_engine, tmp_path):
    done = catalog.import_file(hq_engine, write(tmp_path, GOOD))
    assert (done.products, done.barcodes, done.store_prices) == (3, 4, 1)
    by_sku = {p.sku: p for p in catalog.products(hq_engine)}
    beer = by_sku["P018"]
    assert beer.barcodes == ("6901234000184", "036000291452")
    assert beer.names == {"zh_CN": "啤酒 500ml", "en": "Beer 500ml"}
    assert (beer.price, beer.store_prices, beer.age_restricted, beer.unit, beer.active) == (
        800,
        {"store-002": 850},
        True,
        "piece",
        True,
    )
    assert by_sku["F001"].unit == "kg" and by_sku["F001"].tax_class == "reduced"


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_an_export_reads_back_as_the_same_catalog(hq_engine, tmp_path, suffix):
    catalog.import_file(hq_engine, write(tmp_path, GOOD))
    before = catalog.products(hq_engine)
    exported = tmp_path / f"out{suffix}"
    assert catalog.export_file(hq_engine, exported) == 3
    parsed = catalog.parse(exported)
    assert parsed.problems == []
    assert sorted(parsed.products, key=lambda p: p.sku) == before
    catalog.import_file(hq_engine, exported)  # and importing it changes nothing
    assert catalog.products(hq_engine) == before


def test_every_wrong_row_is_named_and_nothing_is_imported(hq_engine, tmp_path):
    catalog.import_file(hq_engine, write(tmp_path, GOOD, "first.csv"))
    before = catalog.products(hq_engine)
    bad = write(
        tmp_path,
        HEADER
        + "P001,6901234000017,矿泉水,Water,drinks,standard,200,,,,\n"  # row 2: check digit
        + "P002,6901234000184,可乐,,drinks,standard,350,,,,\n"  # row 3: no English name
        + "P003,6901234000030,绿茶,Green tea,drinks,standard,3.80,,,,\n"  # row 4: price in yuan
        + "P004,6901234000047,橙汁,Orange juice,drinks,luxury,1290,,,,\n"  # row 5: tax class
        + "P005,6901234000054,牛奶,Milk,dairy,reduced,380,,,,\n"  # row 6: fine
        + "P006,06901234000054,酸奶,Yogurt,dairy,reduced,590,,,,\n"  # row 7: P005's barcode as GTIN-14
        + "P005,6901234000061,牛奶,Milk,dairy,reduced,380,,,,\n"  # row 8: sku twice
        + "P007,6901234000078,面包,Bread,bakery,reduced,1250,box,maybe,,12.5\n",  # row 9: unit, flag, store price
        "prices.csv",
    )
    with pytest.raises(catalog.CatalogFileError) as caught:
        catalog.import_file(hq_engine, bad)
    got = [(p.file, p.row, p.column) for p in caught.value.problems]
    assert got == [
        ("prices.csv", 2, "barcodes"),
        ("prices.csv", 3, "name_en"),
        ("prices.csv", 4, "price"),
        ("prices.csv", 5, "tax_class"),
        ("prices.csv", 7, "barcodes"),
        ("prices.csv", 8, "sku"),
        ("prices.csv", 9, "price@store-002"),
        ("prices.csv", 9, "unit"),
        ("prices.csv", 9, "age_restricted"),
    ]
    reasons = [p.reason for p in caught.value.problems]
    assert "wrong check digit" in reasons[0]
    assert "missing name for en" in reasons[1]
    assert "not an integer amount" in reasons[2] and "write 380" in reasons[2]
    assert "unknown tax class 'luxury'" in reasons[3]
    assert "duplicate barcode 06901234000054: row 6 (P005)" in reasons[4]
    assert "row 6 too" in reasons[5]
    message = str(caught.value)
    assert "nothing was imported" in message and "prices.csv, row 4, column price" in message
    assert catalog.products(hq_engine) == before  # the good rows of a bad file are not imported either


def test_a_name_or_picture_too_long_is_refused_by_its_column(hq_engine, tmp_path):
    bad = write(
        tmp_path,
        "sku,barcodes,name_zh,name_en,name_ja,tax_class,price,image\n"
        f"P001,6901234000016,矿泉水,Water,{'水' * 201},standard,200,{'p' * 2001}.jpg\n",
    )
    with pytest.raises(catalog.CatalogFileError) as caught:
        catalog.import_file(hq_engine, bad)
    assert [(p.column, p.reason) for p in caught.value.problems] == [
        ("name_ja", "longer than 200 characters"),
        ("image", "longer than 2000 characters"),
    ]


def test_a_header_with_an_unknown_or_missing_column_is_refused(hq_engine, tmp_path):
    path = write(tmp_path, "sku,barcode,name_zh,name_en,tax_class,price,colour\nP1,6901234000016,水,Water,zero,1,red\n")
    problems = catalog.parse(path).problems
    assert [(p.row, p.column) for p in problems] == [(1, "barcode"), (1, "colour"), (1, "barcodes")]
    assert "required column missing" in problems[-1].reason


def test_a_barcode_head_office_has_on_another_product_is_refused(hq_engine, tmp_path):
    catalog.import_file(hq_engine, write(tmp_path, GOOD))
    clash = write(tmp_path, HEADER + "P099,6901234000016,新水,New water,drinks,standard,210,,,,\n", "new.csv")
    with pytest.raises(catalog.CatalogFileError) as caught:
        catalog.import_file(hq_engine, clash)
    (problem,) = caught.value.problems
    assert (problem.row, problem.column) == (2, "barcodes")
    assert "6901234000016 belongs to P001 at head office" in problem.reason
    with hq_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(catalog_products)).scalar() == 3


def test_a_row_replaces_its_products_barcodes_and_store_prices(hq_engine, tmp_path):
    catalog.import_file(hq_engine, write(tmp_path, GOOD))
    moved = HEADER + "P018,6901234000191,啤酒 500ml,Beer 500ml,drinks,standard,820,,yes,no,\n"
    catalog.import_file(hq_engine, write(tmp_path, moved, "update.csv"))
    beer = {p.sku: p for p in catalog.products(hq_engine)}["P018"]
    assert (beer.barcodes, beer.price, beer.store_prices, beer.active) == (("6901234000191",), 820, {}, False)
    with hq_engine.connect() as conn:  # its old barcodes are free for another product
        assert conn.execute(select(catalog_barcodes.c.gtin).where(catalog_barcodes.c.sku == "P018")).all() == [
            ("06901234000191",)
        ]


def test_an_xlsx_number_cell_that_lost_a_barcodes_leading_zero_is_explained(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["SKU", "Barcodes", "name_zh", "name_en", "tax_class", "price"])
    sheet.append(["U1", 36000291452, "纸巾", "Tissues", "standard", 1490])  # UPC-A 036000291452 as a number
    sheet.append(["U2", 6901234000016, "水", "Water", "standard", 200.0])  # a whole number as float: fine
    path = tmp_path / "sheet.xlsx"
    book.save(path)
    parsed = catalog.parse(path)
    (problem,) = parsed.problems
    assert (problem.row, problem.column) == (2, "barcodes")
    assert "11 digits" in problem.reason and "leading zeros" in problem.reason
    assert [p.sku for p in parsed.products] == ["U2"] and parsed.products[0].price == 200


def test_a_file_that_is_not_a_spreadsheet_is_refused_with_its_reason(hq_engine, tmp_path):
    fake = tmp_path / "catalog.xlsx"
    fake.write_bytes(b"this is not a zip file")
    with pytest.raises(catalog.CatalogFileError) as caught:
        catalog.import_file(hq_engine, fake)
    assert "cannot read the file" in str(caught.value)


def test_the_command_line_reports_problems_without_a_traceback(tmp_path):
    bad = write(tmp_path, HEADER + "P001,6901234000017,水,Water,,standard,200,,,,\n")

    def hq(*args: str) -> subprocess.CompletedProcess:
        return headoffice_cli(tmp_path, "catalog", *args)

    refused = hq("import", str(bad))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "row 2, column barcodes: 6901234000017: wrong check digit" in refused.stderr
    good = write(tmp_path, GOOD, "good.csv")
    done = hq("import", str(good))
    assert done.returncode == 0, done.stderr
    assert "3 products, 4 barcodes, 1 store prices imported" in done.stdout
    out = tmp_path / "out.csv"
    assert hq("export", str(out)).returncode == 0
    assert out.read_text(encoding="utf-8").splitlines()[0] == HEADER.strip().replace(
        ",name_en,", ",name_en,name_zh_tw,name_ja,name_ko,"
    ).replace(",active", ",image,active")


def test_head_office_knows_the_kiosks_tax_classes():
    from kiosk.catalog import TAX_RATES_BP

    assert catalog.TAX_CLASSES == tuple(TAX_RATES_BP)
