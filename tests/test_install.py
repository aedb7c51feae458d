"""Issue 11: the whole install is one command (`python -m provisioning.install`, which setup-pi.sh runs after
Debian's packages), tried here into a directory standing for the Pi's root: the release and the `current` link,
the config set to pair with head office (no file to edit), the unit (checked by systemd's own `verify` with the
install's paths substituted), the udev rule, journald kept and capped, the hardware watchdog.  A technician's edit
of the config survives a second run."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

from provisioning import install
from tests.conftest import REPO


def run_install(root, *args):
    return subprocess.run([sys.executable, "-m", "provisioning.install", "--root", str(root), "--no-deps", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip


def test_one_command_installs_a_kiosk_that_pairs_with_head_office(tmp_path):
    root = tmp_path / "pi"
    done = run_install(root, "--hq", "https://hq.example.com")
    assert done.returncode == 0, done.stderr
    assert "its screen shows a pairing code" in done.stdout
    current = root / "opt/kiosk/current"
    assert current.is_symlink() and os.readlink(current).startswith("releases/")
    version = (current / "VERSION").read_text().strip()
    assert version.startswith("0.1.0") and (current / "kiosk/__main__.py").exists()
    assert not (current / ".git").exists() and not (current / ".venv").exists()
    conf = root / "etc/kiosk/kiosk.toml"
    cfg = tomllib.loads(conf.read_text())
    assert cfg["pairing"]["hq_url"] == "https://hq.example.com" and cfg["kiosk"]["data_dir"] == "/var/lib/kiosk"
    assert oct(conf.stat().st_mode & 0o777) == "0o640" and oct((root / "etc/kiosk").stat().st_mode & 0o777) == "0o750"
    assert oct((root / "var/lib/kiosk").stat().st_mode & 0o777) == "0o750"
    assert "Storage=persistent" in (root / "etc/systemd/journald.conf.d/kiosk.conf").read_text()
    assert "SystemMaxUse=200M" in (root / "etc/systemd/journald.conf.d/kiosk.conf").read_text()
    assert "RuntimeWatchdogSec=15s" in (root / "etc/systemd/system.conf.d/kiosk-watchdog.conf").read_text()
    assert (root / "etc/udev/rules.d/99-kiosk-printer.rules").exists()
    # the technician changes the display; a second run (an update) keeps it
    conf.write_text(conf.read_text().replace('size = "800x480"', 'size = "1024x600"'))
    again = run_install(root)
    assert again.returncode == 0, again.stderr
    cfg = tomllib.loads(conf.read_text())
    assert cfg["display"]["size"] == "1024x600" and cfg["pairing"]["hq_url"] == "https://hq.example.com"


def test_the_installed_unit_passes_systemds_verify(tmp_path):
    root = tmp_path / "pi"
    assert run_install(root).returncode == 0
    venv = root / "opt/kiosk/current/.venv/bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(sys.executable)  # what `make deps` makes
    names = ("kiosk.service", "kiosk-update.service", "kiosk-update.path", "kiosk-out-of-service.service")
    for name in names:  # the install's paths substituted: systemd checks the commands exist
        unit = (root / "etc/systemd/system" / name).read_text()
        for path in ("/opt/kiosk/current", "/etc/kiosk/", "/var/lib/kiosk"):
            unit = unit.replace(path, f"{root}{path}")
        (tmp_path / name).write_text(unit)
    check = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / n) for n in names)], capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert check.returncode == 0 and check.stdout + check.stderr == "", check.stdout + check.stderr


def test_the_current_release_switches_with_one_rename_and_a_bad_address_is_refused(tmp_path):
    root = tmp_path / "pi"
    for version in ("1.0", "1.1"):
        (root / "opt/kiosk/releases" / version).mkdir(parents=True)
    install.switch(root, "1.1")
    assert os.readlink(root / "opt/kiosk/current") == "releases/1.1"
    install.switch(root, "1.0")  # back to the one before
    assert os.readlink(root / "opt/kiosk/current") == "releases/1.0"
    assert not (root / "opt/kiosk/current.new").exists()
    bad = run_install(root, "--hq", "hq.example.com")
    assert bad.returncode == 2 and "--hq: 'hq.example.com': head office's https:// address" in bad.stderr


def test_the_out_of_service_screen_says_so_in_both_languages(tmp_path):
    """kiosk.service's OnFailure=: shoppers see "out of service" on red instead of a dead screen."""
    import pygame

    shot = tmp_path / "oos.png"
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    done = subprocess.run([sys.executable, "-m", "kiosk.out_of_service", "--screenshot", str(shot)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    picture = pygame.image.load(str(shot))
    assert picture.get_size() == (800, 480)
    assert picture.get_at((5, 5))[:3] == (150, 20, 20)  # red, edge to edge
    whites = sum(picture.get_at((x, y))[:3] == (255, 255, 255) for x in range(0, 800, 4) for y in range(0, 480, 4))
    assert whites > 200  # its words are drawn
    assert "OnFailure=kiosk-out-of-service.service" in (REPO / "systemd/kiosk.service").read_text()


def test_a_bundle_with_debian_packages_installs_them_without_a_network(tmp_path):
    """Issue 11: offline-capable down to Debian's packages.  A package made by Debian's own dpkg-deb goes into the
    bundle (`--debs`), and the bundle's install-debs.sh installs it with dpkg alone into a fresh dpkg database
    (`--root`: no apt lists, no network); a file that is not a Debian package is refused by the build."""
    from headoffice.signing import keygen
    from provisioning import release

    pkg = tmp_path / "pkg"
    (pkg / "DEBIAN").mkdir(parents=True)
    (pkg / "DEBIAN" / "control").write_text(
        "Package: kiosk-offline-probe\nVersion: 1.0\nArchitecture: all\nMaintainer: Kiosk <k@example.com>\n"
        "Description: a package that proves the bundle's debs install offline\n"
    )
    (pkg / "usr/share/kiosk-offline-probe").mkdir(parents=True)
    (pkg / "usr/share/kiosk-offline-probe/here").write_text("installed\n")
    debs = tmp_path / "debs"
    debs.mkdir()
    built = subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(pkg), str(debs / "probe.deb")],
                           capture_output=True, text=True)  # fmt: skip
    assert built.returncode == 0, built.stderr
    key, _ = keygen(str(tmp_path / "hq"))
    bundle, _ = release.build(tmp_path / "out", Path(key), version="9.9.9", debs=debs)
    assert "./debs/probe.deb" in release.members(bundle.read_bytes())
    unpacked = tmp_path / "release"
    unpacked.mkdir()
    with tarfile.open(bundle) as tar:
        tar.extractall(unpacked, filter="data")
    root = tmp_path / "root"
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "var/lib/dpkg/updates").mkdir()
    (root / "var/lib/dpkg/status").write_text("")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}  # nothing here could reach a network: dpkg only
    run = subprocess.run(["bash", str(unpacked / "provisioning/install-debs.sh"), str(unpacked), "--root", str(root)],
                         capture_output=True, text=True, env=env)  # fmt: skip
    assert run.returncode == 0 and "installing 1 packages from the release bundle (offline)" in run.stdout, run.stderr
    assert (root / "usr/share/kiosk-offline-probe/here").read_text() == "installed\n"
    status = subprocess.run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f=${Status}",
                             "kiosk-offline-probe"], capture_output=True, text=True)  # fmt: skip
    assert status.stdout == "install ok installed"
    (debs / "fake.deb").write_text("not a package")
    with pytest.raises(ValueError, match="fake.deb is not a Debian package"):
        release.build(tmp_path / "out2", Path(key), version="9.9.10", debs=debs)
