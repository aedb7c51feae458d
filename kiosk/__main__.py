"""`python -m kiosk [--config FILE]`: start the kiosk (no file = the simulator on embedded defaults).

A config with real devices and the sandbox gateway or the demo catalog is refused (it would take fake payments
in a shop) unless `--demo` is given; such a kiosk shows DEMO on its screen.

Other entry points: `--check` validates the config, the keys and the database,
and exits; `--seed` creates the database with the demo catalog and exits;
`--new-installation` moves a database this kiosk refuses aside, so the next
start begins a new installation (new message ids).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kiosk", description="Self-checkout kiosk")
    ap.add_argument("--config", help="TOML config file (default: simulator defaults)")
    ap.add_argument("--check", action="store_true", help="validate the config and exit")
    ap.add_argument("--seed", action="store_true", help="create the database with the demo catalog and exit")
    ap.add_argument(
        "--new-installation",
        action="store_true",
        help="move the database aside and start as a new installation (after a lost or damaged database)",
    )
    ap.add_argument(
        "--demo",
        action="store_true",
        help="allow the sandbox gateway or the demo catalog with real devices (a show kiosk; DEMO on its screen)",
    )
    ap.add_argument("--ready-file", help=argparse.SUPPRESS)  # touched when the first frame is on screen (tests, bench)
    ap.add_argument("--log-level", default=os.environ.get("KIOSK_LOG", "INFO"))
    args = ap.parse_args(argv)
    # SIGTERM is taken by a thread of its own (sigwait), blocked here before any thread starts: a screen loop
    # frozen in a call that never returns still stops (see _stop_on_sigterm)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    from kiosk.runtime.systemd import configure_logging

    configure_logging(args.log_level)
    logging.getLogger("escpos").setLevel(logging.WARNING)

    from kiosk.config import ConfigError, demo_problem, load
    from kiosk.fonts import FontMissing

    try:
        cfg = load(args.config)
        if demo_problem(cfg) and not args.demo:
            raise ConfigError(demo_problem(cfg))
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    from kiosk.store import Store, StoreError, database_path, open_store

    if args.new_installation:
        moved = Store.new_installation(database_path(cfg))
        print(f"database moved aside to {moved}" if moved else "no database found")
        print("the next start makes a new installation, with new message ids")
        return 0
    if args.check:
        from kiosk.payments.gateways import make_gateway
        from kiosk.runtime.wiring import check_link, check_runtime

        try:
            make_gateway(cfg)  # keys load
            check_runtime(cfg)  # fonts, files the kiosk will read
            check_link(cfg)  # the broker's TLS and password files
            if database_path(cfg).exists() or (database_path(cfg).parent / "installation-id").exists():
                open_store(cfg).close()
        except ConfigError as exc:
            print(f"config error: {exc}", file=sys.stderr)
            return 2
        except (StoreError, FontMissing) as exc:
            print(f"cannot start: {exc}", file=sys.stderr)
            return 2
        from kiosk.config import warnings

        for line in warnings(cfg):
            print(f"warning: {line}", file=sys.stderr)
        print(f"config ok: {cfg.source or 'simulator defaults'}")
        return 0
    if args.seed:
        from kiosk.catalog import DEMO_PRODUCTS

        try:
            added = open_store(cfg).seed_catalog(DEMO_PRODUCTS)
        except StoreError as exc:
            print(f"cannot start: {exc}", file=sys.stderr)
            return 2
        print(f"catalog ready in {cfg.kiosk.data_dir} ({added} products added)")
        return 0

    from kiosk.runtime.wiring import Runtime
    from kiosk.ui.loop import UI

    try:
        kiosk = Runtime(cfg, demo=bool(demo_problem(cfg)))
    except (FontMissing, StoreError, OSError) as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    ui = UI(kiosk)
    threading.Thread(target=_stop_on_sigterm, args=(ui,), name="sigterm", daemon=True).start()
    kiosk.start()
    try:
        ui.run(ready_file=args.ready_file)
    finally:
        kiosk.stop()
        ui.close()
    return 0


STOP_GRACE_S = 8.0  # a clean stop takes a frame and the MQTT link's goodbye; longer means the loop is frozen


def _stop_on_sigterm(ui) -> None:
    """SIGTERM ends the screen loop, which stops the kiosk cleanly (MQTT status "offline").  If the loop does not
    end within STOP_GRACE_S it is frozen: the process exits at once (every payment and message is recovered at
    the next start, as after a power cut)."""
    signal.sigwait({signal.SIGTERM})
    logging.getLogger("kiosk").info("SIGTERM: stopping")
    ui.running = False
    time.sleep(STOP_GRACE_S)
    logging.getLogger("kiosk").error("the screen loop did not stop within %.0f s of SIGTERM: exiting", STOP_GRACE_S)
    os._exit(1)


if __name__ == "__main__":
    sys.exit(main())
