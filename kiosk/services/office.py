"""Head office's commands: what each one does at the kiosk, and what it answers.

Called on the MQTT thread once the link has checked the command's signature,
age and id (`kiosk.telemetry`); the answer goes to `cmd-result`.  Long work
(a refund, a reconciliation) runs on the back-office worker; a reconciliation
answers on `cmd-result` itself when it is done.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from kiosk.payments import Gateway
from kiosk.reconcile import finish, parse_day, run
from kiosk.services.jobs import Worker
from kiosk.services.printing import PrintService
from kiosk.services.refunds import RefundService
from kiosk.store import Store

log = logging.getLogger(__name__)


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
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.refunds = refunds
        self.printing = printing
        self.worker = worker
        self.data_dir = data_dir
        self.language = language

    def handle(self, name: str, body: dict[str, Any], command_id: str) -> dict[str, Any] | None:
        """`body` is the envelope's `data`.  None: the job writes the answer when it is done."""
        if name == "ping":
            return {"ok": True}
        if name == "refund":
            return self.refunds.from_head_office(body, command_id)
        if name == "reconcile":
            day = body.get("date", (date.today() - timedelta(days=1)).isoformat())
            if parse_day(day) is None:
                return {"ok": False, "error": "'date' must be a real date, YYYY-MM-DD"}
            self.worker.submit("reconcile", day, self._reconcile_job, day, command_id)
            return None  # answered on cmd-result when the statement has been compared
        return {"ok": False, "error": f"unknown command {name!r}"}

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
