"""`python -m provisioning.secrets install FILE... [--dir DIR] [--owner USER]`: put keys, certificates and
passwords where the kiosk reads them, owned and protected the way `python -m kiosk --check` demands.

Each file is checked before it is placed: a PEM private key must load (it goes in mode 0600, owned by the kiosk
user: only the kiosk reads it), a PEM certificate or public key must load (mode 0644, owned by root: the kiosk
trusts it, so nobody else may change it), anything else is taken as a password file (one line; mode 0600,
owned by the kiosk user).  A file that does not load is named with the fix, and nothing of it is placed.  The
copy is written beside its target and renamed over it, so a kiosk never reads half a key.  Run as root.
"""

from __future__ import annotations

import argparse
import os
import pwd
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

DEFAULT_DIR = "/etc/kiosk"


@dataclass(frozen=True)
class Kind:
    name: str
    mode: int
    private: bool  # owned by the kiosk user (private) or by root (trusted by the kiosk)


PRIVATE_KEY = Kind("private key", 0o600, True)
TRUSTED = Kind("certificate / public key", 0o644, False)
PASSWORD = Kind("password", 0o600, True)


class SecretError(ValueError):
    pass


TRUSTED_PEM = (  # what the kiosk trusts: (PEM marker, loader, what it is)
    (b"-----BEGIN CERTIFICATE-----", x509.load_pem_x509_certificates, "a certificate"),
    (b"-----BEGIN PUBLIC KEY-----", serialization.load_pem_public_key, "a public key"),
)


def classify(path: Path) -> Kind:
    """What the file is, having loaded it; SecretError naming the file and the fix."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SecretError(f"{path}: cannot read ({exc.strerror})") from None
    if b"-----BEGIN" in data and b"PRIVATE KEY-----" in data:
        try:
            serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise SecretError(
                f"{path}: a private key that does not load ({exc}); it must be PEM without a passphrase:"
                " openssl pkey -in KEY -out KEY.pem"
            ) from None
        return PRIVATE_KEY
    for marker, load, what in TRUSTED_PEM:
        if marker in data:
            try:
                load(data)
            except ValueError as exc:
                raise SecretError(f"{path}: {what} that does not load ({exc})") from None
            return TRUSTED
    if b"-----BEGIN" in data:
        raise SecretError(f"{path}: a PEM file of a kind the kiosk does not use (a key, certificate or public key)")
    text = data.decode("utf-8", "replace").strip()
    if not text or "\n" in text or len(text) > 512:
        raise SecretError(f"{path}: not a key, a certificate or a one-line password")
    return PASSWORD


def install(files: list[Path], directory: Path, owner: str) -> list[str]:
    """Check every file, then place each; returns a line per file.  SecretError (nothing placed) if any fails."""
    kinds = [(f, classify(f)) for f in files]  # all checked before any is placed
    user = pwd.getpwnam(owner)
    directory.mkdir(parents=True, exist_ok=True)
    done = []
    for src, kind in kinds:
        target = directory / src.name
        uid, gid = (user.pw_uid, user.pw_gid) if kind.private else (0, 0)
        data = src.read_bytes()
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{src.name}.")
        try:
            os.fchmod(fd, kind.mode)
            if os.geteuid() == 0:
                os.fchown(fd, uid, gid)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        who = owner if kind.private else "root"
        done.append(f"{target}: {kind.name}, mode {kind.mode:04o}, owned by {who}")
    return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m provisioning.secrets", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    i = sub.add_parser("install", help="check and place keys, certificates and password files")
    i.add_argument("files", nargs="+", type=Path)
    i.add_argument("--dir", type=Path, default=Path(DEFAULT_DIR), help=f"where they go (default {DEFAULT_DIR})")
    i.add_argument("--owner", default="kiosk", help="the kiosk's user (default kiosk)")
    args = ap.parse_args(argv)
    try:
        lines = install(args.files, args.dir, args.owner)
    except SecretError as exc:
        print(f"nothing installed: {exc}", file=sys.stderr)
        return 1
    except KeyError:
        print(f"nothing installed: there is no user {args.owner!r} (setup-pi.sh makes `kiosk`)", file=sys.stderr)
        return 1
    print("\n".join(lines))
    print("point the config's *_file keys at them, then: python -m kiosk --config /etc/kiosk/kiosk.toml --check")
    return 0


if __name__ == "__main__":
    sys.exit(main())
