"""No failure vanishes: a job that raises on any worker pool is seen on the screen, on the light and by head office.

Each test makes one pool's job raise the way it would in the field (the store
refusing a write, the gateway library blowing up) and checks what a shopper
or a member of staff sees.
"""

from __future__ import annotations

import json
import sqlite3

from kiosk.checkout import Phase
from tests.loopback import Subscriber, wait_until
from tests.test_ui import buy, on_screen, run_until, sign_in, tap


def reported(k, kind="job_failed"):
    rows = [json.loads(r["payload"])["data"] for r in k.store.pending_outbox() if r["topic"] == "events"]
    return [d for d in rows if d["kind"] == kind]


def shown(ui):
    return [t for t, _ in ui.painter.texts]


def disk_error(*args, **kwargs):
    raise sqlite3.OperationalError("disk I/O error")


def test_a_print_job_that_fails_leaves_printing_for_the_e_receipt(ui_for, monkeypatch):
    k, ui = ui_for(kiosk={"default_language": "en"})
    monkeypatch.setattr(k.store, "mark_receipt", disk_error)  # the job printed, then the store refused to say so
    buy(ui, k)
    assert run_until(ui, lambda: k.checkout.receipt == "failed", 10)
    assert "Printing your receipt…" not in shown(ui)
    assert on_screen(ui, "Your payment went through, but the receipt could not be printed.")
    assert k.controller.light_state() == "busy"
    assert on_screen(ui, "Kiosk needs staff attention")
    [failure] = run_until(ui, lambda: reported(k), 5) and reported(k)
    assert failure["pool"] == "printer" and failure["job"] == "receipt" and failure["key"] == k.checkout.order_no
    assert "disk I/O error" in failure["error"]


def test_a_refund_job_that_fails_leaves_refunding_with_a_message(ui_for, monkeypatch):
    k, ui = ui_for(kiosk={"default_language": "en"})
    order_no = buy(ui, k)
    tap(ui, "done")

    def gateway_library_bug(refund, attempts=3):
        raise RuntimeError("unexpected answer")

    monkeypatch.setattr(k.driver, "refund", gateway_library_bug)
    sign_in(ui)
    tap(ui, "refund_scan")
    k.panel.scan(order_no)
    assert run_until(ui, lambda: k.controller.attendant.mode.value == "confirm_refund")
    tap(ui, "confirm_refund")
    assert run_until(ui, lambda: k.controller.attendant.message == "refund_failed", 10)
    assert "The refund did not go through" in shown(ui) and "Refunding…" not in shown(ui)
    assert k.controller.light_state() == "busy"
    assert run_until(ui, lambda: [f for f in reported(k) if f["pool"] == "back-office" and f["job"] == "refund"], 5)
    # the refund stays recorded as SUBMITTING for recovery to finish; staff see what failed until they leave
    assert [r["state"] for r in k.store.conn().execute("SELECT state FROM refunds")] == ["SUBMITTING"]
    assert on_screen(ui, "Kiosk needs staff attention")
    tap(ui, "attendant_exit")  # staff saw it: the warning goes, the light with it
    assert not on_screen(ui, "Kiosk needs staff attention") and k.controller.light_state() == "ready"


def test_a_payment_job_that_fails_leaves_processing_and_is_reported(ui_for, monkeypatch):
    k, ui = ui_for(kiosk={"default_language": "en"})

    def store_broke(*args, **kwargs):
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(k.driver, "pay", store_broke)
    k.panel.scan("6901234000016")
    assert run_until(ui, lambda: k.checkout.cart)
    k.panel.show_payment_code("1")
    assert run_until(ui, lambda: k.checkout.notice is not None and k.checkout.notice.key == "payment_failed", 10)
    assert k.checkout.phase is Phase.PAYMENT and not k.checkout.paying  # off "Processing…", the cart kept
    assert run_until(ui, lambda: [f for f in reported(k) if f["pool"] == "payment" and f["job"] == "pay"], 5)
    assert k.controller.light_state() == "busy"


def test_a_store_job_that_fails_is_shown_and_sent_to_head_office_directly(ui_for, monkeypatch, broker):
    k, ui = ui_for(kiosk={"default_language": "en"}, mqtt={"enabled": True, "port": broker.port, "retry_s": 0.2})
    hq = Subscriber(broker.port)
    try:
        assert wait_until(lambda: k.mqtt.connected.is_set(), 10)
        monkeypatch.setattr(k.store, "add_event", disk_error)
        tap(ui, "help")  # recorded as help_pressed on the store worker: it fails
        assert run_until(ui, lambda: k.controller.failed is not None, 5)
        tap(ui, "close_help")
        assert on_screen(ui, "Kiosk needs staff attention")
        assert k.controller.light_state() == "busy"
        # the store is what failed: head office hears of it straight from the link, not through the outbox
        assert wait_until(lambda: [m for m in hq.payloads("events") if m["data"]["kind"] == "job_failed"], 10)
        [msg] = [m for m in hq.payloads("events") if m["data"]["kind"] == "job_failed"]
        assert msg["data"]["pool"] == "store-io" and msg["data"]["job"] == "event"
        assert msg["data"]["key"] == "help_pressed" and "disk I/O error" in msg["data"]["error"]
    finally:
        hq.close()


def test_head_offices_link_down_a_minute_turns_the_light_amber_and_is_reported_when_back(ui_for, tmp_path, monkeypatch):
    """Issue 11: with a broker refusing or a certificate missing the kiosk sells on, but nobody knew: now the light
    turns amber after LINK_ATTENTION_S and head office hears, once the link is back, how long and why."""
    from kiosk.runtime import controller
    from tests.loopback import Mosquitto

    monkeypatch.setattr(controller, "LINK_ATTENTION_S", 1.0)
    broker = Mosquitto(tmp_path)  # not started: head office's broker is down
    k, ui = ui_for(mqtt={"enabled": True, "port": broker.port, "retry_s": 0.2})
    assert run_until(ui, lambda: k.controller.light_state() == "busy", 15)
    try:
        broker.start()

        def restored():  # sent or not: once the link is back the outbox goes out at once
            rows = k.store.conn().execute("SELECT payload FROM outbox WHERE topic = 'events'").fetchall()
            return [d for d in (json.loads(r[0])["data"] for r in rows) if d["kind"] == "link_restored"]

        assert run_until(ui, lambda: k.controller.light_state() == "ready" and restored(), 15)
        [back] = restored()
        assert back["down_s"] >= 1 and "unreachable" in back["reason"]
    finally:
        broker.stop()
