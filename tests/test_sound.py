"""Issue 13: sounds through the speaker as well as the buzzer (scan ok, error, paid, help) and short spoken
prompts in the shopper's language, from WAV files checked in (made by `python -m kiosk.sounds.make`)."""

from __future__ import annotations

import subprocess
import sys
import wave

import numpy as np
import pytest

from kiosk.checkout import Phase
from kiosk.i18n import LANGUAGES
from kiosk.sounds import PROMPTS, TONES, prompt_path, tone_path
from tests.conftest import REPO
from tests.test_ui import run_until, tap


def samples(path) -> tuple[np.ndarray, float]:
    with wave.open(str(path)) as w:
        raw, width, rate, n = w.readframes(w.getnframes()), w.getsampwidth(), w.getframerate(), w.getnframes()
    if width == 1:
        data = np.frombuffer(raw, np.uint8).astype(float) - 128
    else:
        data = np.frombuffer(raw, "<i2").astype(float) / 256
    return data, n / rate


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_every_prompt_is_there_in_every_language_and_is_speech(language):
    for key in PROMPTS:
        data, seconds = samples(prompt_path(key, language))
        assert 0.5 <= seconds <= 8, (key, seconds)
        loud = np.abs(data) > 8
        assert loud.mean() > 0.1, (key, language)  # speech (with its pauses), not silence
        assert (np.abs(data) >= 127).mean() < 0.01  # not clipped


def test_every_tone_is_short_and_audible():
    for name in TONES:
        data, seconds = samples(tone_path(name))
        assert 0.05 <= seconds <= 1.0 and np.abs(data).max() > 50, name


def test_the_shoppers_day_is_heard_in_their_language(ui_for):
    k, ui = ui_for(kiosk={"default_language": "en"})
    played = k.speaker.played
    k.panel.scan("6901234000016")
    assert run_until(ui, lambda: ("tone", "ok") in played)
    tap(ui, "language")
    tap(ui, "language:ja")
    tap(ui, "pay")
    assert run_until(ui, lambda: ("prompt", "hold_code", "ja") in played)
    tap(ui, "sim:pay_decline")
    assert run_until(ui, lambda: ("prompt", "not_charged", "ja") in played, 15)
    assert ("tone", "error") in played
    tap(ui, "sim:pay_ok")
    assert run_until(ui, lambda: k.checkout.phase is Phase.RESULT, 15)
    assert run_until(ui, lambda: ("prompt", "paid", "ja") in played)
    assert ("tone", "paid") in played
    said = [p for p in played if p[0] == "prompt"]
    assert said == [("prompt", "hold_code", "ja"), ("prompt", "not_charged", "ja"), ("prompt", "paid", "ja")]
    k.panel.scan("6901234000184")  # the next shopper: beer, in the kiosk's language again
    assert run_until(ui, lambda: ("prompt", "age_check", "en") in played)
    tap(ui, "help")
    assert run_until(ui, lambda: ("prompt", "help", "en") in played) and ("tone", "help") in played


def test_prompts_can_be_switched_off(ui_for):
    k, ui = ui_for(sound={"prompts": False})
    k.panel.scan("6901234000016")
    assert run_until(ui, lambda: ("tone", "ok") in k.speaker.played)
    tap(ui, "pay")
    ui.frame()
    assert not [p for p in k.speaker.played if p[0] == "prompt"]


def test_no_sound_card_leaves_the_kiosk_silent_not_stopped(tmp_path):
    code = (
        "from hardware.speaker import Speaker\n"
        "from kiosk.sounds import tone_path, prompt_path\n"
        "s = Speaker(tone_path, prompt_path)\n"
        "s.play('ok'); s.say('paid', 'en')\n"
        "print(s.ok, len(s.played), s.problem[:40])\n"
    )
    env = {
        "SDL_AUDIODRIVER": "no-such-driver",
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "PYGAME_HIDE_SUPPORT_PROMPT": "1",
    }
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("False 2 no sound:") and "Traceback" not in run.stderr


def test_every_sound_is_read_at_start_not_in_a_frame(ui_for):
    k, _ = ui_for(kiosk={"default_language": "en"})
    loaded = set(k.speaker._sounds)
    assert {tone_path(t) for t in TONES} | {prompt_path(key, lang) for key in PROMPTS for lang in LANGUAGES} <= loaded
