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

from device.config import SETTINGS, Config, Layers, merge, save_settings, value_of
from device.errors import HingeMirrorError


class LiveSettings:
    """`layers`: where each setting comes from (device.config.load_layers); the
    settings file keeps only what the staff set apart from the config file."""

    def __init__(self, config: Config, path: Path | str,
                 apply: Callable[[Config], None] = lambda config: None,
                 layers: Layers | None = None) -> None:
        self.path = Path(path)
        self._config = config
        self._file = layers.file if layers is not None else config
        self._file_keys = layers.file_keys if layers is not None else frozenset()
        self._staff = set(layers.staff) if layers is not None else _keys_in(self.path)
        self._apply = apply
        self._lock = threading.Lock()
        apply(config)

    @property
    def config(self) -> Config:
        return self._config

    def values(self) -> dict[str, Any]:
        """{"section.key": value} of every setting, in SETTINGS order."""
        return {f"{s}.{k}": getattr(getattr(self._config, s), k) for s, k in SETTINGS}

    def origins(self) -> dict[str, tuple[str, Any, bool]]:
        """{"section.key": (where from, the value without the staff's, whether
        the config file sets it)}; where from: "staff page", "file" or "default"."""
        return {name: ("staff page" if name in self._staff else
                       "file" if name in self._file_keys else "default",
                       value_of(self._file, name), name in self._file_keys)
                for name in self.values()}

    def change(self, values: dict[str, Any]) -> Config:
        """Check, save, apply. `values` is {"section.key": value}, typed as the
        config file would be; ConfigValueError names the first bad key,
        HingeMirrorError says the file could not be written (nothing applied).
        A value that differs from the one in effect becomes the staff's; one
        equal to the config file's is the file's again."""
        raw: dict[str, dict[str, Any]] = {}
        for name, value in values.items():
            section, _, key = name.partition(".")
            raw.setdefault(section, {})[key] = value
        with self._lock:
            config = merge(self._config, raw, "settings page", only=SETTINGS)
            staff = self._staff | {n for n in values
                                   if value_of(config, n) != value_of(self._config, n)}
            return self._save(config, staff)

    def reset(self, name: str) -> Config:
        """Back to the config file's value (or the default's) for `name`."""
        if name not in self.values():
            raise HingeMirrorError(f"settings: no setting {name!r}")
        with self._lock:
            section, _, key = name.partition(".")
            config = merge(self._config, {section: {key: value_of(self._file, name)}},
                           "settings page", only=SETTINGS)
            return self._save(config, self._staff - {name})

    def _save(self, config: Config, staff: set[str]) -> Config:
        staff = {n for n in staff if value_of(config, n) != value_of(self._file, n)}
        save_settings(self.path, config, keys=staff)
        self._config, self._staff = config, staff
        self._apply(config)
        return config


def _keys_in(path: Path) -> set[str]:
    """The "section.key" a settings file holds (none if there is none)."""
    import tomllib

    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, ValueError):
        return set()
    return {f"{s}.{k}" for s, keys in raw.items() if isinstance(keys, dict) for k in keys}


def display_of(config: Config, speech_available: bool) -> dict[str, Any]:
    """What the mirror page needs of the settings (it reads this from snapshots)."""
    d = config.display
    return {"sleep_s": d.sleep_s, "chime": d.chime, "speech": d.speech and speech_available}
