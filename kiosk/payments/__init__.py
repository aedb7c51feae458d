"""Payment gateways behind one small interface, and the states a payment goes through.

A gateway adapter turns its wire protocol into `Answer`s; it never raises for a
network problem (that is `Status.UNKNOWN`).  The loop that uses them lives in
`kiosk.payments.driver`; `make_gateway` picks an adapter from the config.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from kiosk.config import Config


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
class PayRequest:
    out_trade_no: str
    auth_code: str
    amount: int  # minor units
    currency: str
    subject: str


class Gateway(Protocol):
    name: str
    schemes: frozenset[str]  # the wallets it takes (kiosk.codes.Scheme values)
    poll_interval_s: float  # its own pace, used when the config leaves payment.poll_interval_s at 0
    paying_limit_s: float

    def pay(self, req: PayRequest) -> Answer: ...

    def query(self, out_trade_no: str) -> Answer: ...

    def cancel(self, out_trade_no: str) -> Answer: ...

    def precreate(self, out_trade_no: str, amount: int, subject: str) -> Answer: ...

    def close(self, out_trade_no: str) -> Answer: ...

    def refund(self, out_trade_no: str, out_request_no: str, amount: int, total: int | None = None) -> Answer: ...

    def refund_query(self, out_trade_no: str, out_request_no: str) -> Answer: ...


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


def _keys(cfg: Config, section: str, private: str, public: str) -> tuple[Any, Any]:
    """The private and public key files a gateway section names; a ConfigError naming the key if one won't load."""
    from kiosk.config import ConfigError
    from kiosk.payments.keys import KeyFileError, load_private_key, load_public_key

    keys = []
    for attr, load in ((private, load_private_key), (public, load_public_key)):
        try:
            keys.append(load(getattr(getattr(cfg, section), attr)))
        except KeyFileError as exc:
            raise ConfigError(f"{section}.{attr}: {exc}") from None
    return keys[0], keys[1]


def make_gateway(cfg: Config) -> Gateway:
    """The gateway the config names; a key that does not load is a ConfigError naming its key."""
    if cfg.payment.gateway == "wechatpay":
        from kiosk.payments.wechatpay import WechatPayGateway

        w = cfg.wechatpay
        merchant_key, platform_key = _keys(cfg, "wechatpay", "merchant_private_key_file", "platform_public_key_file")
        return WechatPayGateway(
            mchid=w.mchid,
            appid=w.appid,
            api_base=w.api_base,
            merchant_key=merchant_key,
            merchant_serial_no=w.merchant_serial_no,
            platform_key=platform_key,
            platform_key_id=w.platform_public_key_id,
            timeout_s=cfg.payment.request_timeout_s,
            device_id=cfg.kiosk.kiosk_id,
            store_id=cfg.kiosk.store_id,
        )
    if cfg.payment.gateway == "alipay":
        from kiosk.payments.alipay import AlipayGateway

        a = cfg.alipay
        private_key, public_key = _keys(cfg, "alipay", "app_private_key_file", "alipay_public_key_file")
        return AlipayGateway(
            app_id=a.app_id,
            gateway_url=a.gateway_url,
            private_key=private_key,
            alipay_public_key=public_key,
            timeout_s=cfg.payment.request_timeout_s,
            store_id=cfg.kiosk.store_id,
            terminal_id=cfg.kiosk.kiosk_id,
        )
    from kiosk.payments.sandbox import SandboxGateway

    return SandboxGateway(
        Path(cfg.kiosk.data_dir) / cfg.sandbox.state_file,
        latency_s=cfg.sandbox.latency_ms / 1000,
        user_paying_s=cfg.sandbox.user_paying_s,
        request_timeout_s=cfg.payment.request_timeout_s,
        fault=cfg.sandbox.fault,
        merchant=(cfg.receipt.store_name, cfg.kiosk.store_id, cfg.kiosk.kiosk_id, cfg.kiosk.currency),
    )
