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
| age_check        | event `age_check_requested` (the items)     | `age_check_approved` / `_declined` /   |
|                  |                                             | `_withdrawn`, `attendant_signed_in`    |
| job_failed       | event `job_failed` (key: pool/job)          | staff close it                         |
| seq_gap          | a seq gap not closed in `gap_wait_s`        | the gap closes                         |
| conflict         | one id with other content                   | staff close it                         |
| recon_difference | event `reconciliation_differences`          | staff close it                         |
| disk_low         | event `disk_low` (free space under the warn | event `disk_ok`                        |
|                  | threshold; at min_free_mb no sales)         |                                        |
| sandbox_gateway  | birth from a kiosk on the sandbox gateway   | staff close it                         |
| update_failed    | event `update` not `installed` (rolled back)| event `update` installed               |
| selftest_failed  | event `selftest` with a failed check        | event `selftest` all passed            |
| cert_rotation_failed | event `certificate_rolled_back`         | staff close it                         |
| link_was_down    | event `link_restored` (down a minute or more| staff close it                         |
|                  | and why: certificate, refused, unreachable) |                                        |
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, select, tuple_, update

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


def close_by_staff(conn: Connection, n: int, user: str, note: str, now: float) -> dict[str, Any] | None:
    """A person closes alert `n` (acknowledged, or a reconciliation difference explained), saying why: the
    closed alert, or None when it was not open."""
    row = conn.execute(select(alerts).where(and_(alerts.c.n == n, alerts.c.open))).first()
    if row is None:
        return None
    conn.execute(
        update(alerts).where(alerts.c.n == n).values(open=False, closed_at=now, closed_by=user, note=note[:500])
    )
    return dict(row._mapping)


AlertKey = tuple[str, str, str, str]  # store, kiosk, kind, key


class Pending:
    """A batch's alert changes, in order, written at its end in one query and two statements (instead of a
    look-up and an insert for every event).  The result is what opening and closing them one by one gives."""

    def __init__(self) -> None:
        self.ops: list[tuple[bool, AlertKey, float, str]] = []

    def open(self, store: str, kiosk: str, kind: str, key: str, now: float, detail: str = "") -> None:  # noqa: A003
        self.ops.append((True, (store, kiosk, kind, key), now, detail[:500]))

    def close(self, store: str, kiosk: str, kind: str, key: str, now: float) -> None:
        self.ops.append((False, (store, kiosk, kind, key), now, ""))

    def write(self, conn: Connection) -> None:
        if not self.ops:
            return
        keys = list({k for _, k, _, _ in self.ops})
        cols = (alerts.c.store, alerts.c.kiosk, alerts.c.kind, alerts.c.key)
        state: dict[AlertKey, tuple[str, int]] = {  # open now: ("db", n) or ("new", index in new)
            (st, k, kind, key): ("db", n)
            for i in range(0, len(keys), 500)
            for n, st, k, kind, key in conn.execute(
                select(alerts.c.n, *cols).where(and_(alerts.c.open, tuple_(*cols).in_(keys[i : i + 500])))
            )
        }
        new: list[dict[str, Any]] = []
        closing: list[dict[str, Any]] = []
        for opening, k, now, detail in self.ops:
            where = state.get(k)
            if opening and where is None:
                new.append(dict(zip(("store", "kiosk", "kind", "key"), k, strict=True)))
                new[-1].update(open=True, opened_at=now, closed_at=None, detail=detail)
                state[k] = ("new", len(new) - 1)
            elif not opening and where is not None:
                if where[0] == "db":
                    closing.append({"alert": where[1], "at": now})
                else:
                    new[where[1]].update(open=False, closed_at=now)
                del state[k]
        if new:
            conn.execute(insert(alerts), new)
        if closing:
            conn.execute(
                update(alerts).where(alerts.c.n == bindparam("alert")).values(open=False, closed_at=bindparam("at")),
                closing,
            )
        self.ops.clear()


def on_status(sink: Pending, store: str, kiosk: str, state: str, reason: str, now: float) -> None:
    if state == "lost":
        sink.open(store, kiosk, "kiosk_lost", "", now, "the broker says the kiosk went away without a word")
    elif state == "locked":
        sink.open(store, kiosk, "kiosk_locked", "", now, reason)
    elif state == "online":
        sink.close(store, kiosk, "kiosk_lost", "", now)
        sink.close(store, kiosk, "kiosk_locked", "", now)


def on_event(sink: Pending, store: str, kiosk: str, data: dict[str, Any], now: float) -> None:
    kind = data["kind"]
    message = str(data.get("message", ""))
    if kind == "printer_paper_out":
        sink.open(store, kiosk, "paper_out", "", now, message)
    elif kind == "printer_paper_near_end":
        sink.open(store, kiosk, "paper_low", "", now)
    elif kind.endswith("_lost") and kind.removesuffix("_lost") in DEVICE_EVENTS:
        sink.open(store, kiosk, "device_lost", kind.removesuffix("_lost"), now, message)
    elif kind.endswith("_back") and kind.removesuffix("_back") in DEVICE_EVENTS:
        device = kind.removesuffix("_back")
        sink.close(store, kiosk, "device_lost", device, now)
        if device == "printer":
            sink.close(store, kiosk, "paper_out", "", now)
            sink.close(store, kiosk, "paper_low", "", now)
    elif kind == "help_pressed":
        sink.open(store, kiosk, "help", "", now, str(data.get("screen", "")))
    elif kind == "attendant_signed_in":
        sink.close(store, kiosk, "help", "", now)
        sink.close(store, kiosk, "age_check", "", now)
    elif kind == "age_check_requested":
        sink.open(store, kiosk, "age_check", "", now, ", ".join(str(s) for s in data.get("skus", []))[:200])
    elif kind in ("age_check_approved", "age_check_declined", "age_check_withdrawn"):
        sink.close(store, kiosk, "age_check", "", now)
    elif kind == "out_of_service":
        sink.open(store, kiosk, "kiosk_locked", "", now, message)
    elif kind == "back_in_service":
        sink.close(store, kiosk, "kiosk_locked", "", now)
    elif kind == "job_failed":
        sink.open(store, kiosk, "job_failed", f"{data.get('pool')}/{data.get('job')}", now, str(data.get("error")))
    elif kind == "reconciliation_differences":
        sink.open(store, kiosk, "recon_difference", str(data.get("date", "")), now, message)
    elif kind == "disk_low":
        sink.open(store, kiosk, "disk_low", "", now, f"{data.get('free_mb')} MB free")
    elif kind == "disk_ok":
        sink.close(store, kiosk, "disk_low", "", now)
    elif kind == "recovery_failed":
        sink.open(store, kiosk, "recovery_failed", "", now, message)
    elif kind == "catalog_refused":
        sink.open(store, kiosk, "catalog_refused", "", now, f"version {data.get('version')}: {data.get('reason')}")
    elif kind == "catalog_switched":
        sink.close(store, kiosk, "catalog_refused", "", now)
    elif kind == "update":  # the root updater's outcome (kiosk/services/updates.py)
        if data.get("outcome") == "installed":
            sink.close(store, kiosk, "update_failed", "", now)
        else:
            sink.open(store, kiosk, "update_failed", "", now, f"{data.get('version')}: {data.get('reason')}"[:300])
    elif kind == "selftest":
        checks = data.get("checks") if isinstance(data.get("checks"), dict) else {}
        failed = sorted(name for name, c in checks.items() if isinstance(c, dict) and not c.get("ok"))
        if failed:
            sink.open(store, kiosk, "selftest_failed", "", now, ", ".join(failed)[:300])
        else:
            sink.close(store, kiosk, "selftest_failed", "", now)
    elif kind == "link_restored":  # the kiosk could not reach head office (a bad certificate, a refusing broker)
        minutes = round(float(data.get("down_s") or 0) / 60)
        sink.open(store, kiosk, "link_was_down", str(data.get("down_s")), now,
                  f"{minutes} min without head office: {data.get('reason')}"[:300])  # fmt: skip
    elif kind == "certificate_rolled_back":
        sink.open(store, kiosk, "cert_rotation_failed", "", now, str(data.get("reason", ""))[:300])


FROZEN_AFTER_S = 30.0  # a kiosk whose screen has drawn nothing for this long is frozen (systemd restarts it)


CERT_WARN_DAYS = 30  # a kiosk's MQTT certificate this close to expiry is alerted: renew it before the broker refuses


def on_telemetry(sink: Pending, store: str, kiosk: str, data: dict[str, Any], now: float) -> None:
    days = data.get("cert_days_left")
    if isinstance(days, int) and days < CERT_WARN_DAYS:
        when = "has expired" if days < 0 else f"expires in {days} day{'' if days == 1 else 's'}"
        sink.open(store, kiosk, "cert_expiring", "", now, f"the MQTT certificate {when}")
    elif days is not None:
        sink.close(store, kiosk, "cert_expiring", "", now)
    age = data.get("frame_age_s")
    if isinstance(age, int | float) and age > FROZEN_AFTER_S:
        sink.open(store, kiosk, "screen_frozen", "", now, f"no frame for {age:.0f} s")
    elif age is not None:
        sink.close(store, kiosk, "screen_frozen", "", now)


def open_alerts(conn: Connection, store: str | None = None, kiosk: str | None = None) -> list[dict[str, Any]]:
    q = select(alerts).where(alerts.c.open)
    if store:
        q = q.where(alerts.c.store == store)
    if kiosk:
        q = q.where(alerts.c.kiosk == kiosk)
    return [dict(r._mapping) for r in conn.execute(q.order_by(alerts.c.n))]
