"""Issue 11: setup-pi.sh fixed permissions before secrets were copied and only for *.key, so gateway keys (*.pem)
ended group-readable and the kiosk refused them: a restart loop.  `python -m provisioning.secrets install`
checks each file loads, then places it as `python -m kiosk --check` demands; a bad file is named with the fix
and nothing is placed."""

from __future__ import annotations

import datetime
import os
import pwd
import stat
import subprocess
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from tests.conftest import REPO, kiosk_cli, write_config

ME = pwd.getpwuid(os.getuid()).pw_name


def secrets_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "provisioning.secrets", *args], cwd=REPO, capture_output=True, text=True, timeout=60
    )


def make_files(folder):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kiosk-01")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    files = {
        "client.key": key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        "client.pem": cert.public_bytes(pem),
        "hq.pub": Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo),
        "mqtt-password": b"s3cret\n",
    }
    for name_, data in files.items():
        (folder / name_).write_bytes(data)
        os.chmod(folder / name_, 0o664)  # as a technician's copy leaves them: group-writable, world-readable
    return key


def test_secrets_are_placed_as_the_kiosk_demands_and_its_check_passes(tmp_path):
    incoming = tmp_path / "usb"
    incoming.mkdir()
    make_files(incoming)
    dest = tmp_path / "etc-kiosk"
    files = [str(incoming / n) for n in ("client.key", "client.pem", "hq.pub", "mqtt-password")]
    run = secrets_cli("install", "--dir", str(dest), "--owner", ME, *files)
    assert run.returncode == 0, run.stderr
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in dest.iterdir()}
    assert modes == {"client.key": 0o600, "client.pem": 0o644, "hq.pub": 0o644, "mqtt-password": 0o600}
    assert "client.key: private key, mode 0600" in run.stdout
    cfg = write_config(
        tmp_path / "k.toml",
        {
            "kiosk": {"data_dir": str(tmp_path / "data")},
            "mqtt": {
                "tls": True,
                "host": "broker.example",
                "ca_file": str(dest / "client.pem"),
                "cert_file": str(dest / "client.pem"),
                "key_file": str(dest / "client.key"),
                "username": "kiosk-01",
                "password_file": str(dest / "mqtt-password"),
                "hq_public_key_file": str(dest / "hq.pub"),
            },
        },
    )
    check = kiosk_cli("--config", str(cfg), "--check")
    assert check.returncode == 0 and "config ok" in check.stdout, check.stderr
    raw = kiosk_cli(
        "--config",
        str(
            write_config(
                tmp_path / "raw.toml",
                {
                    "kiosk": {"data_dir": str(tmp_path / "data")},
                    "mqtt": {"username": "kiosk-01", "password_file": str(incoming / "mqtt-password")},
                },
            )
        ),
        "--check",
    )
    assert raw.returncode == 2 and "readable by others" in raw.stderr  # the copy as it came: refused


def test_a_file_that_does_not_load_is_named_with_the_fix_and_nothing_is_placed(tmp_path):
    make_files(tmp_path)
    locked = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    (tmp_path / "gateway.pem").write_bytes(locked)
    dest = tmp_path / "etc-kiosk"
    run = secrets_cli(
        "install", "--dir", str(dest), "--owner", ME, str(tmp_path / "client.key"), str(tmp_path / "gateway.pem")
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert f"nothing installed: {tmp_path / 'gateway.pem'}: a private key that does not load" in run.stderr
    assert "openssl pkey" in run.stderr
    assert not dest.exists() or list(dest.iterdir()) == []
    (tmp_path / "notes.txt").write_text("line one\nline two\n")
    run = secrets_cli("install", "--dir", str(dest), "--owner", ME, str(tmp_path / "notes.txt"))
    assert run.returncode == 1 and "not a key, a certificate or a one-line password" in run.stderr
    run = secrets_cli("install", "--dir", str(dest), "--owner", "no-such-user", str(tmp_path / "client.key"))
    assert run.returncode == 1 and "there is no user 'no-such-user'" in run.stderr
