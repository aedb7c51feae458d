"""What the UI-thread controller drives, as small interfaces: the services, the lights, head office's link and
the simulator's panel, handed to it by kiosk.runtime.wiring in one `Wiring`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kiosk.checkout import CollectOnlineOrder
from kiosk.services.online_orders import OnlineOrders
from kiosk.services.paying import PaymentService
from kiosk.services.printing import PrintService
from kiosk.services.refunds import RefundService


class Signals(Protocol):
    """The lights and the buzzer (hardware.gpio.Signals)."""

    def light(self, state: str) -> None: ...
    def beep(self, pattern: str) -> None: ...


class Speaker(Protocol):
    """Tones and spoken prompts (hardware.speaker.Speaker)."""

    def play(self, tone: str) -> None: ...
    def say(self, key: str, language: str) -> None: ...


class Link(Protocol):
    """What the controller tells head office directly (the outbox may be on the full disk)."""

    def set_out_of_service(self, problem: str | None) -> None: ...
    def alert(self, kind: str, **data: Any) -> None: ...


@dataclass
class Wiring:
    """What the controller drives, built by kiosk.runtime.wiring."""

    payments: PaymentService
    printing: PrintService
    refunds: RefundService
    record: Callable[..., None]  # record(kind, **data): an `events` message, written on the store worker
    save_lockout: Callable[[int, float], None]  # the PIN lockout (failures, until: wall clock), on the store worker
    probe_gateway: Callable[[], None]  # wake the recovery loop: is the gateway there?
    signals: Signals | None = None
    speaker: Speaker | None = None
    link: Link | None = None
    press_sim: Callable[[str], None] | None = None  # the simulator panel's buttons
    type_sim: Callable[[str], None] | None = None  # keys typed into the simulator's window: its scanner
    sim_buttons: Callable[[], tuple[tuple[str, str], ...]] = lambda: ()
    has_scanner: bool = True  # with a scanner fitted, the camera is for payment codes only
    receipt_url: str = ""
    currency: str = "CNY"
    switch_catalog: Callable[[int, str], None] = lambda gen, version: None  # sell from a staged catalog now
    install_update: Callable[[Any], None] = lambda staged: None  # ask the root updater for a staged release, now
    demo: bool = False  # a show kiosk (--demo): real devices, fake payments or demo goods: DEMO on screen
    online_orders: OnlineOrders | None = None  # reads orders made elsewhere (their QR)
    collect_online: Callable[[CollectOnlineOrder], None] = lambda effect: None  # hand one over: record, ticket
    look_up: Callable[[tuple[str, str | None, str, int]], None] = lambda key: None  # read a look-up page (worker)
    bag_barcode: str = ""  # the shopping bag the cart's bag button adds ("" = no button)
