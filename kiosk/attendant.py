"""Attendant mode: who may reprint receipts and run reports, behind a PIN stored only as a hash.

Plain Python, no I/O: the PIN is checked against a PBKDF2-SHA256 hash from the
config; wrong PINs lock the keypad for a while; a session ends by itself.
`python -m kiosk.attendant hash-pin` makes a hash for the config file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
from dataclasses import dataclass
from enum import Enum

ITERATIONS = 100_000


def hash_pin(pin: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    candidate = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt), int(iterations)).hex()
    return hmac.compare_digest(candidate, digest)


class Mode(Enum):
    OFF = "off"
    PIN = "pin"  # the keypad is up
    MENU = "menu"  # signed in
    SCAN_REPRINT = "scan_reprint"  # the next scanned code is a receipt barcode to reprint
    SCAN_REFUND = "scan_refund"  # the next scanned code is a receipt barcode to refund
    CONFIRM_REFUND = "confirm_refund"  # staff confirm the amount before anything is sent


@dataclass
class Attendant:
    pin_hash: str
    max_attempts: int = 3
    lockout_s: float = 60.0
    session_s: float = 120.0

    def __post_init__(self) -> None:
        self.mode = Mode.OFF
        self.entered = ""
        self.failures = 0
        self.locked_until = 0.0
        self.last_activity = 0.0
        self.message = ""
        self.refund_order = ""
        self.refund_left = 0  # what is left to refund on the scanned order
        self.refund_entry = ""  # what staff typed, in yuan ("12.5"); empty: all that is left

    @property
    def enabled(self) -> bool:
        return bool(self.pin_hash)

    @property
    def active(self) -> bool:
        return self.mode is not Mode.OFF

    def open_keypad(self, now: float) -> bool:
        if not self.enabled:
            return False
        self.mode, self.entered, self.last_activity = Mode.PIN, "", now
        self.message = "locked" if now < self.locked_until else ""
        return True

    def key(self, digit: str, now: float) -> None:
        self.last_activity = now
        if self.mode is Mode.PIN and len(self.entered) < 12 and digit.isdigit():
            self.entered += digit
        elif self.mode is Mode.CONFIRM_REFUND and len(self.refund_entry) < 9:
            if digit.isdigit() or (digit == "." and "." not in self.refund_entry):
                self.refund_entry += digit

    def clear(self, now: float) -> None:
        self.entered, self.refund_entry, self.last_activity = "", "", now

    def submit(self, now: float) -> bool | None:
        """True: signed in; False: wrong PIN; None: locked out (nothing was checked)."""
        self.last_activity = now
        if now < self.locked_until:
            self.entered, self.message = "", "locked"
            return None
        ok = verify_pin(self.entered, self.pin_hash)
        self.entered = ""
        if ok:
            self.failures, self.mode, self.message = 0, Mode.MENU, ""
            return True
        self.failures += 1
        self.message = "wrong_pin"
        if self.failures >= self.max_attempts:
            self.failures, self.locked_until, self.message = 0, now + self.lockout_s, "locked"
        return False

    def scan_to_reprint(self, now: float) -> None:
        if self.mode is Mode.MENU:
            self.mode, self.last_activity, self.message = Mode.SCAN_REPRINT, now, ""

    def scan_to_refund(self, now: float) -> None:
        if self.mode is Mode.MENU:
            self.mode, self.last_activity, self.message = Mode.SCAN_REFUND, now, ""

    def confirm_refund(self, order_no: str, amount: int, now: float) -> None:
        """The scanned order can be refunded this much: ask staff to confirm."""
        if self.mode is Mode.SCAN_REFUND:
            self.mode, self.refund_order, self.refund_left = Mode.CONFIRM_REFUND, order_no, amount
            self.refund_entry, self.last_activity = "", now

    @property
    def refund_amount(self) -> int | None:
        """The amount to refund in minor units, or None when what was typed is not a valid amount."""
        if not self.refund_entry:
            return self.refund_left
        whole, _, cents = self.refund_entry.partition(".")
        if len(cents) > 2 or not (whole or cents):
            return None
        amount = int(whole or 0) * 100 + int((cents + "00")[:2])
        return amount if 0 < amount <= self.refund_left else None

    def back_to_menu(self, now: float) -> None:
        if self.mode in (Mode.MENU, Mode.SCAN_REPRINT, Mode.SCAN_REFUND, Mode.CONFIRM_REFUND):
            self.mode, self.last_activity = Mode.MENU, now

    def leave(self) -> None:
        self.mode, self.entered, self.message = Mode.OFF, "", ""

    def tick(self, now: float) -> None:
        if self.active and now - self.last_activity > self.session_s:
            self.leave()


def main(argv: list[str]) -> int:
    if argv[:1] != ["hash-pin"]:
        print("usage: python -m kiosk.attendant hash-pin   (reads the PIN from standard input)", file=sys.stderr)
        return 2
    import getpass

    pin = getpass.getpass("PIN: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    if not (4 <= len(pin) <= 12 and pin.isdigit()):
        print("a PIN is 4 to 12 digits", file=sys.stderr)
        return 2
    print(hash_pin(pin))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
