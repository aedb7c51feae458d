"""The speaker: the buzzer's tones and short spoken prompts in the shopper's language, through SDL's mixer.

`Speaker` plays WAV files (tones, and prompts per language: where they are is
the caller's, kiosk/sounds for the kiosk) with pygame.mixer: non-blocking, a prompt on a channel of its own so a new one
cuts the last off.  With no sound card (or `sound.enabled = false`) it stays
silent and says why once; it never raises into the screen loop.  `played`
keeps the last things played, in order, for the self-test and the tests.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


class Speaker:
    def __init__(
        self,
        tone_path: Callable[[str], Path],
        prompt_path: Callable[[str, str], Path],
        *,
        enabled: bool = True,
        volume: float = 0.8,
        prompts: bool = True,
    ) -> None:
        self.tone_path, self.prompt_path = tone_path, prompt_path
        self.enabled, self.volume, self.prompts = enabled, volume, prompts
        self.played: deque[tuple[str, ...]] = deque(maxlen=50)  # ("tone", name) / ("prompt", key, language)
        self.problem = "" if enabled else "sound.enabled = false"
        self._sounds: dict[Path, object] = {}
        self._voice = None  # the mixer channel prompts play on
        self._mixer = None

    @property
    def ok(self) -> bool:
        return not self.problem

    def open(self) -> None:
        """Start SDL's mixer (once); a failure leaves the speaker silent, with the reason in `problem`."""
        if not self.enabled or self._mixer is not None:
            return
        try:
            import pygame

            if not pygame.mixer.get_init():
                pygame.mixer.init(frequency=22050, size=-16, channels=1, buffer=1024)
            pygame.mixer.set_reserved(1)
            self._voice = pygame.mixer.Channel(0)
            self._mixer = pygame.mixer
        except Exception as exc:  # no sound card, no driver: silent, and said once
            self.problem = f"no sound: {exc}"
            log.warning("speaker: %s", self.problem)

    def preload(self, tones: list[str], prompts: list[tuple[str, str]]) -> None:
        """Read every file now (at start), so no frame waits on the disk for its first sound."""
        for tone in tones:
            self._load(self.tone_path(tone))
        if self.prompts:
            for key, language in prompts:
                self._load(self.prompt_path(key, language))

    def play(self, tone: str) -> None:
        """A tone (ok, error, paid, help) alongside the buzzer."""
        self.played.append(("tone", tone))
        sound = self._load(self.tone_path(tone))
        if sound is not None:
            sound.play()

    def say(self, key: str, language: str) -> None:
        """A spoken prompt in `language`; a prompt still playing is cut off."""
        if not self.prompts:
            return
        self.played.append(("prompt", key, language))
        sound = self._load(self.prompt_path(key, language))
        if sound is not None and self._voice is not None:
            self._voice.play(sound)

    def _load(self, path: Path):
        self.open()
        if self._mixer is None:
            return None
        sound = self._sounds.get(path)
        if sound is None:
            try:
                sound = self._sounds[path] = self._mixer.Sound(str(path))
                sound.set_volume(self.volume)
            except Exception as exc:  # a missing or damaged file: that sound is skipped, the rest play
                log.warning("speaker: cannot play %s: %s", path.name, exc)
                return None
        return sound

    def close(self) -> None:
        if self._mixer is not None:
            self._mixer.quit()
            self._mixer = None
