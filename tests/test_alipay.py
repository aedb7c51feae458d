"""Alipay Face-to-Face against a local fake that speaks its protocol: every branch of the pay loop."""

from __future__ import annotations

import json
import os
import re
import urllib.request

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kiosk.cart import Cart
from kiosk.catalog import DEMO_PRODUCTS
from kiosk.checkout import Outcome, PayStep, StartPayment
from kiosk.codes import Scheme
from kiosk.config import ConfigError, load
from kiosk.payments import Status
from kiosk.payments.alipay import AlipayGateway, response_object, signing_string, yuan
from kiosk.payments.driver import PaymentDriver
from kiosk.payments.gateways import make_gateway
from kiosk.store import Identity, Store
from tests.conftest import kiosk_cli, write_config
from tests.fake_alipay import FakeAlipay


@pytest.fixture(scope="session")
def keys():
    return rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048)


@pytest.fixture
def fake(keys):
    app_key, alipay_key = keys
    f = FakeAlipay(app_key.public_key(), alipay_key)
    yield f
    f.close()
    assert f.violations == []


@pytest.fixture
def gateway(keys, fake):
    app_key, alipay_key = keys
    return AlipayGateway(
        app_id="2021000000000000",
        gateway_url=fake.url,
        private_key=app_key,
        alipay_public_key=alipay_key.public_key(),
        timeout_s=1.0,
        store_id="s1",
        terminal_id="k1",
    )


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "kiosk.sqlite", Identity("s1", "k1", "K01", "CNY"))
    s.seed_catalog(DEMO_PRODUCTS)
    return s


def pay(gateway, store, code, **driver_kw):
    cart = Cart()
    cart.add(DEMO_PRODUCTS[0])
    cart.add(DEMO_PRODUCTS[1])
    steps = []
    d = PaymentDriver(gateway, store, poll_interval_s=0.05, paying_limit_s=driver_kw.pop("limit", 5.0), **driver_kw)
    result = d.pay(
        StartPayment(code, Scheme.ALIPAY, cart.snapshot(), cart.totals()),
        language="zh_CN",
        subject="Demo Store k1",
        progress=steps.append,
    )
    return result, steps


def test_signing_rules():
    params = {"b": "2", "a": "x y&z", "sign": "nope", "empty": "", "c": "中文"}
    assert signing_string(params) == "a=x y&z&b=2&c=中文"  # sorted, raw values, empty and sign left out
    assert yuan(550) == "5.50" and yuan(7) == "0.07" and yuan(123456) == "1234.56"


def test_response_object_is_taken_exactly_as_received():
    body = '{"alipay_trade_pay_response": {"code": "10000",  "msg":"Success","x":"中文"},"sign":"abc"}'
    name, raw, value = response_object(body, "alipay.trade.pay")
    assert name == "alipay_trade_pay_response" and raw == '{"code": "10000",  "msg":"Success","x":"中文"}'
    assert value["x"] == "中文"


def test_approved_at_once(gateway, fake, store):
    r, _ = pay(gateway, store, "281234567890123451")
    assert r.outcome is Outcome.PAID and r.order.payment.trade_id.startswith("2026112422001")
    method, biz = fake.calls[0]
    assert method == "alipay.trade.pay" and biz["scene"] == "bar_code" and biz["total_amount"] == "5.50"
    assert biz["auth_code"] == "281234567890123451"  # in the signed POST body (the fake refuses it in the URL)
    assert biz["store_id"] == "s1" and biz["terminal_id"] == "k1"
    assert "281234567890123451" not in json.dumps(store.payment(r.out_trade_no))


def test_buyer_confirms_on_the_phone(gateway, fake, store):
    r, steps = pay(gateway, store, "281234567890123457")
    assert r.outcome is Outcome.PAID and PayStep.USER_PAYING in steps
    assert fake.methods() == ["alipay.trade.pay", "alipay.trade.query", "alipay.trade.query"]


def test_declined_is_final(gateway, fake, store):
    r, _ = pay(gateway, store, "281234567890123458")
    assert r.outcome is Outcome.FAILED and r.reason == "ACQ.PAYMENT_AUTH_CODE_INVALID"
    assert fake.methods() == ["alipay.trade.pay"]


def test_buyer_never_confirms_the_trade_is_cancelled(gateway, fake, store):
    fake.buyer_pays_after = 1000
    r, _ = pay(gateway, store, "281234567890123457", limit=0.3)
    assert r.outcome is Outcome.CANCELLED
    assert fake.methods()[-1] == "alipay.trade.cancel" and fake.trades[r.out_trade_no].status == "TRADE_CLOSED"


@pytest.mark.parametrize("fault", ["20000", "5xx", "drop", "slow", "badsig", "garbage"])
def test_unclear_answers_are_queried_and_the_truth_wins(gateway, fake, store, fault):
    """The trade went through, but the answer was lost or untrustworthy: the query finds it paid."""
    fake.fault("alipay.trade.pay", fault)
    if fault in ("5xx", "drop", "garbage"):  # the fake failed before making the trade: nothing to find
        r, _ = pay(gateway, store, "281234567890123451")
        assert r.outcome is Outcome.CANCELLED
        assert fake.methods() == ["alipay.trade.pay", "alipay.trade.query", "alipay.trade.cancel"]
        return
    r, _ = pay(gateway, store, "281234567890123451")
    assert r.outcome is Outcome.PAID
    assert fake.methods() == ["alipay.trade.pay", "alipay.trade.query"]
    assert store.payment(r.out_trade_no)["state"] == "PAID"


def test_a_bad_signature_on_the_query_is_no_answer_either(gateway, fake, store):
    fake.fault("alipay.trade.pay", "20000")
    fake.fault("alipay.trade.query", "badsig")
    r, _ = pay(gateway, store, "281234567890123451")
    # paid at Alipay, but no trustworthy word of it: cancel, which refunds the paid trade
    assert r.outcome is Outcome.CANCELLED and r.reason == "REFUNDED_BY_CANCEL"
    assert fake.trades[r.out_trade_no].refunded


def test_cancel_is_retried_while_alipay_says_retry(gateway, fake, store, monkeypatch):
    monkeypatch.setattr("kiosk.payments.driver.time.sleep", lambda s: None)
    fake.buyer_pays_after = 1000
    fake.cancel_retries = 2
    r, _ = pay(gateway, store, "281234567890123457", limit=0.2)
    assert r.outcome is Outcome.CANCELLED
    assert fake.methods().count("alipay.trade.cancel") == 3


def test_recovery_after_a_crash_uses_query(gateway, fake, store):
    cart = Cart()
    cart.add(DEMO_PRODUCTS[0])
    otn = store.begin_payment(
        gateway="alipay",
        channel="alipay",
        code_masked="2812********3457",
        lines=cart.snapshot(),
        totals=cart.totals(),
        language="en",
    )
    from kiosk.payments import PayRequest

    assert gateway.pay(PayRequest(otn, "281234567890123457", 200, "CNY", "t")).status is Status.PAYING
    fake.buyer_pays_after = 1  # the shopper confirmed while the kiosk was down
    [r] = PaymentDriver(gateway, store).recover_all()
    assert r.outcome is Outcome.PAID and store.payment(otn)["recovered"] == 1


def pem(key, private: bool) -> bytes:
    if private:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def alipay_config(tmp_path, keys, url="https://openapi.alipay.com/gateway.do"):
    app_key, alipay_key = keys
    priv, pub = tmp_path / "app.pem", tmp_path / "alipay.pem"
    priv.write_bytes(pem(app_key, True))
    os.chmod(priv, 0o600)
    pub.write_bytes(pem(alipay_key, False))
    return write_config(
        tmp_path / "k.toml",
        {
            "kiosk": {"data_dir": str(tmp_path / "data")},
            "payment": {"gateway": "alipay"},
            "alipay": {
                "app_id": "2021000000000000",
                "gateway_url": url,
                "app_private_key_file": str(priv),
                "alipay_public_key_file": str(pub),
            },
        },
    )


def test_keys_are_checked_at_start(tmp_path, keys):
    cfg = alipay_config(tmp_path, keys)
    assert isinstance(make_gateway(load(str(cfg))), AlipayGateway)
    assert kiosk_cli("--config", str(cfg), "--check").returncode == 0
    (tmp_path / "alipay.pem").write_text("not a key")
    run = kiosk_cli("--config", str(cfg), "--check")
    assert run.returncode == 2 and re.match(
        r"config error: alipay.alipay_public_key_file: .* is not an RSA public key", run.stderr
    )
    os.chmod(tmp_path / "app.pem", 0o644)
    with pytest.raises(ConfigError, match="alipay.app_private_key_file: .* readable by others"):
        load(str(cfg))


def test_gateway_url_must_be_https(tmp_path, keys):
    with pytest.raises(ConfigError, match="alipay.gateway_url: must be https://"):
        load(str(alipay_config(tmp_path, keys, url="http://openapi.alipay.com/gateway.do")))
    with pytest.raises(ConfigError, match="alipay.app_id: needed"):
        from kiosk.config import from_dict

        from_dict({"payment": {"gateway": "alipay"}})


def scan_to_pay(gateway, store, *, expires_s, on_qr=None):
    cart = Cart()
    cart.add(DEMO_PRODUCTS[0])
    d = PaymentDriver(gateway, store, poll_interval_s=0.05)
    return d.present(
        cart.snapshot(),
        cart.totals(),
        language="en",
        subject="t",
        expires_s=expires_s,
        show_qr=lambda qr, deadline: on_qr(qr) if on_qr else None,
    )


def test_precreate_qr_paid_when_the_wallet_scans(gateway, fake, store):
    import threading

    def wallet(qr):
        assert qr.startswith("https://qr.alipay.com/")
        otn = next(iter(fake.precreated))
        threading.Timer(0.15, fake.wallet_scans, args=(otn,)).start()

    r = scan_to_pay(gateway, store, expires_s=5, on_qr=wallet)
    assert r.outcome is Outcome.PAID
    assert fake.methods()[0] == "alipay.trade.precreate" and "alipay.trade.query" in fake.methods()


def test_precreate_qr_expires_and_is_closed(gateway, fake, store):
    r = scan_to_pay(gateway, store, expires_s=0.2)
    assert r.outcome is Outcome.CANCELLED
    assert "alipay.trade.close" in fake.methods() and fake.precreated == {}


# --- checked against Alipay's official Python SDK (alipay-sdk-python), not against our own reading ---------


def _pem_private(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def _pem_public(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_the_kiosk_signs_exactly_as_the_official_sdk(keys):
    from alipay.aop.api.util.SignatureUtils import get_sign_content, sign_with_rsa2

    from kiosk.payments.alipay import sign

    app_key, _ = keys
    params = {
        "app_id": "2021000000000000",
        "method": "alipay.trade.pay",
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": "2026-11-25 12:00:00",
        "version": "1.0",
        "biz_content": '{"out_trade_no":"K01","subject":"演示门店 k1","total_amount":"5.50"}',
    }
    assert signing_string(params) == get_sign_content(params)
    assert sign(params, app_key) == sign_with_rsa2(_pem_private(app_key), get_sign_content(params), "utf-8")


def test_the_fake_speaks_the_official_sdks_wire_format(keys, fake):
    """The official client queries the fake: the fake reads its request and the client verifies the answer."""
    from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
    from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
    from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
    from alipay.aop.api.util.WebUtils import url_encode

    app_key, alipay_key = keys
    config = AlipayClientConfig()
    config.server_url, config.app_id = fake.url, "2021000000000000"
    config.app_private_key = _pem_private(app_key)
    config.alipay_public_key = _pem_public(alipay_key)
    request = AlipayTradeQueryRequest()
    request.biz_content = {"out_trade_no": "K01NOPE"}
    client = DefaultAlipayClient(config)
    # the SDK's own request building and answer parsing; its connection code cannot reach a port other than 80,
    # so the bytes it would send go out through urllib, exactly as its do_post() writes them
    query_string, params = client._DefaultAlipayClient__prepare_request(request)
    sent = urllib.request.Request(
        fake.url + "?" + query_string,
        data=url_encode(params, "utf-8").encode(),
        headers={"Content-type": "application/x-www-form-urlencoded;charset=utf-8"},
        method="POST",
    )
    with urllib.request.urlopen(sent, timeout=5) as resp:
        answer = json.loads(client._DefaultAlipayClient__parse_response(resp.read()))  # raises unless it verifies
    assert answer["sub_code"] == "ACQ.TRADE_NOT_EXIST" and fake.methods() == ["alipay.trade.query"]


def test_a_chinese_subject_passes_alipays_signature_check(gateway, fake, store):
    """Alipay reads `charset` from the URL; sent only in the body, a Chinese subject is read as GBK and fails."""
    cart = Cart()
    cart.add(DEMO_PRODUCTS[0])
    r = PaymentDriver(gateway, store, poll_interval_s=0.05).pay(
        StartPayment("281234567890123451", Scheme.ALIPAY, cart.snapshot(), cart.totals()),
        language="zh_CN",
        subject="演示门店 自助收银 k1",
    )
    assert r.outcome is Outcome.PAID and fake.calls[0][1]["subject"] == "演示门店 自助收银 k1"


def test_an_answer_in_gbk_is_read_not_raised(gateway, fake, store):
    fake.fault("alipay.trade.pay", "gbk")
    r, _ = pay(gateway, store, "281234567890123458")  # declined, with a Chinese sub_msg, in GBK
    assert r.outcome is Outcome.FAILED and r.reason == "ACQ.PAYMENT_AUTH_CODE_INVALID"
    assert fake.methods() == ["alipay.trade.pay"]


@pytest.mark.parametrize("body", [b"\xff\xfe\x00garbage", '{"alipay_trade_query_response": 合}'.encode("gbk"), b"[]"])
def test_an_unreadable_answer_is_no_answer(gateway, body):
    assert gateway._verified("alipay.trade.query", body, "utf-8") is None
    assert gateway._verified("alipay.trade.query", body, "no-such-charset") is None


def test_escaped_slashes_are_verified_as_the_sdks_do(gateway, fake):
    fake.fault("alipay.trade.precreate", "escaped")
    answer = gateway.precreate("K01QR1", 550, "Demo")
    assert answer.status is Status.PAYING and answer.qr.startswith("https://qr.alipay.com/")
