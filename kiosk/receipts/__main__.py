"""`python -m kiosk.receipts`: receipts and reports as PNG pictures of the paper, without a printer.

python -m kiosk.receipts order ORDER_NO [--config F] [--out FILE.png] [--width 58|80]
python -m kiosk.receipts zreport [YYYY-MM-DD] [--config F] [--out FILE.png] [--language zh_CN|en]
python -m kiosk.receipts testpage [--config F] [--out FILE.png] [--width 58|80]
python -m kiosk.receipts examples [DIR]    a demo sale in Chinese and English at 58 and 80 mm (the README's)
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import date

from kiosk.config import ConfigError, load


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kiosk.receipts", description="render receipts to PNG")
    ap.add_argument("what", choices=["order", "zreport", "testpage", "examples"])
    ap.add_argument("key", nargs="?", help="the order number (order) or the day YYYY-MM-DD (zreport)")
    ap.add_argument("--config")
    ap.add_argument("--out", help="the PNG file (default: <what>.png in the current folder)")
    ap.add_argument("--width", type=int, choices=[58, 80], help="paper width (default: the config's)")
    ap.add_argument("--language", choices=["zh_CN", "en"], help="for the Z report (default: the kiosk's)")
    args = ap.parse_args(argv)
    try:
        cfg = load(args.config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2

    from kiosk.fonts import FontMissing, find_cjk_font
    from kiosk.receipts import ReceiptSettings, preview_image, printer_test_page, sale_receipt, z_report
    from kiosk.store import open_store

    try:
        settings = ReceiptSettings.from_config(cfg, find_cjk_font(cfg.display.font))
    except FontMissing as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.width:
        settings = dataclasses.replace(settings, paper_mm=args.width)
    if args.what == "examples":
        return examples(args.key or "docs/receipts", settings)
    if args.what == "testpage":
        receipt, name = printer_test_page(settings), "testpage"
    elif args.what == "zreport":
        day = args.key or date.today().isoformat()
        summary = open_store(cfg).day_summary(day)
        language = args.language or cfg.kiosk.default_language
        receipt, name = z_report(summary, settings, language, cfg.kiosk.currency), f"Z-{day}"
    else:
        if not args.key:
            print("give the order number: python -m kiosk.receipts order K01-261124302850", file=sys.stderr)
            return 2
        order = open_store(cfg).find_order(args.key)
        if order is None:
            print(f"no order {args.key} in {cfg.kiosk.data_dir}", file=sys.stderr)
            return 1
        receipt, name = sale_receipt(order, settings), args.key
    out = args.out or f"{name}.png"
    preview_image(receipt, settings).save(out)
    print(out)
    return 0


def examples(folder: str, settings) -> int:
    """The same demo sale as a shopper would get it, in both languages at both widths."""
    import tempfile
    from pathlib import Path

    from kiosk.cart import Cart
    from kiosk.catalog import DEMO_PRODUCTS
    from kiosk.receipts import preview_image, sale_receipt
    from kiosk.store import Identity, Store

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    picks = [
        (DEMO_PRODUCTS[0], 2),
        (DEMO_PRODUCTS[4], 1),
        (DEMO_PRODUCTS[6], 1),
        (DEMO_PRODUCTS[14], 1),
        (DEMO_PRODUCTS[20], 1),
        (DEMO_PRODUCTS[31], 1),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "k.sqlite", Identity("demo-store", settings.kiosk_id, "K01", "CNY"))
        for language in ("zh_CN", "en"):
            cart = Cart()
            for product, qty in picks:
                for _ in range(qty):
                    cart.add(product)
            otn = store.begin_payment(
                gateway="sandbox",
                channel="alipay",
                code_masked="2812********3451",
                lines=cart.snapshot(),
                totals=cart.totals(),
                language=language,
            )
            order = store.complete_payment(otn, trade_id="2026112422001400001234567890")
            for mm in (58, 80):
                s = dataclasses.replace(settings, paper_mm=mm)
                path = out / f"receipt-{language}-{mm}mm.png"
                preview_image(sale_receipt(order, s), s).save(path)
                print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
