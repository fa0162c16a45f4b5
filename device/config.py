"""One config schema: defaults in one place, unknown keys rejected, errors name key and value.

A config file is TOML with these sections (all keys optional)::

    [server]
    host = "0.0.0.0"   # staff reach the device over the local network
    port = 8000
    threads = 8        # waitress threads: live pages take at most threads - 3 of them
    https_port = 8443  # the staff console over HTTPS (0 = off on the network: this machine
                       # alone reaches it, over plain HTTP on loopback; a warning at each start)
    https_host = ""    # where the console listens; "" = as host (--host too)
    cert = ""          # the clinic's own certificate and key (PEM); "" = the device's own
    key = ""

    [camera]
    source = "auto"    # auto | picamera | demo | INDEX | PATH
    width = 640
    height = 480
    fps = 30
    rotation = 0       # 0 | 90 | 180 | 270: clockwise, to turn the picture upright
    hflip = false      # mirrored left-right (before the rotation)
    vflip = false      # upside down (before the rotation)

    [pose]
    mode = "crop"      # crop | letterbox
    threads = 0        # the model's threads: 0 = what the machine spares (cores - 1, at least 1)
    runtime = ""       # "" = LiteRT, else tflite_runtime

    [display]
    sleep_s = 300.0    # nobody in view this long: the glass goes black (0 = never)
    chime = true       # a short chime on each counted rep
    speech = true      # cues spoken (espeak-ng, on the device)
    skeleton = false   # draw the keypoints over the page (optional; never a picture)

    [store]
    path = "var/hinge-mirror.db"   # on a device: /var/lib/hinge-mirror/hinge-mirror.db
    retention_days = 365           # sessions older than this are deleted (0 = keep all)

    [backup]           # a backup of the store, settings and keys, on a schedule
    dir = ""           # "" = backups/ beside the store; a USB stick or a network share is better
    every_h = 24.0     # hours between scheduled backups (0 = none; staff can still download one)
    keep = 7           # scheduled backups kept in dir; the oldest go first

    [coach]
    set_reps = 0       # reps per set: the set is done at the last one (0 = no target)
    sets = 0           # sets per session (0 = no target)
    rest_s = 90.0      # the rest shown between sets, seconds
    session_idle_s = 10.0  # nobody in view this long ends a session
    guide = true       # set-up prompts before the first rep (never holds counting back)
    sensitivity = "standard"   # faults called: relaxed | standard | strict

    [log]
    dir = "var/log"    # on a device: /var/log/hinge-mirror ("" = no log files)
    max_kb = 1024      # one file's size before it rotates
    files = 5          # rotated files kept: the folder holds at most (files + 1) * max_kb

    [mqtt]             # optional: rep, set and session events to a broker (no personal data)
    enabled = false
    host = "localhost"
    port = 1883
    topic = "hinge-mirror"     # events go to TOPIC/DEVICE/EVENT
    device = ""                # "" = this machine's host name
    username = ""
    password = ""
    outbox = 1000              # events kept while the broker is away; the oldest go first

Staff change some of these from the settings page (`SETTINGS`): they are
written to `settings.toml` beside the store, checked by this same schema, and
read over the config file at start (a setting made by staff wins over the file).
The settings file keeps only what staff set apart from the config file;
`load_layers` says where each setting in effect comes from.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from device.errors import HingeMirrorError
from device.files import not_a_file
from device.vision import MODES
from device.vision.runtime import RUNTIMES


@dataclass(frozen=True)
class ServerConfig:
    host: str = "0.0.0.0"
    port: int = 8000
    threads: int = 8
    https_port: int = 8443
    https_host: str = ""
    cert: str = ""
    key: str = ""


@dataclass(frozen=True)
class CameraConfig:
    source: str = "auto"
    width: int = 640
    height: int = 480
    fps: int = 30
    rotation: int = 0
    hflip: bool = False
    vflip: bool = False

    def mount(self):
        from device.vision.mount import Mount

        return Mount(self.rotation, self.hflip, self.vflip)


@dataclass(frozen=True)
class PoseConfig:
    mode: str = "crop"
    threads: int = 0
    runtime: str = ""

    def model_threads(self) -> int:
        """The threads the model gets: as set, or every core but one (the camera,
        the web server and the coach need one); a warning past the core count."""
        cores = os.cpu_count() or 1
        if self.threads == 0:
            return max(1, cores - 1)
        if self.threads > cores:
            import logging

            logging.getLogger(__name__).warning(
                "[pose] threads = %d is more than this machine's %d cores: the model's "
                "threads will wait on each other", self.threads, cores)
        return self.threads


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
class BackupConfig:
    dir: str = ""
    every_h: float = 24.0
    keep: int = 7


@dataclass(frozen=True)
class CoachConfig:
    set_reps: int = 0
    sets: int = 0
    rest_s: float = 90.0
    session_idle_s: float = 10.0
    guide: bool = True
    sensitivity: str = "standard"

    def params(self):
        """The coach's parameters with these settings."""
        from device.core.coach import CoachParams

        return CoachParams(set_target_reps=self.set_reps, set_target_sets=self.sets,
                           rest_s=self.rest_s, session_idle_s=self.session_idle_s,
                           guide=self.guide,
                           fault_tolerance=SENSITIVITY[self.sensitivity])


# Sensitivity -> the factor on every fault threshold (device/core/faults.py).
SENSITIVITY = {"relaxed": 1.25, "standard": 1.0, "strict": 0.8}


@dataclass(frozen=True)
class LogConfig:
    dir: str = "var/log"
    max_kb: int = 1024
    files: int = 5


@dataclass(frozen=True)
class MqttConfig:
    enabled: bool = False
    host: str = "localhost"
    port: int = 1883
    topic: str = "hinge-mirror"
    device: str = ""
    username: str = ""
    password: str = ""
    outbox: int = 1000


@dataclass(frozen=True)
class Config:
    server: ServerConfig = ServerConfig()
    camera: CameraConfig = CameraConfig()
    pose: PoseConfig = PoseConfig()
    display: DisplayConfig = DisplayConfig()
    store: StoreConfig = StoreConfig()
    backup: BackupConfig = BackupConfig()
    coach: CoachConfig = CoachConfig()
    log: LogConfig = LogConfig()
    mqtt: MqttConfig = MqttConfig()


# What staff may change from the settings page, in its order.
SETTINGS: tuple[tuple[str, str], ...] = (
    ("coach", "set_reps"), ("coach", "sets"), ("coach", "guide"), ("coach", "sensitivity"),
    ("display", "chime"), ("display", "speech"), ("display", "sleep_s"))


_CHECKS = {
    ("server", "port"): (lambda v: 1 <= v <= 65535, "must be 1..65535"),
    ("server", "threads"): (lambda v: 4 <= v <= 64, "must be 4..64"),
    ("server", "https_port"): (lambda v: 0 <= v <= 65535,
                               "must be 0..65535 (0: the console on this machine only)"),
    ("camera", "width"): (lambda v: 64 <= v <= 4096, "must be 64..4096 pixels"),
    ("camera", "height"): (lambda v: 64 <= v <= 4096, "must be 64..4096 pixels"),
    ("camera", "fps"): (lambda v: 1 <= v <= 120, "must be 1..120"),
    ("camera", "rotation"): (lambda v: v in (0, 90, 180, 270), "must be 0, 90, 180 or 270"),
    ("pose", "mode"): (lambda v: v in MODES, f"must be one of {', '.join(MODES)}"),
    ("pose", "threads"): (lambda v: 0 <= v <= 16, "must be 0..16 (0: cores - 1)"),
    ("pose", "runtime"): (lambda v: v in ("", *RUNTIMES), f"must be '' or one of {RUNTIMES}"),
    ("store", "path"): (lambda v: bool(v.strip()), "must name a file"),
    ("store", "retention_days"): (lambda v: 0 <= v <= 36500, "must be 0..36500 (0: keep all)"),
    ("backup", "every_h"): (lambda v: v == 0 or 1 <= v <= 24 * 31,
                           "must be 0 or 1..744 hours (0: no scheduled backups)"),
    ("backup", "keep"): (lambda v: 1 <= v <= 1000, "must be 1..1000"),
    ("display", "sleep_s"): (lambda v: v == 0 or 10 <= v <= 86400, "must be 0 or 10..86400 s"),
    ("coach", "set_reps"): (lambda v: 0 <= v <= 100, "must be 0..100 (0: no target)"),
    ("coach", "sets"): (lambda v: 0 <= v <= 20, "must be 0..20 (0: no target)"),
    ("coach", "rest_s"): (lambda v: 5 <= v <= 900, "must be 5..900 seconds"),
    ("coach", "session_idle_s"): (lambda v: 2 <= v <= 600, "must be 2..600 seconds"),
    ("coach", "sensitivity"): (lambda v: v in SENSITIVITY,
                               f"must be one of {', '.join(SENSITIVITY)}"),
    ("log", "max_kb"): (lambda v: 16 <= v <= 102400, "must be 16..102400 KiB"),
    ("log", "files"): (lambda v: 1 <= v <= 50, "must be 1..50"),
    ("mqtt", "port"): (lambda v: 1 <= v <= 65535, "must be 1..65535"),
    ("mqtt", "host"): (lambda v: bool(v.strip()), "must name the broker"),
    ("mqtt", "topic"): (lambda v: bool(v.strip("/ ")) and not set(v) & set("#+"),
                        "must be a topic without wildcards (# or +)"),
    ("mqtt", "device"): (lambda v: not set(v) & set("#+/"), "must not hold #, + or /"),
    ("mqtt", "outbox"): (lambda v: 1 <= v <= 100000, "must be 1..100000 events"),
}
SECTIONS = tuple(f.name for f in fields(Config))


class ConfigValueError(HingeMirrorError):
    """One bad key: `key` ("section.key") and `why`, for a form to show beside it."""

    def __init__(self, where: Path | str, key: str, value: Any, why: str) -> None:
        self.key, self.value, self.why = key, value, why
        shown = f"[{key}]" if value is TABLE else f"{key} = {value!r}"
        super().__init__(f"config {where}: {shown} {why}; fix it or remove the key")


TABLE = object()  # ConfigValueError's value for a whole [section]
# What a key's type is called in an error.
TYPE_WORDS = {int: "a whole number", float: "a number", bool: "true or false",
              str: "a string (in quotes)"}


_bad = ConfigValueError


def load_config(path: Path | None, settings: Path | None = None) -> Config:
    """Read a TOML config over the defaults, then the staff's settings file over
    it (if it exists); any unknown key or bad value is an error."""
    return load_layers(path, settings).config


@dataclass(frozen=True)
class Layers:
    """The settings in effect and where each comes from: the defaults, the
    config file over them, the staff page's settings file over that."""

    config: Config  # in effect
    file: Config  # the defaults and the config file, without the staff's
    file_keys: frozenset[str]  # "section.key" the config file sets
    staff: frozenset[str]  # "section.key" the staff page sets (settings.toml)
    path: Path | None = None
    settings: Path | None = None
    unreadable: str | None = None  # why settings.toml could not be read (config check)

    def origin(self, name: str) -> str:
        return ("staff page" if name in self.staff else
                "file" if name in self.file_keys else "default")

    def overridden(self) -> list[tuple[str, Any, Any]]:
        """(name, the file's value, the staff's) of each file setting the staff page beats."""
        return [(n, value_of(self.file, n), value_of(self.config, n))
                for n in sorted(self.staff & self.file_keys, key=_order)]


def _order(name: str) -> int:
    return [f"{s}.{k}" for s, k in SETTINGS].index(name)


def value_of(config: Config, name: str) -> Any:
    section, _, key = name.partition(".")
    return getattr(getattr(config, section), key)


def load_layers(path: Path | None, settings: Path | None = None, *,
                tolerate_unreadable: bool = False) -> Layers:
    """`load_config`'s layers. `settings` None: none. With
    `tolerate_unreadable` (config check, run as someone else than the service),
    a settings file that cannot be read is noted, not an error."""
    file = Config()
    raw: dict = {}
    if path is not None:
        raw = _read(Path(path), "config")
        file = merge(file, raw, Path(path))
    file_keys = frozenset(f"{s}.{k}" for s, keys in raw.items() for k in keys)
    config, staff, unreadable = file, frozenset(), None
    if settings is not None:
        try:
            exists = Path(settings).exists()
            if exists:
                Path(settings).open("rb").close()
        except OSError as exc:
            if not tolerate_unreadable:
                raise HingeMirrorError(f"settings {settings}: cannot be read ({exc.strerror}); "
                                       "run as the service's user") from None
            exists, unreadable = False, exc.strerror
        if exists:
            staff_raw = _read(Path(settings), "settings")
            config = merge(file, staff_raw, Path(settings), only=SETTINGS)
            staff = frozenset(f"{s}.{k}" for s, keys in staff_raw.items() for k in keys)
    return Layers(config, file, file_keys, staff, Path(path) if path else None,
                  Path(settings) if settings else None, unreadable)


def _read(path: Path, what: str) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except (FileNotFoundError, IsADirectoryError):
        raise not_a_file(what, path) from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise HingeMirrorError(f"{what} {path}: not valid TOML ({exc}); fix the syntax") from None


def merge(config: Config, raw: dict, where: Path | str,
          only: tuple[tuple[str, str], ...] | None = None) -> Config:
    """`raw` (sections of keys, as TOML reads) over `config`, each key checked."""
    for section, values in raw.items():
        if not isinstance(values, dict):  # a key above every [section]
            raise _bad(where, section, values, "is outside any [section]: put it under its "
                       f"section ({', '.join(SECTIONS)})")
        if section not in SECTIONS:
            raise _bad(where, section, TABLE, f"is not a known section ({', '.join(SECTIONS)})")
        current = getattr(config, section)
        known = {f.name: f for f in fields(current)}
        updates = {}
        for key, value in values.items():
            name = f"{section}.{key}"
            if key not in known or (only is not None and (section, key) not in only):
                allowed = known if only is None else [k for s, k in only if s == section]
                raise _bad(where, name, value,
                           f"is not a known key (known: {', '.join(allowed) or 'none'})")
            want = type(getattr(current, key))
            if want is float and type(value) is int:
                value = float(value)  # 90 means 90.0 seconds
            if type(value) is not want:
                raise _bad(where, name, value, f"must be {TYPE_WORDS.get(want, want.__name__)}")
            check = _CHECKS.get((section, key))
            if check and not check[0](value):
                raise _bad(where, name, value, check[1])
            updates[key] = value
        config = replace(config, **{section: replace(current, **updates)})
    return config


def backup_dir(config: Config) -> Path:
    """Where scheduled (and pre-upgrade) backups go: [backup] dir, else beside the store."""
    return Path(config.backup.dir) if config.backup.dir else (
        Path(config.store.path).parent / "backups")


def settings_path(config: Config) -> Path:
    """Where the staff's settings live: beside the store (writable by the service)."""
    return Path(config.store.path).parent / "settings.toml"


def settings_of(config: Config, keys=None) -> dict[str, dict[str, Any]]:
    """The staff-changeable keys of `config` (or those in `keys`), as TOML sections."""
    out: dict[str, dict[str, Any]] = {}
    for section, key in SETTINGS:
        if keys is None or f"{section}.{key}" in keys:
            out.setdefault(section, {})[key] = getattr(getattr(config, section), key)
    return out


def save_settings(path: Path, config: Config, keys=None) -> None:
    """Write the settings of `config` (those named in `keys`, "section.key";
    None: all) to `path` atomically: a reader (or a power cut) finds the old
    file or the new one, never half of one."""
    import tomli_w

    from device.files import atomic_write

    text = ("# Written by the staff settings page; checked like the config file. Each key\n"
            "# here wins over the config file's (`hinge-mirror config check` shows which).\n")
    text += tomli_w.dumps(settings_of(config, keys))
    atomic_write(path, text.encode(), what="settings", keeps="the previous settings are kept",
                 mode=0o600)  # the data folder is the service user's alone
