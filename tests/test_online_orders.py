"""Issue 10: orders made elsewhere reach head office over its HTTP API (a real uvicorn on loopback), on SQLite and
PostgreSQL: only a known client's token is heard, a bad order is refused naming the field and stores nothing, the
same reference is the same order, and the order's QR is signed so a kiosk can trust it without asking."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests
from cryptography.exceptions import InvalidSignature

from headoffice import online_orders
from headoffice.web import WebServer, make_app
from kiosk import signing
from tests.loopback import free_port, wait_until

ORDER = {
    "reference": "shop-1001",
    "store": "s1",
    "currency": "CNY",
    "lines": [
        {"name": "宫保鸡丁套餐", "qty": 2, "unit_price": 3200},
        {"name": "Iced tea", "qty": 1, "unit_price": 800},
    ],
    "total": 7200,
}


@pytest.fixture
def api(hq_engine, tmp_path):
    private, public = signing.keygen(str(tmp_path / "hq"))
    key = signing.load_private_key(str(private))
    port = free_port()
    server = WebServer(make_app(hq_engine, key), "127.0.0.1", port)
    server.start()
    assert wait_until(lambda: server.started, 10)
    token = online_orders.add_client(hq_engine, "webshop")
    yield f"http://127.0.0.1:{port}", token, signing.load_public_key(public)
    server.stop()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_an_order_is_taken_numbered_and_given_a_signed_qr(api):
    url, token, public = api
    auth = {"Authorization": f"Bearer {token}"}
    r = requests.post(f"{url}/api/v1/orders", json=ORDER, headers=auth, timeout=10)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["order_no"].startswith("W-") and order["state"] == "created" and order["total"] == 7200
    prefix, payload, signature = order["qr"].split(".")
    assert prefix == "KO1"
    public.verify(unb64(signature), unb64(payload))  # raises if head office did not sign exactly this
    data = json.loads(unb64(payload))
    assert (data["o"], data["s"], data["t"], data["p"]) == (order["order_no"], "s1", 7200, False)
    assert data["l"] == [["宫保鸡丁套餐", 2, 3200], ["Iced tea", 1, 800]] and data["x"] > time.time() + 86400
    forged = json.dumps({**data, "t": 1}, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    with pytest.raises(InvalidSignature):
        public.verify(unb64(signature), forged)
    again = requests.post(f"{url}/api/v1/orders", json=ORDER, headers=auth, timeout=10)  # the shop retried
    assert again.status_code == 200 and again.json()["order_no"] == order["order_no"]
    got = requests.get(f"{url}/api/v1/orders/{order['order_no']}", headers=auth, timeout=10).json()
    assert got["state"] == "created" and [t["what"] for t in got["timeline"]] == ["created"]
    paid = requests.post(
        f"{url}/api/v1/orders",
        json={**ORDER, "reference": "shop-1002", "paid": {"trade_id": "2026120422001400001", "gateway": "alipay"}},
        headers=auth,
        timeout=10,
    ).json()
    assert paid["state"] == "paid" and paid["order_no"] != order["order_no"]
    assert [t["what"] for t in paid["timeline"]] == ["created", "paid"]
    assert json.loads(unb64(paid["qr"].split(".")[1]))["p"] is True


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"total": 7100}, "total"),
        ({"lines": []}, "lines"),
        ({"lines": [{"name": "x", "qty": 1.5, "unit_price": 100}], "total": 150}, "lines[1].qty"),
        ({"lines": [{"name": "x", "qty": 1, "unit_price": "1.00"}], "total": 100}, "lines[1].unit_price"),
        ({"store": "Store 1"}, "store"),
        ({"reference": ""}, "reference"),
        ({"paid": {"gateway": "alipay"}}, "paid"),
    ],
)
def test_a_bad_order_is_refused_naming_the_field_and_stores_nothing(api, hq_engine, change, field):
    url, token, _ = api
    r = requests.post(
        f"{url}/api/v1/orders", json={**ORDER, **change}, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert r.status_code == 400 and r.json()["error"].startswith(field), r.text
    from sqlalchemy import func, select

    from headoffice.db import online_orders as table

    with hq_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table)).scalar() == 0


def test_only_a_known_clients_token_is_heard(api):
    url, token, _ = api
    assert requests.get(f"{url}/health", timeout=10).json() == {"ok": True, "database": True}
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {token}"}):
        r = requests.post(f"{url}/api/v1/orders", json=ORDER, headers=headers, timeout=10)
        assert r.status_code == 401 and "API token" in r.json()["error"]
        assert requests.get(f"{url}/api/v1/orders/W-1", headers=headers, timeout=10).status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    assert requests.post(f"{url}/api/v1/orders", data=b"{not json", headers=auth, timeout=10).status_code == 400
    assert requests.get(f"{url}/api/v1/orders/W-000000000000", headers=auth, timeout=10).status_code == 404


def test_head_office_answers_an_orders_state_only_to_who_holds_its_qr_and_signs_the_answer(api, tmp_path):
    url, token, public = api
    order = requests.post(f"{url}/api/v1/orders", json=ORDER, headers={"Authorization": f"Bearer {token}"}).json()
    nonce = "kiosk-question-0001"
    r = requests.post(f"{url}/api/v1/order-status", json={"qr": order["qr"], "nonce": nonce}, timeout=10)
    assert r.status_code == 200, r.text
    answer = r.json()
    status = answer["status"]
    assert (status["order_no"], status["state"], status["paid"], status["nonce"]) == (
        order["order_no"],
        "created",
        False,
        nonce,
    )
    public.verify(unb64(answer["sig"]), signing.canonical(status))  # kiosk.signing's reading, written apart
    other = signing.load_private_key(str(signing.keygen(str(tmp_path / "other"))[0]))
    forged_qr = online_orders.qr_text(other, type("Row", (), {**order, "lines": [], "state": "created"})())
    for body, field in [
        ({"qr": forged_qr, "nonce": nonce}, "qr: not an order QR head office signed"),
        ({"qr": order["qr"][:-3] + "AAA", "nonce": nonce}, "qr: not an order QR head office signed"),
        ({"qr": "hello", "nonce": nonce}, "qr: the order's QR text"),
        ({"qr": order["qr"], "nonce": "short"}, "nonce:"),
        ({"qr": order["qr"]}, "nonce:"),
    ]:
        refused = requests.post(f"{url}/api/v1/order-status", json=body, timeout=10)
        assert refused.status_code == 400 and refused.json()["error"].startswith(field), refused.text
