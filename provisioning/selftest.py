"""`python -m provisioning.selftest [--config FILE] [--print-test-page]`: check every device a config names.

One line per check, PASS / FAIL / SKIP with what was found, so a technician
can fix the wiring and run it again; every check runs even after one fails.
Exit 0 when nothing failed.  Lights and buzzer are exercised so the technician
can see and hear them; head office must acknowledge a probe message sent with
the kiosk's identity; the gateway is asked about a trade that does not exist
(nothing is charged); the clock and the MQTT certificate's days are checked.
The results go into the kiosk's outbox: head office gets them (an `events`
message `selftest`) when the kiosk runs.  `kiosk-selftest` (installed by
provisioning.install) runs it from anywhere with the installed config.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from kiosk.config import Config, ConfigError, load  # noqa: E402


class Skip(Exception):
    pass


def check_storage(cfg: Config) -> str:
    from kiosk.store import open_store

    store = open_store(cfg)
    problem = store.storage_problem(cfg.kiosk.min_free_mb * 2**20)
    if problem:
        raise OSError(problem)
    mode = store.conn().execute("PRAGMA journal_mode").fetchone()[0]
    with tempfile.NamedTemporaryFile(dir=cfg.kiosk.data_dir):
        pass
    return f"{store.path} writable, journal {mode}"


def check_font(cfg: Config) -> str:
    from kiosk.fonts import find_cjk_font

    return find_cjk_font(cfg.display.font)


def check_scanner(cfg: Config, wait_s: float = 0.0) -> str:
    s = cfg.scanner
    if s.type in ("none", "simulated"):
        raise Skip(s.type)
    if s.type == "serial":
        import serial

        port = serial.serial_for_url(s.url, baudrate=s.baudrate, timeout=0.2)
        try:
            if not wait_s:
                return f"{s.url} opened at {s.baudrate} baud"
            print(f"     scanner  scan any barcode within {wait_s:.0f} s…", flush=True)
            end, got = time.monotonic() + wait_s, b""
            while time.monotonic() < end:
                got += port.read(256)
                if got.strip() and got.endswith((b"\r", b"\n")):  # one whole code
                    break
        finally:
            port.close()
        code = got.strip().decode(errors="replace")
        if not code:
            raise OSError(f"{s.url} opened, but no scan came within {wait_s:.0f} s")
        return f"{s.url} at {s.baudrate} baud read {code[:24]!r}"
    import evdev

    dev = evdev.InputDevice(s.device)
    return f"{s.device}: {dev.name}"


def check_camera(cfg: Config) -> str:
    from hardware.camera import OpenCVSource
    from hardware.decoder import Decoder

    c = cfg.camera
    if c.type != "opencv":
        raise Skip(c.type)
    src = OpenCVSource(c.source, c.width, c.height, c.read_timeout_s)
    src.open()
    try:
        frame = src.read()
    finally:
        src.close()
    if frame is None:
        raise OSError(f"{c.source}: opened but gave no frame within {c.read_timeout_s} s")
    seen = ", ".join(f"{s.symbology} {s.text[:20]}" for s in Decoder().decode(frame)) or "no code in view"
    return f"{c.source}: {frame.shape[1]}x{frame.shape[0]} frame; {seen}"


def check_printer(cfg: Config, print_page: bool) -> str:
    from hardware.printer import open_printer
    from kiosk.fonts import find_cjk_font
    from kiosk.receipts import ReceiptSettings, escpos_job, printer_test_page

    p = cfg.printer
    if p.type == "none":
        raise Skip("none")
    if not print_page:
        if p.type == "network":
            socket.create_connection((p.host, p.port), timeout=p.timeout_s).close()
            return f"{p.host}:{p.port} accepts connections (--print-test-page to print)"
        raise Skip(f"{p.type}: use --print-test-page to print one")
    settings = ReceiptSettings.from_config(cfg, find_cjk_font(cfg.display.font))
    result = open_printer(p, Path(cfg.kiosk.data_dir)).send(
        escpos_job(printer_test_page(settings), settings), "test-page"
    )
    st = result.after
    state = "does not answer status queries" if st.online is None else f"online, paper {st.paper.value}"
    return f"test page sent to the {p.type} printer ({p.paper_width_mm} mm, {settings.mode}); printer {state}"


def check_gpio(cfg: Config) -> str:
    from hardware.gpio import Signals

    if not cfg.gpio.enabled:
        raise Skip("disabled")
    sig = Signals(cfg.gpio, lambda: None)
    try:
        for state in ("ready", "busy", "fault", "off"):
            sig.light(state)
            time.sleep(0.3)
        sig.beep("ok")
        time.sleep(0.2)
        pressed = "pressed" if sig.help_button.is_pressed else "released"
    finally:
        sig.close()
    return f"pin factory {sig.factory}; lights cycled, buzzer beeped; help button {pressed}"


def check_mqtt(cfg: Config, ack_s: float = 10.0) -> str:
    """The broker takes the kiosk's identity, and head office hears it: a message (an `events` `selftest_probe`)
    is acknowledged by head office's signed `ack` within ack_s."""
    import json
    import threading
    import uuid

    import paho.mqtt.client as mqtt

    from kiosk import messages
    from kiosk.signing import Refused, Verifier, load_public_key
    from kiosk.store import open_store

    m, ids = cfg.mqtt, cfg.kiosk
    if not m.enabled:
        raise Skip("disabled")
    prefix = f"kiosk/v1/{ids.store_id}/{ids.kiosk_id}/"
    msg_id = f"{ids.store_id}:{ids.kiosk_id}:{open_store(cfg).installation}:events:selftest-{uuid.uuid4().hex}"
    verifier = Verifier(load_public_key(m.hq_public_key_file), ids.store_id, ids.kiosk_id, m.command_max_age_s)
    connected, acked = threading.Event(), threading.Event()
    result: list[str] = []

    def on_message(client, userdata, msg) -> None:
        try:
            body = json.loads(msg.payload)
            if verifier.enabled:
                verifier.check("ack", body)
            if msg_id in body["data"]["ids"]:
                acked.set()
        except (ValueError, KeyError, TypeError, Refused):
            pass  # not ours, or not head office's: keep waiting

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{ids.store_id}-{ids.kiosk_id}-selftest")
    if m.tls:
        c.tls_set(ca_certs=m.ca_file, certfile=m.cert_file or None, keyfile=m.key_file or None)
    if m.username:
        pw = Path(m.password_file).read_text().strip() if m.password_file else None
        c.username_pw_set(m.username, pw)
    c.on_connect = lambda cl, u, f, rc, p: (result.append(str(rc)), connected.set())
    c.on_message = on_message
    c.connect(m.host, m.port, keepalive=10)
    c.loop_start()
    try:
        if not connected.wait(5):
            raise OSError(f"{m.host}:{m.port}: no CONNACK within 5 s")
        if result[0] != "Success":
            raise OSError(f"{m.host}:{m.port} refused: {result[0]}")
        c.subscribe(prefix + "ack", qos=1)  # head office's answer comes on it
        time.sleep(0.3)
        probe = messages.envelope(msg_id=msg_id, seq=0, ts=messages.utc_now(), store=ids.store_id, kiosk=ids.kiosk_id,
                                  type_="events", data={"kind": "selftest_probe"})  # fmt: skip
        started = time.monotonic()
        c.publish(prefix + "events", probe, qos=1)
        if not acked.wait(ack_s):
            raise OSError(f"{m.host}:{m.port} took the kiosk, but head office did not acknowledge within {ack_s:.0f} s")
        took = (time.monotonic() - started) * 1000
    finally:
        c.disconnect()
        c.loop_stop()
    return f"{m.host}:{m.port} took the kiosk; head office acknowledged in {took:.0f} ms"


def _screen(cfg: Config):
    import pygame

    pygame.display.init()
    pygame.font.init()
    pygame.display.set_caption("Kiosk self-test")
    return pygame.display.set_mode(cfg.screen_size, pygame.FULLSCREEN if cfg.display.fullscreen else 0)


def _say(surface, cfg: Config, lines: list[tuple[str, tuple[int, int, int]]], size: int = 28) -> None:
    import pygame

    from kiosk.fonts import find_cjk_font

    font = pygame.font.Font(find_cjk_font(cfg.display.font), size)
    y = 16
    for text, colour in lines:
        surface.blit(font.render(text, True, colour), (16, y))
        y += font.get_linesize()


def check_display(cfg: Config, touch_wait: float = 0.0) -> str:
    """The screen: opened as the kiosk opens it, a test pattern drawn (colour bars, a white frame); with
    `touch_wait`, a touch within that many seconds."""
    import pygame

    surface = _screen(cfg)
    w, h = surface.get_size()
    bars = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0), (0, 0, 255)]
    for i, colour in enumerate(bars):
        surface.fill(colour, (i * w // len(bars), 0, w // len(bars) + 1, h))
    pygame.draw.rect(surface, (255, 255, 255), (0, 0, w, h), 4)
    shown = f"{pygame.display.get_driver()} {w}x{h}: colour bars shown"
    if not touch_wait:
        pygame.display.flip()
        time.sleep(1.0)
        return shown
    surface.fill((0, 0, 0), (0, 0, w, 100))
    _say(surface, cfg, [("请触摸屏幕 / Touch the screen", (255, 255, 255))], 36)
    pygame.display.flip()
    pygame.event.clear()
    end = time.monotonic() + touch_wait
    while time.monotonic() < end:
        for event in pygame.event.get():
            if event.type in (pygame.MOUSEBUTTONUP, pygame.FINGERUP):
                where = event.pos if event.type == pygame.MOUSEBUTTONUP else (int(event.x * w), int(event.y * h))
                return f"{shown}; touched at {where[0]},{where[1]}"
        time.sleep(0.02)
    raise OSError(f"{shown}, but no touch within {touch_wait:.0f} s")


def show_results(cfg: Config, lines: dict[str, tuple[str, str]], seconds: float, png: str = "") -> str:
    """The results on the kiosk's own screen, for the technician standing at it."""
    import pygame

    surface = _screen(cfg)
    surface.fill((0, 0, 0))
    colour = {"PASS": (110, 240, 170), "FAIL": (255, 120, 110), "SKIP": (215, 215, 215)}
    ok = all(verdict != "FAIL" for verdict, _ in lines.values())
    rows = [("自检 SELF-TEST: " + ("全部通过 ALL PASSED" if ok else "未通过 FAILED"), (255, 255, 255))]
    rows += [(f"{verdict}  {name:<8} {message[:60]}", colour[verdict]) for name, (verdict, message) in lines.items()]
    _say(surface, cfg, rows, 24)
    pygame.display.flip()
    if png:
        pygame.image.save(surface, png)
    time.sleep(seconds)
    pygame.display.quit()
    return f"shown on the screen for {seconds:g} s"


def check_gateway(cfg: Config) -> str:
    from kiosk.payments import Status
    from kiosk.payments.gateways import make_gateway

    gateway = make_gateway(cfg)
    answer = gateway.query(f"{cfg.kiosk.order_prefix}PROBE")  # a trade that does not exist: nothing is charged
    if answer.status is Status.UNKNOWN:
        raise OSError(f"{gateway.name} does not answer: {answer.reason or 'no answer'}")
    return f"{gateway.name} answers (asked about a trade that does not exist: {answer.status.value})"


def check_clock(cfg: Config) -> str:
    import subprocess

    from kiosk import CLOCK_FLOOR

    now = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    if time.time() < CLOCK_FLOOR:
        raise OSError(f"{now} is before this firmware was made: the clock is not set (network time?)")
    try:
        synced = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"], capture_output=True,
                                text=True, timeout=5).stdout.strip()  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        synced = ""
    return f"{now}" + {"yes": ", synchronised", "no": ", NOT synchronised with network time"}.get(synced, "")


def check_certificate(cfg: Config) -> str:
    from kiosk.telemetry import cert_days_left

    days = cert_days_left(cfg)
    if days is None:
        raise Skip("no MQTT client certificate")
    if days < 14:
        raise OSError(f"the MQTT certificate has {days} days left: python -m headoffice rotate-cert")
    return f"the MQTT certificate has {days} days left"


def print_results(cfg: Config, lines: dict[str, tuple[str, str]]) -> str:
    from hardware.printer import open_printer
    from kiosk.fonts import find_cjk_font
    from kiosk.receipts import ReceiptSettings, escpos_job, selftest_slip

    settings = ReceiptSettings.from_config(cfg, find_cjk_font(cfg.display.font))
    slip = selftest_slip(settings, lines, time.strftime("%Y-%m-%d %H:%M"))
    open_printer(cfg.printer, Path(cfg.kiosk.data_dir)).send(escpos_job(slip, settings), "selftest")
    return "the results printed"


def report(cfg: Config, results: dict[str, dict[str, object]]) -> str:
    """The results into the kiosk's outbox: head office gets them (an `events` message `selftest`) when the kiosk
    runs again."""
    from kiosk.store import open_store

    passed = all(r["ok"] for r in results.values())
    open_store(cfg).add_event("selftest", passed=passed, checks=results, by="technician")
    return "head office gets these results when the kiosk runs"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m provisioning.selftest")
    ap.add_argument("--config")
    ap.add_argument("--print-test-page", action="store_true", help="print a test page, and the results after")
    ap.add_argument("--scan-wait", type=float, default=0.0, help="seconds to wait for a scan (0: only open it)")
    ap.add_argument("--touch-wait", type=float, default=0.0, help="seconds to wait for a touch (0: no touch asked)")
    ap.add_argument("--show-s", type=float, default=10.0, help="how long the results stay on the kiosk's screen")
    ap.add_argument("--results-png", default="", help=argparse.SUPPRESS)  # the results screen saved (tests, docs)
    args = ap.parse_args(argv)
    try:
        cfg = load(args.config)
    except ConfigError as exc:
        print(f"FAIL config   {exc}")
        return 1
    print(f"PASS config   {cfg.source or 'simulator defaults'}")
    checks: list[tuple[str, Callable[[], str]]] = [
        ("storage", lambda: check_storage(cfg)),
        ("font", lambda: check_font(cfg)),
        ("display", lambda: check_display(cfg, args.touch_wait)),
        ("scanner", lambda: check_scanner(cfg, args.scan_wait)),
        ("camera", lambda: check_camera(cfg)),
        ("printer", lambda: check_printer(cfg, args.print_test_page)),
        ("gpio", lambda: check_gpio(cfg)),
        ("mqtt", lambda: check_mqtt(cfg)),
        ("gateway", lambda: check_gateway(cfg)),
        ("clock", lambda: check_clock(cfg)),
        ("cert", lambda: check_certificate(cfg)),
    ]
    failed = 0
    results: dict[str, dict[str, object]] = {}
    lines: dict[str, tuple[str, str]] = {}
    for name, check in checks:
        try:
            message = check()
            print(f"PASS {name:<8} {message}")
            results[name] = {"ok": True, "message": message[:200]}
            lines[name] = ("PASS", message)
        except Skip as why:
            print(f"SKIP {name:<8} {why}")
            lines[name] = ("SKIP", str(why))
        except Exception as exc:  # every failure is reported, none stops the others
            failed += 1
            print(f"FAIL {name:<8} {type(exc).__name__}: {exc}")
            results[name] = {"ok": False, "message": f"{type(exc).__name__}: {exc}"[:200]}
            lines[name] = ("FAIL", str(exc))
    if args.print_test_page and results.get("printer", {}).get("ok"):
        try:
            print(f"     paper    {print_results(cfg, lines)}")
        except Exception as exc:  # noqa: BLE001 - the printer check has passed: say what went wrong now
            print(f"     paper    the results could not be printed: {exc}")
    if results.get("display", {}).get("ok") and (args.show_s or args.results_png):
        try:
            print(f"     screen   {show_results(cfg, lines, args.show_s, args.results_png)}")
        except Exception as exc:  # noqa: BLE001 - the display check has passed: say what went wrong now
            print(f"     screen   the results could not be shown: {exc}")
    try:
        print(f"     report   {report(cfg, results)}")
    except Exception as exc:  # noqa: BLE001 - the storage check has said why already
        print(f"     report   not kept for head office: {exc}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
