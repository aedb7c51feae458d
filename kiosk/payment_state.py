"""The states a payment goes through in the kiosk's journal, and which of them are final (payments.md)."""

from __future__ import annotations

from enum import Enum


class PaymentState(Enum):
    SUBMITTING = "SUBMITTING"
    USER_PAYING = "USER_PAYING"
    UNKNOWN = "UNKNOWN"
    CANCELLING = "CANCELLING"
    PAID = "PAID"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"

    @property
    def final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset(
    {
        PaymentState.PAID,
        PaymentState.FAILED,
        PaymentState.CANCELLED,
        PaymentState.REFUNDED,
        PaymentState.PARTIALLY_REFUNDED,
    }
)
