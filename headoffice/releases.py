"""Firmware releases for the kiosks: a bundle made by `python -m provisioning.release build` (signed with head
office's command key) is kept in `commands.releases_dir` and sent to kiosks as `cmd/update {manifest, signature,
url}`; the kiosk (kiosk/services/updates.py) downloads it from `GET /api/v1/releases/{version}/{token}`, whose
token is an HMAC of the version under head office's download secret (only a kiosk told by a signed command knows the
address; the bytes are checked against the signed manifest anyway).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from headoffice.db import hq_secret

VERSION = re.compile(r"^[A-Za-z0-9._+-]{1,64}$")


class ReleaseError(ValueError):
    pass


def token(engine: Engine, version: str) -> str:
    key = hq_secret(engine, "download_secret").encode()
    return hmac.new(key, f"release:{version}".encode(), hashlib.sha256).hexdigest()[:32]


def publish(engine: Engine, releases_dir: str, bundle: Path, sidecar: Path, base_url: str) -> dict[str, Any]:
    """Keep the bundle where the HTTP API serves it; the `cmd/update` data for it."""
    try:
        doc = json.loads(sidecar.read_text())
        manifest, signature = doc["manifest"], doc["signature"]
        version = manifest["version"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReleaseError(f"{sidecar}: not a release's signed manifest ({exc})") from None
    if not isinstance(version, str) or not VERSION.match(version):
        raise ReleaseError(f"{sidecar}: the version is not a release name")
    data = bundle.read_bytes()
    if len(data) != manifest.get("size") or hashlib.sha256(data).hexdigest() != manifest.get("sha256"):
        raise ReleaseError(f"{bundle}: not the bundle its manifest names")
    folder = Path(releases_dir)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(bundle, folder / f"kiosk-{version}.tar.gz")
    url = f"{base_url.rstrip('/')}/api/v1/releases/{version}/{token(engine, version)}"
    return {"manifest": manifest, "signature": signature, "url": url}


def path(engine: Engine, releases_dir: str, version: str, given: str) -> Path | None:
    """The bundle of `version` when `given` is its token."""
    if not VERSION.match(version) or not hmac.compare_digest(given, token(engine, version)):
        return None
    found = Path(releases_dir) / f"kiosk-{version}.tar.gz"
    return found if found.is_file() else None
