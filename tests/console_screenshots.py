"""Screenshots of every console page in English and Chinese, for the README:

    .venv/bin/python -m tests.console_screenshots docs/console

Head office runs in this process on a fresh SQLite database filled the way kiosks fill it: three kiosks' sales,
payments and a refund (their own outbox messages, through head office's ingest), heartbeats over the last hours,
a locked kiosk, a reconciliation with a difference, alerts.  Debian's Chromium takes the pictures (tests/browser.py).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import and_, bindparam, select, update

from headoffice import rollup, users
from headoffice.db import make_engine, orders, payments
from headoffice.ingest import Ingest, Received
from headoffice.migrate import upgrade
from headoffice.web import WebServer, make_app
from kiosk import messages as kmsg
from kiosk.catalog import DEMO_PRODUCTS
from kiosk.payment_state import PaymentState
from kiosk.signing import rfc3339
from kiosk.store import Identity, Store
from tests.browser import chromium, log_in, wait_for
from tests.factories import begin_payment
from tests.loopback import free_port, wait_until

PASSWORD = "screenshots only"
KIOSKS = (("s001", "k01", "A"), ("s001", "k02", "B"), ("s002", "k01", "C"))


def fill(engine, tmp: Path) -> str:
    """Three kiosks' day, as head office receives it; returns an order number to show."""
    ingest = Ingest(engine)
    now = time.time()
    shown = ""
    for n, (store, kiosk, prefix) in enumerate(KIOSKS):
        (tmp / f"{store}-{kiosk}").mkdir()
        s = Store(tmp / f"{store}-{kiosk}" / "kiosk.sqlite", Identity(store, kiosk, prefix, "CNY"))
        s.seed_catalog(DEMO_PRODUCTS)
        for i in range(30 + 12 * n):
            otn = begin_payment(s, DEMO_PRODUCTS[(i * 7) % 20 : (i * 7) % 20 + 1 + i % 4])
            if i % 9 == 4:  # some payments fail: the shopper's wallet refused, or they gave up
                reason = "USER_CANCELLED" if i % 2 else "NOT_ENOUGH_BALANCE"
                s.set_payment_state(otn, PaymentState.FAILED, reason=reason)
                continue
            order = s.complete_payment(otn, trade_id=f"20261204220014{n}{i:05d}")
            shown = shown or order.order_no
        refund = s.begin_refund(shown, 100, requested_by="attendant") if n == 0 else None
        if refund:
            s.set_refund_state(refund["out_request_no"], "REFUNDED")
        if n == 1:
            s.add_event("printer_paper_out", message="paper out")
        if n == 2:
            s.add_event(
                "reconciled", date="2026-12-03", gateway="alipay", clean=False, matched=["x"] * 40, differing=["T9"]
            )
            s.add_event(
                "reconciliation_differences",
                date="2026-12-03",
                gateway="alipay",
                count=1,
                differences=[{"out_trade_no": "T9", "kind": "missing_at_kiosk", "reason": "in the statement only"}],
            )
        topic = f"kiosk/v1/{store}/{kiosk}/"
        birth = {
            "firmware": "1.4.2",
            "installation": f"inst-{n}",
            "config_digest": "c0ffee",
            "catalog_version": "3-ab12cd34ef56",
            "devices": {"scanner": "serial", "camera": "opencv", "printer": "usb"},
            "gateway": {"kind": "alipay", "sandbox": False},
            "session": 1,
            "last_seq": 0,
        }
        body = kmsg.envelope(
            msg_id=f"b-{n}", seq=0, ts=rfc3339(now), store=store, kiosk=kiosk, type_="birth", data=birth
        )
        ingest.store_batch([Received(topic + "birth", body.encode())])
        ingest.store_batch([Received(topic + m["topic"], m["payload"].encode()) for m in s.pending_outbox(limit=10000)])
        state = "locked" if n == 1 else "online"
        status = kmsg.envelope(
            msg_id=f"st-{n}", seq=0, ts=rfc3339(now), store=store, kiosk=kiosk, type_="status",
            data={"state": state},
        )  # fmt: skip
        ingest.store_batch([Received(topic + "status", status.encode())])
        for h in range(24):
            beat = {
                "uptime_s": 3600 * h,
                "outbox_depth": (h * 7 + n) % 5,
                "unacked": 0,
                "frame_age_s": 0.02 + (h % 3) * 0.01,
                "cpu_temp_c": 48 + (h * 3 + n) % 9,
                "disk_free_mb": 20000 - h,
                "rss_mb": 96 + h % 5,
                "catalog_version": "3-ab12cd34ef56",
                "devices": {
                    "scanner": "serial",
                    "camera": "opencv",
                    "printer": "usb",
                    "health": {"scanner": True, "camera": True, "printer": n != 1, "gateway": True},
                },
            }
            body = kmsg.envelope(
                msg_id=f"t-{n}-{h}", seq=0, ts=rfc3339(now - 3600 * (23 - h)), store=store, kiosk=kiosk,
                type_="telemetry", data=beat,
            )  # fmt: skip
            ingest.store_batch([Received(topic + "telemetry", body.encode(), at=now - 3600 * (23 - h))])
    spread(engine, now)
    return shown


def spread(engine, now: float) -> None:
    """The sales spread over the last week's opening hours, busier at lunch and after work (the kiosks here sold
    them all within seconds)."""
    rows = []
    with engine.begin() as conn:
        for n, (store, kiosk, order_no) in enumerate(
            conn.execute(select(orders.c.store, orders.c.kiosk, orders.c.order_no))
        ):
            day = n % 7
            hour = (7, 8, 12, 12, 13, 17, 18, 18, 19, 21)[(n * 7) % 10]
            t = now - day * 86400 - ((now + 8 * 3600) % 86400) + hour * 3600 + (n * 137) % 3600
            rows.append({"s": store, "k": kiosk, "o": order_no, "t": rfc3339(t)})
        conn.execute(
            update(orders)
            .where(
                and_(
                    orders.c.store == bindparam("s"),
                    orders.c.kiosk == bindparam("k"),
                    orders.c.order_no == bindparam("o"),
                )
            )
            .values(paid_at=bindparam("t"), created_at=bindparam("t")),
            rows,
        )
        conn.execute(
            update(payments)
            .where(
                and_(
                    payments.c.store == bindparam("s"),
                    payments.c.kiosk == bindparam("k"),
                    payments.c.order_no == bindparam("o"),
                )
            )
            .values(updated_at=bindparam("t")),
            rows,
        )


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/hq.sqlite")
        upgrade(engine)
        users.add_user(engine, "lin", "operator", PASSWORD)
        order_no = fill(engine, Path(tmp))
        rollup.run(engine, 480, settle_s=0)
        port = free_port()
        server = WebServer(make_app(engine, None, time_zone="Asia/Shanghai"), "127.0.0.1", port)
        server.start()
        assert wait_until(lambda: server.started, 10)
        url = f"http://127.0.0.1:{port}"
        pages = {
            "fleet": "/fleet",
            "kiosk": "/kiosks/s001/k01",
            "orders": "/orders",
            "order": f"/orders/s001/k01/{order_no}",
            "stats": "/stats",
            "reconciliation": "/reconciliation",
            "alerts": "/alerts",
        }
        driver = chromium(1366, 900)
        try:
            log_in(driver, url, "lin", PASSWORD)
            for lang in ("en", "zh_CN"):
                driver.get(f"{url}/lang/{lang}?back=/fleet")
                for name, path in pages.items():
                    driver.get(url + path)
                    wait_for(driver, "main h1")
                    WebDriverWait(driver, 20).until(  # the parts a page loads after it (the statistics' dearest)
                        lambda d: not d.find_elements(By.CSS_SELECTOR, "[hx-trigger='load']")
                    )
                    height = driver.execute_script("return document.body.scrollHeight")
                    driver.set_window_size(1366, min(max(900, height + 40), 1600))
                    path_out = out / f"{name}-{lang}.png"
                    driver.save_screenshot(str(path_out))
                    small = Image.open(path_out).convert("RGB").quantize(colors=64)  # text: 64 colours are plenty
                    small.save(path_out, optimize=True)
                    driver.set_window_size(1366, 900)
                    print(path_out)
        finally:
            driver.quit()
            server.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/console"))
