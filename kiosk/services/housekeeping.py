"""Housekeeping: keep the kiosk's disk bounded however long it runs, without ever holding up a sale.

Every `interval_s` (and shortly after start) on its own thread:
- acknowledged outbox rows older than `mqtt.outbox_retention_days` leave the database, a few hundred per
  transaction (the MQTT link also prunes at each connect, but a kiosk may stay connected for months);
- wallet-code digests older than a day are cleared (a code is refused again for a day; wallets' codes expire
  within minutes);
- the simulator's receipt pictures and spooled jobs (data/receipts) older than `kiosk.preview_retention_days`
  are deleted;
- free database pages go back to the file system, a few at a time (databases this version makes have
  auto_vacuum=INCREMENTAL; older ones reuse their free pages instead);
- free space below `kiosk.disk_warn_mb` is reported to head office once (`disk_low`), and its return
  (`disk_ok`); below `kiosk.min_free_mb` the kiosk is out of service (the recovery loop's check).
An error is logged and the next round tries again: housekeeping never stops the kiosk.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
import time
from pathlib import Path

from kiosk.store import Store

log = logging.getLogger(__name__)
INTERVAL_S = 600.0
FIRST_AFTER_S = 30.0  # the first round, once the kiosk is up (not in the way of its start)


class Housekeeping:
    def __init__(
        self,
        store: Store,
        previews_dir: Path,
        *,
        outbox_retention_s: float,
        preview_retention_s: float,
        warn_free_bytes: int,
        interval_s: float = INTERVAL_S,
    ) -> None:
        self.store = store
        self.previews_dir = previews_dir
        self.outbox_retention_s = outbox_retention_s
        self.preview_retention_s = preview_retention_s
        self.warn_free_bytes = warn_free_bytes
        self.interval_s = interval_s
        self.disk_low: bool | None = None  # None: not looked yet
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="housekeeping", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        wait = min(FIRST_AFTER_S, self.interval_s)
        while not self._stop.wait(wait):
            try:
                self.once()
            except Exception:  # the next round tries again
                log.exception("housekeeping round failed")
            wait = self.interval_s

    def once(self) -> dict[str, int]:
        """One round; returns what it did (rows pruned, files deleted, pages still free, MB free)."""
        done = {"outbox_pruned": 0, "codes_forgotten": 0, "previews_deleted": 0, "free_pages": 0}
        try:
            done["outbox_pruned"] = self.store.prune_outbox(self.outbox_retention_s)
            done["codes_forgotten"] = self.store.forget_old_codes()
            done["free_pages"] = self.store.reclaim_space()
        except sqlite3.Error as exc:  # a full or failing disk: the recovery loop takes the kiosk out of service
            log.warning("housekeeping: the database was not tidied (%s)", exc)
        done["previews_deleted"] = self._prune_previews()
        done["free_mb"] = self._check_disk()
        if done["outbox_pruned"] or done["previews_deleted"]:
            log.info("housekeeping: %s", done)
        return done

    def _prune_previews(self) -> int:
        if not self.previews_dir.is_dir():
            return 0
        cutoff, gone = time.time() - self.preview_retention_s, 0
        for path in self.previews_dir.iterdir():
            try:
                if path.is_file() and path.suffix in (".png", ".escpos") and path.stat().st_mtime < cutoff:
                    path.unlink()
                    gone += 1
            except OSError as exc:  # gone already, or not ours to delete: leave it
                log.debug("housekeeping: %s: %s", path, exc)
        return gone

    def _check_disk(self) -> int:
        free = shutil.disk_usage(self.store.path.parent).free
        low = free < self.warn_free_bytes
        if low != self.disk_low:
            if low or self.disk_low is not None:  # low at start, or a change: head office hears of it
                try:
                    kind = "disk_low" if low else "disk_ok"
                    self.store.add_event(kind, free_mb=free // 2**20, warn_mb=self.warn_free_bytes // 2**20)
                except sqlite3.Error as exc:
                    log.warning("housekeeping: disk %s not recorded (%s)", "low" if low else "ok", exc)
                    return free // 2**20  # said next round
            self.disk_low = low
        return free // 2**20
