"""`python3 -m provisioning.install [--hq URL] [--timezone ZONE] [--root DIR] [--no-deps]`: make this machine a
kiosk (or, with --root, a directory that stands for one: what the tests check).  What setup-pi.sh runs.

Each step can run again (an update reinstalls the same way):
1. the release: this source tree copied to /opt/kiosk/releases/<version> (git describe of it, or its VERSION
   file) with its own virtualenv (`make deps`; --no-deps leaves it out), and /opt/kiosk/current pointing at it,
   switched with one rename: the unit runs `current`, so the previous release stays beside it to go back to;
2. /etc/kiosk/kiosk.toml from the example (kept if there), data in /var/lib/kiosk, and with --hq the address of
   head office to pair with (no file to edit: the kiosk shows a pairing code at its first start);
3. the systemd unit, the printer's udev rule, journald kept on disk and capped (the technician's and head
   office's `logs` read it), and the board's hardware watchdog (systemd pets it; a hung kernel reboots);
4. on a live system only (no --root): the `kiosk` user and its groups, the time zone, network time, and the
   unit enabled.  Secrets come after, with `python -m provisioning.secrets install`.

Stdlib only: it runs with the system's python3 before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent
GROUPS = ("video", "render", "input", "dialout", "gpio", "lp", "plugdev", "systemd-journal", "audio")
IGNORE = shutil.ignore_patterns(".venv", "data", ".git", "__pycache__", "*.pyc", ".ruff_cache", "hq-data")
JOURNALD = """# kiosk: the journal kept on the SD card, capped (python -m provisioning.install)
[Journal]
Storage=persistent
SystemMaxUse=200M
SystemKeepFree=500M
MaxRetentionSec=1month
"""
WATCHDOG = """# kiosk: systemd pets the hardware watchdog; a hung kernel reboots (python -m provisioning.install)
[Manager]
RuntimeWatchdogSec=15s
RebootWatchdogSec=2min
"""


def version_of(src: Path) -> str:
    """The release's name: its VERSION file, else `git describe` of the tree (as kiosk.firmware_version)."""
    sys.path.insert(0, str(src))
    from kiosk import firmware_version

    name = firmware_version(src)
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)


def install_release(root: Path, src: Path, deps: bool) -> Path:
    version = version_of(src)
    releases = root / "opt/kiosk/releases"
    target = releases / version
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(src, target, ignore=IGNORE, symlinks=True)
    (target / "VERSION").write_text(version + "\n")
    if deps:
        subprocess.run(["make", "-C", str(target), "deps"], check=True)
    switch(root, version)
    return target


def switch(root: Path, version: str) -> None:
    """/opt/kiosk/current -> releases/<version>, with one rename (never a moment without one)."""
    current = root / "opt/kiosk/current"
    tmp = current.with_name("current.new")
    tmp.unlink(missing_ok=True)
    os.symlink(f"releases/{version}", tmp)
    os.replace(tmp, current)


def set_key(text: str, section: str, key: str, value: str, note: str) -> str:
    """`key = "value"` in [section] of a TOML text written like kiosk.example.toml (one key a line)."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.strip() == f"[{section}]")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    line = f'{key} = "{value}"   # {note}'
    for i in range(start + 1, end):
        if re.match(rf"^{re.escape(key)}\s*=", lines[i]):
            lines[i] = line
            return "\n".join(lines)
    lines.insert(start + 1, line)
    return "\n".join(lines)


def install_config(root: Path, release: Path, hq: str, live: bool) -> Path:
    etc = root / "etc/kiosk"
    etc.mkdir(parents=True, exist_ok=True)
    conf = etc / "kiosk.toml"
    text = conf.read_text() if conf.exists() else (release / "kiosk.example.toml").read_text()
    text = set_key(text, "kiosk", "data_dir", "/var/lib/kiosk", "set by provisioning.install")
    if hq:
        text = set_key(text, "pairing", "hq_url", hq, "set by provisioning.install: pair with head office")
    conf.write_text(text)
    state = root / "var/lib/kiosk"
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(etc, 0o750)
    os.chmod(conf, 0o640)
    os.chmod(state, 0o750)
    if live:
        shutil.chown(etc, "root", "kiosk")
        shutil.chown(conf, "root", "kiosk")
        shutil.chown(state, "kiosk", "kiosk")
    return conf


def install_system_files(root: Path, release: Path) -> None:
    units = root / "etc/systemd/system"
    units.mkdir(parents=True, exist_ok=True)
    for unit in sorted((release / "systemd").glob("kiosk*.*")):
        shutil.copyfile(unit, units / unit.name)
    rules = root / "etc/udev/rules.d"
    rules.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(release / "provisioning/99-kiosk-printer.rules", rules / "99-kiosk-printer.rules")
    for folder, name, text in (
        ("etc/systemd/journald.conf.d", "kiosk.conf", JOURNALD),
        ("etc/systemd/system.conf.d", "kiosk-watchdog.conf", WATCHDOG),
    ):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / name).write_text(text)


SELFTEST = """#!/bin/sh
# the technician's self-test from anywhere (python -m provisioning.install)
cd /opt/kiosk/current || exit 1
exec sudo -u kiosk .venv/bin/python -m provisioning.selftest --config /etc/kiosk/kiosk.toml "$@"
"""


def install_tools(root: Path) -> None:
    bin_dir = root / "usr/local/bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / "kiosk-selftest").write_text(SELFTEST)
    os.chmod(bin_dir / "kiosk-selftest", 0o755)


def live_system(timezone: str) -> None:
    """What only a real machine has: the user, the clock, systemd."""

    def run(*args: str) -> None:
        done = subprocess.run(args, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"warning: {' '.join(args)}: {done.stderr.strip()[:200]}", file=sys.stderr)

    for group in GROUPS:
        if subprocess.run(["getent", "group", group], capture_output=True).returncode == 0:
            run("usermod", "-aG", group, "kiosk")
    run("timedatectl", "set-timezone", timezone)
    run("systemctl", "enable", "--now", "systemd-timesyncd.service", "systemd-time-wait-sync.service")
    run("udevadm", "control", "--reload-rules")
    run("systemctl", "daemon-reload")
    run("systemctl", "restart", "systemd-journald")
    run("systemctl", "enable", "kiosk.service")
    run("systemctl", "enable", "--now", "kiosk-update.path")  # the kiosk's requests to install a release


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m provisioning.install", description=__doc__.split("\n")[0])
    ap.add_argument("--hq", default="", help="head office's address to pair with (https://hq.example.com)")
    ap.add_argument("--timezone", default="Asia/Shanghai", help="the store's time zone (default Asia/Shanghai)")
    ap.add_argument("--root", default="/", help="install into this directory instead of the machine (tests)")
    ap.add_argument("--no-deps", action="store_true", help="no virtualenv for the release (tests)")
    args = ap.parse_args(argv)
    root = Path(args.root)
    live = root.resolve() == Path("/")
    if live and os.geteuid() != 0:
        print("run as root (sudo), or give --root DIR", file=sys.stderr)
        return 1
    if args.hq and not re.match(r"^https://[^/@\s]+", args.hq) and not args.hq.startswith("http://127.0.0.1"):
        print(f"--hq: {args.hq!r}: head office's https:// address", file=sys.stderr)
        return 2
    if live and subprocess.run(["id", "kiosk"], capture_output=True).returncode != 0:  # owns what follows
        subprocess.run(["useradd", "--system", "--home-dir", "/var/lib/kiosk", "--shell", "/usr/sbin/nologin",
                        "kiosk"], check=True)  # fmt: skip
    release = install_release(root, SRC, deps=not args.no_deps)
    conf = install_config(root, release, args.hq, live)
    install_system_files(root, release)
    install_tools(root)
    if live:
        live_system(args.timezone)
    print(f"installed {release.name} in {root / 'opt/kiosk/current'}; config {conf}")
    if args.hq:
        print("next: sudo systemctl start kiosk; its screen shows a pairing code for head office")
    else:
        print(f"next: edit {conf}, then sudo systemctl start kiosk")
    return 0


if __name__ == "__main__":
    sys.exit(main())
