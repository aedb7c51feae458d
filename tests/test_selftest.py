"""The technician's self-test against devices on loopback."""

import subprocess
import sys

from hardware.camera import qr_image
from tests.conftest import REPO, write_config
from tests.loopback import MjpegCamera, NetworkPrinter, SerialLine, free_port, wait_until


def run_selftest(config, *args):
    return subprocess.run(
        [sys.executable, "-m", "provisioning.selftest", "--config", str(config), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_every_device_passes(tmp_path, broker):
    line, cam, printer = SerialLine(), MjpegCamera(), NetworkPrinter()
    cam.show(qr_image("281234567890123451"))
    hq_sections = {"database": {"url": f"sqlite:///{tmp_path / 'hq.sqlite'}"}, "mqtt": {"port": broker.port},
                   "http": {"enabled": False}}  # fmt: skip
    hq_conf = write_config(tmp_path / "hq.toml", hq_sections)
    hq_log = tmp_path / "hq.log"
    hq = subprocess.Popen([sys.executable, "-m", "headoffice", "--config", str(hq_conf)], cwd=REPO,
                          stdout=open(hq_log, "wb"), stderr=subprocess.STDOUT)  # fmt: skip
    try:
        assert wait_until(lambda: "head office running" in hq_log.read_text(), 30), hq_log.read_text()
        cfg = write_config(
            tmp_path / "k.toml",
            {
                "kiosk": {"data_dir": str(tmp_path / "data")},
                "scanner": {"type": "serial", "url": line.url},
                "camera": {"type": "opencv", "source": cam.url},
                "printer": {"type": "network", "port": printer.port},
                "gpio": {"pin_factory": "mock"},
                "mqtt": {"port": broker.port},
            },
        )
        import threading

        threading.Timer(3.0, lambda: line.send(b"6901234567892\r")).start()  # the technician scans something
        shot = tmp_path / "results.png"
        run = run_selftest(cfg, "--print-test-page", "--scan-wait", "20", "--show-s", "0", "--results-png", str(shot))
        assert run.returncode == 0, run.stdout + run.stderr
        lines = [ln for ln in run.stdout.splitlines() if ln.split()[0] in ("PASS", "FAIL", "SKIP")]
        assert [ln.split()[:2] for ln in lines] == [
            ["PASS", "config"],
            ["PASS", "storage"],
            ["PASS", "font"],
            ["PASS", "display"],
            ["PASS", "scanner"],
            ["PASS", "camera"],
            ["PASS", "printer"],
            ["PASS", "gpio"],
            ["PASS", "mqtt"],
            ["PASS", "gateway"],
            ["PASS", "clock"],
            ["SKIP", "cert"],
        ]
        assert "sandbox answers (asked about a trade that does not exist" in run.stdout
        # head office gets the results when the kiosk runs: an `events` message in its outbox
        import json
        import sqlite3

        db = sqlite3.connect(tmp_path / "data" / "kiosk.sqlite")
        events = [json.loads(p)["data"] for (p,) in db.execute("SELECT payload FROM outbox WHERE topic = 'events'")]
        assert events[-1]["kind"] == "selftest" and events[-1]["passed"] is True
        assert events[-1]["checks"]["printer"]["ok"] is True
        assert "QRCODE 281234567890123451" in run.stdout
        assert "head office acknowledged in" in run.stdout  # the link as the kiosk uses it, end to end
        assert "read '6901234567892'" in run.stdout and "dummy 800x480: colour bars shown" in run.stdout
        assert wait_until(lambda: len(printer.jobs) == 2, 5)  # the test page, then the results on paper
        assert b"{BTEST-kiosk-01" in printer.jobs[0] and printer.jobs[0].endswith(b"\x1dV\x00")
        assert "the results printed" in run.stdout
        import pygame  # the results on the kiosk's own screen: a line per check, passed ones in green

        picture = pygame.image.load(str(shot))
        greens = sum(picture.get_at((x, y))[:3] == (110, 240, 170) for x in range(0, 400, 2) for y in range(0, 480, 2))
        assert greens > 100
    finally:
        hq.terminate()
        hq.wait(10)
        line.close()
        cam.close()
        printer.close()


def test_failures_are_named_and_do_not_stop_the_others(tmp_path):
    cfg = write_config(
        tmp_path / "k.toml",
        {
            "kiosk": {"data_dir": str(tmp_path / "data")},
            "scanner": {"type": "serial", "url": f"socket://127.0.0.1:{free_port()}"},
            "camera": {"type": "none"},
            "printer": {"type": "network", "port": free_port(), "timeout_s": 1},
            "gpio": {"pin_factory": "mock"},
            "mqtt": {"port": free_port()},
        },
    )
    run = run_selftest(cfg, "--show-s", "0")
    assert run.returncode == 1
    status = {ln.split()[1]: ln.split()[0] for ln in run.stdout.splitlines() if not ln.startswith(" ")}
    assert status == {
        "config": "PASS",
        "storage": "PASS",
        "font": "PASS",
        "display": "PASS",
        "scanner": "FAIL",
        "camera": "SKIP",
        "printer": "FAIL",
        "gpio": "PASS",
        "mqtt": "FAIL",
        "gateway": "PASS",
        "clock": "PASS",
        "cert": "SKIP",
    }
    assert "Traceback" not in run.stdout + run.stderr


def test_bad_config_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[camera]\nsauce = 1\n")
    run = run_selftest(bad)
    assert run.returncode == 1 and run.stdout.strip().startswith("FAIL config   camera.sauce: unknown key")


def test_a_touch_on_the_screen_is_asked_for_and_felt(tmp_path):
    """Under a real X server (Xvfb), xdotool taps the self-test's screen as a technician's finger would."""
    import os
    import shutil
    import threading

    if not shutil.which("Xvfb") or not shutil.which("xdotool"):
        raise AssertionError("make test installs xvfb and xdotool")
    display = f":{free_port() % 1000 + 100}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    from pathlib import Path

    assert wait_until(Path(f"/tmp/.X11-unix/X{display[1:]}").exists, 15)  # the X server is up
    try:
        sections = {"kiosk": {"data_dir": str(tmp_path / "data")}, "gpio": {"pin_factory": "mock"},
                    "mqtt": {"enabled": False}}  # fmt: skip
        cfg = write_config(tmp_path / "k.toml", sections)
        env = {**os.environ, "DISPLAY": display, "SDL_VIDEODRIVER": "x11"}

        def tap():
            found = subprocess.run(["xdotool", "search", "--sync", "--class", "selftest"], env=env,
                                   capture_output=True, text=True, timeout=30)  # fmt: skip
            window = found.stdout.split()[0]
            import time

            time.sleep(1.5)  # the colour bars first, then the question
            subprocess.run(
                ["xdotool", "mousemove", "--window", window, "200", "300", "click", "1"], env=env, timeout=10
            )

        threading.Thread(target=tap, daemon=True).start()
        args = ["--config", str(cfg), "--touch-wait", "30", "--show-s", "0"]
        run = subprocess.run([sys.executable, "-m", "provisioning.selftest", *args], capture_output=True, text=True,
                             cwd=REPO, env=env, timeout=120)  # fmt: skip
        assert "PASS display  x11 800x480: colour bars shown; touched at 200,300" in run.stdout, run.stdout + run.stderr
    finally:
        xvfb.terminate()
        xvfb.wait(5)
