"""`python -m kiosk [--config FILE]`: start the kiosk (no file = the simulator on embedded defaults).

A config naming `pairing.hq_url` with no identity paired yet shows its pairing code until head office pairs it
(kiosk/pairing.py), then starts selling.  A config with real devices and the sandbox gateway or the demo catalog
is refused (it would take fake payments in a shop) unless `--demo` is given; such a kiosk shows DEMO on its
screen.

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

    from kiosk.config import ConfigError, demo_problem, enrolling, load, needs_pairing
    from kiosk.fonts import FontMissing

    try:
        cfg = load(args.config)
        if demo_problem(cfg) and not args.demo and not needs_pairing(cfg):
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
        if needs_pairing(cfg):
            print(f"not paired yet: the kiosk shows a pairing code and asks head office at {cfg.pairing.hq_url}")
        elif enrolling(cfg):
            print("provisioned by QR: it sells, and asks head office for its MQTT certificate until it answers")
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

    stopping: dict = {}  # what SIGTERM stops: the pairing screen, then the kiosk's screen
    threading.Thread(target=_stop_on_sigterm, args=(stopping,), name="sigterm", daemon=True).start()
    if needs_pairing(cfg):
        try:
            if not pair(cfg, stopping, args.ready_file):
                return 0
            cfg = load(args.config)  # now with what head office gave this kiosk
            if demo_problem(cfg) and not args.demo:
                raise ConfigError(demo_problem(cfg))
        except FontMissing as exc:
            print(f"cannot start: {exc}", file=sys.stderr)
            return 2
        except ConfigError as exc:
            print(f"config error: {exc}", file=sys.stderr)
            return 2
        except ValueError as exc:  # pairing.hq_public_key_file does not load
            print(f"config error: pairing.hq_public_key_file: {exc}", file=sys.stderr)
            return 2

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
    stopping["ui"] = ui
    kiosk.start()
    try:
        ui.run(ready_file=args.ready_file)
    finally:
        kiosk.stop()
        ui.close()
    return 0


STOP_GRACE_S = 8.0  # a clean stop takes a frame and the MQTT link's goodbye; longer means the loop is frozen


def pair(cfg, stopping: dict, ready_file: str | None) -> bool:
    """A kiosk with no identity yet: its pairing code on screen until head office pairs it (True) or it is
    stopped (False).  kiosk/pairing.py and kiosk/ui/pairing_screen.py."""
    import pygame

    import kiosk
    from hardware.camera import open_camera
    from kiosk.pairing import Pairing
    from kiosk.runtime.wiring import check_runtime
    from kiosk.ui.loop import CONSOLE_DRIVERS
    from kiosk.ui.pairing_screen import pair_on_screen

    font = check_runtime(cfg)
    pygame.display.init()
    pygame.font.init()
    fullscreen = cfg.display.fullscreen or pygame.display.get_driver() in CONSOLE_DRIVERS
    surface = pygame.display.set_mode(cfg.screen_size, pygame.FULLSCREEN if fullscreen else 0)
    pygame.display.set_caption("Kiosk: pairing")
    p = cfg.pairing
    pairing = Pairing(
        p.hq_url, cfg.kiosk.data_dir, p.ca_file, firmware=kiosk.__version__, hq_key_file=p.hq_public_key_file
    )
    logging.getLogger("kiosk").info("not paired yet: asking head office at %s", cfg.pairing.hq_url)
    # a provisioning QR head office signed, shown to the camera, pairs the kiosk too (a site without its reach)
    camera = open_camera(cfg.camera, lambda text, *_: pairing.offer(text), lambda *_: None)
    if camera is not None:
        camera.start()
    try:
        return pair_on_screen(pairing, surface, font, stopping, ready_file=ready_file, qr=camera is not None)
    finally:
        if camera is not None:
            camera.stop()


def _stop_on_sigterm(stopping: dict) -> None:
    """SIGTERM ends the screen loop, which stops the kiosk cleanly (MQTT status "offline").  If the loop does not
    end within STOP_GRACE_S it is frozen: the process exits at once (every payment and message is recovered at
    the next start, as after a power cut)."""
    signal.sigwait({signal.SIGTERM})
    logging.getLogger("kiosk").info("SIGTERM: stopping")
    if "stop" in stopping:  # the pairing screen
        stopping["stop"].set()
    if "ui" in stopping:
        stopping["ui"].running = False
    time.sleep(STOP_GRACE_S)
    logging.getLogger("kiosk").error("the screen loop did not stop within %.0f s of SIGTERM: exiting", STOP_GRACE_S)
    os._exit(1)


if __name__ == "__main__":
    sys.exit(main())
