"""The broker set-up a chain should use (provisioning/mosquitto/), on a real mosquitto: TLS, no anonymous
clients, one account per kiosk, ACLs that keep each kiosk to its own topics, head office alone commanding."""

import json
import subprocess
import time

import paho.mqtt.client as mqtt
import pytest

from headoffice import pairing
from kiosk import signing
from kiosk.config import load
from kiosk.runtime.wiring import Runtime
from provisioning.broker_acl import acl
from tests.conftest import REPO, write_config
from tests.loopback import free_port, wait_until
from tests.test_mqtt_tls import pki, tls_config  # noqa: F401  (fixture)

SHIPPED = REPO / "provisioning" / "mosquitto" / "kiosk-broker.conf"
K1 = "kiosk/v1/s001/kiosk-01/"


@pytest.fixture
def fleet_broker(fleet):
    return fleet["port"]


@pytest.fixture
def fleet(tmp_path, pki):  # noqa: F811
    """The shipped broker config, its /etc paths pointed at this test's files and its ports at loopback: the
    kiosks' with passwords, and the paired kiosks' (certificates of head office's kiosk CA alone)."""
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "acl").write_text(acl([("s001", "kiosk-01"), ("s001", "kiosk-02")]))
    for user in ("hq", "s001-kiosk-01", "s001-kiosk-02"):
        subprocess.run(
            ["mosquitto_passwd", *(["-c"] if user == "hq" else []), "-b", str(etc / "passwd"), user, f"pw-{user}"],
            check=True,
            capture_output=True,
        )
    for name, src in (("ca.pem", "ca.pem"), ("broker.pem", "server.pem"), ("broker.key", "server.key")):
        (etc / name).write_bytes((pki / src).read_bytes())
    pairing.make_ca(str(etc))  # head office's kiosk CA: kiosk-ca.key, kiosk-ca.pem
    port, paired = free_port(), free_port()
    conf = SHIPPED.read_text().replace("/etc/mosquitto/kiosk/", f"{etc}/")
    conf = conf.replace("listener 8883", f"listener {port} 127.0.0.1").replace("persistence true", "persistence false")
    conf = conf.replace("listener 8884", f"listener {paired} 127.0.0.1")
    (tmp_path / "broker.conf").write_text("user root\n" + conf)  # root: the test's files are root's
    proc = subprocess.Popen(["mosquitto", "-c", str(tmp_path / "broker.conf")], stderr=subprocess.PIPE)
    client = connect(pki, port, "hq")
    try:
        yield {"port": port, "paired": paired, "etc": etc}
    finally:
        client.disconnect()
        proc.terminate()
        proc.wait(5)


def connect(pki, port, user, password=None, on_message=None):  # noqa: F811
    """A client on the fleet broker; waits for CONNACK and returns the client (raises when refused)."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{user}-{time.monotonic_ns()}")
    c.tls_set(ca_certs=str(pki / "ca.pem"), certfile=str(pki / "client.pem"), keyfile=str(pki / "client.key"))
    if user:
        c.username_pw_set(user, password or f"pw-{user}")
    answer = []
    c.on_connect = lambda cl, u, f, rc, p: answer.append(rc)
    c.on_message = on_message
    deadline = time.monotonic() + 15
    while True:  # the broker may still be starting
        try:
            c.connect("127.0.0.1", port)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    c.loop_start()
    assert wait_until(lambda: answer, 10)
    if answer[0].is_failure:
        c.loop_stop()
        raise PermissionError(str(answer[0]))
    return c


def test_the_shipped_broker_keeps_each_kiosk_to_its_own_topics(tmp_path, pki, fleet_broker):  # noqa: F811
    port = fleet_broker
    with pytest.raises(PermissionError, match="Not authorized"):
        connect(pki, port, "")  # anonymous
    with pytest.raises(PermissionError, match="Not authorized"):
        connect(pki, port, "s001-kiosk-01", "wrong")

    private, public = signing.keygen(str(tmp_path / "hq"))
    key = signing.load_private_key(str(private))
    cfg = load(
        str(
            tls_config(
                tmp_path,
                pki,
                port,
                password="pw-s001-kiosk-01",
                username="s001-kiosk-01",
                sections={
                    "kiosk": {"store_id": "s001", "kiosk_id": "kiosk-01", "data_dir": str(tmp_path / "data")},
                    "camera": {"type": "none"},
                    "gpio": {"pin_factory": "mock"},
                    "sandbox": {"latency_ms": 0},
                },
                hq_public_key_file=str(public),
            )
        )
    )
    seen_by = {"hq": [], "kiosk-02": []}

    def keep(who):
        return lambda c, u, msg: seen_by[who].append((msg.topic, msg.payload))

    hq = connect(pki, port, "hq", on_message=keep("hq"))
    hq.subscribe("kiosk/v1/#", qos=1)
    other = connect(pki, port, "s001-kiosk-02", on_message=keep("kiosk-02"))
    other.subscribe(K1 + "#", qos=1)  # kiosk-02 tries to read kiosk-01
    kiosk = Runtime(cfg)
    kiosk.start()
    try:
        assert wait_until(lambda: kiosk.mqtt.connected.is_set(), 15)
        kiosk.store.add_event("hello")
        kiosk.mqtt.notify()
        assert wait_until(lambda: any(t == K1 + "events" for t, _ in seen_by["hq"]), 15)  # head office reads it

        def answered(cmd_id):
            return [json.loads(p)["data"] for t, p in seen_by["hq"] if t == K1 + "cmd-result" and cmd_id.encode() in p]

        # kiosk-02's stolen credentials: a perfectly signed command and an ack, aimed at kiosk-01
        forged = signing.envelope("cmd/ping", {}, store="s001", kiosk="kiosk-01", key=key, id_="from-kiosk-02")
        other.publish(K1 + "cmd/ping", json.dumps(forged), qos=1).wait_for_publish(5)
        other.publish(K1 + "ack", json.dumps({"v": 1, "type": "ack", "data": {"ids": ["x"]}}), qos=1)
        other.publish("kiosk/v1/s001/kiosk-02/cmd/ping", json.dumps({"id": "own"}), qos=1)  # nor its own commands
        # then head office's own command: when it is answered, anything sent before it would have been too
        real = signing.envelope("cmd/ping", {}, store="s001", kiosk="kiosk-01", key=key, id_="from-hq")
        hq.publish(K1 + "cmd/ping", json.dumps(real), qos=1)
        assert wait_until(lambda: answered("from-hq"), 15)
        assert answered("from-hq")[0]["ok"] is True
        assert answered("from-kiosk-02") == []
        assert kiosk.store.conn().execute("SELECT count(*) FROM commands WHERE id='from-kiosk-02'").fetchone()[0] == 0
        assert seen_by["kiosk-02"] == []  # it read nothing of kiosk-01's
    finally:
        kiosk.stop()
        for c in (hq, other):
            c.loop_stop()
            c.disconnect()


def test_acl_generator_refuses_ids_that_are_not_the_kiosks():
    from provisioning.broker_acl import main

    assert main(["s001/kiosk-01"]) == 0
    assert main(["S 001/kiosk#"]) == 2


def test_check_warns_about_a_broker_without_tls_outside_this_machine(tmp_path):
    from tests.conftest import kiosk_cli

    cfg = write_config(
        tmp_path / "k.toml", {"mqtt": {"host": "mqtt.example.com"}, "kiosk": {"data_dir": str(tmp_path)}}
    )
    run = kiosk_cli("--config", str(cfg), "--check")
    assert run.returncode == 0
    assert "warning: mqtt.host: mqtt.example.com is reached without TLS" in run.stderr
    assert "warning: mqtt.hq_public_key_file is not set" in run.stderr
    local = write_config(tmp_path / "l.toml", {"kiosk": {"data_dir": str(tmp_path)}})
    assert "without TLS" not in kiosk_cli("--config", str(local), "--check").stderr


def test_head_office_s_shared_subscription_passes_the_acl_and_a_kiosk_s_does_not(pki, fleet_broker):  # noqa: F811
    """Head office's workers read through `$share/hq/...`; a kiosk's credentials cannot read another kiosk's
    messages that way either."""
    port = fleet_broker
    seen = {"hq": [], "kiosk-02": []}
    hq = connect(pki, port, "hq", on_message=lambda c, u, m: seen["hq"].append(m.topic))
    hq.subscribe("$share/hq/kiosk/v1/+/+/events", qos=1)
    other = connect(pki, port, "s001-kiosk-02", on_message=lambda c, u, m: seen["kiosk-02"].append(m.topic))
    other.subscribe("$share/hq/kiosk/v1/s001/kiosk-01/events", qos=1)
    kiosk = connect(pki, port, "s001-kiosk-01")
    try:
        time.sleep(0.5)  # both subscriptions in place
        for _ in range(6):  # were kiosk-02 in the group, the broker would hand it about half of them
            kiosk.publish(K1 + "events", b"{}", qos=1).wait_for_publish(5)
        assert wait_until(lambda: seen["hq"] == [K1 + "events"] * 6, 10)
        time.sleep(0.5)
        assert seen["kiosk-02"] == []
    finally:
        for c in (hq, other, kiosk):
            c.loop_stop()
            c.disconnect()


def test_a_paired_kiosk_logs_in_by_its_certificate_alone_and_keeps_to_its_topics(tmp_path, pki, fleet):  # noqa: F811
    """Issue 11: kiosks paired by head office have no password: the shipped broker's second listener takes the
    certificate head office signed (CN = the ACL's account); another CA's certificate is refused."""
    import socket
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    etc = fleet["etc"]
    authority = pairing.Authority.load(str(etc / "kiosk-ca.pem"), str(etc / "kiosk-ca.key"), "127.0.0.1",
                                       fleet["paired"], str(pki / "ca.pem"))  # fmt: skip

    def paired_client(name: str, cert_file=None, key_file=None):
        if cert_file is None:
            key = ec.generate_private_key(ec.SECP256R1())
            csr = (
                x509.CertificateSigningRequestBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.SERIAL_NUMBER, "pi")]))
                .sign(key, hashes.SHA256())
            )
            cert = pairing.sign(authority, csr, name, "pi", time.time())
            cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
            cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))  # fmt: skip
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{name}-{time.monotonic_ns()}")
        c.tls_set(ca_certs=str(pki / "ca.pem"), certfile=str(cert_file), keyfile=str(key_file))
        answer = []
        c.on_connect = lambda cl, u, f, rc, p: answer.append(rc)
        c.connect("127.0.0.1", fleet["paired"])
        c.loop_start()
        assert wait_until(lambda: answer, 10)
        assert not answer[0].is_failure, answer
        return c

    seen = []
    hq = connect(pki, fleet["port"], "hq", on_message=lambda c, u, m: seen.append(m.topic))
    hq.subscribe("kiosk/v1/#", qos=1)
    kiosk = paired_client("s001-kiosk-01")
    try:
        time.sleep(0.3)
        kiosk.publish("kiosk/v1/s001/kiosk-02/events", b"{}", qos=1).wait_for_publish(5)  # not its account's
        kiosk.publish(K1 + "events", b"{}", qos=1).wait_for_publish(5)
        assert wait_until(lambda: K1 + "events" in seen, 10)
        time.sleep(0.3)
        assert seen == [K1 + "events"]
        # a certificate of another CA: the broker ends the TLS session before any MQTT is read
        context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        context.load_cert_chain(str(pki / "client.pem"), str(pki / "client.key"))
        answer = b""
        try:  # the handshake fails, or the session is ended at once: either way no CONNACK ever comes
            with context.wrap_socket(socket.create_connection(("127.0.0.1", fleet["paired"]), 5),
                                     server_hostname="127.0.0.1") as raw:  # fmt: skip
                raw.sendall(bytes([0x10, 12, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 30, 0, 0]))  # CONNECT
                answer = raw.recv(4)
        except OSError:  # ssl.SSLError included: "unknown ca", or EOF in violation of protocol
            pass
        assert answer == b""
    finally:
        for c in (hq, kiosk):
            c.loop_stop()
            c.disconnect()
