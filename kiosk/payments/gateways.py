"""`make_gateway`: the payment gateway a kiosk's config names, its keys loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kiosk.config import Config
from kiosk.payments import Gateway


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
