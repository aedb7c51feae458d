"""Payment gateways behind one small interface, and the states a payment goes through.

A gateway adapter turns its wire protocol into `Answer`s; it never raises for a
network problem (that is `Status.UNKNOWN`), and parses its own statement into
`Entry`s.  The loop that uses them lives in `kiosk.payments.driver`;
`kiosk.payments.gateways.make_gateway` picks an adapter from the config.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from kiosk.payment_state import FINAL_STATES, PaymentState  # noqa: F401  (the journal's states)


class Status(Enum):
    PAID = "paid"
    PAYING = "paying"  # the shopper must confirm on the phone
    FAILED = "failed"  # definite: not charged
    UNKNOWN = "unknown"  # timeout, 5xx, dropped connection: query next
    NOT_FOUND = "not_found"  # the gateway has no such trade
    CLOSED = "closed"  # cancelled/reversed (refunded if it had been paid)
    REFUNDED = "refunded"  # for refund and refund_query: the money went back


@dataclass(frozen=True)
class Answer:
    status: Status
    trade_id: str = ""
    reason: str = ""  # the gateway's code, e.g. NOTENOUGH
    retry: bool = False  # for cancel: the gateway asks to try again
    refunded: bool = False  # for cancel: it refunded a paid trade
    qr: str = ""  # for precreate: what the kiosk shows for the shopper's wallet to scan


@dataclass(frozen=True)
class Entry:
    """One money movement in a statement or the journal: a paid trade, or a refund of one."""

    kind: str  # "trade" or "refund"
    out_trade_no: str
    amount: int  # minor units
    out_request_no: str = ""  # refunds
    trade_id: str = ""
    status: str = ""  # local journal state, for the report


@dataclass(frozen=True)
class PayRequest:
    out_trade_no: str
    auth_code: str
    amount: int  # minor units
    currency: str
    subject: str


class Gateway(Protocol):
    name: str
    schemes: frozenset[str]  # the wallets it takes (kiosk.codes.Scheme values)
    qr_channel: str  # the wallet its "scan to pay" QR is for: the channel such a payment is recorded under
    poll_interval_s: float  # its own pace, used when the config leaves payment.poll_interval_s at 0
    paying_limit_s: float

    def pay(self, req: PayRequest) -> Answer: ...

    def query(self, out_trade_no: str) -> Answer: ...

    def cancel(self, out_trade_no: str) -> Answer: ...

    def precreate(self, out_trade_no: str, amount: int, subject: str) -> Answer: ...

    def close(self, out_trade_no: str) -> Answer: ...

    def refund(self, out_trade_no: str, out_request_no: str, amount: int, total: int | None = None) -> Answer: ...

    def refund_query(self, out_trade_no: str, out_request_no: str) -> Answer: ...
