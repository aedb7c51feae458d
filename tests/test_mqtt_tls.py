"""MQTT over TLS with a client certificate and a password file, against a real mosquitto on loopback."""

import os
import subprocess

import pytest

from kiosk.config import ConfigError, load
from kiosk.store import Identity, Store
from kiosk.telemetry import MqttLink
from tests.conftest import kiosk_cli, write_config
from tests.loopback import Subscriber, free_port, wait_until


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def pki(tmp_path):
    """A CA, a server cert for 127.0.0.1 and a client cert, made for this test."""
    d = tmp_path / "pki"
    d.mkdir()
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        cwd=d,
    )
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={name}",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            cwd=d,
        )
        (d / f"{name}.ext").write_text(ext + "\n")
        openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            f"{name}.ext",
            "-out",
            f"{name}.pem",
            cwd=d,
        )
    os.chmod(d / "client.key", 0o600)
    return d


@pytest.fixture
def tls_broker(tmp_path, pki):
    port = free_port()
    passwords = tmp_path / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-c", "-b", str(passwords), "kiosk-01", "s3cret"], check=True, capture_output=True
    )
    plain = free_port()
    conf = tmp_path / "tls.conf"
    conf.write_text(
        f"user root\nper_listener_settings true\n"
        f"listener {port} 127.0.0.1\ncafile {pki / 'ca.pem'}\ncertfile {pki / 'server.pem'}\n"
        f"keyfile {pki / 'server.key'}\nrequire_certificate true\npassword_file {passwords}\n"
        f"allow_anonymous false\n"
        f"listener {plain} 127.0.0.1\nallow_anonymous true\n"
    )
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import socket

    def up():
        try:
            socket.create_connection(("127.0.0.1", plain), 0.2).close()
            return True
        except OSError:
            return False

    assert wait_until(up, 10)
    yield port, plain
    proc.terminate()
    proc.wait(5)


def tls_config(tmp_path, pki, port, password="s3cret", username="kiosk-01", sections=None, **mqtt):
    """A kiosk config for a TLS broker: the test CA, the client certificate, a private password file."""
    pw = tmp_path / "mqtt-password"
    pw.write_text(password + "\n")
    os.chmod(pw, 0o600)
    return write_config(
        tmp_path / "k.toml",
        {
            "kiosk": {"data_dir": str(tmp_path / "data")},
            **(sections or {}),
            "mqtt": {
                "port": port,
                "tls": True,
                "ca_file": str(pki / "ca.pem"),
                "cert_file": str(pki / "client.pem"),
                "key_file": str(pki / "client.key"),
                "username": username,
                "password_file": str(pw),
                "retry_s": 0.2,
                **mqtt,
            },
        },
    )


def test_orders_flow_over_tls_with_client_cert_and_password(tmp_path, pki, tls_broker):
    port, plain = tls_broker
    cfg = load(str(tls_config(tmp_path, pki, port)))
    store = Store(tmp_path / "data" / "k.sqlite", Identity("demo-store", "kiosk-01", "K01", "CNY"))
    store.add_event("test", n=1)
    hq = Subscriber(plain)  # head office on the broker's internal listener
    link = MqttLink(cfg, store)
    link.start()
    try:
        assert wait_until(lambda: hq.payloads("events"), 15)
        assert hq.states() == ["online"]
    finally:
        link.stop()
        hq.close()


def test_wrong_password_is_reported_and_nothing_is_lost(tmp_path, pki, tls_broker):
    port, _ = tls_broker
    cfg = load(str(tls_config(tmp_path, pki, port, password="wrong")))
    store = Store(tmp_path / "data" / "k.sqlite", Identity("demo-store", "kiosk-01", "K01", "CNY"))
    store.add_event("test", n=1)
    status = []
    link = MqttLink(cfg, store, on_status=lambda ok, msg: status.append((ok, msg)))
    link.start()
    try:
        assert wait_until(lambda: status, 15)
        assert status[0][0] is False and "refused the connection: Not authorized" in status[0][1], status
        assert store.outbox_depth() == 1
    finally:
        link.stop()


def test_secret_files_must_be_private(tmp_path, pki):
    cfg = tls_config(tmp_path, pki, 8883)
    os.chmod(tmp_path / "mqtt-password", 0o644)
    with pytest.raises(ConfigError, match=r"mqtt.password_file: .* is readable by others \(mode 0644\)"):
        load(str(cfg))
    os.chmod(tmp_path / "mqtt-password", 0o600)
    (tmp_path / "mqtt-password").unlink()
    with pytest.raises(ConfigError, match=r"mqtt.password_file: cannot read"):
        load(str(cfg))
    run = kiosk_cli("--config", str(cfg), "--check")
    assert run.returncode == 2 and run.stderr.startswith("config error: mqtt.password_file: cannot read")


def test_a_bad_ca_file_is_refused_by_check_and_the_link_waits_for_it_without_dying(tmp_path, pki, tls_broker):
    """Issue 11: a broken MQTT CA file passed --check, then the link's thread died in tls_set and never tried
    again: the kiosk sold on and head office never heard from it."""
    port, plain = tls_broker
    ca = tmp_path / "ca-copy.pem"
    ca.write_text("not a certificate\n")
    conf = tls_config(tmp_path, pki, port, ca_file=str(ca))
    run = kiosk_cli("--config", str(conf), "--check")
    assert run.returncode == 2 and f"config error: mqtt.ca_file: {ca}: not a PEM certificate" in run.stderr
    assert "Traceback" not in run.stderr
    cfg = load(str(conf))
    store = Store(tmp_path / "data" / "k.sqlite", Identity("demo-store", "kiosk-01", "K01", "CNY"))
    store.add_event("test", n=1)
    status = []
    hq = Subscriber(plain)
    link = MqttLink(cfg, store, on_status=lambda ok, msg: status.append((ok, msg)))
    link.start()
    try:
        assert wait_until(lambda: len(status) >= 2, 15)  # said, and tried again
        assert all(not ok and f"mqtt.ca_file: {ca}: not a PEM certificate" in msg for ok, msg in status)
        assert link._thread.is_alive()
        ca.write_bytes((pki / "ca.pem").read_bytes())  # the technician puts it right
        assert wait_until(lambda: hq.payloads("events"), 15)
        assert status[-1][0] is True
    finally:
        link.stop()
        hq.close()


def test_the_client_certificates_days_left_are_in_telemetry_and_alerted_at_head_office(tmp_path, pki, hq_engine):
    """Issue 11: a kiosk's MQTT certificate expired unseen, and then the broker refused it.  Its days left (here
    an openssl certificate made for 2 days: 1 whole day left) go in every heartbeat; head office alerts under 30."""
    from headoffice import queries
    from headoffice.ingest import Ingest, Received
    from kiosk import messages as kmsg

    cfg = load(str(tls_config(tmp_path, pki, 8883)))
    store = Store(tmp_path / "data" / "k.sqlite", Identity("demo-store", "kiosk-01", "K01", "CNY"))
    beat = MqttLink(cfg, store).heartbeat()
    assert beat["cert_days_left"] == 1
    body = kmsg.envelope(
        msg_id=f"demo-store:kiosk-01:{store.installation}:telemetry:direct-1",
        seq=0,
        ts="2026-12-04T08:00:00.000Z",
        store="demo-store",
        kiosk="kiosk-01",
        type_="telemetry",
        data=beat,
    )
    Ingest(hq_engine).store_batch([Received("kiosk/v1/demo-store/kiosk-01/telemetry", body.encode())])
    [alert] = [a for a in queries.alerts(hq_engine) if a["kind"] == "cert_expiring"]
    assert alert["detail"] == "the MQTT certificate expires in 1 day"
