"""Head office's commands: what each one does at the kiosk, and what it answers.

Called on the MQTT thread once the link has checked the command's signature,
age and id (`kiosk.telemetry`); the answer goes to `cmd-result`.  Long work
(a refund, a reconciliation) runs on the back-office worker; a reconciliation
answers on `cmd-result` itself when it is done.

ping; refund {order_no, amount?, reason?}; reconcile {date?}; resend {from_seq}
(every unacknowledged message from that seq goes again); reprint {order_no};
lock {reason?} / unlock (no sales, red light, the out-of-service screen; kept
across restarts); report {date?} (the Z report's figures); config {key: value}
for the keys in SETTINGS (kept, applied to the next shopper, reported in birth);
catalog {manifest, signature, bundle} (kiosk.services.catalog_updates); selftest (the running kiosk checks itself
without taking its devices from the screen: each device's health, the database's integrity, free space, the clock,
the MQTT certificate; answered on cmd-result when done); rotate-cert (without data: a new key and its signing
request; with {certificate}: the new certificate put in place, kiosk.services.certificates); update {manifest,
signature, url} (a release fetched and checked, installed between shoppers: kiosk.services.updates); logs
{since?, lines?} (an excerpt of the kiosk's log: kiosk.services.logs).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from kiosk.i18n import LANGUAGES
from kiosk.payments import Gateway
from kiosk.reconcile import finish, parse_day, run
from kiosk.services import logs
from kiosk.services.events import Event, LockChanged, SettingsChanged
from kiosk.services.jobs import Worker
from kiosk.services.printing import PrintService
from kiosk.services.refunds import RefundService
from kiosk.store import Store

log = logging.getLogger(__name__)


# what head office may change with `config`: key -> (check, what it must be)
SETTINGS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "idle_timeout_s": (
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 10 <= v <= 3600,
        "a number of seconds from 10 to 3600",
    ),
    "default_language": (lambda v: v in LANGUAGES, f"one of {', '.join(LANGUAGES)}"),
    "receipt_footer": (lambda v: isinstance(v, str) and len(v) <= 200 and v.isprintable(), "printable, 200 at most"),
}


class HeadOfficeCommands:
    def __init__(
        self,
        store: Store,
        gateway: Gateway,
        refunds: RefundService,
        printing: PrintService,
        worker: Worker,
        *,
        data_dir: Path,
        language: str,
        post: Callable[[Event], None] = lambda e: None,
        catalog: Callable[[dict[str, Any], str], dict[str, Any] | None] | None = None,
        selftest: Callable[[], dict[str, Any]] | None = None,
        rotate_cert: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        update: Callable[[dict[str, Any], str], dict[str, Any] | None] | None = None,
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.refunds = refunds
        self.printing = printing
        self.worker = worker
        self.data_dir = data_dir
        self.language = language
        self.post = post
        self.catalog = catalog
        self.selftest = selftest
        self.rotate_cert = rotate_cert
        self.update = update

    def restore(self) -> None:
        """At start: head office's lock and settings, as they were (they survive restarts)."""
        lock = self.store.setting("hq_lock")
        if lock:
            self.post(LockChanged(lock))
        settings = self.settings()
        if settings:
            self._apply(settings)

    def settings(self) -> dict[str, Any]:
        """The settings head office changed (reported in birth)."""
        raw = self.store.setting("settings")
        return json.loads(raw) if raw else {}

    def _apply(self, settings: dict[str, Any]) -> None:
        if "receipt_footer" in settings:
            self.printing.settings = dataclasses.replace(self.printing.settings, footer=settings["receipt_footer"])
        self.post(SettingsChanged(dict(settings)))

    def handle(self, name: str, body: dict[str, Any], command_id: str) -> dict[str, Any] | None:
        """`body` is the envelope's `data`.  None: the job writes the answer when it is done."""
        if name == "ping":
            return {"ok": True}
        if name == "refund":
            return self.refunds.from_head_office(body, command_id)
        if name == "resend":
            from_seq = body.get("from_seq")
            if not isinstance(from_seq, int) or isinstance(from_seq, bool) or from_seq < 1:
                return {"ok": False, "error": "'from_seq' must be a whole number from 1"}
            return {"ok": True, "from_seq": from_seq, "messages": self.store.resend_from(from_seq)}
        if name == "reprint":
            order_no = body.get("order_no")
            if not isinstance(order_no, str) or self.store.find_order(order_no) is None:
                return {"ok": False, "error": f"no order {order_no!r} at this kiosk"}
            if self.printing.printer.kind == "none":
                return {"ok": False, "error": "this kiosk has no printer"}
            self.printing.reprint(order_no)
            return {"ok": True, "order_no": order_no, "queued": True}
        if name == "lock":
            reason = body.get("reason", "")
            if not isinstance(reason, str) or len(reason) > 200:
                return {"ok": False, "error": "'reason' must be a string of 200 characters at most"}
            self.store.set_setting("hq_lock", reason or "locked")
            self.post(LockChanged(reason or "locked"))
            return {"ok": True, "locked": True}
        if name == "unlock":
            self.store.set_setting("hq_lock", "")
            self.post(LockChanged(None))
            return {"ok": True, "locked": False}
        if name == "report":
            day = body.get("date", date.today().isoformat())
            if parse_day(day) is None:
                return {"ok": False, "error": "'date' must be a real date, YYYY-MM-DD"}
            return {"ok": True, **self.store.day_summary(day)}
        if name == "config":
            return self._config(body)
        if name == "catalog" and self.catalog is not None:
            return self.catalog(body, command_id)  # answered on cmd-result once checked and loaded
        if name == "selftest" and self.selftest is not None:
            self.worker.submit("selftest", command_id, self._selftest_job, command_id)
            return None  # answered on cmd-result when every check has run
        if name == "rotate-cert" and self.rotate_cert is not None:
            return self.rotate_cert(body)
        if name == "logs":
            return logs.excerpt(body)
        if name == "update" and self.update is not None:
            return self.update(body, command_id)  # answered on cmd-result once fetched and checked
        if name == "reconcile":
            day = body.get("date", (date.today() - timedelta(days=1)).isoformat())
            if parse_day(day) is None:
                return {"ok": False, "error": "'date' must be a real date, YYYY-MM-DD"}
            self.worker.submit("reconcile", day, self._reconcile_job, day, command_id)
            return None  # answered on cmd-result when the statement has been compared
        return {"ok": False, "error": f"unknown command {name!r}"}

    def _config(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body:
            return {"ok": False, "error": f"nothing to change; allowed: {', '.join(SETTINGS)}"}
        for key, value in body.items():
            if key not in SETTINGS:
                return {"ok": False, "error": f"{key!r} cannot be changed remotely; allowed: {', '.join(SETTINGS)}"}
            check, what = SETTINGS[key]
            if not check(value):
                return {"ok": False, "error": f"{key}: must be {what}"}
        settings = {**self.settings(), **body}
        self.store.set_setting("settings", json.dumps(settings, ensure_ascii=False, sort_keys=True))
        self._apply(settings)
        return {"ok": True, "settings": settings}

    def _selftest_job(self, command_id: str) -> None:
        assert self.selftest is not None
        checks = self.selftest()  # carried out (ok) whatever it found: `passed` says whether everything did
        passed = all(c["ok"] for c in checks.values())
        self.store.add_command_result(command_id, "selftest", {"ok": True, "passed": passed, "checks": checks})

    def _reconcile_job(self, day: str, command_id: str) -> None:
        """On the back-office worker: head office hears even of a reconciliation that failed unexpectedly (and
        the worker reports the failure)."""
        try:
            self.reconcile(day, command_id)
        except Exception as exc:
            with contextlib.suppress(Exception):  # the store may be what failed
                error = f"cannot reconcile {day}: {type(exc).__name__}: {exc}"[:300]
                self.store.add_command_result(command_id, "reconcile", {"ok": False, "error": error})
            raise

    def reconcile(self, day: str, command_id: str | None = None) -> dict[str, Any]:
        """Compare the day's journal with the gateway's statement, print the summary, answer head office."""
        try:
            report = run(self.store, self.gateway, day)
        except (OSError, ValueError) as exc:
            result: dict[str, Any] = {"ok": False, "error": f"cannot reconcile {day}: {exc}"}
        else:
            path = finish(report, self.store, self.data_dir)
            self.printing.reconciliation(report.as_dict(), day, self.language)
            result = {
                "ok": True,
                "date": day,
                "clean": report.clean,
                "differences": len(report.differences),
                "report": str(path),
            }
        if command_id is not None:
            self.store.add_command_result(command_id, "reconcile", result)
        return result
