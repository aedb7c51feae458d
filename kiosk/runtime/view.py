"""What the screens may know and do: a read-only snapshot of the kiosk, and the one kind of action a touch sends.

The controller builds a `View` every frame; the screens draw it and give each
button an `Action`, which the controller carries out (domain call, then the
effects it returns).  Screens never hold the checkout, the attendant or a
service, so nothing they do can skip an effect or change state on the side.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.attendant import Mode
from kiosk.cart import Totals
from kiosk.checkout import Notice, PayStep, Phase


@dataclass(frozen=True)
class Action:
    """A touch on a button: `name` says what (see Controller.act), `arg` which (a SKU, a digit, a language)."""

    name: str
    arg: str = ""


@dataclass(frozen=True)
class LineView:
    sku: str
    name: str  # in the shopper's language
    qty: int
    amount: int
    unit_price: int = 0
    age_restricted: bool = False


@dataclass(frozen=True)
class LookUpItem:
    barcode: str  # what a touch adds (as if scanned)
    name: str  # in the shopper's language
    price: int
    by_weight: bool  # sold by kg: weighed at the scale, its label scanned
    picture: str = ""  # its picture's sha256 (kiosk.ui.pictures draws it), "" for none


@dataclass(frozen=True)
class LookUpView:
    """The look-up screen: which tab, what was typed, and the page the look-up worker read (None: reading)."""

    tab: str  # browse / search / code
    category: str | None
    query: str
    code: str
    page: int
    categories: tuple[str, ...]
    items: tuple[LookUpItem, ...]
    more: bool  # a next page exists
    loading: bool


@dataclass(frozen=True)
class AttendantView:
    enabled: bool  # a PIN is configured: the help box offers "Staff"
    active: bool
    mode: Mode
    message: str
    pin_digits: int  # how many digits were typed (never the digits)
    tries_left: int  # wrong PINs still allowed before the keypad locks
    refund_order: str
    refund_left: int
    refund_amount: int | None  # what would be refunded, or None when what was typed is not valid
    refund_entry: str
    staff: str = ""  # who is signed in: "pin" or a badge's staff id
    price_sku: str = ""  # the line whose price staff are changing
    price_entry: str = ""  # what they typed
    new_price: int | None = None  # the typed price in minor units (None: not valid yet)


@dataclass(frozen=True)
class View:
    now: float  # the kiosk's clock when the snapshot was taken
    language: str
    currency: str
    phase: Phase
    pay_step: PayStep
    paying: bool
    notice: Notice | None
    help_open: bool
    idle_seconds_left: int | None
    lines: tuple[LineView, ...]
    changed_sku: str | None  # the line that changed last: highlighted, and kept in view
    cart_top: int | None  # the first line shown, as the shopper scrolled; None: the screen keeps changed_sku in view
    can_undo: bool  # a removed line can be put back ("Undo" beside the notice)
    confirming_start_over: bool  # "Remove all items?" is up
    paper_receipt: bool  # False: the shopper chose the e-receipt only
    high_contrast: bool  # the shopper switched the high-contrast colours on (until the visit ends)
    large_text: bool  # the shopper switched larger text on (until the visit ends)
    choosing_language: bool  # the list of languages is open
    totals: Totals
    paid_total: int
    order_no: str | None
    receipt: str | None  # printing / printed / failed / declined (the shopper chose the e-receipt only)
    receipt_url: str  # the e-receipt of the order on screen ("" when none)
    masked_code: str
    qr_text: str
    qr_deadline: float
    out_of_service: bool
    devices_down: tuple[str, ...]  # scanner, camera, printer, gateway: what the top bar says is offline
    printer_fault: str  # why the printer failed last (printer_paper_out, printer_cover_open...; "" when fine)
    needs_staff: bool  # a background job failed: staff should look (the attendant menu says what)
    failure: str  # the latest failed job, for staff ("" when none)
    attendant: AttendantView
    sim_buttons: tuple[tuple[str, str], ...]  # the simulator's panel: (label, name); empty when hidden
    not_ready: bool = False  # out of service because head office's catalog has not arrived yet
    demo: bool = False  # a show kiosk (--demo): the top bar says no real payments are taken
    online_order: str = ""  # the cart is this order made elsewhere (its lines fixed: no − + ×)
    age_check_needed: bool = False  # an age-restricted item waits for staff: no payment until they approve
    look_up: LookUpView | None = None  # the look-up screen, while it is open
    bag_price: int | None = None  # the cart's bag button adds a bag at this price (None: no button)
