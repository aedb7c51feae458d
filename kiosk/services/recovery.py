"""The recovery loop: on start and then periodically, drive every open payment and refund that no live job owns
to a final state, and find out whether the kiosk can record sales (the disk) and reach its gateway.

Runs on its own thread.  Nothing ends it but `stop()`: an unexpected error is
logged, reported to head office once per kind of error (`recovery_failed`),
and the next round tries again.  `probe()` wakes it early (a payment's answer
suggested the gateway is down).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from kiosk import CLOCK_FLOOR
from kiosk.payments.driver import PaymentDriver
from kiosk.services.events import DeviceStatus, Event, ServiceState
from kiosk.store import Store

log = logging.getLogger(__name__)


def clock_problem(now: float) -> str | None:
    """Why the wall clock cannot be trusted for a sale (it is before this firmware existed), or None."""
    if now >= CLOCK_FLOOR:
        return None
    shown = time.strftime("%Y-%m-%d %H:%M", time.gmtime(max(0.0, now)))
    return f"the clock says {shown} UTC: not set yet (no network time, no battery clock); waiting for time sync"


class RecoveryLoop:
    def __init__(
        self,
        store: Store,
        driver: PaymentDriver,
        gateway_name: str,
        post: Callable[[Event], None],
        *,
        interval_s: float,
        min_free_bytes: int,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.wall = wall  # the wall clock, checked to be set before any sale
        self.store = store
        self.driver = driver
        self.gateway_name = gateway_name
        self.post = post
        self.interval_s = interval_s
        self.min_free_bytes = min_free_bytes
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="recovery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def probe(self) -> None:
        """Check the gateway (and everything open) now."""
        self._wake.set()

    def _run(self) -> None:
        reported: set[str] = set()
        while not self._stop.is_set():
            try:
                wait = self.once()
            except Exception as exc:
                log.exception("recovery round failed; trying again in %.0f s", self.interval_s)
                kind = f"{type(exc).__name__}: {exc}"[:200]
                if kind not in reported:
                    reported.add(kind)
                    with contextlib.suppress(Exception):  # the store itself may be what fails
                        self.store.add_event("recovery_failed", message=kind)
                wait = min(self.interval_s, 30.0)
            self._wake.wait(wait)
            self._wake.clear()

    def once(self) -> float:
        """One round of recovery; returns how long to wait before the next."""
        observed_at = time.monotonic()
        problem = clock_problem(self.wall()) or self.store.storage_problem(self.min_free_bytes)
        self.post(ServiceState(problem, observed_at))
        if problem:  # nothing can be recorded: look again soon
            return min(5.0, self.interval_s)
        reachable = self.driver.reachable()
        said = "answers" if reachable else "does not answer"
        self.post(DeviceStatus("gateway", reachable, f"{self.gateway_name} {said}"))
        if not reachable:  # nothing to recover through a gateway that cannot be reached; ask again soon
            return min(5.0, self.interval_s)
        for result in self.driver.recover_all():
            # a recovered order is reported; its receipt is printed when an attendant asks for it
            log.info("recovered %s -> %s", result.out_trade_no, result.outcome.value)
        for refund in self.driver.recover_refunds():
            log.info("recovered refund %s -> %s", refund["out_request_no"], refund["state"])
        return self.interval_s
