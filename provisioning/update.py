"""`python -m provisioning.update apply BUNDLE SIDECAR [--root DIR] [--hq-key FILE] [--ready-s S] [--venv DIR]`:
install a release bundle (provisioning/release.py) and keep it only if the kiosk comes up on it.  `apply-request`:
the one the kiosk fetched for head office's `cmd/update` and asked for between shoppers (kiosk-update.path).

Run as root (the kiosk's own user cannot write /opt/kiosk: its unit is read-only there).  It checks the bundle
against its manifest (size, sha256) and the manifest's signature against head office's command key (the kiosk's
`mqtt.hq_public_key_file`, or what pairing gave it), unpacks it into /opt/kiosk/releases/<version> (no path
outside it, no links out, no devices: tarfile's "data" filter), gives it a virtualenv (offline from the bundle's
`wheels/` when it has them), switches /opt/kiosk/current to it with one rename and restarts the kiosk.  The kiosk
must say READY=1 within --ready-s (its first frame; `systemctl restart` of a Type=notify unit waits for exactly
that) and, if it had reached head office before (data_dir/link.json, written at each `birth`), say `birth` again
within --birth-s: otherwise `current` goes back to the release before and that one is restarted.  The outcome is written
to /var/lib/kiosk/update/result.json, which the kiosk reports to head office.  Three releases are kept.

With --root DIR (tests, a bench) the same happens inside DIR, and "restart" starts the release's kiosk as a
second process with a NOTIFY_SOCKET of this updater's own, waits for its READY=1, then stops it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from provisioning.install import switch
from provisioning.release import canonical

VERSION = re.compile(r"^[A-Za-z0-9._+-]{1,64}$")
KEEP = 3


class UpdateError(Exception):
    """The bundle is refused (before anything changed); the message says why."""


def hq_key_path(root: Path) -> Path:
    """Head office's command key as the kiosk knows it: its config's, else what pairing gave it."""
    try:
        cfg = tomllib.loads((root / "etc/kiosk/kiosk.toml").read_text())
        configured = cfg.get("mqtt", {}).get("hq_public_key_file", "")
    except (OSError, tomllib.TOMLDecodeError):
        configured = ""
    if configured:
        return root / configured.lstrip("/") if root != Path("/") else Path(configured)
    return root / "var/lib/kiosk/hq-command.pub"


def verify(bundle: Path, sidecar: Path, key_file: Path) -> dict[str, Any]:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        doc = json.loads(sidecar.read_text())
        manifest, signature = doc["manifest"], base64.b64decode(doc["signature"], validate=True)
        key = serialization.load_pem_public_key(key_file.read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise UpdateError(f"{key_file}: not an Ed25519 key")
        key.verify(signature, canonical(manifest))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UpdateError(f"the manifest cannot be checked ({type(exc).__name__}: {exc})") from None
    except InvalidSignature:
        raise UpdateError("the manifest is not signed by head office") from None
    if not isinstance(manifest.get("version"), str) or not VERSION.match(manifest["version"]):
        raise UpdateError("the manifest's version is not a release name")
    data = bundle.read_bytes()
    if len(data) != manifest.get("size") or hashlib.sha256(data).hexdigest() != manifest.get("sha256"):
        raise UpdateError("the bundle is not the one the manifest names (size or sha256 differ)")
    return manifest


def unpack(bundle: Path, releases: Path, version: str) -> Path:
    target = releases / version
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=releases))
    try:
        with tarfile.open(bundle, "r:gz") as tar:
            try:
                tar.extractall(staging, filter="data")  # nothing outside it, no links out, no devices
            except (tarfile.FilterError, tarfile.TarError) as exc:
                raise UpdateError(f"the bundle holds what a release may not ({exc})") from None
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def give_virtualenv(release: Path, existing: str) -> None:
    venv = release / ".venv"
    if existing:  # a virtualenv there is already (a development machine, the tests)
        if venv.is_symlink() or venv.exists():
            venv.unlink()
        venv.symlink_to(existing)
        return
    if (release / "wheels").is_dir():  # offline: everything the release needs is in it
        pi = Path("/proc/device-tree/model").exists()
        subprocess.run([sys.executable, "-m", "venv", *(["--system-site-packages"] if pi else []), str(venv)],
                       check=True)  # fmt: skip
        subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "--no-index", "--find-links",
                        str(release / "wheels"), "-r", str(release / "requirements.txt")], check=True)  # fmt: skip
    else:
        subprocess.run(["make", "-C", str(release), "deps"], check=True)


def last_birth(root: Path) -> float:
    """When the kiosk last said `birth` to head office (data_dir/link.json, kiosk/telemetry.py); 0: never."""
    try:
        return float(json.loads((root / "var/lib/kiosk/link.json").read_text())["birth_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def wait_birth(root: Path, after: float, birth_s: float, alive: Callable[[], bool] = lambda: True) -> bool:
    end = time.monotonic() + birth_s
    while time.monotonic() < end and alive():
        if last_birth(root) > after:
            return True
        time.sleep(0.2)
    return last_birth(root) > after


def comes_up(root: Path, ready_s: float, birth_s: float = 0.0) -> tuple[bool, str]:
    """Restart the kiosk on `current`; True once it says READY=1 within ready_s, and (birth_s > 0) its `birth`
    to head office within birth_s after that."""
    started = time.time()
    if root == Path("/"):
        try:
            run = subprocess.run(["systemctl", "restart", "kiosk.service"], capture_output=True, text=True,
                                 timeout=ready_s)  # fmt: skip
        except subprocess.TimeoutExpired:
            return False, f"no READY=1 within {ready_s:.0f} s"
        if run.returncode != 0:
            return False, run.stderr.strip()[:300] or "the kiosk did not start"
        if birth_s and not wait_birth(root, started, birth_s):
            return False, f"ready, but no birth to head office within {birth_s:.0f} s"
        return True, "ready"
    current = root / "opt/kiosk/current"
    with tempfile.TemporaryDirectory() as tmp, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        address = str(Path(tmp) / "notify")
        sock.bind(address)
        sock.settimeout(0.2)
        env = {**os.environ, "NOTIFY_SOCKET": address, "SDL_VIDEODRIVER": os.environ.get("SDL_VIDEODRIVER", "dummy"),
               "SDL_AUDIODRIVER": "dummy", "GPIOZERO_PIN_FACTORY": "mock"}  # fmt: skip
        proc = subprocess.Popen([str(current / ".venv/bin/python"), "-m", "kiosk", "--config",
                                 str(root / "etc/kiosk/kiosk.toml")], cwd=current, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        end = time.monotonic() + ready_s
        try:
            while time.monotonic() < end:
                try:
                    if b"READY=1" in sock.recv(4096):
                        if birth_s and not wait_birth(root, started, birth_s, lambda: proc.poll() is None):
                            return False, f"ready, but no birth to head office within {birth_s:.0f} s"
                        return True, "ready"
                except TimeoutError:
                    pass
                if proc.poll() is not None:
                    why = (proc.stderr.read() if proc.stderr else b"").decode(errors="replace").strip()
                    return False, f"the kiosk ended with {proc.returncode} before READY=1: {why[-300:]}"
            return False, f"no READY=1 within {ready_s:.0f} s"
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()


def apply(bundle: Path, sidecar: Path, root: Path = Path("/"), hq_key: Path | None = None, ready_s: float = 90.0,
          venv: str = "", birth_s: float = 120.0) -> dict[str, Any]:  # fmt: skip
    """Install, switch, restart; back to the release before if the kiosk does not come up: READY=1 within
    ready_s and, for a kiosk that had reached head office before (data_dir/link.json), its birth within birth_s.
    The outcome."""
    manifest = verify(bundle, sidecar, hq_key or hq_key_path(root))
    version = manifest["version"]
    releases = root / "opt/kiosk/releases"
    current = root / "opt/kiosk/current"
    before = os.readlink(current).removeprefix("releases/") if current.is_symlink() else ""
    if version == before:
        raise UpdateError(f"{version} is the release running")
    release = unpack(bundle, releases, version)
    give_virtualenv(release, venv)
    birth = birth_s if last_birth(root) else 0.0  # a kiosk that never reached head office is not held to it
    switch(root, version)
    ok, why = comes_up(root, ready_s, birth)
    outcome = {"version": version, "previous": before, "outcome": "installed" if ok else "rolled_back",
               "reason": why, "at": time.time()}  # fmt: skip
    if not ok and before:
        switch(root, before)
        back, why_back = comes_up(root, ready_s, birth)
        outcome["previous_up"] = back
        if not back:
            outcome["reason"] += f"; the release before did not come up either: {why_back}"
    _prune(releases, {version, before})
    result = root / "var/lib/kiosk/update/result.json"
    result.parent.mkdir(parents=True, exist_ok=True)
    tmp = result.with_name("result.json.tmp")
    tmp.write_text(json.dumps(outcome) + "\n")
    os.replace(tmp, result)
    return outcome


def apply_request(root: Path = Path("/"), ready_s: float = 90.0, venv: str = "",
                  birth_s: float = 120.0) -> dict[str, Any] | None:  # fmt: skip
    """What kiosk-update.service runs when the kiosk asks (/var/lib/kiosk/update/request.json, written between
    shoppers): the request is taken first (so it is not run twice), its files looked for only in that folder, and
    everything checked again: the kiosk's user wrote them."""
    folder = root / "var/lib/kiosk/update"
    request = folder / "request.json"
    taken = folder / "request.taken.json"
    try:
        os.replace(request, taken)
        ask = json.loads(taken.read_text())
        bundle, sidecar = folder / Path(str(ask["bundle"])).name, folder / Path(str(ask["sidecar"])).name
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UpdateError(f"the kiosk's request cannot be read ({exc})") from None
    return apply(bundle, sidecar, root, ready_s=ready_s, venv=venv, birth_s=birth_s)


def _prune(releases: Path, keep: set[str]) -> None:
    found = sorted((p for p in releases.iterdir() if p.is_dir() and not p.name.startswith(".")),
                   key=lambda p: p.stat().st_mtime, reverse=True)  # fmt: skip
    for old in found[KEEP:]:
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m provisioning.update", description=__doc__.split("\n")[0])
    ap.add_argument("action", choices=("apply", "apply-request"))
    ap.add_argument("bundle", nargs="?", default="")
    ap.add_argument("sidecar", nargs="?", default="", help="kiosk-<version>.json: the signed manifest")
    ap.add_argument("--root", default="/")
    ap.add_argument("--hq-key", default="", help="head office's command key (default: the kiosk's)")
    ap.add_argument("--ready-s", type=float, default=90.0, help="how long the kiosk has to come up (default 90)")
    ap.add_argument("--birth-s", type=float, default=120.0,
                    help="then how long to reach head office, if it had before (default 120)")  # fmt: skip
    ap.add_argument("--venv", default="", help="use this virtualenv for the release instead of making one")
    args = ap.parse_args(argv)
    try:
        if args.action == "apply-request":
            done = apply_request(Path(args.root), args.ready_s, args.venv, args.birth_s)
            if done is None:
                print("no request from the kiosk")
                return 0
        else:
            done = apply(Path(args.bundle), Path(args.sidecar), Path(args.root),
                         Path(args.hq_key) if args.hq_key else None, args.ready_s, args.venv, args.birth_s)  # fmt: skip
    except UpdateError as exc:
        print(f"update refused: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(done))
    return 0 if done["outcome"] == "installed" else 1


if __name__ == "__main__":
    sys.exit(main())
