"""One config schema: defaults in one place, unknown keys rejected, errors name key and value.

A config file is TOML with these sections (all keys optional)::

    [server]
    host = "0.0.0.0"   # staff reach the device over the local network
    port = 8000
    threads = 8        # waitress threads: live pages take at most threads - 3 of them

    [camera]
    source = "auto"    # auto | picamera | demo | INDEX | PATH
    width = 640
    height = 480
    fps = 30

    [pose]
    mode = "crop"      # crop | letterbox
    threads = 1
    runtime = ""       # "" = LiteRT, else tflite_runtime

    [display]
    sleep_s = 300.0    # nobody in view this long: the glass goes black (0 = never)
    chime = true       # a short chime on each counted rep
    speech = true      # cues spoken (espeak-ng, on the device)
    skeleton = false   # draw the keypoints over the page (optional; never a picture)

    [store]
    path = "var/hinge-mirror.db"   # on a device: /var/lib/hinge-mirror/hinge-mirror.db
    retention_days = 365           # sessions older than this are deleted (0 = keep all)

    [coach]
    set_reps = 0       # reps per set: the set is done at the last one (0 = no target)
    sets = 0           # sets per session (0 = no target)
    rest_s = 90.0      # the rest shown between sets, seconds
    session_idle_s = 10.0  # nobody in view this long ends a session
    guide = true       # set-up prompts before the first rep (never holds counting back)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from device.errors import HingeMirrorError
from device.vision.pose import MODES
from device.vision.runtime import RUNTIMES


@dataclass(frozen=True)
class ServerConfig:
    host: str = "0.0.0.0"
    port: int = 8000
    threads: int = 8


@dataclass(frozen=True)
class CameraConfig:
    source: str = "auto"
    width: int = 640
    height: int = 480
    fps: int = 30


@dataclass(frozen=True)
class PoseConfig:
    mode: str = "crop"
    threads: int = 1
    runtime: str = ""


@dataclass(frozen=True)
class DisplayConfig:
    sleep_s: float = 300.0
    chime: bool = True
    speech: bool = True
    skeleton: bool = False


@dataclass(frozen=True)
class StoreConfig:
    path: str = "var/hinge-mirror.db"
    retention_days: int = 365


@dataclass(frozen=True)
class CoachConfig:
    set_reps: int = 0
    sets: int = 0
    rest_s: float = 90.0
    session_idle_s: float = 10.0
    guide: bool = True

    def params(self):
        """The coach's parameters with these settings."""
        from device.core.coach import CoachParams

        return CoachParams(set_target_reps=self.set_reps, set_target_sets=self.sets,
                           rest_s=self.rest_s, session_idle_s=self.session_idle_s,
                           guide=self.guide)


@dataclass(frozen=True)
class Config:
    server: ServerConfig = ServerConfig()
    camera: CameraConfig = CameraConfig()
    pose: PoseConfig = PoseConfig()
    display: DisplayConfig = DisplayConfig()
    store: StoreConfig = StoreConfig()
    coach: CoachConfig = CoachConfig()


_CHECKS = {
    ("server", "port"): (lambda v: 1 <= v <= 65535, "must be 1..65535"),
    ("server", "threads"): (lambda v: 4 <= v <= 64, "must be 4..64"),
    ("camera", "width"): (lambda v: 64 <= v <= 4096, "must be 64..4096 pixels"),
    ("camera", "height"): (lambda v: 64 <= v <= 4096, "must be 64..4096 pixels"),
    ("camera", "fps"): (lambda v: 1 <= v <= 120, "must be 1..120"),
    ("pose", "mode"): (lambda v: v in MODES, f"must be one of {', '.join(MODES)}"),
    ("pose", "threads"): (lambda v: 1 <= v <= 8, "must be 1..8"),
    ("pose", "runtime"): (lambda v: v in ("", *RUNTIMES), f"must be '' or one of {RUNTIMES}"),
    ("store", "path"): (lambda v: bool(v.strip()), "must name a file"),
    ("store", "retention_days"): (lambda v: 0 <= v <= 36500, "must be 0..36500 (0: keep all)"),
    ("display", "sleep_s"): (lambda v: v == 0 or 10 <= v <= 86400, "must be 0 or 10..86400 s"),
    ("coach", "set_reps"): (lambda v: 0 <= v <= 100, "must be 0..100 (0: no target)"),
    ("coach", "sets"): (lambda v: 0 <= v <= 20, "must be 0..20 (0: no target)"),
    ("coach", "rest_s"): (lambda v: 5 <= v <= 900, "must be 5..900 seconds"),
    ("coach", "session_idle_s"): (lambda v: 2 <= v <= 600, "must be 2..600 seconds"),
}


def _bad(path: Path, key: str, value: Any, why: str) -> HingeMirrorError:
    return HingeMirrorError(f"config {path}: {key} = {value!r} {why}; fix it or remove the key")


def load_config(path: Path | None) -> Config:
    """Read a TOML config over the defaults; any unknown key or bad value is an error."""
    config = Config()
    if path is None:
        return config
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise HingeMirrorError(f"config {path}: no such file; check the --config path") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise HingeMirrorError(f"config {path}: not valid TOML ({exc}); fix the syntax") from None
    for section, values in raw.items():
        if section not in {f.name for f in fields(Config)}:
            raise _bad(path, section, "...",
                       "is not a known section (server, camera, pose, display, store, "
                       "coach)")
        if not isinstance(values, dict):
            raise _bad(path, section, values, "must be a [section] table")
        current = getattr(config, section)
        known = {f.name: f for f in fields(current)}
        updates = {}
        for key, value in values.items():
            name = f"{section}.{key}"
            if key not in known:
                raise _bad(path, name, value, f"is not a known key (known: {', '.join(known)})")
            want = type(getattr(current, key))
            if want is float and type(value) is int:
                value = float(value)  # 90 means 90.0 seconds
            if type(value) is not want:
                raise _bad(path, name, value, f"must be a {want.__name__}")
            check = _CHECKS.get((section, key))
            if check and not check[0](value):
                raise _bad(path, name, value, check[1])
            updates[key] = value
        config = replace(config, **{section: replace(current, **updates)})
    return config
