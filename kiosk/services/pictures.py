"""Product pictures on the kiosk: fetched from head office, checked, kept in `data_dir/pictures/<sha256>`, and
dropped when no catalog names them any more.

Head office's catalog names each product's picture by SHA-256 (and size); the catalog's signed manifest covers
that, so a picture downloaded from `GET {mqtt.hq_url}/api/v1/pictures/{sha256}` is kept only when its bytes hash
to the name (a wrong, cut or swapped picture is thrown away and tried again at the next fetch).  Fetching runs on
its own worker after a catalog is loaded and at start (a kiosk stopped mid-way finishes), stops while the disk is
short of room, and never holds up a sale: a product whose picture is not here yet is shown without one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from pathlib import Path

from kiosk.services.hq_http import HqHttp, HqUnreachable
from kiosk.services.jobs import Worker
from kiosk.store import Store

log = logging.getLogger(__name__)

MAX_PICTURE = 256 * 1024  # bytes; head office makes them ~10-40 KB (240x240 JPEG or PNG)
SHA256 = re.compile(r"[0-9a-f]{64}")
PATH = "/api/v1/pictures/"


class ProductPictures:
    def __init__(self, store: Store, folder: Path, http: HqHttp, worker: Worker, min_free_bytes: int) -> None:
        self.store, self.folder, self.http, self.worker = store, folder, http, worker
        self.min_free_bytes = min_free_bytes
        self._said_no_address = False

    def path(self, sha256: str) -> Path:
        return self.folder / sha256

    def fetch_soon(self) -> None:
        self.worker.submit("pictures", "fetch", self.fetch_missing)

    def prune_soon(self) -> None:
        """After a catalog switch; on the same worker as fetching, so a download is never cut by it."""
        self.worker.submit("pictures", "prune", self.prune)

    def fetch_missing(self) -> tuple[int, int]:
        """Download every wanted picture not here yet: (fetched, failed).  Failures are logged and tried again
        at the next fetch."""
        wanted = sorted(sha for sha in self.store.pictures_wanted() if not self.path(sha).exists())
        if not wanted:
            return 0, 0
        if not self.http.base_url:
            if not self._said_no_address:
                log.warning("%d product pictures not fetched: no head-office address (mqtt.hq_url)", len(wanted))
                self._said_no_address = True
            return 0, len(wanted)
        self.folder.mkdir(mode=0o700, exist_ok=True)
        fetched, failed = 0, 0
        for n, sha in enumerate(wanted):
            if shutil.disk_usage(self.folder).free < self.min_free_bytes:
                log.warning("product pictures: the disk is short of room; %d not fetched", len(wanted) - n)
                return fetched, failed + len(wanted) - n
            try:
                self._fetch(sha)
                fetched += 1
            except (HqUnreachable, OSError, ValueError) as exc:
                failed += 1
                if failed <= 3:
                    log.warning("product picture %s… not fetched: %s", sha[:12], exc)
        log.info("product pictures: %d fetched, %d not (tried again at the next catalog or start)", fetched, failed)
        return fetched, failed

    def _fetch(self, sha: str) -> None:
        data = self.http.download(self.http.base_url + PATH + sha, MAX_PICTURE, timeout=20.0, retries=())
        if hashlib.sha256(data).hexdigest() != sha:
            raise ValueError("its bytes do not hash to the name the signed catalog gives: thrown away")
        tmp = self.folder / f".{sha}.part"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path(sha))

    def prune(self) -> int:
        """Delete the pictures no loaded catalog names (and downloads cut short); how many went."""
        if not self.folder.is_dir():
            return 0
        keep = self.store.pictures_wanted()
        gone = 0
        for f in self.folder.iterdir():
            if f.name not in keep:
                f.unlink(missing_ok=True)
                gone += 1
        return gone
