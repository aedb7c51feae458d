"""Alerts: one table of what needs a person, opened and closed by the kiosks' own messages.

An alert is (store, kiosk, kind, key) and is open or closed; opening one that
is open changes nothing, closing one that is closed changes nothing.  The rules:

| kind             | opened by                                   | closed by                              |
|------------------|---------------------------------------------|----------------------------------------|
| kiosk_lost       | status `lost` (the broker's will)           | status `online`                        |
| kiosk_locked     | status `locked`; event `out_of_service`     | status `online`; `back_in_service`     |
| kiosk_silent     | no message for `silent_heartbeats` periods  | any message from the kiosk             |
| paper_out        | event `printer_paper_out`                   | event `printer_back`, a receipt printed|
| paper_low        | event `printer_paper_near_end`              | event `printer_back`                   |
| device_lost      | events `scanner_lost`, `camera_lost`, ...   | the matching `*_back` (key: device)    |
| help             | event `help_pressed`                        | event `attendant_signed_in`            |
| job_failed       | event `job_failed` (key: pool/job)          | staff close it                         |
| seq_gap          | a seq gap not closed in `gap_wait_s`        | the gap closes                         |
| conflict         | one id with other content                   | staff close it                         |
| recon_difference | event `reconciliation_differences`          | staff close it                         |
| sandbox_gateway  | birth from a kiosk on the sandbox gateway   | staff close it                         |
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from headoffice.db import alerts

DEVICE_EVENTS = ("scanner", "camera", "printer", "gateway")


def _key(store: str, kiosk: str, kind: str, key: str):
    return and_(
        alerts.c.store == store, alerts.c.kiosk == kiosk, alerts.c.kind == kind, alerts.c.key == key, alerts.c.open
    )


def open(conn: Connection, store: str, kiosk: str, kind: str, key: str, now: float, detail: str = "") -> None:  # noqa: A001
    if conn.execute(select(alerts.c.n).where(_key(store, kiosk, kind, key))).first() is None:
        conn.execute(
            insert(alerts).values(
                store=store, kiosk=kiosk, kind=kind, key=key, open=True, opened_at=now, detail=detail[:500]
            )
        )


def close(conn: Connection, store: str, kiosk: str, kind: str, key: str, now: float) -> None:
    conn.execute(update(alerts).where(_key(store, kiosk, kind, key)).values(open=False, closed_at=now))


def on_status(conn: Connection, store: str, kiosk: str, state: str, reason: str, now: float) -> None:
    if state == "lost":
        open(conn, store, kiosk, "kiosk_lost", "", now, "the broker says the kiosk went away without a word")
    elif state == "locked":
        open(conn, store, kiosk, "kiosk_locked", "", now, reason)
    elif state == "online":
        close(conn, store, kiosk, "kiosk_lost", "", now)
        close(conn, store, kiosk, "kiosk_locked", "", now)


def on_event(conn: Connection, store: str, kiosk: str, data: dict[str, Any], now: float) -> None:
    kind = data["kind"]
    message = str(data.get("message", ""))
    if kind == "printer_paper_out":
        open(conn, store, kiosk, "paper_out", "", now, message)
    elif kind == "printer_paper_near_end":
        open(conn, store, kiosk, "paper_low", "", now)
    elif kind.endswith("_lost") and kind.removesuffix("_lost") in DEVICE_EVENTS:
        open(conn, store, kiosk, "device_lost", kind.removesuffix("_lost"), now, message)
    elif kind.endswith("_back") and kind.removesuffix("_back") in DEVICE_EVENTS:
        device = kind.removesuffix("_back")
        close(conn, store, kiosk, "device_lost", device, now)
        if device == "printer":
            close(conn, store, kiosk, "paper_out", "", now)
            close(conn, store, kiosk, "paper_low", "", now)
    elif kind == "help_pressed":
        open(conn, store, kiosk, "help", "", now, str(data.get("screen", "")))
    elif kind == "attendant_signed_in":
        close(conn, store, kiosk, "help", "", now)
    elif kind == "out_of_service":
        open(conn, store, kiosk, "kiosk_locked", "", now, message)
    elif kind == "back_in_service":
        close(conn, store, kiosk, "kiosk_locked", "", now)
    elif kind == "job_failed":
        open(conn, store, kiosk, "job_failed", f"{data.get('pool')}/{data.get('job')}", now, str(data.get("error")))
    elif kind == "reconciliation_differences":
        open(conn, store, kiosk, "recon_difference", str(data.get("date", "")), now, message)
    elif kind == "recovery_failed":
        open(conn, store, kiosk, "recovery_failed", "", now, message)


def open_alerts(conn: Connection, store: str | None = None, kiosk: str | None = None) -> list[dict[str, Any]]:
    q = select(alerts).where(alerts.c.open)
    if store:
        q = q.where(alerts.c.store == store)
    if kiosk:
        q = q.where(alerts.c.kiosk == kiosk)
    return [dict(r._mapping) for r in conn.execute(q.order_by(alerts.c.n))]
