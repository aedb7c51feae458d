"""Issue 13: the shopper's screens in a real window under a real X server (Xvfb), touched and typed into with
xdotool as a person would, and photographed at each step.

The kiosk runs as its own process (`python -m kiosk`, simulated devices).  Beside it, a twin of the same kiosk
is drawn in this process (SDL's dummy driver) and given the same touches: the twin says where each button is
(a person sees it; the test is told) and what the screen should look like; the real window's screenshot must
match the twin's picture at every step.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import ImageGrab

from tests.conftest import REPO, write_config
from tests.loopback import SLACK, free_port, wait_until

SIZE = (800, 480)


@pytest.fixture
def x_server():
    if not shutil.which("Xvfb") or not shutil.which("xdotool"):
        raise AssertionError("make test installs xvfb and xdotool")
    display = f":{free_port() % 1000 + 1100}"
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert wait_until(Path(f"/tmp/.X11-unix/X{display[1:]}").exists, 15), "Xvfb did not start"
    yield display
    xvfb.terminate()
    xvfb.wait(5)


def config(tmp_path: Path, name: str) -> Path:
    sections = {
        "kiosk": {"data_dir": str(tmp_path / name), "default_language": "en", "bag_barcode": "6901234000320"},
        "display": {"size": f"{SIZE[0]}x{SIZE[1]}"},
        "gpio": {"pin_factory": "mock"},
        "mqtt": {"enabled": False},
        "sound": {"enabled": False},
    }
    return write_config(tmp_path / f"{name}.toml", sections)


class Twin:
    """The same kiosk drawn here: where the buttons are, and what the screen should show."""

    def __init__(self, cfg_path: Path) -> None:
        from kiosk.config import load
        from kiosk.runtime.wiring import Runtime
        from kiosk.ui.loop import UI

        self.k = Runtime(load(str(cfg_path)))
        self.ui = UI(self.k)
        self.k.start()

    def settle(self) -> np.ndarray:
        """Frames until the look-up worker's reads and the product pictures are in, then the screen's picture."""
        for _ in range(40):
            self.ui.frame()
            lu = self.k.controller.snapshot().look_up
            if (lu is None or not lu.loading) and not self.ui.screens.pictures.pending:
                break
            time.sleep(0.05)
        self.ui.frame()
        import pygame

        return pygame.surfarray.array3d(self.ui.surface).swapaxes(0, 1)

    def centre(self, button: str) -> tuple[int, int]:
        self.ui.frame()
        rect = self.ui.button_rect(button)
        assert rect is not None, f"no {button} on the twin's screen"
        return rect.center

    def close(self) -> None:
        self.k.stop()
        self.ui.close()


def screenshot(display: str) -> np.ndarray:
    return np.asarray(ImageGrab.grab(bbox=(0, 0, *SIZE), xdisplay=display).convert("RGB"))


def differs(a: np.ndarray, b: np.ndarray) -> float:
    """The share of pixels that differ by more than a little in any channel."""
    return float((np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 24).mean())


def test_a_shopper_in_a_real_window(tmp_path, x_server):
    env = {
        **os.environ,
        "DISPLAY": x_server,
        "SDL_VIDEODRIVER": "x11",
        "SDL_AUDIODRIVER": "dummy",
        "SDL_VIDEO_WINDOW_POS": "0,0",
        "GPIOZERO_PIN_FACTORY": "mock",
    }
    kiosk = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "--config", str(config(tmp_path, "window"))],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    twin = Twin(config(tmp_path, "twin"))
    steps: list[tuple[str, float]] = []
    try:
        found = subprocess.run(
            ["xdotool", "search", "--sync", "--pid", str(kiosk.pid)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        window = found.stdout.split()[0]

        def xdo(*args: str) -> None:
            subprocess.run(["xdotool", *args], env=env, check=True, timeout=10)

        def same_as_twin(step: str) -> None:
            want = twin.settle()
            deadline = time.monotonic() + 10 * SLACK
            while True:  # the real kiosk draws at its own pace: its next frames catch up
                got = screenshot(x_server)
                share = differs(got, want)
                if share < 0.003 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            steps.append((step, share))
            if share >= 0.003:
                from PIL import Image

                Image.fromarray(got).save(tmp_path / f"{step}-window.png")
                Image.fromarray(want).save(tmp_path / f"{step}-twin.png")
            assert share < 0.003, (step, share, str(tmp_path))

        def touch(button: str) -> None:
            x, y = twin.centre(button)
            xdo("mousemove", "--window", window, str(x), str(y), "click", "1")
            twin.ui.click((x, y))

        same_as_twin("welcome")
        xdo("type", "--window", window, "--delay", "20", "6901234000016")  # a keyboard-wedge scanner's keys
        xdo("key", "--window", window, "Return")
        twin.k.panel.scan("6901234000016")
        assert wait_until(lambda: (twin.ui.frame(), twin.k.checkout.cart)[1], 10)
        same_as_twin("cart")
        touch("look_up:browse")
        same_as_twin("look up")
        touch("look_up_category:drinks")
        same_as_twin("drinks")
        touch("look_up_add:6901234000023")  # cola
        same_as_twin("cola added")
        touch("bag")
        touch("large_text")
        same_as_twin("large text, with a bag")
        touch("language")
        same_as_twin("languages")
        touch("language:ja")
        touch("pay")
        same_as_twin("payment, in Japanese")
    finally:
        twin.close()
        kiosk.terminate()
        try:
            kiosk.wait(10)
        except subprocess.TimeoutExpired:
            kiosk.kill()
    assert [s for s, _ in steps][-1] == "payment, in Japanese", steps
