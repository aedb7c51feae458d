"""Issue 12: the console's pages and actions over HTTP (a real uvicorn on loopback, SQLite and PostgreSQL, commands
published to a real mosquitto).  Every page answers a viewer in English and Chinese; orders are found by number,
trade id, kiosk, amount and date, a page at a time; an operator's action is shown for confirmation first, sent
only when confirmed, and written to the audit log with their name; a viewer cannot act; a bad form changes
nothing.  The browser tests (test_console_browser.py) click through the same pages as a person would."""

from __future__ import annotations

import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest
import requests
from sqlalchemy import func, select

from headoffice import rollup, stock, users
from headoffice.commands import Commands
from headoffice.db import alerts, audit_log, commands
from headoffice.ingest import Ingest, Received
from headoffice.web import WebServer, make_app
from tests.loopback import Subscriber, free_port, wait_until
from tests.test_headoffice import kiosk_store, outbox, sell  # noqa: F401 - kiosk_store is a fixture

PASSWORD = "correct horse battery"


@pytest.fixture
def hq(hq_engine, broker, kiosk_store):  # noqa: F811
    """Head office's web on loopback with commands going to a real broker, two users, and one kiosk's sales."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="hq-console-test")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    cmds = Commands(hq_engine, client, None)
    port = free_port()
    server = WebServer(make_app(hq_engine, None, commands=cmds, time_zone="Asia/Shanghai"), "127.0.0.1", port)
    server.start()
    assert wait_until(lambda: server.started, 10)
    users.add_user(hq_engine, "lin", "operator", PASSWORD)
    users.add_user(hq_engine, "wang", "viewer", PASSWORD)
    sold = sell(kiosk_store, 3)
    Ingest(hq_engine).store_batch(outbox(kiosk_store))
    rollup.run(hq_engine, 480, settle_s=0)  # the statistics' sums, as the service makes them every 30 s
    yield f"http://127.0.0.1:{port}", sold
    server.stop()
    client.loop_stop()
    client.disconnect()


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def session(url: str, name: str, lang: str = "en", password: str = PASSWORD) -> requests.Session:
    s = requests.Session()
    s.get(f"{url}/lang/{lang}", timeout=10)
    token = csrf_of(s.get(f"{url}/login", timeout=10).text)
    r = s.post(f"{url}/login", data={"csrf": token, "name": name, "password": password}, timeout=10)
    assert r.status_code == 200, r.text
    return s


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.mark.parametrize(
    ("lang", "words"), [("en", ("Fleet", "Orders", "online")), ("zh_CN", ("设备", "订单", "在线"))]
)
def test_every_page_answers_a_viewer_in_their_language(hq, lang, words):
    url, sold = hq
    s = session(url, "wang", lang)
    order = sold[0].order_no
    pages = [
        "/fleet",
        "/fleet?store=s1",
        "/kiosks/s1/k1",
        "/orders",
        "/orders/rows",
        f"/orders/s1/k1/{order}",
        "/stats",
        "/stats/pairs",
        "/stats/payments",
        "/reconciliation",
        "/alerts",
        "/alerts?state=closed",
        "/audit",
    ]
    for path in pages:
        r = s.get(url + path, timeout=10)
        assert r.status_code == 200, (path, r.text[:300])
        if path not in ("/orders/rows", "/stats/pairs", "/stats/payments"):
            assert all(w in r.text for w in words[:2]), path  # the menu, in the viewer's language
    assert 'hx-get="/stats/pairs?' in s.get(f"{url}/stats", timeout=10).text  # loaded after the page
    assert '<table id="pairs">' in s.get(f"{url}/stats/pairs", timeout=10).text
    payments = s.get(f"{url}/stats/payments", timeout=10).text
    assert 'id="payments"' in payments and "100.0%" in payments  # 3 tried, 3 paid
    assert s.get(f"{url}/stats/nothing", timeout=10).status_code == 404
    orders_page = s.get(f"{url}/orders", timeout=10).text
    assert all(o.order_no in orders_page for o in sold)
    money = "¥" if lang == "zh_CN" else "CN¥"
    assert money in orders_page
    assert s.get(f"{url}/kiosks/s9/k9", timeout=10).status_code == 404
    assert s.get(f"{url}/orders/s1/k1/K01-000", timeout=10).status_code == 404
    csv = s.get(f"{url}/stats.csv?table=by_kiosk", timeout=10)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "store,kiosk,orders,sales,avg_basket" and "s1,k1,3," in csv.text
    assert s.get(f"{url}/stats.csv?table=nope", timeout=10).status_code == 404
    js = s.get(f"{url}/static/htmx-2.0.8.min.js", timeout=10)
    assert js.status_code == 200 and js.text.startswith("var htmx=")


def test_orders_are_found_by_number_trade_id_kiosk_amount_and_date_a_page_at_a_time(hq, hq_engine, kiosk_store):  # noqa: F811
    url, sold = hq
    s = session(url, "wang")

    def found(query: str) -> set[str]:
        page = s.get(f"{url}/orders?{query}", timeout=10).text
        return set(re.findall(r'data-order="([^"]+)"', page))

    numbers = {o.order_no for o in sold}
    assert found("") == numbers
    assert found(f"q={sold[1].order_no}") == {sold[1].order_no}
    assert found("q=2026112422001000002") == {sold[2].order_no}  # the gateway's trade id
    assert found("kiosk=k1") == numbers and found("kiosk=k2") == set()
    low = min(o.total for o in sold)
    assert found(f"max={low / 100:.2f}") == {o.order_no for o in sold if o.total == low}
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()  # the console's days are head office's
    assert found(f"since={today}&until={today}") == numbers and found("until=2020-01-01") == set()
    sell(kiosk_store, 60)
    Ingest(hq_engine).store_batch(outbox(kiosk_store))
    first = s.get(f"{url}/orders", timeout=10).text
    assert len(re.findall(r'data-order="', first)) == 50 and "page=2" in first
    second = s.get(f"{url}/orders?page=2", timeout=10).text
    assert len(re.findall(r'data-order="', second)) == 13


def test_an_operators_refund_is_confirmed_sent_audited_and_shown(hq, hq_engine, broker):
    url, sold = hq
    hq_side = Subscriber(broker.port, "kiosk/v1/s1/k1/cmd/#")
    s = session(url, "lin")
    order = sold[2]
    page = s.get(f"{url}/orders/s1/k1/{order.order_no}", timeout=10).text
    form = {
        "csrf": csrf_of(page),
        "action": "refund",
        "store": "s1",
        "kiosk": "k1",
        "order_no": order.order_no,
        "amount": "1.50",
        "reason": "dented can",
        "back": f"/orders/s1/k1/{order.order_no}",
    }
    confirm = s.post(f"{url}/actions", data=form, timeout=10)
    assert confirm.status_code == 200 and "Refund 1.50 of order" in confirm.text
    assert count(hq_engine, commands) == 0 and count(hq_engine, audit_log) == 0  # nothing yet
    done = s.post(f"{url}/actions", data={**form, "confirmed": "yes"}, timeout=10)
    assert done.status_code == 200 and done.url.endswith(order.order_no)
    assert wait_until(lambda: hq_side.payloads("refund"), 10)
    [sent] = hq_side.payloads("refund")
    assert sent["data"] == {"order_no": order.order_no, "amount": 150, "reason": "dented can"}
    with hq_engine.connect() as conn:
        [entry] = conn.execute(select(audit_log)).all()
    assert (entry.user, entry.action, entry.target, entry.command_id) == (
        "lin",
        "refund",
        f"s1/k1/{order.order_no}",
        sent["id"],
    )
    assert 'data-command="refund"' in done.text and "lin" in done.text  # on the order's page, by whom
    assert 'data-action="refund"' in s.get(f"{url}/audit", timeout=10).text
    too_much = s.post(f"{url}/actions", data={**form, "amount": "999999", "confirmed": "yes"}, timeout=10)
    assert too_much.status_code == 400 and "can still be refunded" in too_much.text
    for bad, reason in [({"amount": "1.505"}, "two decimals"), ({"action": "format-disk"}, "Unknown action")]:
        r = s.post(f"{url}/actions", data={**form, **bad, "confirmed": "yes"}, timeout=10)
        assert r.status_code == 400 and reason in r.text
    no_token = s.post(f"{url}/actions", data={**form, "csrf": "", "confirmed": "yes"}, timeout=10)
    assert no_token.status_code == 403
    assert count(hq_engine, commands) == 1 and count(hq_engine, audit_log) == 1
    hq_side.close()


def test_a_viewer_cannot_act_and_nothing_is_sent(hq, hq_engine):
    url, sold = hq
    s = session(url, "wang")
    page = s.get(f"{url}/kiosks/s1/k1", timeout=10).text
    assert 'id="action-lock"' not in page  # no action forms for a viewer
    form = {"csrf": csrf_of(page), "action": "lock", "store": "s1", "kiosk": "k1", "confirmed": "yes"}
    r = s.post(f"{url}/actions", data=form, timeout=10)
    assert r.status_code == 403 and "may look but not act" in r.text
    assert count(hq_engine, commands) == 0 and count(hq_engine, audit_log) == 0


def test_an_operator_closes_an_alert_saying_why(hq, hq_engine):
    url, _ = hq
    with hq_engine.begin() as conn:
        from headoffice import alerts as alert_rules

        alert_rules.open(conn, "s1", "k1", "recon_difference", "2026-12-03", time.time(), "2 differences")
        n = conn.execute(select(alerts.c.n).where(alerts.c.kind == "recon_difference")).scalar_one()
    s = session(url, "lin")
    page = s.get(f"{url}/alerts", timeout=10).text
    assert 'data-alert="recon_difference"' in page
    form = {"csrf": csrf_of(page), "action": "close_alert", "alert": str(n), "note": "", "back": "/alerts"}
    assert "Say why" in s.post(f"{url}/actions", data={**form, "confirmed": "yes"}, timeout=10).text
    form["note"] = "bank holiday: settled next day"
    s.post(f"{url}/actions", data={**form, "confirmed": "yes"}, timeout=10)
    with hq_engine.connect() as conn:
        row = conn.execute(select(alerts).where(alerts.c.n == n)).one()
        entry = conn.execute(select(audit_log)).one()
    assert (row.open, row.closed_by, row.note) == (False, "lin", "bank holiday: settled next day")
    assert (entry.user, entry.action, entry.target) == ("lin", "close_alert", f"alert/{n}")
    closed = s.get(f"{url}/alerts?state=closed", timeout=10).text
    assert "lin: bank holiday" in closed.replace(" — ", ": ").replace("\n", "") or "bank holiday" in closed


def test_a_refund_marked_back_on_the_shelf_raises_the_stock_when_it_succeeds(hq, hq_engine, kiosk_store):  # noqa: F811
    url, sold = hq
    order = sold[0]
    [sku] = {ln.sku for ln in order.lines}
    stock.set_counts(hq_engine, [("s1", sku, 10, None)])
    s = session(url, "lin")
    page = s.get(f"{url}/orders/s1/k1/{order.order_no}", timeout=10).text
    form = {
        "csrf": csrf_of(page),
        "action": "refund",
        "store": "s1",
        "kiosk": "k1",
        "order_no": order.order_no,
        "restock": "yes",
        "confirmed": "yes",
    }
    s.post(f"{url}/actions", data=form, timeout=10)
    with hq_engine.connect() as conn:
        command_id, data = conn.execute(select(commands.c.id, commands.c.data)).one()
    assert data["restock"] is True and data["amount"] == order.total  # empty amount: all that is left
    # the kiosk refunds it (as its refund service does for head office's command) and says so
    refund = kiosk_store.begin_refund(order.order_no, None, requested_by="hq", command_id=command_id)
    kiosk_store.set_refund_state(refund["out_request_no"], "REFUNDED")
    before = {r["sku"]: r["qty"] for r in stock.levels(hq_engine, "s1")}[sku]
    batch = [m for m in outbox(kiosk_store) if m.topic.endswith("/refunds")]
    Ingest(hq_engine).store_batch(batch)
    Ingest(hq_engine).store_batch(batch)  # resent: still once
    after = {r["sku"]: r["qty"] for r in stock.levels(hq_engine, "s1")}[sku]
    assert after == before + sum(ln.qty for ln in order.lines)
    again = s.post(f"{url}/actions", data={**form, "csrf": csrf_of(page)}, timeout=10)  # nothing left to refund
    assert again.status_code == 400 and "refunded in full" in again.text
    with hq_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(commands)).scalar_one() == 1


def test_an_admin_manages_the_users_and_nobody_else_can(hq, hq_engine):
    url, _ = hq
    users.add_user(hq_engine, "zhao", "admin", PASSWORD)
    operator = session(url, "lin")
    assert operator.get(f"{url}/users", timeout=10).status_code == 403
    token = csrf_of(operator.get(f"{url}/fleet", timeout=10).text)
    add = {"csrf": token, "change": "add", "name": "mallory", "role": "admin", "password": "x" * 12}
    assert operator.post(f"{url}/users", data=add, timeout=10).status_code == 403
    assert users.get(hq_engine, "mallory") is None

    admin = session(url, "zhao")
    page = admin.get(f"{url}/users", timeout=10).text
    assert 'data-user="lin"' in page and 'data-user="wang"' in page and "scrypt" not in page
    token = csrf_of(page)

    def post(**form) -> requests.Response:
        return admin.post(f"{url}/users", data={"csrf": token, **form}, timeout=10)

    assert post(change="add", name="chen", role="viewer", password="chen's long password").status_code == 200
    assert users.get(hq_engine, "chen") == users.User("chen", "viewer")
    post(change="role", name="chen", role="operator")
    assert users.get(hq_engine, "chen").role == "operator"
    for _ in range(users.MAX_FAILURES):  # lin forgot the password and is locked out
        with pytest.raises(users.LoginRefused):
            users.login(hq_engine, "lin", "not it at all")
    assert "locked out until" in admin.get(f"{url}/users", timeout=10).text
    post(change="password", name="lin", password="a brand new password")
    session(url, "lin", password="a brand new password")  # in again, with the new one
    last = post(change="role", name="zhao", role="viewer")
    assert last.status_code == 400 and "last admin" in last.text and users.get(hq_engine, "zhao").role == "admin"
    short = post(change="add", name="qian", role="viewer", password="short")
    assert short.status_code == 400 and "at least 10" in short.text and users.get(hq_engine, "qian") is None
    assert post(change="add", name="chen", role="viewer", password="x" * 12).status_code == 400  # there already
    no_token = admin.post(f"{url}/users", data={"change": "role", "name": "chen", "role": "admin"}, timeout=10)
    assert no_token.status_code == 403 and users.get(hq_engine, "chen").role == "operator"
    with hq_engine.connect() as conn:
        entries = conn.execute(select(audit_log.c.action, audit_log.c.target, audit_log.c.detail)).all()
    assert [(a, t) for a, t, _ in entries] == [
        ("user_add", "user/chen"),
        ("user_role", "user/chen"),
        ("user_password", "user/lin"),
    ]
    assert all("password" not in str(d) for _, _, d in entries)


def test_a_reconciliations_differences_are_shown_and_explained(hq, hq_engine, kiosk_store):  # noqa: F811
    """The kiosk reports a day with a difference; another kiosk's events arrive in between at head office; the page
    lists the difference under its reconciliation, and an operator's note explains it (its alert closed)."""
    from kiosk import messages as kmsg

    url, _ = hq
    kiosk_store.add_event(
        "reconciled", date="2026-12-03", gateway="alipay", clean=False, matched=["A1"], differing=["T9"]
    )
    others = [
        Received(
            "kiosk/v1/s1/k2/events",
            kmsg.envelope(
                msg_id=f"s1:k2:i:events:{n}",
                seq=n,
                ts="2026-12-04T01:00:00.000Z",
                store="s1",
                kiosk="k2",
                type_="events",
                data={"kind": "help_pressed", "screen": "cart"},
            ).encode(),
        )  # fmt: skip
        for n in range(1, 31)
    ]
    kiosk_store.add_event(
        "reconciliation_differences",
        date="2026-12-03",
        gateway="alipay",
        count=1,
        differences=[{"out_trade_no": "T9", "kind": "missing_at_kiosk", "reason": "in the statement only"}],
    )
    mine = [m for m in outbox(kiosk_store) if m.topic.endswith("/events")]
    Ingest(hq_engine).store_batch([mine[0], *others, *mine[1:]])
    s = session(url, "lin")
    page = s.get(f"{url}/reconciliation", timeout=10).text
    assert "T9: missing_at_kiosk in the statement only" in page and 'class="bad"' in page
    form = {"csrf": csrf_of(page), "action": "close_alert", "note": "settled on the 4th", "back": "/reconciliation"}
    form["alert"] = re.search(r'name="alert" value="(\d+)"', page).group(1)
    s.post(f"{url}/actions", data={**form, "confirmed": "yes"}, timeout=10)
    explained = s.get(f"{url}/reconciliation", timeout=10).text
    assert "lin: settled on the 4th" in explained and 'class="bad"' not in explained
