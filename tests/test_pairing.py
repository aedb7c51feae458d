"""Issue 11: a new kiosk is paired with head office instead of having its config edited: it shows a code, a
technician gives head office the code and where the kiosk goes, head office signs a client certificate for the
kiosk's own key and the kiosk starts selling under that identity.

Head office's rules are tested on SQLite and PostgreSQL; the whole path with real processes: head office's HTTP
API, `python -m headoffice pair` as a technician types it, a kiosk process showing its code, and a mosquitto that
accepts a kiosk by its certificate alone (the certificate's CN is the account its ACL names).  The certificates
are checked with openssl, not only with the library that made them.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import insert, select

from headoffice import pairing
from headoffice.db import kiosks, pairings
from tests.conftest import REPO
from tests.loopback import Subscriber, free_port, wait_until
from tests.pairing_site import PairingSite


def csr_for(key) -> str:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.SERIAL_NUMBER, "test")])
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def authority(tmp_path):
    key_file, cert_file = pairing.make_ca(str(tmp_path))
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    return pairing.Authority.load(str(cert_file), str(key_file), "broker.example", 8883, hq_url="https://hq.example")


def ask(engine, code="ABCD2345", serial="10000000abcdef01", key=None, now=1000.0, **extra):
    key = key or ec.generate_private_key(ec.SECP256R1())
    body = {"code": code, "serial": serial, "secret": "s" * 40, "csr": csr_for(key), **extra}
    return key, pairing.request(engine, body, ttl_s=900, now=now)


def test_a_code_pairs_one_kiosk_once_with_a_certificate_for_its_own_key(hq_engine, authority, tmp_path):
    t0 = time.time()  # the certificate is good from now (openssl checks)
    key, req = ask(hq_engine, code="ABCD2345", now=t0)
    done = pairing.approve(hq_engine, authority, "abcd-2345", "s001", "kiosk-07", now=t0 + 100)  # as typed
    assert done["order_prefix"] == "K07" and done["serial"] == "10000000abcdef01"
    assert pairing.collect(hq_engine, req["id"], "wrong secret" * 4, now=t0 + 200)[0] == 404
    status, answer = pairing.collect(hq_engine, req["id"], "s" * 40, now=t0 + 200)
    assert status == 200
    assert (answer["store_id"], answer["kiosk_id"], answer["order_prefix"]) == ("s001", "kiosk-07", "K07")
    assert answer["broker"]["host"] == "broker.example" and answer["hq_url"] == "https://hq.example"
    cert = x509.load_pem_x509_certificate(answer["certificate"].encode())
    assert cert.public_key() == key.public_key()  # the kiosk's key: head office never had the private one
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "s001-kiosk-07"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    # openssl, not the library that signed it, says the chain holds
    (tmp_path / "kiosk.pem").write_text(answer["certificate"])
    (tmp_path / "ca.pem").write_text(answer["broker"]["ca"])
    check = subprocess.run(
        [
            "openssl",
            "verify",
            "-purpose",
            "sslclient",
            "-CAfile",
            str(tmp_path / "ca.pem"),
            str(tmp_path / "kiosk.pem"),
        ],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0 and ": OK" in check.stdout, check.stdout + check.stderr
    assert pairing.collect(hq_engine, req["id"], "s" * 40, now=t0 + 300)[0] == 410  # once
    with pytest.raises(pairing.PairingError, match="code: already used"):
        pairing.approve(hq_engine, authority, "ABCD2345", "s001", "kiosk-08", now=t0 + 300)
    with hq_engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(select(pairings)) for v in row)
    assert "PRIVATE KEY" not in stored and "ABCD2345" not in stored  # the code only as its hash


def test_a_stores_settings_go_with_pairing_but_never_a_key_or_the_identity(tmp_path, hq_engine, authority):
    import dataclasses

    stores = tmp_path / "stores"
    stores.mkdir()
    given = dataclasses.replace(authority, store_config_dir=str(stores))
    (stores / "s001.toml").write_text('[payment]\ngateway = "alipay"\n[alipay]\napp_id = "2021000000000001"\n'
                                      'app_private_key_file = "/etc/kiosk/alipay-app.key"\n')  # fmt: skip
    assert given.store_config("s001")["alipay"]["app_private_key_file"] == "/etc/kiosk/alipay-app.key"
    assert given.store_config("s404") == {}  # no file: nothing given
    for bad, why in (
        ('[mqtt]\nhost = "evil.example"\n', r"\[mqtt\] is not given at pairing"),
        ('[kiosk]\nstore_id = "s999"\n', "kiosk.store_id is the kiosk's own"),
        ('[alipay]\napp_private_key = "MIIEv..."\n', "keys travel as file names"),
    ):
        (stores / "s002.toml").write_text(bad)
        with pytest.raises(pairing.PairingError, match=why):
            given.store_config("s002")


def test_refusals_name_what_is_wrong_and_change_nothing(hq_engine, authority):
    with pytest.raises(pairing.PairingError, match="^code: "):
        ask(hq_engine, code="ABCD1234")  # 1 is not in the alphabet: a look-alike of I
    with pytest.raises(pairing.PairingError, match="^csr: not a PEM"):
        pairing.request(hq_engine, {"code": "ABCD2345", "serial": "x1", "secret": "s" * 40, "csr": "junk"})
    with pytest.raises(pairing.PairingError, match="^csr: the key must be EC P-256"):
        ask(hq_engine, key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with pytest.raises(pairing.PairingError, match="^secret: at least 32"):
        pairing.request(hq_engine, {"code": "ABCD2345", "serial": "x1", "secret": "short", "csr": csr_for(
            ec.generate_private_key(ec.SECP256R1()))})  # fmt: skip
    with pytest.raises(pairing.PairingError, match="^serial: "):
        ask(hq_engine, serial="../../etc")
    ask(hq_engine, code="WXYZ2345", now=1000.0)
    with pytest.raises(pairing.PairingError, match="^code: in use"):
        ask(hq_engine, code="WXYZ2345", now=1010.0)  # another kiosk made the same code: it makes a new one
    with pytest.raises(pairing.PairingError, match="^code: expired"):
        pairing.approve(hq_engine, authority, "WXYZ2345", "s001", "kiosk-01", now=1000.0 + 901)
    with pytest.raises(pairing.PairingError, match="^code: no kiosk is waiting"):
        pairing.approve(hq_engine, authority, "QQQQ2345", "s001", "kiosk-01", now=1001.0)
    with hq_engine.begin() as conn:
        conn.execute(insert(kiosks).values(store="s001", kiosk="kiosk-01", state="online", state_since=0, last_seen=0))
    ask(hq_engine, code="MNPQ2345", now=2000.0)
    with pytest.raises(pairing.PairingError, match="^kiosk: s001/kiosk-01 is in the fleet already"):
        pairing.approve(hq_engine, authority, "MNPQ2345", "s001", "kiosk-01", now=2001.0)
    with pytest.raises(pairing.PairingError, match="^store: "):
        pairing.approve(hq_engine, authority, "MNPQ2345", "S 001", "kiosk-02", now=2001.0)
    assert (
        pairing.approve(hq_engine, authority, "MNPQ2345", "s001", "kiosk-02", "A2", now=2001.0)["order_prefix"] == "A2"
    )
    ask(hq_engine, code="RSTV2345", now=2002.0)
    with pytest.raises(pairing.PairingError, match="^prefix: A2 is another kiosk's"):
        pairing.approve(hq_engine, authority, "RSTV2345", "s002", "kiosk-02", "A2", now=2003.0)
    with pytest.raises(pairing.PairingError, match="^kiosk: s001/kiosk-02 is paired already"):
        pairing.approve(hq_engine, authority, "RSTV2345", "s001", "kiosk-02", now=2003.0)
    assert pairing.approve(hq_engine, authority, "RSTV2345", "s002", "kiosk-02", now=2003.0)["order_prefix"] == "K02"
    with hq_engine.connect() as conn:  # the expired code's request is still pending, never approved
        states = dict(
            conn.execute(select(pairings.c.store, pairings.c.state).where(pairings.c.store.is_not(None))).all()
        )
    assert states == {"s001": "approved", "s002": "approved"}


def test_an_expired_request_is_gone_for_the_kiosk(hq_engine):
    _, req = ask(hq_engine, now=1000.0)
    assert pairing.collect(hq_engine, req["id"], "s" * 40, now=1500.0) == (
        202,
        {"state": "pending", "expires_at": 1900.0},
    )
    assert pairing.collect(hq_engine, req["id"], "s" * 40, now=1901.0)[0] == 410


# -- the whole path, with real processes ------------------------------------------------------------------------


@pytest.fixture
def pairing_site(tmp_path):
    with PairingSite(tmp_path) as site:
        yield site


def test_a_blank_kiosk_shows_a_code_is_paired_by_a_technician_and_sells_under_its_new_identity(tmp_path, pairing_site):
    cfg, data = pairing_site.kiosk_config("kiosk")
    check = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(cfg), "--check"], cwd=REPO,
                           capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0 and "not paired yet" in check.stdout, check.stderr
    office = Subscriber(pairing_site.plain)  # head office's view of the broker
    proc = pairing_site.start_kiosk(cfg, tmp_path / "kiosk.log")
    logs = lambda: (tmp_path / "kiosk.log").read_text(errors="replace")[-3000:]  # noqa: E731
    try:
        code_file = data / "pairing-code"
        assert wait_until(code_file.exists, 30), logs()  # the pairing screen is up, with the code
        assert oct(code_file.stat().st_mode & 0o777) == "0o600"
        code = code_file.read_text().split()[0]  # what the screen shows, e.g. ABCD-EFGH
        assert not (data / "kiosk.sqlite").exists()  # not selling
        assert office.payloads("birth") == []
        typed = pairing_site.pair(code.lower(), "s001", "kiosk-07")
        assert typed.returncode == 0 and "paired s001/kiosk-07" in typed.stdout, typed.stderr
        with pairing_site.engine.connect() as conn:
            from headoffice.db import audit_log

            who = conn.execute(select(audit_log.c.user).where(audit_log.c.action == "pair")).scalar_one()
        assert who.startswith("cli:")  # the technician's command is audited
        # the kiosk collects its identity, connects to the broker with its new certificate and says who it is
        assert wait_until(lambda: office.payloads("birth"), 30), logs()
        birth = office.payloads("birth")[0]
        assert (birth["store"], birth["kiosk"]) == ("s001", "kiosk-07")
        assert oct((data / "mqtt-client.key").stat().st_mode & 0o777) == "0o600"
        assert not code_file.exists()
        assert (data / "kiosk.sqlite").exists()  # selling
        again = pairing_site.pair(code, "s001", "kiosk-08")
        assert again.returncode == 1 and "pair: code: already used" in again.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        office.close()
    paired = (data / "paired.toml").read_text()
    assert 'store_id = "s001"' in paired and 'order_prefix = "K07"' in paired
    from kiosk.config import load

    cfg = load(str(pairing_site.kiosk_config("kiosk")[0]))  # the store's settings from head office, read over the file
    assert cfg.kiosk.store_id == "s001" and cfg.kiosk.default_language == "en" and cfg.payment.request_timeout_s == 8
    assert (
        cfg.receipt.store_name.texts == {"zh_CN": "静安店", "en": "Jing'an Store"} and cfg.receipt.footer == "谢谢惠顾"
    )


# -- the kiosk's side ----------------------------------------------------------------------------------------------


@pytest.fixture
def hq_api(tmp_path):
    """Head office's HTTP API on SQLite, its codes good for one second."""
    from headoffice.db import make_engine
    from headoffice.migrate import upgrade
    from headoffice.web import WebServer, make_app

    engine = make_engine(f"sqlite:///{tmp_path / 'hq.sqlite'}")
    upgrade(engine)
    port = free_port()
    server = WebServer(make_app(engine, None, pairing_ttl_s=1.0), "127.0.0.1", port)
    server.start()
    assert wait_until(lambda: server.started, 10)
    yield engine, f"http://127.0.0.1:{port}"
    server.stop()
    engine.dispose()


def test_a_kiosk_makes_a_new_code_when_its_code_expires_and_says_when_head_office_is_away(tmp_path, hq_api):
    from kiosk.pairing import Pairing

    engine, url = hq_api
    away = Pairing(f"http://127.0.0.1:{free_port()}", str(tmp_path / "a"), serial="pi-1")
    assert away.step() is False
    state = away.snapshot()
    assert state.status == "unreachable" and "cannot be reached" in state.detail and state.code == ""
    p = Pairing(url, str(tmp_path / "k"), serial="pi-2")
    assert p.step() is False
    first = p.snapshot()
    assert first.status == "waiting" and len(first.code) == 8 and first.shown_code[4] == "-"
    key_pem = (tmp_path / "k" / "mqtt-client.key").read_bytes()
    assert p.step() is False and p.snapshot().code == first.code  # still waiting
    time.sleep(1.2)
    p.step()  # head office says the code expired
    p.step()  # a new one
    assert p.snapshot().status == "waiting" and p.snapshot().code != first.code
    assert (tmp_path / "k" / "mqtt-client.key").read_bytes() == key_pem  # one key for the kiosk's life
    assert len(pairing.waiting(engine)) == 1  # the new request; the old one expired


def test_an_answer_not_for_this_kiosks_key_is_refused(tmp_path, authority):
    from kiosk.pairing import Pairing, PairingRefused

    p = Pairing("http://127.0.0.1:9", str(tmp_path / "k"), serial="pi-3")
    other = ec.generate_private_key(ec.SECP256R1())
    csr = x509.load_pem_x509_csr(csr_for(other).encode())
    cert = pairing.sign(authority, csr, "s001-kiosk-09", "pi-3", time.time())
    answer = {
        "store_id": "s001",
        "kiosk_id": "kiosk-09",
        "order_prefix": "K09",
        "certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "broker": {"host": "127.0.0.1", "port": 8883, "ca": authority.broker_ca_pem},
    }
    with pytest.raises(PairingRefused, match="not for this kiosk's key"):
        p.install(answer)
    with pytest.raises(PairingRefused, match="malformed answer"):
        p.install({**answer, "broker": "nowhere"})
    mine = pairing.sign(authority, x509.load_pem_x509_csr(csr_for(p.key()).encode()), "s001-kiosk-09", "pi-3",
                        time.time()).public_bytes(serialization.Encoding.PEM).decode()  # fmt: skip
    with pytest.raises(PairingRefused, match="store settings: payment.gateway: 'bitcoin' is not allowed"):
        p.install({**answer, "certificate": mine, "config": {"payment": {"gateway": "bitcoin"}}})
    assert not (tmp_path / "k" / "paired.toml").exists()  # nothing written


@pytest.mark.parametrize("size", ["800x480", "1280x800", "720x1280"])
def test_the_pairing_screen_shows_the_code_large_and_every_text_on_screen(size):
    import pygame

    from kiosk.fonts import find_cjk_font
    from kiosk.pairing import PairingState
    from kiosk.ui.pairing_screen import PairingScreen
    from kiosk.ui.widgets import Painter, scale_for

    pygame.display.init()
    pygame.font.init()
    w, h = (int(v) for v in size.split("x"))
    surface = pygame.Surface((w, h))
    painter = Painter(surface, find_cjk_font(), scale_for((w, h)))
    screen = PairingScreen(painter, qr=True)
    for state in (
        PairingState(code="ABCD2345", serial="10000000abcdef01", status="waiting", expires_at=time.time() + 900),
        PairingState(code="ABCD2345", serial="10000000abcdef01", status="unreachable", detail="timed out"),
        PairingState(status="paired", identity={"store_id": "s001", "kiosk_id": "kiosk-07"}),
        PairingState(code="ABCD2345", serial="10000000abcdef01", status="unreachable", detail="timed out",
                     qr_refused="expired: ask head office for a new one"),
    ):  # fmt: skip
        screen.draw(state)
        texts = dict(painter.texts)
        for text, rect in painter.texts:
            assert surface.get_rect().contains(rect), (size, text, rect)
        if state.status == "paired":
            assert "已配对为 s001/kiosk-07，正在启动…" in texts and "Paired as s001/kiosk-07. Starting…" in texts
            continue
        assert texts["ABCD-2345"].height >= 60 * scale_for((w, h))  # the code, large
        assert "请在总部输入此配对码：" in texts and "Enter this code at head office:" in texts
        assert any("10000000abcdef01" in t for t in texts)
        if state.status == "unreachable":
            assert "无法连接总部，正在重试" in texts
        if state.qr_refused:
            assert "未接受该配置二维码：" in texts and state.qr_refused in texts
        else:
            assert "Or show head office's provisioning QR to the camera" in texts


def test_an_operator_pairs_a_kiosk_in_the_console_and_a_viewer_cannot(tmp_path, authority):
    """The console's /pairing: the kiosks waiting, the code typed with the kiosk's place; a refusal shows what was
    typed with the reason; a pairing is in the audit log; a viewer is refused (403) and sees no form."""
    import requests

    from headoffice import users
    from headoffice.db import audit_log, make_engine
    from headoffice.migrate import upgrade
    from headoffice.web import WebServer, make_app
    from tests.test_console_pages import PASSWORD, csrf_of, session

    engine = make_engine(f"sqlite:///{tmp_path / 'hq.sqlite'}")
    upgrade(engine)
    users.add_user(engine, "lin", "operator", PASSWORD)
    users.add_user(engine, "wang", "viewer", PASSWORD)
    port = free_port()
    server = WebServer(make_app(engine, None, pairing_ttl_s=900.0, pairing_authority=authority), "127.0.0.1", port)
    server.start()
    assert wait_until(lambda: server.started, 10)
    url = f"http://127.0.0.1:{port}"
    try:
        key = ec.generate_private_key(ec.SECP256R1())
        asked = requests.post(f"{url}/api/v1/pairing", timeout=10, json={
            "code": "HJKM2345", "serial": "10000000feedbeef", "secret": "k" * 40, "csr": csr_for(key)})  # fmt: skip
        assert asked.status_code == 201, asked.text
        assert (
            requests.post(f"{url}/api/v1/pairing", timeout=10, json={"code": "x"}).json()["error"].startswith("code: ")
        )
        op = session(url, "lin", "zh_CN")
        page = op.get(f"{url}/pairing", timeout=10).text
        assert "配对自助机" in page and "10000000feedbeef" in page  # waiting, by its serial
        form = {"csrf": csrf_of(page), "code": "hjkm-2345", "store": "s001", "kiosk": "kiosk-07", "prefix": "k7"}
        wrong = op.post(f"{url}/pairing", data={**form, "code": "HJKM2346"}, timeout=10)
        assert wrong.status_code == 400 and "no kiosk is waiting" in wrong.text and 'value="s001"' in wrong.text
        done = op.post(f"{url}/pairing", data=form, timeout=10)
        assert done.status_code == 200 and "已配对 s001/kiosk-07" in done.text and "K7" in done.text
        answer = requests.get(f"{url}/api/v1/pairing/{asked.json()['id']}", headers={"X-Pairing-Secret": "k" * 40},
                              timeout=10)  # fmt: skip
        assert answer.status_code == 200 and answer.json()["order_prefix"] == "K7"
        with engine.connect() as conn:
            row = conn.execute(select(audit_log).where(audit_log.c.action == "pair")).one()
        assert (row.user, row.target, row.detail["serial"]) == ("lin", "kiosk/s001/kiosk-07", "10000000feedbeef")
        viewer = session(url, "wang")
        assert 'id="pair"' not in viewer.get(f"{url}/fleet", timeout=10).text
        assert viewer.get(f"{url}/pairing", timeout=10).status_code == 403
        token = csrf_of(viewer.get(f"{url}/fleet", timeout=10).text)
        refused = viewer.post(f"{url}/pairing", data={**form, "csrf": token, "kiosk": "kiosk-08"}, timeout=10)
        assert refused.status_code == 403
    finally:
        server.stop()
        engine.dispose()


# -- rotating the certificate ------------------------------------------------------------------------------------


def serial_of(path) -> int:
    return x509.load_pem_x509_certificate(path.read_bytes()).serial_number


def test_head_office_rotates_a_paired_kiosks_certificate_reads_its_log_and_sends_it_a_release(tmp_path):
    """`python -m headoffice rotate-cert s001/kiosk-07`: the kiosk makes a new key, head office signs it, the
    kiosk reconnects with it (the broker knows it by the same account); a certificate for another key is refused
    and nothing changes."""
    with PairingSite(tmp_path) as site, site.paired_kiosk("kiosk", "s001", "kiosk-07") as (_, data, office, _, _):
        site.start_service()
        pem = data / "mqtt-client.pem"
        before = serial_of(pem)
        assert wait_until(lambda: site.headoffice("cmd", "s001/kiosk-07", "ping", "{}", "--wait", "5").returncode == 0,
                          40)  # fmt: skip
        births = len(office.payloads("birth"))
        done = site.headoffice("rotate-cert", "s001/kiosk-07", "--wait", "30")
        assert done.returncode == 0 and "new certificate, good until" in done.stdout, done.stdout + done.stderr
        assert wait_until(lambda: len(office.payloads("birth")) > births, 30)  # back, with the new certificate
        assert serial_of(pem) != before and oct(pem.stat().st_mode & 0o777) == "0o600"
        assert wait_until(lambda: not (data / "mqtt-client.pem.old").exists(), 10)  # kept: the broker took it
        assert not (data / "mqtt-client.pem.next-key").exists()
        # a certificate for a key the kiosk did not make
        after = serial_of(pem)
        asked = site.headoffice("cmd", "s001/kiosk-07", "rotate-cert", "{}", "--wait", "20")
        assert asked.returncode == 0 and '"csr"' in asked.stdout
        stranger = ec.generate_private_key(ec.SECP256R1())
        issuer = pairing.Authority.load(str(tmp_path / "hq" / "kiosk-ca.pem"), str(tmp_path / "hq" / "kiosk-ca.key"),
                                        "127.0.0.1", 1)  # fmt: skip
        forged = pairing.sign(issuer, x509.load_pem_x509_csr(csr_for(stranger).encode()), "s001-kiosk-07", "x",
                              time.time()).public_bytes(serialization.Encoding.PEM).decode()  # fmt: skip
        refused = site.headoffice("cmd", "s001/kiosk-07", "rotate-cert", json.dumps({"certificate": forged}),
                                  "--wait", "20")  # fmt: skip
        assert refused.returncode == 1 and "not for the key this kiosk made" in refused.stdout
        assert serial_of(pem) == after
        # the kiosk's log, read from head office: its pairing and the rotation are in it
        logs = site.headoffice("cmd", "s001/kiosk-07", "logs", '{"lines": 100}', "--wait", "20")
        assert logs.returncode == 0, logs.stdout + logs.stderr
        answer = json.loads(logs.stdout.strip().splitlines()[-1])["result"]
        assert answer["source"] == "memory" and len(answer["lines"]) <= 100
        assert any("paired with head office as s001/kiosk-07" in line for line in answer["lines"])
        assert any("rotate-cert: the broker took the new certificate" in line for line in answer["lines"])
        bad = site.headoffice("cmd", "s001/kiosk-07", "logs", '{"lines": 100000}', "--wait", "20")
        assert bad.returncode == 1 and "'lines' must be a whole number from 1 to 500" in bad.stdout
        # a firmware release (issue 11, tests/test_update.py for the root side): `release-send` keeps the bundle
        # where the HTTP API serves it; the kiosk downloads and checks it against the signed manifest, keeps it and
        # (no shopper at it) asks the root updater for it; a manifest signed by another key is refused
        from provisioning import release

        hq = tmp_path / "hq"
        bundle, sidecar = release.build(tmp_path / "out", hq / "command.key", version="5.0.0")
        sent = site.headoffice("release-send", str(bundle), str(sidecar), "s001/kiosk-07", "--wait", "60")
        assert sent.returncode == 0 and '"staged": true' in sent.stdout, sent.stdout + sent.stderr
        request = data / "update/request.json"
        assert wait_until(request.exists, 15)
        assert json.loads(request.read_text())["version"] == "5.0.0"
        assert (data / "update/kiosk-5.0.0.tar.gz").read_bytes() == bundle.read_bytes()
        from headoffice.signing import keygen

        stranger, _ = keygen(str(tmp_path / "stranger"))
        other, forged = release.build(tmp_path / "stranger-out", stranger, version="5.0.1")
        refused = site.headoffice("release-send", str(other), str(forged), "s001/kiosk-07", "--wait", "60")
        assert refused.returncode == 1 and "not signed by head office" in refused.stdout
        assert not (data / "update/kiosk-5.0.1.tar.gz").exists()


def test_a_certificate_the_broker_refuses_is_given_up_for_the_old_one(tmp_path, authority):
    """Three refused connections with a rotated certificate put the old one back (the kiosk must not lock itself
    out); head office hears of it.  A certificate installed by hand under /etc is not the kiosk's to rotate."""
    from kiosk.services.certificates import CertificateRotation

    data = tmp_path / "data"
    data.mkdir()
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pairing.sign(authority, x509.load_pem_x509_csr(csr_for(key).encode()), "s001-kiosk-07", "pi", time.time())
    pem = data / "mqtt-client.pem"
    old = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pem.write_bytes(old)
    reconnects, events = [], []
    rotation = CertificateRotation(str(pem), str(pem), data, lambda: reconnects.append(1),
                                   lambda kind, **d: events.append(kind))  # fmt: skip
    asked = rotation.handle({})
    csr = pairing.checked_csr(asked["csr"])
    new = pairing.sign(authority, csr, "s001-kiosk-07", "pi", time.time()).public_bytes(serialization.Encoding.PEM)
    assert rotation.handle({"certificate": new.decode()})["ok"] is True
    assert pem.read_bytes().startswith(new) and reconnects == [1]
    for _ in range(3):
        rotation.link_status(False, "the broker refused the connection: Not authorized")
    assert pem.read_bytes() == old and events == ["certificate_rolled_back"] and reconnects == [1, 1]
    rotation.link_status(False, "down")  # nothing more to give up
    assert pem.read_bytes() == old
    by_hand = CertificateRotation("/etc/kiosk/mqtt.pem", "/etc/kiosk/mqtt.key", data, lambda: None)
    assert "installed by hand" in by_hand.handle({})["error"]


# -- a provisioning QR, for a site head office cannot reach at install time -----------------------------------


def test_a_provisioning_qr_pairs_only_when_head_office_signed_it_and_it_is_still_good(tmp_path, hq_engine, authority):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from kiosk.pairing import Pairing

    key = Ed25519PrivateKey.generate()
    pub = tmp_path / "hq.pub"
    pub.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    text = pairing.provisioning_qr(hq_engine, authority, key, "s002", "kiosk-03", days=1, now=time.time())
    assert text.startswith("KIOSKPAIR1:") and len(text) < 600  # a QR a camera reads at arm's length
    with pytest.raises(pairing.PairingError, match="is paired already"):  # the ids are reserved at once
        pairing.provisioning_qr(hq_engine, authority, key, "s002", "kiosk-03")

    def kiosk(name, key_file=str(pub)):
        return Pairing("http://127.0.0.1:9", str(tmp_path / name), serial="pi-9", hq_key_file=key_file)

    plain = kiosk("a")
    assert plain.offer("6901234567892") is False and plain.snapshot().qr_refused == ""  # a product: not for us
    tampered = text.replace('"kiosk_id":"kiosk-03"', '"kiosk_id":"kiosk-04"')
    assert plain.offer(tampered) is False and "not signed by head office" in plain.snapshot().qr_refused
    assert plain.offer("KIOSKPAIR1:{not json") is False and "not signed" in plain.snapshot().qr_refused
    stranger = Ed25519PrivateKey.generate()  # someone else's key, a well-formed QR
    forged = pairing.provisioning_qr(hq_engine, authority, stranger, "s002", "kiosk-05")
    assert plain.offer(forged) is False and "not signed by head office" in plain.snapshot().qr_refused
    assert plain.offer(text, now=time.time() + 2 * 86400) is False and "expired" in plain.snapshot().qr_refused
    assert kiosk("b", key_file="").offer(text) is False  # a kiosk that trusts no key takes no QR
    assert not (tmp_path / "a" / "paired.toml").exists()
    assert plain.offer(text) is True and plain.done.is_set()
    paired = (tmp_path / "a" / "paired.toml").read_text()
    assert 'store_id = "s002"' in paired and 'kiosk_id = "kiosk-03"' in paired and 'order_prefix = "K03"' in paired
    assert oct((tmp_path / "a" / "enroll.json").stat().st_mode & 0o777) == "0o600"
    # the token gets a certificate once, for the kiosk's own key
    token = json.loads((tmp_path / "a" / "enroll.json").read_text())["token"]
    mine = ec.generate_private_key(ec.SECP256R1())
    answer = pairing.enroll(hq_engine, authority, {"token": token, "serial": "pi-9", "csr": csr_for(mine)})
    cert = x509.load_pem_x509_certificate(answer["certificate"].encode())
    assert cert.public_key() == mine.public_key() and answer["store_id"] == "s002"
    with pytest.raises(pairing.PairingError, match="token: unknown or used"):
        pairing.enroll(hq_engine, authority, {"token": token, "serial": "pi-9", "csr": csr_for(mine)})


def test_a_kiosk_out_of_head_offices_reach_is_paired_by_a_qr_at_its_camera_sells_and_connects_later(tmp_path):
    """Real parts: a kiosk process whose camera is a local MJPEG stream showing the QR `python -m headoffice pair-qr`
    printed, head office's HTTP API stopped meanwhile.  The kiosk leaves the pairing screen and sells at once; when
    head office is back it gets its certificate with the QR's token and its birth reaches head office."""
    import numpy as np
    import qrcode

    from tests.loopback import MjpegCamera

    with PairingSite(tmp_path) as site:
        made = site.headoffice("pair-qr", "--store", "s001", "--kiosk", "kiosk-07", "--out", str(tmp_path / "qr.svg"))
        assert made.returncode == 0, made.stderr
        text = made.stdout.strip().splitlines()[-1]
        assert text.startswith("KIOSKPAIR1:") and (tmp_path / "qr.svg").read_text().startswith("<?xml")
        image = np.array(qrcode.make(text, box_size=4, border=4).convert("L"))
        camera = MjpegCamera()
        cfg, data = site.kiosk_config("kiosk")
        with open(cfg, "a") as f:
            f.write(f'hq_public_key_file = "{tmp_path / "hq" / "command.pub"}"\n')  # [pairing] is the last section
            f.write(f'[camera]\ntype = "opencv"\nsource = "{camera.url}"\nfps = 10\n')
        site.stop_web()  # head office out of reach
        office = Subscriber(site.plain)
        # --demo: a real camera with the sandbox gateway is refused otherwise (a shop would set its gateway)
        proc = site.start_kiosk(cfg, tmp_path / "kiosk.log", "--demo")
        logs = lambda: (tmp_path / "kiosk.log").read_text(errors="replace")[-3000:]  # noqa: E731
        try:
            assert wait_until(lambda: "not paired yet" in logs(), 30), logs()
            camera.show(image)  # the technician holds the QR to the camera
            assert wait_until((data / "kiosk.sqlite").exists, 30), logs()  # selling, under its new ids
            assert 'kiosk_id = "kiosk-07"' in (data / "paired.toml").read_text()
            time.sleep(1)
            assert office.payloads("birth") == []  # no certificate yet: head office is away
            site.start_web()
            assert wait_until(lambda: office.payloads("birth"), 45), logs()
            birth = office.payloads("birth")[0]
            assert (birth["store"], birth["kiosk"]) == ("s001", "kiosk-07")
            assert not (data / "enroll.json").exists()
        finally:
            proc.terminate()
            proc.wait(15)
            office.close()
            camera.close()


def test_a_kiosk_paired_to_sell_head_offices_catalog_waits_for_it_then_sells_it(tmp_path):
    """Issue 11: pairing sends the kiosk its config and then the catalog.  A store whose kiosks sell only head
    office's catalog: the newly paired kiosk is "not ready" (out of service, reported) until the service's
    catch-up delivers the store's published catalog, then it sells it (its version in `birth`)."""
    with PairingSite(tmp_path, kiosks=("s002/kiosk-01",)) as site:
        (tmp_path / "hq" / "stores" / "s002.toml").write_text('[kiosk]\ncatalog = "headoffice"\n')
        imported = site.headoffice("catalog", "import", str(REPO / "docs" / "catalog-example.csv"))
        assert imported.returncode == 0, imported.stdout + imported.stderr
        with site.paired_kiosk("kiosk", "s002", "kiosk-01") as (_, data, office, _, _):
            assert wait_until(lambda: "not ready: no catalog from head office yet" in site.logs("kiosk"), 30)
            published = site.headoffice("catalog", "publish", "--store", "s002")
            assert published.returncode == 0, published.stdout + published.stderr
            site.start_service()  # its catch-up finds the kiosk behind its store's newest catalog and sends it
            assert wait_until(lambda: "selling from catalog 1-" in site.logs("kiosk"), 90), site.logs("kiosk")
            assert wait_until(lambda: "back in service" in site.logs("kiosk"), 10)
            import sqlite3

            def beer() -> tuple | None:
                """P018 as sold now.  The screen switches first; the store records the switch a moment later
                on its worker (a kiosk stopped in between switches again at start)."""
                with sqlite3.connect(data / "kiosk.sqlite") as db:
                    return db.execute(
                        "SELECT price, age_restricted FROM products WHERE sku = 'P018'"
                        " AND gen = (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'catalog_gen')"
                    ).fetchone()

            # store s002's own price (price@s002 in the CSV) and the age flag
            assert wait_until(lambda: beer() == (850, 1), 10), beer()
