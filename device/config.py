"""One config schema: each setting's default, meaning, range and staff label in one place.

Every field of the sections below carries its own metadata (`setting`): the
line that explains it, the check its value must pass with the words an error
gives, and, for what staff may change from the settings page, the form's
label. From that one source come the checks (`merge`), the staff settings
form (`SETTINGS`, `form_fields`), the commented default config
(`hinge-mirror config check --defaults`, `defaults_toml`) and the reference
page `docs/configuration.md` (`reference_markdown`); tests/test_config_schema.py
keeps the page equal to it.

Staff change some of these from the settings page: they are written to
`settings.toml` beside the store, checked by this same schema, and read over
the config file at start (a setting made by staff wins over the file). The
settings file keeps only what staff set apart from the config file;
`load_layers` says where each setting in effect comes from.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from device.core.exercises import EXERCISES
from device.errors import HingeMirrorError
from device.files import not_a_file
from device.vision import MODES
from device.vision.runtime import RUNTIMES

Check = tuple[Callable[[Any], bool], str]  # (passes, the words when it does not)


def setting(default: Any, doc: str, check: Check | None = None, *, staff: str | None = None,
            choices: tuple | None = None) -> Any:
    """A config field with its metadata: `doc`, one line for the default config
    and the reference; `check`, what its value must pass and the error's words;
    `staff`, the settings page's label if staff may change it; `choices`, the
    values a form offers (their check is made from them when none is given)."""
    if choices is not None and check is None:
        check = one_of(choices)
    return field(default=default, metadata={"doc": doc, "check": check, "staff": staff,
                                            "choices": choices})


def within(lo: float, hi: float, unit: str = "", zero: str | None = None) -> Check:
    """lo..hi (in `unit`); with `zero`, 0 also passes and means `zero`."""
    span = f"{lo:g}..{hi:g}{' ' + unit if unit else ''}"
    if zero is None:
        return (lambda v: lo <= v <= hi), f"must be {span}"
    if lo == 0:
        return (lambda v: 0 <= v <= hi), f"must be {span} (0: {zero})"
    return (lambda v: v == 0 or lo <= v <= hi), f"must be 0 or {span} (0: {zero})"


def one_of(choices: tuple, words: str | None = None) -> Check:
    return (lambda v: v in choices), words or f"must be one of {', '.join(map(str, choices))}"


def _named(what: str) -> Check:
    return (lambda v: bool(v.strip())), f"must name {what}"


# Sensitivity -> the factor on every fault threshold (device/core/faults.py).
SENSITIVITY = {"relaxed": 1.25, "standard": 1.0, "strict": 0.8}


@dataclass(frozen=True)
class DeviceConfig:
    """Where the mirror stands: a clinic, or a home with nobody to ask."""

    mode: str = setting("clinic", "clinic | home: at home there is no staff console on the "
                        "network unless console = true, and nothing of the staff's on the glass",
                        choices=("clinic", "home"))
    console: bool = setting(False, "at home: the staff console over HTTPS on the network too "
                            "(in a clinic it always is, unless [server] https_port = 0)")
    cards: bool = setting(True, "read a client's card (its QR code, printed from the client's "
                          "page) held up to the camera, and follow the client's program")
    gestures: str = setting("auto", "the menu at the glass worked by the arms (both hands up "
                            "for 2 s, then the right one down): the exercise, reps, sets and "
                            "rest; auto: on at home, off in a clinic",
                            choices=("auto", "on", "off"))

    def menu(self) -> bool:
        """Whether the arms' menu is on: as set, or at home only."""
        return self.gestures == "on" or (self.gestures == "auto" and self.mode == "home")


@dataclass(frozen=True)
class ServerConfig:
    """The web server: the mirror page and the staff console."""

    host: str = setting("0.0.0.0", "where the server listens: staff reach the device over the "
                        "local network (the kiosk uses 127.0.0.1)")
    port: int = setting(8000, "the mirror page and, on this machine, the console",
                        within(1, 65535))
    threads: int = setting(8, "waitress threads: live pages take at most threads - 3 of them",
                           within(4, 64))
    https_port: int = setting(8443, "the staff console over HTTPS (0: off on the network; "
                              "this machine alone reaches it, over plain HTTP on loopback, "
                              "with a warning at each start)",
                              within(0, 65535, zero="the console on this machine only"))
    https_host: str = setting("", "where the console listens; \"\" = as host (--host too)")
    cert: str = setting("", "the clinic's own certificate (PEM); \"\" = the device's own")
    key: str = setting("", "the clinic's own certificate's key (PEM)")


@dataclass(frozen=True)
class CameraConfig:
    """The camera and how it is mounted."""

    source: str = setting("auto", "auto | picamera | demo | INDEX | PATH (auto: libcamera's "
                          "first camera, else the first USB webcam)")
    width: int = setting(640, "the picture's width", within(64, 4096, "pixels"))
    height: int = setting(480, "the picture's height", within(64, 4096, "pixels"))
    fps: int = setting(30, "frames per second asked of the camera", within(1, 120))
    rotation: int = setting(0, "clockwise, to turn the picture upright",
                            one_of((0, 90, 180, 270), "must be 0, 90, 180 or 270"))
    hflip: bool = setting(False, "mirrored left-right (before the rotation)")
    vflip: bool = setting(False, "upside down (before the rotation)")

    def mount(self):
        from device.vision.mount import Mount

        return Mount(self.rotation, self.hflip, self.vflip)


@dataclass(frozen=True)
class PoseConfig:
    """The pose model."""

    mode: str = setting("crop", "crop: follow the person; letterbox: the whole frame",
                        choices=MODES)
    threads: int = setting(0, "the model's threads (0: what the machine spares, cores - 1, "
                           "at least 1)", within(0, 16, zero="cores - 1"))
    runtime: str = setting("", "\"\" = LiteRT, else tflite_runtime",
                           one_of(("", *RUNTIMES), f"must be '' or one of {RUNTIMES}"))

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
class CoachConfig:
    """The coach: targets, rest and how strictly faults are called."""

    set_reps: int = setting(0, "reps per set: the set is done at the last one (0: no target)",
                            within(0, 100, zero="no target"),
                            staff="Target reps per set (0: no target)")
    sets: int = setting(0, "sets per session (0: no target)", within(0, 20, zero="no target"),
                        staff="Target sets per session (0: no target)")
    rest_s: float = setting(90.0, "the rest shown between sets, seconds",
                            within(5, 900, "seconds"), staff="Rest between sets, seconds")
    session_idle_s: float = setting(10.0, "nobody in view this long ends a session, seconds",
                                    within(2, 600, "seconds"))
    guide: bool = setting(True, "set-up prompts before the first rep (never holds counting "
                          "back)", staff="Guided set-up before the first rep")
    sensitivity: str = setting("standard", "faults called: relaxed | standard | strict",
                               choices=tuple(SENSITIVITY),
                               staff="How strictly faults are called")
    exercise: str = setting("deadlift", "the exercise done at this mirror: deadlift "
                            "(and the Romanian deadlift) | kettlebell_swing (a swing is fast "
                            "by design: never too fast)", choices=EXERCISES,
                            staff="The exercise done here")

    def params(self):
        """The coach's parameters with these settings."""
        from device.core.coach import CoachParams

        return CoachParams(set_target_reps=self.set_reps, set_target_sets=self.sets,
                           rest_s=self.rest_s, session_idle_s=self.session_idle_s,
                           guide=self.guide, exercise=self.exercise,
                           fault_tolerance=SENSITIVITY[self.sensitivity])


@dataclass(frozen=True)
class DisplayConfig:
    """The glass: sleep, sound and the keypoints drawn."""

    chime: bool = setting(True, "a short chime on each counted rep",
                          staff="A chime on each counted rep")
    speech: bool = setting(True, "cues spoken (espeak-ng, on the device)",
                           staff="Cues spoken aloud")
    sleep_s: float = setting(300.0, "nobody in view this long: the glass goes black "
                             "(seconds, 0: never)",
                             within(10, 86400, "s", zero="never"),
                             staff="Nobody in view this long: the glass goes dark "
                                   "(seconds, 0: never)")
    skeleton: bool = setting(False, "draw the keypoints over the page (never a picture)")


@dataclass(frozen=True)
class StoreConfig:
    """The store: every session, rep and account, in one SQLite file."""

    path: str = setting("var/hinge-mirror.db", "the store's file (on a device: "
                        "/var/lib/hinge-mirror/hinge-mirror.db)", _named("a file"))
    retention_days: int = setting(365, "sessions older than this are deleted (0: keep all)",
                                  within(0, 36500, zero="keep all"))
    record: bool = setting(True, "sessions, sets and reps are stored (false: counted and "
                           "coached, never stored)", staff="Record sessions")


@dataclass(frozen=True)
class BackupConfig:
    """A backup of the store, settings and keys, on a schedule."""

    dir: str = setting("", "where backups go; \"\" = backups/ beside the store (a USB stick "
                       "or a network share is better)")
    every_h: float = setting(24.0, "hours between scheduled backups (0: none; staff can "
                             "still download one)",
                             within(1, 24 * 31, "hours", zero="no scheduled backups"))
    keep: int = setting(7, "scheduled backups kept in dir; the oldest go first",
                        within(1, 1000))


@dataclass(frozen=True)
class LogConfig:
    """The log files."""

    dir: str = setting("var/log", "the log folder (on a device: /var/log/hinge-mirror; "
                       "\"\" = no log files)")
    max_kb: int = setting(1024, "one file's size before it rotates",
                          within(16, 102400, "KiB"))
    files: int = setting(5, "rotated files kept: the folder holds at most "
                         "(files + 1) * max_kb", within(1, 50))


@dataclass(frozen=True)
class MqttConfig:
    """Optional: rep, set and session events to a broker (no personal data)."""

    enabled: bool = setting(False, "publish events (off by default)")
    host: str = setting("localhost", "the broker", _named("the broker"))
    port: int = setting(1883, "the broker's port", within(1, 65535))
    topic: str = setting("hinge-mirror", "events go to TOPIC/DEVICE/EVENT",
                         ((lambda v: bool(v.strip("/ ")) and not set(v) & set("#+")),
                          "must be a topic without wildcards (# or +)"))
    device: str = setting("", "\"\" = this machine's host name",
                          ((lambda v: not set(v) & set("#+/")), "must not hold #, + or /"))
    username: str = setting("", "the broker's user (\"\" = none)")
    password: str = setting("", "the broker's password (never shown by config check)")
    outbox: int = setting(1000, "events kept while the broker is away; the oldest go first",
                          within(1, 100000, "events"))


@dataclass(frozen=True)
class Config:
    server: ServerConfig = ServerConfig()
    camera: CameraConfig = CameraConfig()
    pose: PoseConfig = PoseConfig()
    coach: CoachConfig = CoachConfig()
    display: DisplayConfig = DisplayConfig()
    store: StoreConfig = StoreConfig()
    backup: BackupConfig = BackupConfig()
    log: LogConfig = LogConfig()
    mqtt: MqttConfig = MqttConfig()
    device: DeviceConfig = DeviceConfig()


SECTIONS = tuple(f.name for f in fields(Config))


def schema() -> list[tuple[str, Field]]:
    """(section, field) of every setting, in the file's order."""
    return [(s.name, f) for s in fields(Config) for f in fields(s.default)]


# What staff may change from the settings page, in its order.
SETTINGS: tuple[tuple[str, str], ...] = tuple(
    (s, f.name) for s, f in schema() if f.metadata["staff"])
_CHECKS = {(s, f.name): f.metadata["check"] for s, f in schema() if f.metadata["check"]}


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


def form_fields() -> dict[str, tuple[str, str, tuple | None]]:
    """The staff settings form: "section.key" -> (label, kind, choices), in
    SETTINGS order; kind is bool, int, float or choice."""
    out = {}
    for section, f in schema():
        if f.metadata["staff"]:
            choices = f.metadata["choices"]
            kind = "choice" if choices else type(f.default).__name__
            out[f"{section}.{f.name}"] = (f.metadata["staff"], kind, choices)
    return out


def _why(f: Field) -> str:
    check = f.metadata["check"]
    return check[1].removeprefix("must be ") if check else ""


def defaults_toml() -> str:
    """The commented default config: every section and key at its default, each
    with its meaning and range (`hinge-mirror config check --defaults`)."""
    import textwrap

    import tomli_w

    lines = ["# Hinge Mirror's settings at their defaults (schema: device/config.py).",
             "# Every key is optional: keep only those you change. Check a file with",
             "# `hinge-mirror config check FILE`. Settings marked 'staff page' can also be",
             "# changed on the console's settings page, which wins over this file."]
    for section in fields(Config):
        lines += ["", f"# {section.default.__doc__.strip()}", f"[{section.name}]"]
        for f in fields(section.default):
            notes = [f.metadata["doc"]]
            if f.metadata["check"]:
                notes.append(f.metadata["check"][1])
            if f.metadata["staff"]:
                notes.append("staff page")
            lines += textwrap.wrap("; ".join(notes), 86, initial_indent="# ",
                                   subsequent_indent="# ")
            lines.append(tomli_w.dumps({f.name: f.default}).strip())
    return "\n".join(lines) + "\n"


def reference_markdown() -> str:
    """docs/configuration.md: one table per section, made from the schema."""
    import tomli_w

    out = ["# Configuration", "",
           "<!-- Generated from device/config.py by `python -m device.config --markdown`; "
           "tests/test_config_schema.py keeps it equal. -->", "",
           "A config file is TOML: the sections below, every key optional. The device reads "
           "`/etc/hinge-mirror/config.toml` (or `--config FILE`, or `$HINGE_MIRROR_CONFIG`). "
           "`hinge-mirror config check FILE` checks a file and prints the settings in effect, "
           "each with where it comes from; `hinge-mirror config check --defaults` prints every "
           "key at its default, commented. An unknown key or a bad value stops the device with "
           "one line that names the key, the value and what it must be.", "",
           "Keys marked *staff* can also be changed on the staff console's settings page. "
           "They are stored in `settings.toml` beside the store and win over the config file; "
           "the page can put the file's value back.", ""]
    for section in fields(Config):
        out += [f"## [{section.name}]", "", section.default.__doc__.strip(), "",
                "| key | default | allowed | meaning |", "|---|---|---|---|"]
        for f in fields(section.default):
            default = tomli_w.dumps({f.name: f.default}).strip().partition(" = ")[2]
            meaning = f.metadata["doc"] + (" (*staff*)" if f.metadata["staff"] else "")
            allowed = _why(f) or TYPE_WORDS[type(f.default)]
            cells = (f"`{f.name}`", f"`{default}`", allowed, meaning)
            out.append("| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    import sys

    print(reference_markdown() if "--markdown" in sys.argv else defaults_toml(), end="")
