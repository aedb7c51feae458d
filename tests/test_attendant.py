"""Attendant mode: PIN hashing, lockout, session end, and the hash-pin command."""

import subprocess
import sys

from kiosk.attendant import Attendant, Mode, hash_pin, verify_pin
from kiosk.config import ConfigError, from_dict
from tests.conftest import REPO


def test_pin_is_stored_only_as_a_salted_hash():
    h1, h2 = hash_pin("4711"), hash_pin("4711")
    assert h1 != h2 and "4711" not in h1
    assert verify_pin("4711", h1) and verify_pin("4711", h2) and not verify_pin("4712", h1)
    assert not verify_pin("4711", "garbage")


def test_wrong_pins_lock_the_keypad():
    a = Attendant(hash_pin("4711"), max_attempts=3, lockout_s=60, session_s=120)
    a.open_keypad(0)
    for n in range(3):
        for d in "1111":
            a.key(d, n)
        assert a.submit(n) is False
    assert a.message == "locked"
    for d in "4711":
        a.key(d, 10)
    assert a.submit(10) is None and a.mode is Mode.PIN  # even the right PIN waits out the lockout
    for d in "4711":
        a.key(d, 63)  # the third failure was at t=2: locked until t=62
    assert a.submit(63) is True and a.mode is Mode.MENU


def test_session_ends_by_itself_and_disabled_without_a_hash():
    a = Attendant(hash_pin("4711"), session_s=120)
    a.open_keypad(0)
    for d in "4711":
        a.key(d, 1)
    a.submit(1)
    a.scan_to_reprint(2)
    assert a.mode is Mode.SCAN_REPRINT
    a.tick(200)
    assert a.mode is Mode.OFF
    off = Attendant("")
    assert not off.open_keypad(0) and not off.active


def test_hash_pin_command_and_config():
    run = subprocess.run(
        [sys.executable, "-m", "kiosk.attendant", "hash-pin"],
        input="4711\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert run.returncode == 0
    h = run.stdout.strip()
    assert verify_pin("4711", h)
    assert from_dict({"attendant": {"pin_hash": h}}).attendant.pin_hash == h
    try:
        from_dict({"attendant": {"pin_hash": "4711"}})
    except ConfigError as exc:
        assert "hash-pin" in str(exc)
    else:
        raise AssertionError("a plain PIN in the config was accepted")
    bad = subprocess.run(
        [sys.executable, "-m", "kiosk.attendant", "hash-pin"],
        input="12\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert bad.returncode == 2 and "4 to 12 digits" in bad.stderr


def test_refund_amount_typed_by_staff():
    a = Attendant(hash_pin("4711"))
    a.open_keypad(0)
    for d in "4711":
        a.key(d, 0)
    a.submit(0)
    a.scan_to_refund(1)
    a.confirm_refund("K01-261124-0001", 550, 1)
    assert a.refund_amount == 550  # nothing typed: all that is left
    for d in "2.5":
        a.key(d, 2)
    assert a.refund_amount == 250
    a.key(".", 2)  # a second point is ignored
    a.key("0", 2)
    assert a.refund_entry == "2.50" and a.refund_amount == 250
    a.clear(3)
    for d in "6":
        a.key(d, 3)
    assert a.refund_amount is None  # more than is left
    a.clear(3)
    for d in "0.001":
        a.key(d, 3)
    assert a.refund_amount is None  # not a money amount


def test_a_pin_lockout_survives_a_restart(tmp_path):
    """Three wrong PINs, then pull the plug: the keypad is still locked when the kiosk comes back."""
    from kiosk.config import DEMO_PIN_HASH
    from kiosk.runtime.view import Action
    from kiosk.runtime.wiring import Runtime
    from tests.loopback import wait_until
    from tests.test_payments import quiet_kiosk_config

    cfg = quiet_kiosk_config(tmp_path, attendant={"pin_hash": DEMO_PIN_HASH, "lockout_s": 600.0})
    k = Runtime(cfg)
    for _ in range(3):
        k.controller.attendant.open_keypad(k.clock())
        for d in "9999":
            k.controller.attendant.key(d, k.clock())
        k.controller.act(Action("submit_pin"))
    assert k.controller.attendant.message == "locked"
    assert wait_until(lambda: k.store.lockout()[1] > 0, 5)
    k.stop()
    k.store.close()

    again = Runtime(cfg)
    try:
        again.controller.attendant.open_keypad(again.clock())
        for d in "1234":  # the right PIN, but too soon
            again.controller.attendant.key(d, again.clock())
        again.controller.act(Action("submit_pin"))
        assert again.controller.attendant.message == "locked" and again.controller.attendant.mode.value != "menu"
    finally:
        again.stop()


def test_a_badge_is_known_by_its_digest_only_and_a_bad_entry_is_named(tmp_path):
    import pytest

    from kiosk.attendant import make_badge, parse_badges

    text, entry = make_badge("li-na")
    assert text.split(":")[2] not in entry  # the config holds no secret
    a = Attendant("", badges=parse_badges(entry))
    assert a.enabled and a.badge(text) == "li-na"
    assert a.badge(text[:-1] + ("A" if text[-1] != "A" else "B")) is None and a.badge("KSTAFF1:li-na") is None
    with pytest.raises(ConfigError, match="attendant.badges: 'li-na:abc' is not 'staff-id:sha256'"):
        from_dict({"attendant": {"badges": "li-na:abc"}})
    out = tmp_path / "b.svg"
    run = subprocess.run(
        [sys.executable, "-m", "kiosk.attendant", "make-badge", "wang-wei", "--svg", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    line = run.stdout.strip().splitlines()[-1]
    assert line.startswith("add to [attendant] badges: wang-wei:") and out.read_text().startswith("<?xml")
    assert from_dict({"attendant": {"badges": line.split(": ", 1)[1]}}).attendant.badges.startswith("wang-wei:")
