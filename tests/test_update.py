"""Issue 11: updates with rollback.  A release bundle (provisioning/release.py) signed by head office is installed
beside the running release; `current` switches to it with one rename and the kiosk must come up on it (READY=1, its
first frame) or `current` goes back.  Tested inside a directory standing for the Pi: each "restart" starts the
release's real kiosk as a second process with the updater's NOTIFY_SOCKET."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import tarfile

import pytest

from headoffice.signing import keygen
from provisioning import install, release, update
from tests.conftest import write_config
from tests.test_headoffice import kiosk_store  # noqa: F401 - a fixture


@pytest.fixture
def pi(tmp_path):
    """A kiosk installed into a directory: the release of this tree running the simulator, head office's key."""
    root = tmp_path / "pi"
    assert install.main(["--root", str(root), "--no-deps"]) == 0
    update.give_virtualenv(root / "opt/kiosk/current", sys.prefix)
    write_config(
        root / "etc/kiosk/kiosk.toml",
        {
            "kiosk": {"data_dir": str(root / "var/lib/kiosk")},
            "gpio": {"pin_factory": "mock"},
            "mqtt": {"enabled": False},
            "simulator": {"panel": False},
        },
    )
    private, public = keygen(str(tmp_path / "hq"))
    return root, private, public


def current(root) -> str:
    return os.readlink(root / "opt/kiosk/current").removeprefix("releases/")


def test_a_signed_release_is_installed_and_a_release_that_does_not_come_up_is_rolled_back(tmp_path, pi):
    root, key, pub = pi
    first = current(root)
    good, good_json = release.build(tmp_path / "out", key, version="2.0.0-test")
    done = update.apply(good, good_json, root, pub, ready_s=60, venv=sys.prefix)
    assert done["outcome"] == "installed" and done["previous"] == first, done
    assert current(root) == "2.0.0-test" and (root / "opt/kiosk/current/VERSION").read_text().strip() == "2.0.0-test"
    # a release whose kiosk dies before its first frame
    broken = tmp_path / "broken-src"
    shutil.copytree(install.SRC, broken, ignore=install.IGNORE)
    main = broken / "kiosk/__main__.py"
    head = "def main(argv: list[str] | None = None) -> int:\n"
    main.write_text(main.read_text().replace(head, head + '    raise SystemExit("this release cannot start")\n'))
    bad, bad_json = release.build(tmp_path / "out", key, src=broken, version="2.0.1-broken")
    done = update.apply(bad, bad_json, root, pub, ready_s=60, venv=sys.prefix)
    assert done["outcome"] == "rolled_back" and "this release cannot start" in done["reason"], done
    assert done["previous_up"] is True
    assert current(root) == "2.0.0-test"  # back on the release before, which came up again
    result = json.loads((root / "var/lib/kiosk/update/result.json").read_text())
    assert result["version"] == "2.0.1-broken" and result["outcome"] == "rolled_back"
    # a release whose screen never comes up (hung before its first frame)
    main.write_text(main.read_text().replace('raise SystemExit("this release cannot start")', "time.sleep(600)"))
    hung, hung_json = release.build(tmp_path / "out", key, src=broken, version="2.0.2-hung")
    done = update.apply(hung, hung_json, root, pub, ready_s=8, venv=sys.prefix)
    assert done["outcome"] == "rolled_back" and done["reason"] == "no READY=1 within 8 s", done
    assert current(root) == "2.0.0-test"
    assert len(list((root / "opt/kiosk/releases").iterdir())) <= update.KEEP


def test_a_bundle_not_signed_by_head_office_or_changed_or_hostile_changes_nothing(tmp_path, pi):
    root, key, pub = pi
    first = current(root)
    bundle, sidecar = release.build(tmp_path / "out", key, version="3.0.0")
    data = bytearray(bundle.read_bytes())
    data[-10] ^= 0xFF
    changed = tmp_path / "changed.tar.gz"
    changed.write_bytes(bytes(data))
    with pytest.raises(update.UpdateError, match="not the one the manifest names"):
        update.apply(changed, sidecar, root, pub, venv=sys.prefix)
    other_key, _ = keygen(str(tmp_path / "stranger"))
    _, forged = release.build(tmp_path / "stranger-out", other_key, version="3.0.0")
    with pytest.raises(update.UpdateError, match="not signed by head office"):
        update.apply(bundle, forged, root, pub, venv=sys.prefix)
    # signed by head office, but it would write outside its release
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        payload = b"owned\n"
        info = tarfile.TarInfo("../../../../etc/evil")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    import base64
    import hashlib

    from cryptography.hazmat.primitives import serialization

    manifest = {
        "version": "3.0.1",
        "sha256": hashlib.sha256(evil.read_bytes()).hexdigest(),
        "size": evil.stat().st_size,
    }
    private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    signature = base64.b64encode(private.sign(release.canonical(manifest))).decode()
    (tmp_path / "evil.json").write_text(json.dumps({"manifest": manifest, "signature": signature}))
    with pytest.raises(update.UpdateError, match="holds what a release may not"):
        update.apply(evil, tmp_path / "evil.json", root, pub, venv=sys.prefix)
    assert not (tmp_path / "etc/evil").exists() and not (root / "etc/evil").exists()
    assert current(root) == first
    assert sorted(p.name for p in (root / "opt/kiosk/releases").iterdir()) == [first]


def test_the_root_updater_takes_the_kiosks_request_once_and_only_files_in_its_folder(tmp_path, pi):
    root, key, pub = pi
    folder = root / "var/lib/kiosk/update"
    folder.mkdir(parents=True)
    shutil.copyfile(pub, root / "var/lib/kiosk/hq-command.pub")  # what pairing gave the kiosk
    bundle, sidecar = release.build(tmp_path / "out", key, version="4.0.0")
    shutil.copyfile(bundle, folder / bundle.name)
    shutil.copyfile(sidecar, folder / sidecar.name)
    ask = {"version": "4.0.0", "bundle": f"../../../../{bundle.name}", "sidecar": sidecar.name}  # only its name counts
    (folder / "request.json").write_text(json.dumps(ask))
    done = update.apply_request(root, ready_s=60, venv=sys.prefix)
    assert done is not None and done["outcome"] == "installed" and current(root) == "4.0.0"
    assert not (folder / "request.json").exists() and (folder / "request.taken.json").exists()
    assert update.apply_request(root) is None  # nothing asked: nothing done


def test_the_outcome_is_reported_to_head_office_once(tmp_path):
    from kiosk.services.updates import FirmwareUpdates
    from kiosk.store import Identity, Store

    store = Store(tmp_path / "k.sqlite", Identity("s001", "kiosk-07", "K07", "CNY"))
    folder = tmp_path / "update"
    folder.mkdir()
    outcome = {"version": "2.0.1", "previous": "2.0.0", "outcome": "rolled_back", "reason": "no READY=1 within 90 s"}
    (folder / "result.json").write_text(json.dumps(outcome))
    updates = FirmwareUpdates(store, None, None, tmp_path, "2.0.0", lambda url, size: b"", lambda e: None)
    updates.report()
    updates.report()
    rows = store.conn().execute("SELECT payload FROM outbox WHERE topic = 'events'").fetchall()
    sent = [json.loads(r[0])["data"] for r in rows]
    assert [(e["kind"], e["version"], e["outcome"]) for e in sent] == [("update", "2.0.1", "rolled_back")]


def test_head_office_alerts_on_a_rolled_back_update_a_failed_selftest_and_a_refused_certificate(
    hq_engine,
    kiosk_store,  # noqa: F811
):
    from headoffice import queries
    from headoffice.ingest import Ingest
    from tests.test_headoffice import outbox

    ingest = Ingest(hq_engine)

    def open_alerts():
        return {a["kind"]: a["detail"] for a in queries.alerts(hq_engine)}

    kiosk_store.add_event("update", version="2.0.1", previous="2.0.0", outcome="rolled_back", reason="no READY=1")
    kiosk_store.add_event("selftest", passed=False, checks={"printer": {"ok": False, "message": "no paper"},
                                                           "clock": {"ok": True, "message": "ok"}})  # fmt: skip
    kiosk_store.add_event("certificate_rolled_back", reason="the broker refused the connection")
    kiosk_store.add_event("link_restored", down_s=600, reason="mqtt.cert_file: /var/lib/kiosk/x.pem: No such file")
    ingest.store_batch(outbox(kiosk_store))
    found = open_alerts()
    assert found["update_failed"] == "2.0.1: no READY=1" and found["selftest_failed"] == "printer"
    assert "refused" in found["cert_rotation_failed"]
    assert found["link_was_down"].startswith("10 min without head office: mqtt.cert_file")
    kiosk_store.add_event("update", version="2.0.2", previous="2.0.0", outcome="installed", reason="ready")
    kiosk_store.add_event("selftest", passed=True, checks={"printer": {"ok": True, "message": "ok"}})
    ingest.store_batch(outbox(kiosk_store))  # what was stored already is a duplicate: nothing doubles
    found = open_alerts()
    assert "update_failed" not in found and "selftest_failed" not in found and "cert_rotation_failed" in found


def test_a_release_that_comes_up_but_never_reaches_head_office_is_rolled_back(tmp_path, pi):
    """A kiosk that was connected before the update must say `birth` again on the new release (its READY=1 alone
    is not enough: a release that cannot reach head office would sell blind)."""
    from tests.loopback import Mosquitto

    root, key, pub = pi
    broker = Mosquitto(tmp_path).start()
    try:
        write_config(
            root / "etc/kiosk/kiosk.toml",
            {
                "kiosk": {"data_dir": str(root / "var/lib/kiosk")},
                "gpio": {"pin_factory": "mock"},
                "mqtt": {"port": broker.port, "retry_s": 0.2},
                "simulator": {"panel": False},
            },
        )
        assert update.comes_up(root, 60, birth_s=30) == (True, "ready")  # the running release reaches head office
        assert update.last_birth(root) > 0
        deaf = tmp_path / "deaf-src"
        shutil.copytree(install.SRC, deaf, ignore=install.IGNORE)
        link = deaf / "kiosk/telemetry.py"
        link.write_text(
            link.read_text().replace("client.connect(self.m.host, self.m.port,", "client.connect(self.m.host, 1,")
        )
        bundle, sidecar = release.build(tmp_path / "out", key, src=deaf, version="6.0.0-deaf")
        done = update.apply(bundle, sidecar, root, pub, ready_s=60, venv=sys.prefix, birth_s=8)
        assert done["outcome"] == "rolled_back" and done["reason"] == "ready, but no birth to head office within 8 s"
        assert done["previous_up"] is True and current(root) != "6.0.0-deaf"
    finally:
        broker.stop()
