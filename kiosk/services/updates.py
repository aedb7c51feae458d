"""Head office's `update`: a new firmware release, fetched and checked by the kiosk, installed between shoppers by
the root updater (provisioning/update.py), kept only if the kiosk comes up on it.

`cmd/update {manifest: {version, sha256, size}, signature, url}`: on the back-office worker the manifest's
signature is checked against head office's command key (as commands are), the bundle downloaded from `url` (head
office's HTTP API) and checked against the manifest's size and sha256, and both are kept in
`data_dir/update/`; the answer on `cmd-result` says so.  The controller then writes `update/request.json` at the
first moment no shopper is using the kiosk: systemd's `kiosk-update.path` sees it and runs the root updater, which
checks everything again, installs, switches and restarts the kiosk, or goes back.  Its outcome
(`update/result.json`) is reported to head office as an `events` message `update` at the next start.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk.services.events import Event, UpdateStaged
from kiosk.services.jobs import Worker
from kiosk.signing import canonical
from kiosk.store import Store

log = logging.getLogger(__name__)
VERSION = re.compile(r"^[A-Za-z0-9._+-]{1,64}$")
MAX_BUNDLE = 512 * 2**20


class UpdateRefused(Exception):
    pass


class FirmwareUpdates:
    def __init__(self, store: Store, worker: Worker, key: Ed25519PublicKey | None, data_dir: Path, running: str,
                 fetch: Callable[[str, int], bytes], post: Callable[[Event], None]) -> None:  # fmt: skip
        self.store = store
        self.worker = worker
        self.key = key
        self.dir = data_dir / "update"
        self.running = running
        self.fetch = fetch
        self.post = post

    def receive(self, body: dict[str, Any], command_id: str) -> dict[str, Any] | None:
        self.worker.submit("update", command_id, self._fetch, body, command_id)
        return None  # answered on cmd-result once fetched and checked

    def _fetch(self, body: dict[str, Any], command_id: str) -> None:
        try:
            manifest, signature = self._checked(body)
            version = manifest["version"]
            if version == self.running:
                self.store.add_command_result(command_id, "update", {"ok": True, "version": version, "already": True})
                return
            url = body.get("url")
            if not isinstance(url, str):
                raise UpdateRefused("'url' must be head office's address of the bundle")
            data = self.fetch(url, manifest["size"])
            if len(data) != manifest["size"] or hashlib.sha256(data).hexdigest() != manifest["sha256"]:
                raise UpdateRefused("the download is not the bundle the manifest names")
        except (UpdateRefused, OSError) as exc:
            log.warning("update refused: %s", exc)
            self.store.add_command_result(command_id, "update", {"ok": False, "error": str(exc)[:300]})
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        bundle, sidecar = self.dir / f"kiosk-{version}.tar.gz", self.dir / f"kiosk-{version}.json"
        bundle.write_bytes(data)
        sidecar.write_text(json.dumps({"manifest": manifest, "signature": signature}))
        log.info("release %s fetched and checked: installed between shoppers", version)
        self.store.add_command_result(command_id, "update", {"ok": True, "version": version, "staged": True})
        self.post(UpdateStaged(version, bundle.name, sidecar.name))

    def _checked(self, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
        if self.key is None:
            raise UpdateRefused("this kiosk has no head-office key (mqtt.hq_public_key_file): it takes no release")
        manifest, signature = body.get("manifest"), body.get("signature")
        if not isinstance(manifest, dict) or not isinstance(signature, str):
            raise UpdateRefused("'manifest' and 'signature' are needed")
        try:
            self.key.verify(base64.b64decode(signature, validate=True), canonical(manifest))
        except (InvalidSignature, binascii.Error, ValueError):
            raise UpdateRefused("the manifest is not signed by head office") from None
        size, sha = manifest.get("size"), manifest.get("sha256")
        if not isinstance(manifest.get("version"), str) or not VERSION.match(manifest["version"]):
            raise UpdateRefused("the manifest's version is not a release name")
        if not isinstance(size, int) or not 0 < size <= MAX_BUNDLE or not isinstance(sha, str):
            raise UpdateRefused("the manifest's size or sha256 is malformed")
        return manifest, signature

    def request(self, staged: UpdateStaged) -> None:
        """Between shoppers: ask the root updater (kiosk-update.path) to install the staged release."""
        tmp = self.dir / "request.json.tmp"
        tmp.write_text(json.dumps({"version": staged.version, "bundle": staged.bundle, "sidecar": staged.sidecar}))
        tmp.replace(self.dir / "request.json")
        log.info("installing release %s now: the kiosk restarts on it", staged.version)

    def report(self) -> None:
        """At start: the root updater's outcome, once, to head office."""
        result = self.dir / "result.json"
        try:
            outcome = json.loads(result.read_text())
        except (OSError, ValueError):
            return
        self.store.add_event("update", **{k: outcome.get(k) for k in ("version", "previous", "outcome", "reason")})
        result.replace(self.dir / "result.reported.json")
