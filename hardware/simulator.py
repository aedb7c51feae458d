"""The simulator's panel: a simulated device whose buttons act on the other simulated devices.

It types a product barcode into the simulated scanner, holds a wallet's
payment code up to the simulated camera, has the shopper's wallet scan the QR
on screen (through the sandbox gateway, by a callback the wiring gives it), and
takes the paper out of (or puts it back into) the virtual printer, or opens
its cover.  The screen draws `buttons()`; a touch on one calls `press(name)`.
`autopilot()` is a shopper who buys on their own, for demos (`simulator.autopilot_s`).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hardware.camera import SimulatedSource, qr_image
from hardware.scanner import SimulatedScanner
from hardware.virtual_printer import VirtualPrinter

log = logging.getLogger(__name__)
UNKNOWN_PRODUCT = "6900000000007"


@dataclass(frozen=True)
class PanelButton:
    label: str  # English; the screen translates it
    name: str  # what `press` takes; tests find the button by it ("sim:<name>")


BUTTONS = (
    PanelButton("Scan item", "scan"),
    PanelButton("Unknown item", "unknown"),
    PanelButton("Code: approve", "pay_ok"),
    PanelButton("Code: confirm", "pay_confirm"),
    PanelButton("Code: decline", "pay_decline"),
    PanelButton("Wallet scans", "wallet_scan"),
    PanelButton("Paper out", "paper_out"),
    PanelButton("Refill paper", "paper_in"),
)
# the last digit of a sandbox payment code says what the sandbox does with it
CODE_ENDINGS = {"pay_ok": "1", "pay_confirm": "7", "pay_decline": "8"}


class SimulatorPanel:
    def __init__(
        self,
        *,
        scanner: SimulatedScanner | None = None,
        camera: SimulatedSource | None = None,
        printer: VirtualPrinter | None = None,
        product_codes: Callable[[], Sequence[str]] = lambda: (),
        wallet_scan: Callable[[], None] | None = None,
    ) -> None:
        self.scanner = scanner
        self.camera = camera
        self.printer = printer
        self.product_codes = product_codes
        self.wallet_scan = wallet_scan

    @property
    def useful(self) -> bool:
        """Anything to press: some device here is simulated."""
        return any(d is not None for d in (self.scanner, self.camera, self.printer))

    def buttons(self) -> tuple[PanelButton, ...]:
        """The buttons that do something on this kiosk now (the paper button shows what it would do)."""
        shown = []
        for b in BUTTONS:
            if b.name in ("scan", "unknown") and self.scanner is None:
                continue
            if b.name in CODE_ENDINGS and self.camera is None:
                continue
            if b.name == "wallet_scan" and self.wallet_scan is None:
                continue
            if b.name in ("paper_out", "paper_in"):
                if self.printer is None or (b.name == "paper_out") == self.printer.paper_out:
                    continue
            shown.append(b)
        return tuple(shown)

    def press(self, name: str) -> None:
        if name == "scan":
            self.scan()
        elif name == "unknown":
            self.scan(UNKNOWN_PRODUCT)
        elif name in CODE_ENDINGS:
            self.show_payment_code(CODE_ENDINGS[name])
        elif name == "wallet_scan" and self.wallet_scan is not None:
            self.wallet_scan()
        elif name in ("paper_out", "paper_in") and self.printer is not None:
            self.printer.paper_out = name == "paper_out"
            log.info("simulator: paper %s", "taken out" if self.printer.paper_out else "refilled")
        else:
            log.warning("simulator: no button %r here", name)

    def autopilot(self, every_s: float, stop: threading.Event) -> threading.Thread:
        """A simulated shopper (for demos): every `every_s`, scan one to three items and pay with a fresh code."""

        def shop() -> None:
            while not stop.wait(every_s):
                for _ in range(random.randint(1, 3)):
                    self.scan()
                    if stop.wait(0.3):
                        return
                if stop.wait(1.0):
                    return
                self.show_payment_code("1")

        thread = threading.Thread(target=shop, name="autopilot", daemon=True)
        thread.start()
        return thread

    def scan(self, text: str | None = None) -> None:
        """Type a barcode (a random product's by default) into the simulated scanner."""
        if self.scanner is None:
            return
        codes = list(self.product_codes())
        text = text or (random.choice(codes) if codes else UNKNOWN_PRODUCT)
        self.scanner.feed(text.encode() + b"\r")

    def show_payment_code(self, last_digit: str) -> None:
        """Hold a fresh Alipay-style code, ending in `last_digit`, in front of the simulated camera."""
        if self.camera is not None:
            code = "28" + "".join(random.choice("0123456789") for _ in range(15)) + last_digit
            self.camera.show(qr_image(code), seconds=1.5)
