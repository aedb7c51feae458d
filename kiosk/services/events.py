"""What device threads, worker pools and links post to the UI thread: one queue of small frozen events.

The UI-thread controller (`kiosk.runtime.controller`) is the only reader; it
turns each event into domain calls and carries out the effects they return.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hardware import Paper
from kiosk.catalog import Product
from kiosk.checkout import PayStep
from kiosk.online_order import OnlineOrder
from kiosk.orders import RefundOffer
from kiosk.payments.driver import Result


@dataclass(frozen=True)
class CodeRead:
    text: str
    source: str  # "scanner" or "camera"
    seen_at: float = 0.0  # time.monotonic() when the frame (or line) holding it arrived; 0: now


@dataclass(frozen=True)
class DeviceStatus:
    device: str
    ok: bool
    message: str


@dataclass(frozen=True)
class PaymentStep:
    step: PayStep


@dataclass(frozen=True)
class QrShown:
    qr: str
    deadline: float  # on the kiosk's clock


@dataclass(frozen=True)
class PaymentDone:
    result: Result


@dataclass(frozen=True)
class PrintDone:
    label: str  # the order number, or what else was printed
    ok: bool
    reason: str = ""  # the events kind when it was not printed
    paper: Paper = Paper.UNKNOWN
    for_shopper: bool = False  # the receipt of the sale on screen now
    for_staff: bool = False  # a print staff asked for (reprint, report, test page): they are told how it went


@dataclass(frozen=True)
class AttendantNotice:
    key: str  # an attendant message: printed, unknown_order, print_failed, refunded...


@dataclass(frozen=True)
class RefundOffered:
    """Staff scanned a receipt that can be refunded: ask them to confirm the amount."""

    offer: RefundOffer


@dataclass(frozen=True)
class HelpPressed:
    pass


@dataclass(frozen=True)
class ServiceState:
    problem: str | None  # why the kiosk cannot record a sale now; None: it can
    observed_at: float  # time.monotonic() of the check: an older "fine" never undoes a newer failure


@dataclass(frozen=True)
class JobFailed:
    """A background job raised: nothing it was doing may vanish without the screen, the light and head office
    hearing of it."""

    pool: str  # payment, back-office, printer, store-io
    job: str  # what the job was: receipt, reprint, refund, reconcile, event...
    key: str  # what it was about: an order number, a refund number, a day ("" when nothing)
    error: str  # the exception, one line


@dataclass(frozen=True)
class LockChanged:
    """Head office locked the kiosk (`lock`: no sales, red light, out-of-service screen) or unlocked it (None)."""

    reason: str | None


@dataclass(frozen=True)
class UpdateStaged:
    """Head office's release `version` is fetched and checked (data_dir/update/`bundle`, `sidecar`): install it
    when no shopper is using the kiosk."""

    version: str
    bundle: str
    sidecar: str


@dataclass(frozen=True)
class CatalogStaged:
    """Head office's catalog `version` is loaded as generation `gen`: sell from it from the next shopper on."""

    version: str
    gen: int


@dataclass(frozen=True)
class OnlineOrderChecked:
    """Head office's signed word on a scanned order made elsewhere (None: no answer), to decide its hand-over."""

    order: OnlineOrder
    status: Mapping[str, Any] | None


@dataclass(frozen=True)
class LookUpRead:
    """One page of the look-up screen: for `key` (tab, category, query, page), the categories or the items, and
    whether there is a next page."""

    key: tuple[str, str | None, str, int]
    categories: tuple[str, ...]
    items: tuple[Product, ...]
    more: bool


@dataclass(frozen=True)
class SettingsChanged:
    """Head office changed settings (`config`); only the allow-listed ones, already checked."""

    settings: Mapping[str, Any]


Event = (
    CodeRead
    | DeviceStatus
    | PaymentStep
    | QrShown
    | PaymentDone
    | PrintDone
    | HelpPressed
    | AttendantNotice
    | RefundOffered
    | ServiceState
    | JobFailed
    | LockChanged
    | SettingsChanged
    | CatalogStaged
    | UpdateStaged
    | OnlineOrderChecked
    | LookUpRead
)
