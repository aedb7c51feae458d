"""`python -m kiosk.reconcile [YYYY-MM-DD] [--config F] [--print]`: reconcile one day from the command line."""

from __future__ import annotations

from pathlib import Path

from kiosk.reconcile import finish, parse_day, run


def main(argv: list[str] | None = None) -> int:
    """`python -m kiosk.reconcile [YYYY-MM-DD] [--config F] [--print]`: exit 0 when clean, 1 with differences."""
    import argparse
    import sys
    from datetime import date, timedelta

    from kiosk.config import ConfigError, load

    ap = argparse.ArgumentParser(prog="python -m kiosk.reconcile")
    ap.add_argument(
        "date",
        nargs="?",
        default=(date.today() - timedelta(days=1)).isoformat(),
        help="the day, YYYY-MM-DD (default: yesterday)",
    )
    ap.add_argument("--config")
    ap.add_argument("--print", action="store_true", help="also print the summary on the kiosk's printer")
    args = ap.parse_args(argv)
    if parse_day(args.date) is None:
        print(f"not a date: {args.date!r} (YYYY-MM-DD)", file=sys.stderr)
        return 2
    try:
        cfg = load(args.config)
        from kiosk.payments.gateways import make_gateway
        from kiosk.store import open_store

        store, gateway = open_store(cfg), make_gateway(cfg)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    try:
        report = run(store, gateway, args.date)
    except (OSError, ValueError) as exc:
        print(f"cannot reconcile {args.date}: {exc}", file=sys.stderr)
        return 2
    path = finish(report, store, Path(cfg.kiosk.data_dir))
    print(
        f"{args.date} {report.gateway}: {report.local_trades} trades here, {report.gateway_trades} at the gateway; "
        f"{len(report.differences)} differences; report {path}"
    )
    for d in report.differences:
        print(f"  {d['difference']}: {d['kind']} {d['out_request_no'] or d['out_trade_no']}")
    if args.print:
        from hardware.printer import open_printer
        from kiosk.fonts import find_cjk_font
        from kiosk.receipts import ReceiptSettings, escpos_job, reconciliation_summary

        s = ReceiptSettings.from_config(cfg, find_cjk_font(cfg.display.font))
        open_printer(cfg.printer, Path(cfg.kiosk.data_dir)).send(
            escpos_job(reconciliation_summary(report.as_dict(), s, cfg.kiosk.default_language, cfg.kiosk.currency), s),
            f"reconcile-{args.date}",
        )
    return 0 if report.clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
