"""Issue 10: an order made elsewhere, at the kiosk.  The QR is head office's own (headoffice.online_orders makes
it; the kiosk's reading is written apart).  A paid order is handed over at once with its ticket; an unpaid one
becomes the cart, as ordered, and is paid like any sale; a second scan says when it was collected; a forged,
foreign or expired code is refused with the reason; head office tracks the order to collected."""

from __future__ import annotations

import json
import time

import pytest

from headoffice import online_orders as hq_orders
from headoffice import queries
from headoffice.ingest import Ingest, Received
from kiosk import signing
from kiosk.checkout import Phase
from tests.conftest import make_kiosk
from tests.test_catalog_publish import events, pump_until
from tests.test_online_orders import ORDER as SHOP_ORDER

ORDER = {**SHOP_ORDER, "reference": "table-12", "store": "demo-store"}  # the kiosk's own store


@pytest.fixture
def hq_key(tmp_path):
    private, public = signing.keygen(str(tmp_path / "hq"))
    return signing.load_private_key(str(private)), str(public)


def test_a_paid_order_is_handed_over_once_with_its_ticket(tmp_path, hq_engine, hq_key):
    key, public = hq_key
    _, order = hq_orders.create(hq_engine, key, "shop", {**ORDER, "paid": {"trade_id": "T1", "gateway": "alipay"}})
    k = make_kiosk(tmp_path, mqtt={"hq_public_key_file": public})
    try:
        k.panel.scan(order["qr"])
        pump_until(k, lambda: k.checkout.phase is Phase.RESULT)
        assert k.checkout.notice.key == "order_handed_over" and k.checkout.order_no == order["order_no"]
        pump_until(k, lambda: k.checkout.receipt == "printed")  # the ticket, with the order's barcode
        ticket = sorted((tmp_path / "data" / "receipts").glob(f"{order['order_no']}*"))
        assert ticket, "no ticket printed"
        collected = [e for e in events(k) if e["kind"] == "online_order_collected"]
        assert collected == [{"kind": "online_order_collected", "order_no": order["order_no"], "paid_here": ""}]
        k.checkout.tap_start_over(time.monotonic())
        k.panel.scan(order["qr"])  # the guest tries again
        pump_until(k, lambda: k.checkout.notice is not None and k.checkout.notice.key == "order_collected")
        assert k.checkout.notice.params["order_no"] == order["order_no"] and k.checkout.notice.params["when"]
        assert len([e for e in events(k) if e["kind"] == "online_order_collected"]) == 1
        ingest = Ingest(hq_engine)  # head office hears of it: collected, by this kiosk
        ingest.store_batch(
            [
                Received(f"kiosk/v1/demo-store/kiosk-01/{m['topic']}", m["payload"].encode())
                for m in k.store.pending_outbox(limit=1000)
            ]
        )
        got = hq_orders.get(hq_engine, key, order["order_no"])
        assert got["state"] == "collected" and [t["what"] for t in got["timeline"]] == ["created", "paid", "collected"]
        assert got["timeline"][-1]["by"] == "demo-store/kiosk-01"
    finally:
        k.stop()


def test_an_unpaid_order_is_paid_as_ordered_then_handed_over(tmp_path, hq_engine, hq_key):
    key, public = hq_key
    _, order = hq_orders.create(hq_engine, key, "shop", ORDER)
    k = make_kiosk(tmp_path, mqtt={"hq_public_key_file": public})
    k.start()  # the camera: the shopper shows a wallet code
    co = k.checkout
    try:
        co.language = "en"  # the guest chose English on the welcome screen: it stays
        k.panel.scan(order["qr"])
        pump_until(k, lambda: co.phase is Phase.CART)
        assert co.language == "en"
        assert co.cart.totals().total == 7200 and [(ln.product.name("en"), ln.qty) for ln in co.cart.lines] == [
            ("宫保鸡丁套餐", 2),
            ("Iced tea", 1),
        ]
        assert co.notice.key == "online_order"
        k.controller.run_effects(co.tap_plus(co.cart.lines[1].product.key, time.monotonic()))
        assert co.notice.key == "order_fixed" and co.cart.lines[1].qty == 1  # as ordered
        k.controller.run_effects(co.scan("6901234000016", time.monotonic()))
        assert co.notice.key == "order_fixed" and len(co.cart.lines) == 2  # nothing added to it
        k.panel.show_payment_code("1")
        pump_until(k, lambda: co.phase is Phase.RESULT and co.order_no is not None, timeout=10)
        kiosk_order = co.order_no
        pump_until(k, lambda: k.store.online_collected(order["order_no"]) is not None)
        assert k.store.online_collected(order["order_no"])["kiosk_order_no"] == kiosk_order
        lines = k.store.conn().execute("SELECT name, qty, amount FROM order_lines WHERE order_no=?", (kiosk_order,))
        assert [tuple(r) for r in lines] == [("宫保鸡丁套餐", 2, 6400), ("Iced tea", 1, 800)]
        collected = [e for e in events(k) if e["kind"] == "online_order_collected"]
        assert collected == [
            {"kind": "online_order_collected", "order_no": order["order_no"], "paid_here": kiosk_order}
        ]
    finally:
        k.stop()


@pytest.mark.parametrize("case", ["forged", "other store", "expired", "damaged", "no key"])
def test_a_code_the_kiosk_cannot_trust_is_refused_with_the_reason(tmp_path, hq_engine, hq_key, case):
    key, public = hq_key
    other_private, _ = signing.keygen(str(tmp_path / "other"))
    signer = signing.load_private_key(str(other_private)) if case == "forged" else key
    body = {**ORDER, "store": "store-9"} if case == "other store" else ORDER
    _, order = hq_orders.create(hq_engine, signer, "shop", body, qr_days=-1 if case == "expired" else 30)
    qr = order["qr"][:-6] + "AAAAAA" if case == "damaged" else order["qr"]
    k = make_kiosk(tmp_path, mqtt={"hq_public_key_file": "" if case == "no key" else public})
    try:
        k.panel.scan(qr)
        pump_until(k, lambda: k.checkout.notice is not None)
        why = {
            "forged": "not_signed",
            "other store": "other_store",
            "expired": "expired",
            "damaged": "not_signed",
            "no key": "no_key",
        }[case]
        assert k.checkout.notice.key == "order_refused" and k.checkout.notice.params == {"why": why}
        assert not k.checkout.cart and k.store.online_collected(order["order_no"]) is None
    finally:
        k.stop()


def test_head_office_alerts_an_order_handed_over_twice(hq_engine, hq_key, tmp_path):
    key, _ = hq_key
    _, order = hq_orders.create(hq_engine, key, "shop", {**ORDER, "paid": {"trade_id": "T1"}})
    from kiosk import messages as kmsg

    def collected(kiosk: str, n: int) -> Received:
        data = {"kind": "online_order_collected", "order_no": order["order_no"], "paid_here": ""}
        body = kmsg.envelope(
            msg_id=f"demo-store:{kiosk}:i1:events:{n}",
            seq=n,
            ts="2026-12-04T08:00:00.000Z",
            store="demo-store",
            kiosk=kiosk,
            type_="events",
            data=data,
        )
        return Received(f"kiosk/v1/demo-store/{kiosk}/events", body.encode())

    ingest = Ingest(hq_engine)
    ingest.store_batch([collected("kiosk-01", 1)])
    ingest.store_batch([collected("kiosk-02", 1)])
    assert hq_orders.get(hq_engine, key, order["order_no"])["timeline"][-1]["by"] == "demo-store/kiosk-01"
    [alert] = [a for a in queries.alerts(hq_engine) if a["kind"] == "collected_twice"]
    assert alert["kiosk"] == "kiosk-02" and "already collected at demo-store/kiosk-01" in alert["detail"]


@pytest.mark.parametrize("size", ["800x480", "720x1280"])
def test_the_cart_of_an_order_shows_its_lines_without_buttons_to_change_them(ui_for, hq_engine, hq_key, size):
    from tests.test_shopper_screen import contrast
    from tests.test_ui import overlaps

    key, public = hq_key
    _, order = hq_orders.create(hq_engine, key, "shop", ORDER)
    k, ui = ui_for(display={"size": size}, mqtt={"hq_public_key_file": public}, kiosk={"default_language": "en"})
    k.panel.scan(order["qr"])
    for _ in range(50):
        ui.frame()
        if k.checkout.phase is Phase.CART:
            break
    ui.painter.audit = []
    ui.frame()
    names = [b.name for b in ui.painter.buttons]
    assert not [n for n in names if n.split(":")[0] in ("plus", "minus", "remove")], names
    texts = {d.text: d for d in ui.painter.audit if hasattr(d, "text")}
    assert (
        "×2" in texts and "Iced tea" in texts and all(contrast(d.colour, d.background) >= 4.5 for d in texts.values())
    )
    assert overlaps(ui) == []


@pytest.fixture
def hq_web(hq_engine, hq_key):
    """Head office's HTTP API on loopback: the kiosk asks it about an order before handing it over."""
    from headoffice.web import WebServer, make_app
    from tests.loopback import free_port, wait_until

    port = free_port()
    server = WebServer(make_app(hq_engine, hq_key[0]), "127.0.0.1", port)
    server.start()
    assert wait_until(lambda: server.started, 10)
    yield f"http://127.0.0.1:{port}"
    server.stop()


def collected_at_hq(hq_engine, order_no: str, kiosk: str) -> None:
    """Head office hears that `kiosk` handed the order over (its events message, as ingest stores it)."""
    from kiosk import messages as kmsg

    body = kmsg.envelope(
        msg_id=f"demo-store:{kiosk}:i1:events:1",
        seq=1,
        ts="2026-12-04T08:00:00.000Z",
        store="demo-store",
        kiosk=kiosk,
        type_="events",
        data={"kind": "online_order_collected", "order_no": order_no, "paid_here": ""},
    )
    Ingest(hq_engine).store_batch([Received(f"kiosk/v1/demo-store/{kiosk}/events", body.encode())])


def test_an_order_collected_at_another_kiosk_is_not_handed_over_again(tmp_path, hq_engine, hq_key, hq_web):
    key, public = hq_key
    _, order = hq_orders.create(hq_engine, key, "shop", {**ORDER, "paid": {"trade_id": "T1", "gateway": "alipay"}})
    collected_at_hq(hq_engine, order["order_no"], "kiosk-07")  # the guest collected it at kiosk 07 already
    k = make_kiosk(tmp_path, mqtt={"hq_public_key_file": public, "hq_url": hq_web})
    try:
        k.panel.scan(order["qr"])  # the same QR, at this kiosk
        pump_until(k, lambda: k.checkout.notice is not None and k.checkout.notice.key == "order_checking")
        pump_until(k, lambda: k.checkout.notice.key == "order_collected_at")
        assert k.checkout.notice.params["where"] == "kiosk-07" and k.checkout.notice.params["when"]
        assert k.checkout.phase is not Phase.RESULT and not k.checkout.cart
        assert [e for e in events(k) if e["kind"] == "online_order_collected"] == []
        assert not list((tmp_path / "data" / "receipts").glob(f"{order['order_no']}*"))  # no second ticket
    finally:
        k.stop()


def test_an_order_paid_since_its_qr_was_made_is_handed_over_without_asking_for_money(
    tmp_path, hq_engine, hq_key, hq_web
):
    import requests

    key, public = hq_key
    token = hq_orders.add_client(hq_engine, "webshop")
    auth = {"Authorization": f"Bearer {token}"}
    order = requests.post(f"{hq_web}/api/v1/orders", json=ORDER, headers=auth, timeout=10).json()
    assert order["state"] == "created"  # the guest's QR says: to pay
    paid = requests.post(
        f"{hq_web}/api/v1/orders/{order['order_no']}/paid",
        json={"trade_id": "T9", "gateway": "wechatpay"},
        headers=auth,
    )
    assert paid.status_code == 200 and paid.json()["state"] == "paid"
    again = requests.post(f"{hq_web}/api/v1/orders/{order['order_no']}/paid", json={"trade_id": "T8"}, headers=auth)
    assert again.status_code == 409 and "paid already" in again.json()["error"]
    k = make_kiosk(tmp_path, mqtt={"hq_public_key_file": public, "hq_url": hq_web})
    try:
        k.panel.scan(order["qr"])
        pump_until(k, lambda: k.checkout.phase is Phase.RESULT)
        assert k.checkout.notice.key == "order_handed_over" and not k.checkout.paying
        pump_until(k, lambda: k.store.online_collected(order["order_no"]) is not None)
        assert [e["order_no"] for e in events(k) if e["kind"] == "online_order_collected"] == [order["order_no"]]
        assert k.store.conn().execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0  # no money taken here
    finally:
        k.stop()


@pytest.mark.parametrize("answer", ["down", "silent", "forged", "altered", "replayed"])
def test_without_a_trustworthy_answer_from_head_office_the_qr_decides(tmp_path, hq_engine, hq_key, answer):
    """Head office down, or silent (it takes the question and never answers), or an answer not signed by it, or an
    old answer for another question: the kiosk goes by the QR (unpaid: the cart to pay) and its own record."""
    import http.server
    import threading

    from headoffice.online_orders import status as hq_status
    from headoffice.signing import canonical
    from tests.loopback import free_port

    key, public = hq_key
    _, order = hq_orders.create(hq_engine, key, "shop", ORDER)
    collected_at_hq(hq_engine, order["order_no"], "kiosk-07")  # what a trusted answer would have said
    other = signing.load_private_key(str(signing.keygen(str(tmp_path / "other"))[0]))

    class FakeHeadOffice(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            asked = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if answer == "silent":  # the network lost the answer: the kiosk must not wait for ever
                time.sleep(8)
                return
            body = hq_status(hq_engine, key, asked)
            if answer == "forged":  # this very question's answer, signed by someone else
                body["sig"] = hq_orders.b64url(other.sign(canonical(body["status"])))
            elif answer == "altered":  # head office's signature, a word changed after
                body["status"]["state"] = "paid"
            else:  # replayed: a good answer to an earlier question
                body = hq_status(hq_engine, key, {**asked, "nonce": "an-earlier-nonce-0001"})
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args):
            pass

    port = free_port()
    server = None
    if answer != "down":
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), FakeHeadOffice)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    k = make_kiosk(tmp_path, mqtt={"hq_public_key_file": public, "hq_url": f"http://127.0.0.1:{port}"})
    try:
        k.panel.scan(order["qr"])
        asked_at = time.monotonic()
        if answer == "silent":  # the screen says what it waits for
            pump_until(k, lambda: k.checkout.notice is not None and k.checkout.notice.key == "order_checking")
        pump_until(k, lambda: k.checkout.phase is Phase.CART, timeout=10)
        assert k.checkout.notice.key == "online_order" and k.checkout.cart.totals().total == 7200
        if answer == "silent":  # given up after ASK_TIMEOUT_S, not the server's 8 s
            assert time.monotonic() - asked_at < 6
    finally:
        k.stop()
        if server:
            server.shutdown()
