"""`python -m provisioning.release build OUTDIR --key hq.key [--wheels] [--debs DIR] [--version V]`: a release
bundle a kiosk installs without PyPI: the source tree as `kiosk-<version>.tar.gz` (with `wheels/` of every pinned
requirement for this machine's platform with --wheels: `pip download`; with --debs, `debs/` holds the Debian
packages fetch-debs.sh downloaded on a fresh Pi, so setup-pi.sh needs no network either), and
`kiosk-<version>.json`, its manifest {version, sha256, size} signed by head office's command key (Ed25519 over the
manifest as JSON with sorted keys, no spaces, as commands are signed).  provisioning/update.py installs one;
`cmd/update` carries the manifest to the kiosks.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from provisioning.install import IGNORE, SRC, version_of


def canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def build(
    out: Path, key_file: Path, src: Path = SRC, version: str = "", wheels: bool = False, debs: Path | None = None
) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    version = version or version_of(src)
    out.mkdir(parents=True, exist_ok=True)
    bundle = out / f"kiosk-{version}.tar.gz"
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "release"
        import shutil

        shutil.copytree(src, staged, ignore=IGNORE, symlinks=True)
        (staged / "VERSION").write_text(version + "\n")
        if debs is not None:
            _copy_debs(debs, staged / "debs")
        if wheels:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "-d",
                            str(staged / "wheels"), "-r", str(staged / "requirements.txt")], check=True)  # fmt: skip
        with tarfile.open(bundle, "w:gz") as tar:
            tar.add(staged, arcname=".", filter=_clean)
    data = bundle.read_bytes()
    manifest = {"version": version, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    signature = base64.b64encode(key.sign(canonical(manifest))).decode("ascii")  # type: ignore[union-attr]
    sidecar = out / f"kiosk-{version}.json"
    sidecar.write_text(json.dumps({"manifest": manifest, "signature": signature}, indent=1) + "\n")
    return bundle, sidecar


def _copy_debs(folder: Path, into: Path) -> None:
    """The Debian packages in `folder` (fetch-debs.sh's), each checked to be one (an ar archive holding
    debian-binary), into the bundle's debs/."""
    import shutil

    found = sorted(folder.glob("*.deb"))
    if not found:
        raise ValueError(f"--debs {folder}: no .deb files there (provisioning/fetch-debs.sh DIR makes them)")
    into.mkdir()
    for deb in found:
        head = deb.read_bytes()[:80]
        if not head.startswith(b"!<arch>\ndebian-binary"):
            raise ValueError(f"--debs: {deb.name} is not a Debian package")
        shutil.copy2(deb, into / deb.name)


def _clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def members(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return tar.getnames()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m provisioning.release", description=__doc__.split("\n")[0])
    ap.add_argument("action", choices=("build",))
    ap.add_argument("out")
    ap.add_argument("--key", required=True, help="head office's command key (commands.private_key_file)")
    ap.add_argument("--version", default="", help="default: git describe of this tree")
    ap.add_argument("--wheels", action="store_true", help="include wheels of every requirement (offline installs)")
    ap.add_argument("--debs", default="", help="include the Debian packages in this folder (fetch-debs.sh's)")
    args = ap.parse_args(argv)
    try:
        debs = Path(args.debs) if args.debs else None
        bundle, sidecar = build(Path(args.out), Path(args.key), version=args.version, wheels=args.wheels, debs=debs)
    except (OSError, ValueError, subprocess.CalledProcessError) as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 1
    print(f"{bundle}\n{sidecar}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
