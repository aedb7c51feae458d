"""Make the kiosk's sound files: `python -m kiosk.sounds.make` (needs Debian's espeak-ng for the prompts).

Tones are synthesised (sine notes with short fades, 22,050 Hz 16-bit); prompts are
spoken by espeak-ng and kept as 11,025 Hz 8-bit mono WAV (a voice needs no
more, and 25 prompts stay under a megabyte).  The output is checked in, so a
kiosk never needs espeak-ng.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

from kiosk.sounds import PROMPTS, TONES, prompt_path, tone_path

RATE = 22050
VOICES = {"zh_CN": "cmn", "zh_TW": "cmn", "en": "en-us", "ja": "ja", "ko": "ko"}
NOTES = {  # (Hz, seconds) ...: the buzzer's patterns as tunes
    "ok": [(1760, 0.07)],
    "error": [(330, 0.12), (0, 0.05), (262, 0.2)],
    "paid": [(1047, 0.1), (1319, 0.1), (1568, 0.22)],
    "help": [(880, 0.18), (659, 0.28)],
}


def tone(notes: list[tuple[int, float]]) -> np.ndarray:
    parts = []
    for hz, seconds in notes:
        t = np.arange(int(RATE * seconds)) / RATE
        wave_ = np.sin(2 * np.pi * hz * t) if hz else np.zeros_like(t)
        fade = np.minimum(1.0, np.minimum(t, seconds - t) / 0.01)  # 10 ms in and out: no clicks
        parts.append(wave_ * fade)
    return (np.concatenate(parts) * 0.6 * 32767).astype("<i2")


def write(path: Path, samples: np.ndarray, rate: int, width: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


def speak(text: str, voice: str) -> np.ndarray:
    """espeak-ng's 22,050 Hz 16-bit speech of `text`, as 11,025 Hz 8-bit samples."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "say.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "155", "-w", str(out), text], check=True)
        with wave.open(str(out)) as w:
            rate, raw = w.getframerate(), w.readframes(w.getnframes())
    samples = np.frombuffer(raw, "<i2").astype(np.float64)
    if rate == 2 * 11025:  # halve the rate: average each pair (a plain low-pass before dropping every other)
        samples = samples[: len(samples) // 2 * 2].reshape(-1, 2).mean(axis=1)
    return (np.clip(samples / 256 + 128, 0, 255)).astype(np.uint8)


def main() -> int:
    for name in TONES:
        write(tone_path(name), tone(NOTES[name]), RATE, 2)
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is not installed (apt-get install espeak-ng): prompts not made", file=sys.stderr)
        return 1
    for key, texts in PROMPTS.items():
        for language, text in texts.items():
            write(prompt_path(key, language), speak(text, VOICES[language]), 11025, 1)
    print(f"{len(TONES)} tones and {sum(len(t) for t in PROMPTS.values())} prompts written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
