"""Settings that staff change while the mirror runs, applied without a restart.

A change is checked by the config file's own schema (`device.config.merge`,
limited to `SETTINGS`), written atomically to `settings.toml` beside the store,
and only then applied: the coach's parameters (set target, guide,
sensitivity) and what the mirror page does (chime, speech, sleep), which the
page reads from each snapshot. A change that fails to be written is not applied.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device.config import SETTINGS, Config, merge, save_settings


class LiveSettings:
    def __init__(self, config: Config, path: Path | str,
                 apply: Callable[[Config], None] = lambda config: None) -> None:
        self.path = Path(path)
        self._config = config
        self._apply = apply
        self._lock = threading.Lock()
        apply(config)

    @property
    def config(self) -> Config:
        return self._config

    def values(self) -> dict[str, Any]:
        """{"section.key": value} of every setting, in SETTINGS order."""
        return {f"{s}.{k}": getattr(getattr(self._config, s), k) for s, k in SETTINGS}

    def change(self, values: dict[str, Any]) -> Config:
        """Check, save, apply. `values` is {"section.key": value}, typed as the
        config file would be; ConfigValueError names the first bad key,
        HingeMirrorError says the file could not be written (nothing applied)."""
        raw: dict[str, dict[str, Any]] = {}
        for name, value in values.items():
            section, _, key = name.partition(".")
            raw.setdefault(section, {})[key] = value
        with self._lock:
            config = merge(self._config, raw, "settings page", only=SETTINGS)
            save_settings(self.path, config)
            self._config = config
            self._apply(config)
        return config


def display_of(config: Config, speech_available: bool) -> dict[str, Any]:
    """What the mirror page needs of the settings (it reads this from snapshots)."""
    d = config.display
    return {"sleep_s": d.sleep_s, "chime": d.chime, "speech": d.speech and speech_available}
