"""Attendant mode: who may reprint, refund, void, change prices and approve age checks, behind a PIN or a badge.

Plain Python, no I/O: the PIN is checked against a PBKDF2-SHA256 hash from the
config; wrong PINs lock the keypad for a while; a session ends by itself.  A
staff badge is a QR (`KSTAFF1:<staff id>:<secret>`) whose SHA-256 the config
lists by staff id, so whoever approved is known by name.
`python -m kiosk.attendant hash-pin` makes a PIN hash, `make-badge ID` a badge.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

ITERATIONS = 100_000
BADGE_PREFIX = "KSTAFF1:"
_BADGE_RE = re.compile(r"^KSTAFF1:([a-z0-9][a-z0-9_-]{0,31}):([A-Za-z0-9_-]{22,64})$")


def is_badge(text: str) -> bool:
    return text.startswith(BADGE_PREFIX)


def badge_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_badge(staff_id: str) -> tuple[str, str]:
    """A new badge for `staff_id`: (the QR's text, the `id:sha256` entry for attendant.badges)."""
    text = f"{BADGE_PREFIX}{staff_id}:{secrets.token_urlsafe(24)}"
    if not _BADGE_RE.match(text):
        raise ValueError("a staff id is 1-32 lowercase letters, digits, '-' or '_'")
    return text, f"{staff_id}:{badge_digest(text)}"


def parse_badges(entries: str) -> dict[str, str]:
    """attendant.badges ("id:sha256hex id2:sha256hex", spaces or commas between) -> {digest: staff id}."""
    out: dict[str, str] = {}
    for entry in entries.replace(",", " ").split():
        staff_id, _, digest = entry.partition(":")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,31}", staff_id) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            fix = "make one with: python -m kiosk.attendant make-badge ID"
            raise ValueError(f"{entry[:40]!r} is not 'staff-id:sha256'; {fix}")
        out[digest] = staff_id
    return out


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
    VOID = "void"  # staff pick a cart line to take off
    PRICE_PICK = "price_pick"  # staff pick a cart line to change its price
    PRICE_ENTRY = "price_entry"  # staff type the new price and choose why


@dataclass
class Attendant:
    pin_hash: str
    max_attempts: int = 3
    lockout_s: float = 60.0
    session_s: float = 120.0
    badges: Mapping[str, str] = field(default_factory=dict)  # sha256 of a badge's text -> staff id

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
        self.staff = ""  # who is signed in: "pin", or the staff id on the badge
        self.price_sku = ""  # the cart line whose price is being changed
        self.price_entry = ""  # the new unit price typed, in yuan

    @property
    def enabled(self) -> bool:
        return bool(self.pin_hash or self.badges)

    def badge(self, text: str) -> str | None:
        """The staff id a scanned badge belongs to, or None (not a badge this kiosk knows)."""
        if not _BADGE_RE.match(text):
            return None
        digest = badge_digest(text)
        return next((sid for d, sid in self.badges.items() if hmac.compare_digest(d, digest)), None)

    def sign_in_badge(self, staff_id: str, now: float) -> None:
        self.mode, self.staff, self.entered, self.message, self.last_activity = Mode.MENU, staff_id, "", "", now

    @property
    def active(self) -> bool:
        return self.mode is not Mode.OFF

    def open_keypad(self, now: float) -> bool:
        if not self.pin_hash:
            return False
        self.mode, self.entered, self.last_activity = Mode.PIN, "", now
        self.message = "locked" if now < self.locked_until else ""
        return True

    def key(self, digit: str, now: float) -> None:
        self.last_activity = now
        if self.mode is Mode.PIN and len(self.entered) < 12 and digit.isdigit():
            self.entered += digit
        elif self.mode is Mode.CONFIRM_REFUND:
            self.refund_entry = _typed(self.refund_entry, digit)
        elif self.mode is Mode.PRICE_ENTRY:
            self.price_entry = _typed(self.price_entry, digit)

    def clear(self, now: float) -> None:
        self.entered, self.refund_entry, self.price_entry, self.last_activity = "", "", "", now

    def submit(self, now: float) -> bool | None:
        """True: signed in; False: wrong PIN; None: locked out (nothing was checked)."""
        self.last_activity = now
        if now < self.locked_until:
            self.entered, self.message = "", "locked"
            return None
        ok = verify_pin(self.entered, self.pin_hash)
        self.entered = ""
        if ok:
            self.failures, self.mode, self.message, self.staff = 0, Mode.MENU, "", "pin"
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
        amount = parse_amount(self.refund_entry)
        return amount if amount is not None and 0 < amount <= self.refund_left else None

    def pick(self, mode: Mode, now: float) -> None:
        """From the menu: void a line, or change a price (VOID / PRICE_PICK)."""
        if self.mode is Mode.MENU and mode in (Mode.VOID, Mode.PRICE_PICK):
            self.mode, self.last_activity, self.message = mode, now, ""

    def price_for(self, sku: str, now: float) -> None:
        if self.mode is Mode.PRICE_PICK:
            self.mode, self.price_sku, self.price_entry, self.last_activity = Mode.PRICE_ENTRY, sku, "", now

    @property
    def new_price(self) -> int | None:
        """The unit price typed, in minor units, or None while it is not a valid amount."""
        return parse_amount(self.price_entry) if self.mode is Mode.PRICE_ENTRY else None

    def back_to_menu(self, now: float) -> None:
        if self.mode not in (Mode.OFF, Mode.PIN):
            self.mode, self.last_activity = Mode.MENU, now

    def leave(self) -> None:
        self.mode, self.entered, self.message, self.staff = Mode.OFF, "", "", ""

    def tick(self, now: float) -> None:
        if self.active and now - self.last_activity > self.session_s:
            self.leave()


def _typed(entry: str, key: str) -> str:
    """An amount being typed on the keypad: digits and one point, at most 9 characters."""
    if len(entry) < 9 and (key.isdigit() or (key == "." and "." not in entry)):
        return entry + key
    return entry


def parse_amount(entry: str) -> int | None:
    """'12.5' -> 1250 minor units; None when it is not an amount (more than 2 decimals, nothing typed)."""
    whole, _, cents = entry.partition(".")
    if len(cents) > 2 or not (whole or cents):
        return None
    return int(whole or 0) * 100 + int((cents + "00")[:2])


USAGE = """usage: python -m kiosk.attendant hash-pin            (reads the PIN from standard input)
       python -m kiosk.attendant make-badge STAFF_ID [--svg FILE]"""


def main(argv: list[str]) -> int:
    if argv[:1] == ["make-badge"] and len(argv) in (2, 4) and (len(argv) == 2 or argv[2] == "--svg"):
        try:
            text, entry = make_badge(argv[1])
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 2
        if len(argv) == 4:
            import qrcode
            import qrcode.image.svg

            qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage).save(argv[3])
            print(f"badge QR written to {argv[3]} (print it; whoever holds it can approve as {argv[1]})")
        else:
            print(f"badge text (make it a QR): {text}")
        print(f"add to [attendant] badges: {entry}")
        return 0
    if argv[:1] != ["hash-pin"]:
        print(USAGE, file=sys.stderr)
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
