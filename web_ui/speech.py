"""Spoken cues made on the device: espeak-ng, offline, into WAV bytes for the page.

Chromium on Raspberry Pi OS usually has no speech-synthesis voices (they come
from speech-dispatcher, which the kiosk does not run), so the page cannot rely
on `speechSynthesis`; espeak-ng is a small Debian package that speaks without
the internet. Each sentence is made once and kept in memory: the cues are a
short fixed list (device/words.py). No recording of anyone is ever involved.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess

log = logging.getLogger(__name__)


class Speaker:
    def __init__(self, binary: str = "espeak-ng", voice: str = "en-gb",
                 words_per_min: int = 150) -> None:
        self.binary = shutil.which(binary)
        self.voice = voice
        self.words_per_min = words_per_min
        if self.binary is None:
            log.warning("%s not found: cues are shown, not spoken (apt install espeak-ng)",
                        binary)

    @property
    def available(self) -> bool:
        return self.binary is not None

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one speaker per app, a fixed set of cues
    def wav(self, text: str) -> bytes | None:
        """The sentence as a WAV file, or None when it cannot be spoken here."""
        if self.binary is None:
            return None
        try:
            done = subprocess.run(
                [self.binary, "--stdout", "-v", self.voice, "-s", str(self.words_per_min), text],
                capture_output=True, timeout=10, check=True)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("speaking %r failed: %s", text, exc)
            return None
        return done.stdout if done.stdout[:4] == b"RIFF" else None
