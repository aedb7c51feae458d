"""The checkout state machine (the cart is kiosk.cart): plain Python, no I/O, no clocks.

The runtime feeds it what happened (a scan, a touch, a payment update, the time)
and carries out the Effects it returns (beep, start or cancel a payment, call
for help).  The screen renders its state.  Everything here is tested without
devices in tests/test_checkout.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from kiosk.cart import MAX_QTY, Cart, CartLine, Totals
from kiosk.catalog import Product
from kiosk.codes import CodeKind, CodeMemory, Scanned, Scheme, classify
from kiosk.online_order import OnlineOrder
from kiosk.orders import Order
from kiosk.weighed import LabelError, Layout, priced_by, read_label

COUNTDOWN_S = 15  # the idle countdown shows for this long before the reset
UNDO_S = 8.0  # a removed line can be put back for this long


class Phase(Enum):
    IDLE = "idle"  # welcome screen, empty cart
    CART = "cart"  # shopping
    PAYMENT = "payment"  # waiting for a payment code, or paying
    RESULT = "result"  # paid (or the last word on a payment)


class PayStep(Enum):
    WAITING_CODE = "waiting_code"
    SUBMITTING = "submitting"
    USER_PAYING = "user_paying"  # the shopper confirms on the phone
    SHOWING_QR = "showing_qr"  # the kiosk shows a QR for the shopper's wallet to scan
    CANCELLING = "cancelling"


class Outcome(Enum):
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Notice:
    """A message for the shopper: an i18n key, its parameters, and whether it is an error."""

    key: str
    error: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CartChange:
    """The cart's latest change, for the screen to show and highlight: which line, how, and a number that
    counts every change (so the screen knows when to bring the changed line back into view)."""

    sku: str
    kind: str  # added / more / fewer / removed / put_back / repriced
    seq: int


@dataclass
class LookUp:
    """The look-up screen, open over the cart: items without a barcode by category or by search, or a damaged
    barcode typed on a keypad.  `tab`: browse / search / code."""

    tab: str = "browse"
    category: str | None = None  # None: the list of categories
    query: str = ""  # letters typed on the search keyboard (pinyin initials, pinyin, English)
    code: str = ""  # digits typed on the barcode keypad
    page: int = 0


LOOKUP_TABS = ("browse", "search", "code")
MAX_TYPED = 20  # letters or digits a shopper may type on the look-up screen


@dataclass(frozen=True)
class Removal:
    """A line the shopper removed, which "Undo" puts back until `until`."""

    index: int
    line: CartLine
    until: float


# --- effects: what the runtime must do -------------------------------------


@dataclass(frozen=True)
class Beep:
    kind: str  # "ok", "error", "paid"


@dataclass(frozen=True)
class StartPayment:
    code: str
    scheme: Scheme
    lines: tuple[tuple[Product, int], ...]
    totals: Totals
    online_order: str = ""  # the order made elsewhere this pays: its hand-over is recorded with the sale


@dataclass(frozen=True)
class StartQrPayment:
    lines: tuple[tuple[Product, int], ...]
    totals: Totals
    online_order: str = ""


@dataclass(frozen=True)
class CancelPayment:
    pass


@dataclass(frozen=True)
class CallHelp:
    phase: Phase


@dataclass(frozen=True)
class AgeCheckNeeded:
    """An age-restricted item is in the cart: staff must approve before the shopper pays (light, buzzer, report)."""

    skus: tuple[str, ...]


@dataclass(frozen=True)
class StaffChange:
    """An attendant changed the cart (void, price override, age check): recorded and reported for the audit."""

    kind: str  # line_voided / price_override / age_check_approved / age_check_declined
    data: Mapping[str, Any]


@dataclass(frozen=True)
class PrintReceipt:
    """The sale was paid and recorded: print its receipt for the shopper."""

    order: Order


@dataclass(frozen=True)
class NoPaperReceipt:
    """The sale was paid and recorded, and the shopper chose the e-receipt only: record that none was printed."""

    order: Order


@dataclass(frozen=True)
class CollectOnlineOrder:
    """An order made elsewhere is handed over: print its ticket; one paid online is also recorded (once) and
    head office told (one paid here was, with its sale).  `kiosk_order_no`: this kiosk's order when it was paid
    here (None: it was paid online)."""

    order: OnlineOrder
    kiosk_order_no: str | None
    language: str


Effect = (
    Beep
    | StartPayment
    | StartQrPayment
    | CancelPayment
    | CallHelp
    | AgeCheckNeeded
    | StaffChange
    | PrintReceipt
    | NoPaperReceipt
    | CollectOnlineOrder
)

PRICE_REASONS = ("damaged", "shelf_price", "manager_discount")  # why an attendant may change a price


# --- the state machine --------------------------------------------------------


class Checkout:
    """One shopper's visit: idle -> cart -> payment -> result -> idle."""

    def __init__(
        self,
        catalog: Mapping[str, Product],
        *,
        idle_timeout_s: float = 90.0,
        result_timeout_s: float = 12.0,
        language: str = "zh_CN",
        now: float = 0.0,
        accepted: frozenset[str] = frozenset({"alipay", "wechat", "unionpay", "emvco"}),
        used_codes: CodeMemory | None = None,
        layouts: Mapping[str, Layout] | None = None,
        removals_need_staff: bool = False,
    ) -> None:
        self.catalog = catalog
        self.removals_need_staff = removals_need_staff  # − and × call staff instead (stores fighting shrink)
        self.layouts = dict(layouts or {})  # scale labels: prefix -> layout (kiosk.weighed)
        self.accepted = accepted  # the wallets the payment gateway takes
        self.idle_timeout_s = idle_timeout_s
        self.result_timeout_s = result_timeout_s
        self.default_language = language
        self.language = language
        self.cart = Cart()
        self.online_order: OnlineOrder | None = None  # an order made elsewhere, in the cart to be paid
        self.phase = Phase.IDLE
        self.pay_step = PayStep.WAITING_CODE
        self.notice: Notice | None = None
        self.help_open = False
        self.outcome: Outcome | None = None
        self.order_no: str | None = None
        self.paid_total = 0
        self.receipt: str | None = None  # the sale's receipt: printing / printed / failed (None: none)
        self.shopper_cancelled = False  # the payment running now was cancelled by the shopper, not the kiosk
        self.masked_code = ""
        self.qr_text = ""
        self.qr_deadline = 0.0
        self.payments_available = True  # False while the payment gateway cannot be reached
        self.out_of_service = False  # True while the kiosk cannot record a sale (disk full or failing)
        self.last_activity = now
        self.changed: CartChange | None = None  # the cart's latest change (highlighted on screen)
        self.removal: Removal | None = None  # the last removed line, while it can be put back
        self.confirming_start_over = False  # "Remove all items?" is asked
        self.paper_receipt = True  # False: the shopper chose the e-receipt only (this visit)
        self.high_contrast = False  # the shopper's choice of colours (this visit)
        self.large_text = False  # the shopper's choice of larger text (this visit)
        self.age_approved = False  # staff checked the shopper's age (this visit)
        self.look_up: LookUp | None = None  # the look-up screen, while it is open
        self.choosing_language = False  # the list of languages is open (top bar)
        self._codes = used_codes or CodeMemory()  # wallet codes already tried, from the store

    # -- derived state ----------------------------------------------------
    @property
    def paying(self) -> bool:
        return self.phase is Phase.PAYMENT and self.pay_step is not PayStep.WAITING_CODE

    def totals(self) -> Totals:
        return self.cart.totals()

    @property
    def keeps_result(self) -> bool:
        """The result screen shows the e-receipt code (no paper receipt): it stays until the shopper is done."""
        return self.phase is Phase.RESULT and self.receipt in ("failed", "declined")

    def _waits_for_idle(self) -> bool:
        """The screen waits for the shopper, and the idle timer runs (help open: it waits for staff)."""
        shopping = (self.phase in (Phase.CART, Phase.PAYMENT) or self.look_up is not None) and not self.paying
        return (shopping or self.keeps_result) and not self.help_open

    def idle_seconds_left(self, now: float) -> int | None:
        """Seconds until the idle reset, once the countdown shows; None otherwise."""
        if not self._waits_for_idle():
            return None
        left = self.idle_timeout_s - (now - self.last_activity)
        return max(0, int(left + 0.999)) if left <= COUNTDOWN_S else None

    @property
    def age_check_needed(self) -> bool:
        """An age-restricted item is in the cart and staff have not approved yet: no payment until they do."""
        return not self.age_approved and any(ln.product.age_restricted for ln in self.cart.lines)

    def _restricted_skus(self) -> tuple[str, ...]:
        return tuple(ln.product.key for ln in self.cart.lines if ln.product.age_restricted)

    def _age_gate(self) -> list[Effect] | None:
        """Refuse to start paying while the age check waits (the wallet code is not used up)."""
        if not self.age_check_needed:
            return None
        self.notice = Notice("age_check_needed", error=True)
        return [Beep("error")]

    def can_undo(self, now: float) -> bool:
        return self.removal is not None and now < self.removal.until and self.phase is Phase.CART

    # -- shopper actions ---------------------------------------------------
    def touch(self, now: float) -> None:
        self.last_activity = now

    def scan(self, text: str, now: float) -> list[Effect]:
        """A code from the scanner or the camera."""
        if self.out_of_service and not self.paying and self.phase is not Phase.RESULT:
            self.notice = Notice("out_of_service", error=True)
            return [Beep("error")]
        scanned = classify(text)
        if not self.paying:
            self.confirming_start_over = False  # the shopper carries on: the question is moot
        if scanned.kind is CodeKind.PAYMENT:
            return self._payment_code(scanned, now)
        if self.paying or self.phase is Phase.RESULT and scanned.kind is not CodeKind.PRODUCT:
            return []  # the camera keeps seeing things while a payment runs: not the shopper's doing
        self.last_activity = now
        if scanned.kind is CodeKind.OTHER:
            waiting_for_code = self.phase is Phase.PAYMENT
            self.notice = Notice("not_a_payment_code" if waiting_for_code else "not_a_product", error=True)
            return [Beep("error")]
        try:
            label = read_label(scanned.text, self.layouts) if self.layouts else None
        except LabelError:
            self.notice = Notice("label_misread", error=True)
            return [Beep("error")]
        if scanned.kind is CodeKind.ONLINE_ORDER:  # checked by the runtime first (open_online_order)
            return []
        fixed = self._order_is_fixed()
        if fixed is not None and self.phase is Phase.CART:
            return fixed
        product = self.catalog.get(label.base if label else scanned.text)
        if product is None:
            self.notice = Notice("unknown_barcode", error=True, params={"code": scanned.text})
            return [Beep("error")]
        if label is not None:
            product = priced_by(product, label)
        return self._add(product)

    def _add(self, product: Product) -> list[Effect]:
        """One of `product` into the cart (from a scan, the look-up screen or the bag button)."""
        if self.phase is Phase.RESULT:
            self._reset()
        if not self.cart.add(product):
            self.notice = Notice("max_qty", error=True, params={"max": MAX_QTY})
            return [Beep("error")]
        self.phase = Phase.CART
        self.look_up = None  # the item is in: the cart shows it
        line = self.cart.line(product.key)
        qty = line.qty if line is not None else 1
        self._changed(product.key, "added" if qty == 1 else "more")
        if product.age_restricted and not self.age_approved:
            self.notice = Notice("age_restricted_added", params={"item": product, "amount": product.price})
            return [Beep("ok"), AgeCheckNeeded(self._restricted_skus())] if qty == 1 else [Beep("ok")]
        self.notice = Notice("added", params={"sku": product.key, "item": product, "amount": product.price})
        return [Beep("ok")]

    # -- the look-up screen ----------------------------------------------------------
    def open_look_up(self, now: float, tab: str = "browse") -> list[Effect]:
        """ "Look up item": by category, by search, or typing a damaged barcode (shopping only)."""
        self.last_activity = now
        if self.paying or self.phase is Phase.PAYMENT or self.online_order is not None or self.out_of_service:
            return []
        self.confirming_start_over = False
        self.look_up = LookUp(tab=tab if tab in LOOKUP_TABS else "browse")
        return []

    def close_look_up(self, now: float) -> list[Effect]:
        self.last_activity = now
        self.look_up = None
        return []

    def look_up_tab(self, tab: str, now: float) -> list[Effect]:
        self.last_activity = now
        if self.look_up is not None and tab in LOOKUP_TABS:
            self.look_up.tab, self.look_up.page = tab, 0
        return []

    def look_up_category(self, category: str | None, now: float) -> list[Effect]:
        self.last_activity = now
        if self.look_up is not None:
            self.look_up.category, self.look_up.page = category, 0
        return []

    def look_up_page(self, page: int, now: float) -> list[Effect]:
        self.last_activity = now
        if self.look_up is not None:
            self.look_up.page = max(0, page)
        return []

    def look_up_key(self, key: str, now: float) -> list[Effect]:
        """A key on the look-up screen's keyboard (a letter: search; a digit: the barcode keypad); "⌫" deletes."""
        self.last_activity = now
        lu = self.look_up
        if lu is None or len(key) != 1:
            return []
        field = "code" if lu.tab == "code" else "query"
        typed = getattr(lu, field)
        if key == "⌫":
            typed = typed[:-1]
        elif len(typed) < MAX_TYPED and (key.isdigit() if field == "code" else key.isascii() and key.isalnum()):
            typed += key.lower()
        setattr(lu, field, typed)
        lu.page = 0
        return []

    def add_looked_up(self, product: Product | None, now: float) -> list[Effect]:
        """The shopper picked an item on the look-up screen: it goes in the cart and the screen closes.  Goods
        sold by weight need the scale's label: the shopper is told to weigh them and scan it."""
        self.last_activity = now
        if self.look_up is None or product is None:
            return []
        if product.unit == "kg":
            self.notice = Notice("weigh_first", error=True, params={"item": product})
            return [Beep("error")]
        return self._add(product)

    def submit_typed_code(self, now: float) -> list[Effect]:
        """The barcode typed on the keypad is taken as if scanned; the keypad stays open when it is not known."""
        lu = self.look_up
        if lu is None or not lu.code:
            return []
        effects = self.scan(lu.code, now)
        if self.notice is not None and not self.notice.error:
            self.look_up = None
        return effects

    def add_bag(self, bag: Product | None, now: float) -> list[Effect]:
        """The bag button under the cart: one more shopping bag."""
        self.last_activity = now
        if bag is None or self.paying or self.phase is not Phase.CART or self.online_order is not None:
            return []
        return self._add(bag)

    def _payment_code(self, scanned: Scanned, now: float) -> list[Effect]:
        if self.paying or self.phase is Phase.RESULT:
            return []
        self.last_activity = now
        if not self.cart:
            self.notice = Notice("scan_products_first", error=True)
            return [Beep("error")]
        gate = self._age_gate()
        if gate is not None:
            return gate
        assert scanned.scheme is not None
        if scanned.scheme.value not in self.accepted:  # refused before it is used up: the shopper can switch
            self.notice = Notice("wallet_not_accepted", error=True)
            return [Beep("error")]
        if not self.payments_available:  # wallet codes need the gateway: don't take one it cannot hear of
            self.notice = Notice("payments_unavailable", error=True)
            return [Beep("error")]
        if self._codes.seen(scanned.text):
            self.notice = Notice("code_used", error=True)
            return [Beep("error")]
        assert scanned.scheme is not None
        self._codes.remember(scanned.text)
        self.look_up = None
        self.phase = Phase.PAYMENT
        self.pay_step = PayStep.SUBMITTING
        self.shopper_cancelled = False
        self.masked_code = scanned.masked
        self.notice = None
        return [
            StartPayment(scanned.text, scanned.scheme, self.cart.snapshot(), self.cart.totals(), self._paying_for())
        ]

    def tap_pay(self, now: float) -> list[Effect]:
        self.last_activity = now
        if self.phase is Phase.CART and self.cart:
            gate = self._age_gate()
            if gate is not None:
                return gate
            self.phase = Phase.PAYMENT
            self.pay_step = PayStep.WAITING_CODE
            self.notice = None
        return []

    def tap_scan_to_pay(self, now: float) -> list[Effect]:
        """Show a QR for the shopper's wallet app instead of scanning theirs."""
        self.last_activity = now
        if self.out_of_service:
            self.notice = Notice("out_of_service", error=True)
            return [Beep("error")]
        if not self.payments_available:
            self.notice = Notice("payments_unavailable", error=True)
            return [Beep("error")]
        if self.phase is Phase.PAYMENT and self.pay_step is PayStep.WAITING_CODE and self.cart:
            self.pay_step = PayStep.SUBMITTING
            self.shopper_cancelled = False
            self.masked_code = ""
            self.notice = None
            return [StartQrPayment(self.cart.snapshot(), self.cart.totals(), self._paying_for())]
        return []

    def qr_ready(self, qr: str, deadline: float) -> None:
        if self.phase is Phase.PAYMENT and self.pay_step is PayStep.SUBMITTING:
            self.pay_step = PayStep.SHOWING_QR
            self.qr_text, self.qr_deadline = qr, deadline

    def tap_back(self, now: float) -> list[Effect]:
        """Leave the payment screen (only while no payment runs)."""
        self.last_activity = now
        if self.phase is Phase.PAYMENT and not self.paying:
            self.phase = Phase.CART if self.cart else Phase.IDLE
            self.notice = None
        return []

    def tap_cancel_payment(self, now: float) -> list[Effect]:
        self.last_activity = now
        if self.phase is Phase.PAYMENT and self.pay_step in (
            PayStep.SUBMITTING,
            PayStep.USER_PAYING,
            PayStep.SHOWING_QR,
        ):
            self.pay_step = PayStep.CANCELLING
            self.shopper_cancelled = True
            return [CancelPayment()]
        return []

    def _paying_for(self) -> str:
        return self.online_order.order_no if self.online_order is not None else ""

    def _order_is_fixed(self) -> list[Effect] | None:
        """An order made elsewhere is paid as it was ordered: its lines cannot change here."""
        if self.online_order is None:
            return None
        self.notice = Notice("order_fixed", error=True, params={"order_no": self.online_order.order_no})
        return [Beep("error")]

    def open_online_order(self, order: OnlineOrder, collected: Mapping[str, Any] | None, now: float) -> list[Effect]:
        """A checked order QR: a paid order is handed over at once (its ticket printed); an unpaid one becomes the
        cart, as ordered, for the shopper to pay; one this kiosk handed over before says when."""
        self.last_activity = now
        if self.paying or self.cart:  # another purchase is under way: never thrown away for this one
            self.notice = Notice("finish_first", error=True)
            return [Beep("error")]
        if collected is not None:  # here (this kiosk's record) or at another kiosk (head office's word: `where`)
            params = {"order_no": order.order_no, "when": collected["collected_at"]}
            if collected.get("where"):
                params["where"] = collected["where"]
            self.notice = Notice("order_collected_at" if "where" in params else "order_collected", True, params)
            return [Beep("error")]
        choices = self.language, self.high_contrast, self.large_text  # the guest's choices stay
        self._reset()
        self.language, self.high_contrast, self.large_text = choices
        if order.paid:
            self.phase = Phase.RESULT
            self.outcome = Outcome.PAID
            self.order_no = order.order_no
            self.paid_total = order.total
            self.receipt = "printing"  # the ticket
            self.notice = Notice("order_handed_over", params={"order_no": order.order_no})
            return [Beep("paid"), CollectOnlineOrder(order, None, self.language)]
        for product, qty in order.products():
            for _ in range(min(qty, MAX_QTY)):
                self.cart.add(product)
        self.online_order = order
        self.phase = Phase.CART
        self.notice = Notice("online_order", params={"order_no": order.order_no, "amount": order.total})
        return [Beep("ok")]  # its lines carry no age flag: head office's shop checked the buyer

    def tap_plus(self, sku: str, now: float) -> list[Effect]:
        self.last_activity = now
        fixed = self._order_is_fixed()
        if fixed is not None:
            return fixed
        line = self.cart.line(sku)
        if self.phase is not Phase.CART or line is None:
            return []
        if not self.cart.increment(sku):
            self.notice = Notice("max_qty", error=True, params={"max": MAX_QTY})
            return [Beep("error")]
        self._changed(sku, "more")
        self.notice = Notice("quantity", params={"item": line.product, "qty": line.qty})
        return []

    def tap_minus(self, sku: str, now: float) -> list[Effect]:
        """One fewer; at quantity 1 the line is removed, and can be put back (see tap_undo)."""
        self.last_activity = now
        fixed = self._order_is_fixed()
        if fixed is not None:
            return fixed
        line = self.cart.line(sku)
        if self.phase is not Phase.CART or line is None:
            return []
        if self.removals_need_staff:
            return self._staff_removes(line)
        if line.qty == 1:
            return self.tap_remove(sku, now)
        self.cart.decrement(sku)
        self._changed(sku, "fewer")
        self.notice = Notice("quantity", params={"item": line.product, "qty": line.qty})
        return []

    def tap_remove(self, sku: str, now: float) -> list[Effect]:
        """The line leaves the cart; the shopper is told what went, for how much, and may undo it for UNDO_S."""
        self.last_activity = now
        if self.phase is not Phase.CART:
            return []
        fixed = self._order_is_fixed()
        if fixed is not None:
            return fixed
        line = self.cart.line(sku)
        if self.removals_need_staff and line is not None:
            return self._staff_removes(line)
        removed = self.cart.remove(sku)
        if removed is None:
            return []
        index, line = removed
        self.removal = Removal(index, line, now + UNDO_S)
        self._changed(sku, "removed")
        self.notice = Notice("removed", params={"item": line.product, "amount": line.amount})
        return []  # an empty cart stays on screen while Undo is offered (tick moves on)

    def _staff_removes(self, line: CartLine) -> list[Effect]:
        """This store lets only staff take a scanned item off: the shopper is told, and staff are called."""
        self.notice = Notice("removal_needs_staff", params={"item": line.product})
        return self.open_help(self.last_activity)

    def tap_undo(self, now: float) -> list[Effect]:
        """Put the last removed line back where it was."""
        self.last_activity = now
        r = self.removal
        if r is None or not self.can_undo(now):
            return []
        self.cart.put_back(r.index, r.line)
        self.removal = None
        self._changed(r.line.product.key, "put_back")
        self.notice = Notice("put_back", params={"item": r.line.product, "amount": r.line.amount})
        return []

    def _changed(self, sku: str, kind: str) -> None:
        seq = self.changed.seq + 1 if self.changed else 1
        self.changed = CartChange(sku, kind, seq)
        if kind != "removed":
            self.removal = None  # Undo undoes the latest change only

    def tap_start_over(self, now: float) -> list[Effect]:
        """ "Start over" under the cart: with items in it, the shopper is asked first (see confirm_start_over)."""
        self.last_activity = now
        if self.phase is Phase.CART and self.cart:
            self.confirming_start_over = True
            return []
        if not self.paying:
            self._reset()
        return []

    def confirm_start_over(self, now: float) -> list[Effect]:
        """The shopper answered yes: the cart is emptied."""
        self.last_activity = now
        if self.confirming_start_over and not self.paying:
            self._reset()
        return []

    def keep_shopping(self, now: float) -> list[Effect]:
        self.last_activity = now
        self.confirming_start_over = False
        return []

    def toggle_paper_receipt(self, now: float) -> list[Effect]:
        """The shopper wants no paper receipt (the e-receipt code instead), or wants one again; before paying."""
        self.last_activity = now
        if not self.paying and self.phase in (Phase.CART, Phase.PAYMENT):
            self.paper_receipt = not self.paper_receipt
        return []

    def toggle_contrast(self, now: float) -> list[Effect]:
        """High-contrast colours on or off, for this shopper (the next one starts with the standard ones)."""
        self.last_activity = now
        self.high_contrast = not self.high_contrast
        return []

    def toggle_large_text(self, now: float) -> list[Effect]:
        """Larger text on or off, for this shopper."""
        self.last_activity = now
        self.large_text = not self.large_text
        return []

    def tap_done(self, now: float) -> list[Effect]:
        """The shopper leaves the result screen."""
        self.last_activity = now
        if self.phase is Phase.RESULT:
            self._reset()
        return []

    def set_language(self, language: str, now: float) -> None:
        self.language = language
        self.choosing_language = False
        self.last_activity = now

    def choose_language(self, now: float, open_: bool = True) -> None:
        """The language list (top bar) opens, or closes without a choice."""
        self.choosing_language = open_
        self.last_activity = now

    def open_help(self, now: float) -> list[Effect]:
        self.last_activity = now
        already = self.help_open
        self.help_open = True
        return [] if already else [CallHelp(self.phase)]

    def close_help(self, now: float) -> None:
        self.help_open = False
        self.last_activity = now

    # -- the attendant's changes (signed in; the runtime records who) -------------
    def staff_void(self, sku: str, qty: int, now: float) -> list[Effect]:
        """Staff take `qty` of the line off (all of it when qty >= the line's): no undo; recorded for the audit."""
        self.last_activity = now
        line = self.cart.line(sku)
        if self.paying or self.phase is not Phase.CART or line is None or qty < 1 or self.online_order is not None:
            return []
        taken = min(qty, line.qty)
        product = line.product
        if taken == line.qty:
            self.cart.remove(sku)
        else:
            line.qty -= taken
        self._changed(sku, "fewer" if self.cart.line(sku) else "removed")
        self.removal = None
        self.notice = Notice("voided", params={"item": product, "qty": taken})
        data = {"sku": product.sku, "qty": taken, "amount": product.price * taken, "unit_price": product.price}
        return [StaffChange("line_voided", data)]

    def staff_price(self, sku: str, price: int, reason: str, now: float) -> list[Effect]:
        """Staff set the line's unit price, giving a reason (PRICE_REASONS); recorded for the audit."""
        self.last_activity = now
        line = self.cart.line(sku)
        if self.paying or self.phase is not Phase.CART or line is None or price < 0 or reason not in PRICE_REASONS:
            return []
        if self.online_order is not None:  # paid as it was ordered
            return []
        was = self.cart.reprice(sku, price)
        self._changed(sku, "repriced")
        self.notice = Notice("repriced", params={"item": line.product, "amount": price})
        data = {"sku": line.product.sku, "qty": line.qty, "from": was, "to": price, "reason": reason}
        return [StaffChange("price_override", data)]

    def approve_age(self, now: float) -> list[Effect]:
        """Staff checked the shopper's age: the restricted items may be paid for (this visit)."""
        self.last_activity = now
        if not self.age_check_needed:
            return []
        skus = self._restricted_skus()
        self.age_approved = True
        self.notice = Notice("age_approved")
        return [StaffChange("age_check_approved", {"skus": list(skus)})]

    def decline_age(self, now: float) -> list[Effect]:
        """Staff refused the sale of the restricted items: they leave the cart (no undo)."""
        self.last_activity = now
        if not self.age_check_needed or self.paying:
            return []
        skus = self._restricted_skus()
        for sku in skus:
            self.cart.remove(sku)
        self.removal = None
        self.notice = Notice("age_declined")
        if not self.cart:
            self.phase = Phase.IDLE
        return [StaffChange("age_check_declined", {"skus": list(skus)})]

    # -- what the payment worker reports -------------------------------------
    def payment_progress(self, step: PayStep) -> None:
        if self.phase is Phase.PAYMENT and self.pay_step is not PayStep.CANCELLING:
            self.pay_step = step

    def payment_finished(
        self, outcome: Outcome, now: float, *, order: Order | None = None, reason: str = "", settled: bool = True
    ) -> list[Effect]:
        """The payment's last word; a paid and recorded sale also gets its receipt printed."""
        self.last_activity = now
        self.qr_text = ""
        if reason in ("OUT_OF_SERVICE", "NOT_RECORDED"):
            self.out_of_service = True  # cannot record a sale: take no more codes until the disk is fine
        if outcome is Outcome.PAID:
            self.paid_total = self.cart.totals().total
            self.cart.clear()
            self.phase = Phase.RESULT
            self.outcome = outcome
            self.order_no = order.order_no if order is not None else None
            # paid, but the order could not be written yet: the shopper is told to wait for staff, never to pay again
            self.notice = Notice("paid_not_recorded") if order is None else None
            if order is None:
                self.receipt = None
                return [Beep("paid")]
            handed: list[Effect] = []
            if self.online_order is not None:  # an order made elsewhere, paid here: handed over with its ticket
                handed = [CollectOnlineOrder(self.online_order, order.order_no, self.language)]
                self.online_order = None
            if not self.paper_receipt:  # the e-receipt only, as the shopper chose
                self.receipt = "declined"
                return [Beep("paid"), NoPaperReceipt(order), *handed]
            self.receipt = "printing"
            return [Beep("paid"), PrintReceipt(order), *handed]
        self.phase = Phase.PAYMENT
        self.pay_step = PayStep.WAITING_CODE
        if reason in ("OUT_OF_SERVICE", "NOT_RECORDED"):
            self.notice = Notice("out_of_service", error=True)
        elif outcome is Outcome.CANCELLED:  # the gateway confirmed it closed: nothing was charged
            self.notice = Notice("payment_cancelled" if self.shopper_cancelled else "payment_timed_out", error=True)
        elif settled:  # declined, and final: nothing was charged
            self.notice = Notice("payment_declined", error=True, params={"reason": reason})
        else:  # not final yet (recovery finishes it): no promise about the money
            self.notice = Notice("payment_failed", error=True, params={"reason": reason})
        self.shopper_cancelled = False
        return [Beep("error")]

    def receipt_done(self, order_no: str, printed: bool) -> None:
        """The printer's word on the receipt of the sale on screen (a late word on an earlier sale is ignored)."""
        if order_no == self.order_no and self.receipt is not None:
            self.receipt = "printed" if printed else "failed"

    # -- time ---------------------------------------------------------------
    def tick(self, now: float) -> None:
        if self.removal is not None and now >= self.removal.until:
            self.removal = None
            if self.phase is Phase.CART and not self.cart:  # the last line went and was not put back
                self.phase = Phase.IDLE
                self.notice = None
        if self._waits_for_idle():
            if now - self.last_activity >= self.idle_timeout_s:
                self._reset()
        elif self.phase is Phase.RESULT and not self.help_open and now - self.last_activity >= self.result_timeout_s:
            self._reset()

    def _reset(self) -> None:
        self.online_order = None
        self.cart.clear()
        self.phase = Phase.IDLE
        self.pay_step = PayStep.WAITING_CODE
        self.notice = None
        self.outcome = None
        self.order_no = None
        self.receipt = None
        self.help_open = False
        self.changed = None
        self.removal = None
        self.confirming_start_over = False
        self.paper_receipt = True
        self.high_contrast = False
        self.large_text = False
        self.age_approved = False
        self.look_up = None
        self.choosing_language = False
        self.masked_code = ""
        self.qr_text = ""
        self.language = self.default_language
