"""WeChat Pay API v3 against a local fake that speaks its protocol: the pay loop, reverse rules, refunds, bill."""

from __future__ import annotations

import json
import time
from datetime import date

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kiosk.cart import Cart
from kiosk.catalog import DEMO_PRODUCTS
from kiosk.checkout import Outcome, PayStep, StartPayment
from kiosk.codes import Scheme
from kiosk.payments import Status
from kiosk.payments.driver import PaymentDriver
from kiosk.payments.wechatpay import WechatPayGateway
from kiosk.reconcile import run
from kiosk.store import Identity, Store
from tests.fake_wechatpay import PUBLIC_KEY_ID, FakeWechatPay, VirtualClock

WX_CODE = "134567890123456781"


@pytest.fixture(scope="session")
def wx_keys():
    return rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048)


@pytest.fixture
def clock():
    return VirtualClock()


@pytest.fixture
def wx(wx_keys, clock):
    merchant, platform = wx_keys
    f = FakeWechatPay(merchant.public_key(), platform, clock)
    yield f
    f.close()
    assert f.violations == []


@pytest.fixture
def gw(wx_keys, wx, clock):
    merchant, platform = wx_keys
    return WechatPayGateway(
        mchid="1900000109",
        appid="wx8888888888888888",
        api_base=wx.url,
        merchant_key=merchant,
        merchant_serial_no="5157F09E",
        platform_key=platform.public_key(),
        platform_key_id=PUBLIC_KEY_ID,
        timeout_s=2,
        device_id="k1",
        store_id="s1",
        clock=clock.now,
        sleep=clock.sleep,
    )


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "kiosk.sqlite", Identity("s1", "k1", "K01", "CNY"))
    s.seed_catalog(DEMO_PRODUCTS)
    return s


def pay(gw, store, code, clock, limit=5.0):
    cart = Cart()
    cart.add(DEMO_PRODUCTS[0])
    steps = []
    d = PaymentDriver(gw, store, poll_interval_s=0.01, paying_limit_s=limit, clock=clock.now)
    r = d.pay(
        StartPayment(code, Scheme.WECHAT, cart.snapshot(), cart.totals()),
        language="zh_CN",
        subject="Demo",
        progress=steps.append,
    )
    return r, steps


def test_paid_at_once(gw, wx, store, clock):
    r, _ = pay(gw, store, WX_CODE, clock)
    assert r.outcome is Outcome.PAID and r.order.payment.trade_id.startswith("42000")
    assert wx.calls == ["codepay"]


def test_userpaying_then_paid(gw, wx, store, clock):
    r, steps = pay(gw, store, "134567890123456787", clock)
    assert r.outcome is Outcome.PAID and PayStep.USER_PAYING in steps
    assert wx.calls == ["codepay", "query", "query"]


def test_declined(gw, wx, store, clock):
    r, _ = pay(gw, store, "134567890123456788", clock)
    assert r.outcome is Outcome.FAILED and r.reason == "NOTENOUGH"


def test_never_confirmed_is_reversed_no_sooner_than_15_s_and_recall_repeats(gw, wx, store, clock, monkeypatch):
    monkeypatch.setattr("kiosk.payments.driver.time.sleep", lambda s: None)
    wx.buyer_pays_after = 10_000
    wx.recalls = 1

    def tick(timeout):  # the driver waits between queries on the virtual clock
        clock.sleep(timeout)
        return False

    monkeypatch.setattr("threading.Event.wait", lambda self, timeout=None: tick(timeout or 0))
    r, _ = pay(gw, store, "134567890123456787", clock, limit=1.0)
    assert r.outcome is Outcome.CANCELLED
    assert wx.calls.count("reverse") == 2  # recall=Y, then done
    [trade] = wx.trades.values()
    assert trade.state == "REVOKED"  # and the fake saw no reverse sooner than 15 s (violations checked)


@pytest.mark.parametrize("fault", ["5xx", "badsig", "drop"])
def test_unclear_codepay_is_queried(gw, wx, store, clock, fault):
    wx.fault("codepay", fault)
    r, _ = pay(gw, store, WX_CODE, clock)
    assert r.outcome is Outcome.PAID  # the fake made the trade before the answer went wrong
    assert wx.calls[:2] == ["codepay", "query"]


def test_refund_and_bill(gw, wx, store, clock):
    r, _ = pay(gw, store, WX_CODE, clock)
    wx.fault("refund", "5xx")
    refund = PaymentDriver(gw, store).refund(store.begin_refund(r.order.order_no, 50, requested_by="hq"))
    assert refund["state"] == "REFUNDED"
    assert wx.calls[-2:] == ["refund", "refund_query"] and len(wx.refunds) == 1  # found by the query: once
    report = run(store, gw, date.today().isoformat())
    assert report.clean, report.differences
    assert report.local_trades == report.gateway_trades == 1


def test_native_qr_is_closed_when_abandoned(gw, wx, store, clock):
    cart = Cart()
    cart.add(DEMO_PRODUCTS[0])
    shown = []
    d = PaymentDriver(gw, store, poll_interval_s=0.01, clock=clock.now)
    r = d.present(
        cart.snapshot(),
        cart.totals(),
        language="en",
        subject="t",
        show_qr=lambda qr, dl: shown.append(qr),
        expires_s=0.0,
    )
    assert shown[0].startswith("weixin://wxpay/bizpayurl?pr=") and r.outcome is Outcome.CANCELLED
    assert wx.trades[r.out_trade_no].state == "CLOSED"


def test_keys_and_settings_are_checked_at_start(tmp_path, wx_keys):
    import os

    from kiosk.config import ConfigError, load
    from kiosk.payments.gateways import make_gateway
    from tests.conftest import kiosk_cli, write_config
    from tests.test_alipay import pem

    merchant, platform = wx_keys
    (tmp_path / "m.pem").write_bytes(pem(merchant, True))
    os.chmod(tmp_path / "m.pem", 0o600)
    (tmp_path / "p.pem").write_bytes(pem(platform, False))
    wx_section = {
        "mchid": "1900000109",
        "appid": "wx8888888888888888",
        "merchant_serial_no": "5157F09E",
        "merchant_private_key_file": str(tmp_path / "m.pem"),
        "platform_public_key_file": str(tmp_path / "p.pem"),
        "platform_public_key_id": PUBLIC_KEY_ID,
    }
    cfg = write_config(
        tmp_path / "k.toml",
        {"kiosk": {"data_dir": str(tmp_path / "d")}, "payment": {"gateway": "wechatpay"}, "wechatpay": wx_section},
    )
    assert isinstance(make_gateway(load(str(cfg))), WechatPayGateway)
    assert kiosk_cli("--config", str(cfg), "--check").returncode == 0
    (tmp_path / "m.pem").write_text("nope")
    run_ = kiosk_cli("--config", str(cfg), "--check")
    assert run_.returncode == 2 and "wechatpay.merchant_private_key_file:" in run_.stderr
    bad = write_config(
        tmp_path / "b.toml", {"payment": {"gateway": "wechatpay"}, "wechatpay": {**wx_section, "mchid": ""}}
    )
    with pytest.raises(ConfigError, match="wechatpay.mchid: needed"):
        load(str(bad))


def test_each_gateway_keeps_its_own_pace_unless_configured(tmp_path, wx_keys):
    import dataclasses
    import os

    from kiosk.config import load
    from kiosk.runtime.wiring import Runtime
    from tests.conftest import write_config
    from tests.test_alipay import pem

    merchant, platform = wx_keys
    (tmp_path / "m.pem").write_bytes(pem(merchant, True))
    os.chmod(tmp_path / "m.pem", 0o600)
    (tmp_path / "p.pem").write_bytes(pem(platform, False))
    cfg = load(
        str(
            write_config(
                tmp_path / "k.toml",
                {
                    "kiosk": {"data_dir": str(tmp_path / "d")},
                    "mqtt": {"enabled": False},
                    "gpio": {"pin_factory": "mock"},
                    "payment": {"gateway": "wechatpay"},
                    "wechatpay": {
                        "mchid": "1900000109",
                        "appid": "wx8888888888888888",
                        "merchant_serial_no": "5157F09E",
                        "merchant_private_key_file": str(tmp_path / "m.pem"),
                        "platform_public_key_file": str(tmp_path / "p.pem"),
                        "platform_public_key_id": PUBLIC_KEY_ID,
                    },
                },
            )
        )
    )
    k = Runtime(cfg)
    assert (k.driver.poll_interval_s, k.driver.paying_limit_s) == (10.0, 45.0)  # WeChat's pace, from payments.md
    assert k.checkout.accepted == frozenset({"wechat"})
    k2 = Runtime(dataclasses.replace(cfg, payment=dataclasses.replace(cfg.payment, poll_interval_s=5.0)))
    assert k2.driver.poll_interval_s == 5.0
    k3 = Runtime(dataclasses.replace(cfg, payment=dataclasses.replace(cfg.payment, gateway="sandbox")))
    assert (k3.driver.poll_interval_s, k3.driver.paying_limit_s) == (3.0, 60.0)


# --- checked against wechatpayv3 (a maintained WeChat Pay v3 SDK), not against our own reading ----------------


def _pem(key, private: bool) -> str:
    if private:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def test_the_fake_speaks_wechatpayv3s_wire_format(wx_keys, wx, gw, store, clock):
    """wechatpayv3's own client, in public-key mode, queries the fake: the fake checks the client's signature and
    serial as it checks the kiosk's, and the client verifies the fake's answer (it raises when one does not)."""
    from wechatpayv3.core import Core

    r, _ = pay(gw, store, WX_CODE, clock)  # the kiosk's requests: accepted (the fixture asserts no violations)
    merchant, platform = wx_keys
    core = Core(
        mchid="1900000109",
        cert_serial_no="5157F09E",
        private_key=_pem(merchant, True),
        apiv3_key="0" * 32,
        public_key=_pem(platform.public_key(), False),
        public_key_id=PUBLIC_KEY_ID,
        timeout=5,
    )
    core._gate_way = wx.url  # the SDK's gateway is fixed to WeChat's host; here it is the local fake
    status, text = core.request(f"/v3/pay/transactions/out-trade-no/{r.out_trade_no}?mchid=1900000109")
    assert status == 200 and json.loads(text)["trade_state"] == "SUCCESS"


def test_the_kiosks_request_signature_is_the_sdks(wx_keys):
    from wechatpayv3.utils import rsa_sign

    from kiosk.payments.wechatpay import sign_message

    merchant, _ = wx_keys
    body = '{"out_trade_no":"K01","description":"演示门店"}'
    ours = sign_message("POST", "/v3/pay/transactions/codepay", "1732500000", "abc", body, merchant)
    assert ours == rsa_sign(merchant, f"POST\n/v3/pay/transactions/codepay\n1732500000\nabc\n{body}\n")


@pytest.mark.parametrize("fault", ["skew", "serial"])
def test_answers_replayed_or_signed_by_another_key_are_no_answer(gw, wx, store, clock, fault):
    """An hour-old answer (correctly signed) or one naming a key the kiosk does not hold: queried, not believed."""
    wx.fault("codepay", fault)
    r, _ = pay(gw, store, "134567890123456781", clock)
    assert r.outcome is Outcome.PAID  # the query, answered properly, finds the truth
    assert wx.calls[:2] == ["codepay", "query"]


def test_every_answer_refused_when_the_clock_is_off(gw, wx):
    gw.wall_clock = lambda: time.time() + 3600  # a Pi without RTC and no time sync
    assert gw.query("K01NOPE").status is Status.UNKNOWN


def test_a_reverse_answered_204_is_done(gw, wx, store, clock, monkeypatch):
    monkeypatch.setattr("kiosk.payments.driver.time.sleep", lambda s: None)
    monkeypatch.setattr("threading.Event.wait", lambda self, timeout=None: clock.sleep(timeout or 0) or False)
    wx.buyer_pays_after = 10_000
    wx.fault("reverse", "204")
    r, _ = pay(gw, store, "134567890123456787", clock, limit=1.0)
    assert r.outcome is Outcome.CANCELLED
    assert wx.calls.count("reverse") == 1  # done at the first 204, not repeated forever
