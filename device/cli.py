"""`hinge-mirror`: the device and its tools. Run `hinge-mirror COMMAND --help`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path

from device.errors import HingeMirrorError

log = logging.getLogger("hinge_mirror")

DESCRIPTION = """\
Hinge Mirror: a smart mirror that coaches the hip hinge (deadlifts, kettlebell
deadlifts, rehab hinges). A camera feeds the MoveNet pose model; the coach
counts reps at lockout and names faults; a web page shows them on the mirror.
"""

EPILOG = """\
examples:
  hinge-mirror run                          camera if one is attached, else the demo
  hinge-mirror run --source clip.mp4        play a recording in real time
  hinge-mirror analyze clip.mp4 --json      count reps and faults in a recording
  hinge-mirror track clip.mp4 -o clip.npz   save the keypoints of a recording
  hinge-mirror eval ../shared/clips         labelled vs counted reps per clip
  hinge-mirror bench --json                 measured speed on this machine
  hinge-mirror models fetch                 install and verify the pose model
"""


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _exercise(text: str) -> str:
    from device.core.exercises import EXERCISES, NOT_BUILT

    if text in EXERCISES:
        return text
    if text in NOT_BUILT:
        raise argparse.ArgumentTypeError(f"{text}: its rules are not built yet; give one of "
                                         f"{', '.join(EXERCISES)}")
    raise argparse.ArgumentTypeError(f"{text!r} is not an exercise; give one of "
                                     f"{', '.join(EXERCISES)}")


def _perturbation(text: str) -> tuple[str, float]:
    kinds = ("keypoints", "pixels")  # device.offline.evaluate.PERTURB_KINDS, not imported here
    kind, _, size = text.partition(":")
    if kind not in kinds:
        raise argparse.ArgumentTypeError(
            f"{text!r}: the kind must be one of {', '.join(kinds)} (e.g. keypoints:1e-4)")
    return kind, _positive_float(size)


def _thread_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(1 <= v <= 16 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of thread counts like 1,2,4")
    return values


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0-65535; 0: any free one)")
    return int(text)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hinge-mirror")
    except PackageNotFoundError:
        return "unknown (not installed: pip install .)"


SYSTEM_CONFIG = Path("/etc/hinge-mirror/config.toml")


def _config_path(given: Path | None) -> Path | None:
    """--config, else $HINGE_MIRROR_CONFIG, else the appliance's /etc file if present."""
    if given is not None:
        return given
    if os.environ.get("HINGE_MIRROR_CONFIG"):
        return Path(os.environ["HINGE_MIRROR_CONFIG"])
    return SYSTEM_CONFIG if SYSTEM_CONFIG.is_file() else None


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: every command, option and its help (docs/cli.md is
    generated from it: `python -m device.clidoc > docs/cli.md`)."""
    p = argparse.ArgumentParser(prog="hinge-mirror", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"hinge-mirror {_version()}")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="the mirror: camera -> pose -> coach -> web page",
                       description="Run the mirror until stopped (Ctrl-C). The page is at "
                       "http://HOST:PORT/ ; /healthz reports camera, model and pipeline.")
    r.add_argument("--source", default=None,
                   help="auto (default: the camera that is there, libcamera's first, else "
                   "the first webcam; with no config file and no camera, the demo), "
                   "picamera, demo, a webcam INDEX, a video file or a track .npz")
    r.add_argument("--config", type=Path, help="TOML config file (see device/config.py)")
    r.add_argument("--host", help="address to listen on (default 0.0.0.0); the staff "
                   "console's too, unless [server] https_host is set")
    r.add_argument("--port", type=_port,
                   help="port to listen on (default 8000; 0: any free port, named in the log)")
    r.add_argument("--loop", action="store_true", help="replay a video or track forever")

    a = sub.add_parser("analyze", help="count reps and faults in a video or track",
                       description="Process every frame of a video (or a track .npz) as fast "
                       "as possible and print the analysis report.")
    a.add_argument("path", type=Path, help="a video file or a track .npz")
    a.add_argument("--json", action="store_true", help="print the report as JSON")
    a.add_argument("--html", type=Path, metavar="OUT",
                   help="also write a one-page report (print it to PDF from the browser)")
    a.add_argument("--exercise", type=_exercise, default="deadlift", metavar="NAME",
                   help="the exercise done: deadlift (the default; the Romanian deadlift "
                   "too) or kettlebell_swing (never too fast)")
    a.add_argument("--program", type=Path, metavar="FILE",
                   help="a client's program (its JSON, as the console exports it), followed "
                   "block by block as the mirror does; the report says what was done of it")

    t = sub.add_parser("track", help="run the pose model over a video and save the keypoints",
                       description="Write a keypoint track (.npz, see DESIGN.md) for a video.")
    t.add_argument("video", type=Path, help="the video to track")
    t.add_argument("-o", "--output", type=Path, required=True,
                   help="the .npz to write (its folder must exist)")

    e = sub.add_parser("eval", help="labelled vs counted reps over a folder of clips",
                       description="For every video or track in DIR with an entry in "
                       "DIR/labels.json, compare the counted reps with the label.")
    e.add_argument("dir", type=Path, help="a folder of clips with a labels.json")
    e.add_argument("--tracks", type=Path, help="folder to cache tracks in (reused when present)")
    e.add_argument("--pose-mode", choices=("crop", "letterbox"), default="crop",
                   help="how frames are fed to MoveNet (default crop)")
    e.add_argument("--max-fps", type=_positive_float, metavar="F",
                   help="feed the coach at most F frames per second, as a slower device would")
    e.add_argument("--margins", action="store_true",
                   help="also: each threshold's margins to the clips, left out by source")
    e.add_argument("--perturb", type=_perturbation, metavar="KIND:SIZE",
                   help="also: track every clip again with the pose path nudged "
                        "(keypoints:1e-4 or pixels:0.01) and say which counts change")
    e.add_argument("--seed", type=int, default=0, help="the --perturb noise's seed")
    e.add_argument("--json", action="store_true", help="print the summary as JSON")

    b = sub.add_parser("bench", help="measure speed on this machine",
                       description="Invoke, preprocessing, core and pipeline speed, and "
                       "memory. On the frames of --clip VIDEO (`make bench` gives one), else "
                       "on synthetic frames, and it says so.")
    b.add_argument("--json", action="store_true", help="print the report as JSON")
    b.add_argument("--clip", type=Path, help="a video to measure the pipeline on")
    b.add_argument("--experiments", action="store_true",
                   help="also the variants and figures that explain the speed: TensorFlow's "
                   "example loop, the switch interval, OpenCV's thread pool, "
                   "the file through the threads, the process boundary, the charge for a "
                   "pause, the bytes per frame, the CPU beside the invoke")
    b.add_argument("--frames", type=int, default=300,
                   help="frames per variant, split over the rounds")
    b.add_argument("--rounds", type=int, default=10,
                   help="interleaved rounds (at least 10): ratios are paired per round")
    b.add_argument("--threads", type=_thread_list, metavar="N,N,...",
                   help="measure with each of these model thread counts, e.g. 1,2,4")
    b.add_argument("--camera", nargs="?", const="auto", metavar="SOURCE",
                   help="instead: the device's threads on a live camera for --frames "
                   "snapshots (auto, picamera or a webcam index; the config's size, rate, "
                   "mount and model threads, or the first of --threads)")
    b.add_argument("--config", type=Path, help="TOML config file, for --camera")

    m = sub.add_parser("models", help="install or check the pose model files",
                       description="fetch: copy from $HINGE_MIRROR_MODEL_DIR or download the "
                       "official file, check its sha256, install atomically. verify: check "
                       "the installed file.")
    m.add_argument("action", choices=("fetch", "verify"), help="fetch or verify")
    m.add_argument("--quiet", action="store_true", help="print nothing when all is well")

    c = sub.add_parser("config", help="check a config file against the schema",
                       description="Check a config file: every key known, every value in "
                       "range. Prints the settings in effect, or one line that names the "
                       "key, the value and why. --defaults: every key at its default, "
                       "with its meaning and range, as a commented config file.")
    c.add_argument("action", choices=("check",), help="check: the only action")
    c.add_argument("file", type=Path, nargs="?", help="the TOML config file to check")
    c.add_argument("--defaults", action="store_true",
                   help="print the commented default config (no FILE)")

    bk = sub.add_parser("backup", help="one file with every session, account and setting",
                        description="Copy the store (safe while the device runs), the "
                        "settings and the keys into one checksummed file.")
    bk.add_argument("out", type=Path, help="the backup file to write (its folder must exist)")
    bk.add_argument("--force", action="store_true",
                    help="replace OUT if it is there (without it, an existing file is refused)")
    bk.add_argument("--config", type=Path, help="TOML config (for [store] path)")
    rs = sub.add_parser("restore", help="put a backup back (stop the device first)",
                        description="Check a backup's checksums and schema, then put its "
                        "store, settings and keys in place.")
    rs.add_argument("file", type=Path, help="a file made by hinge-mirror backup")
    rs.add_argument("--config", type=Path, help="TOML config (for [store] path)")

    st = sub.add_parser("store", help="upgrade the store's schema (the installer runs this)",
                        description="migrate: bring the store to this version's schema, "
                        "after a backup into [backup] dir; one transaction, so a migration "
                        "that fails leaves the store as it was. --check: migrate a copy "
                        "only (safe while the device runs).")
    st.add_argument("action", choices=("migrate",), help="migrate: the only action")
    st.add_argument("--check", action="store_true", help="try it on a copy; change nothing")
    st.add_argument("--path", type=Path, help="the store file (default: the config's)")
    st.add_argument("--backup-dir", type=Path, help="default: the config's [backup] dir")
    st.add_argument("--config", type=Path, help="TOML config (for [store] path)")

    s = sub.add_parser("staff", help="staff accounts for the staff pages",
                       description="add: create (or reset) a staff account; the password is "
                       "asked twice on the terminal, never taken from the command line.")
    s.add_argument("action", choices=("add", "cert"),
                   help="add USER: an account; cert: the HTTPS certificate's fingerprint")
    s.add_argument("user", nargs="?", help="the account's name (for add)")
    s.add_argument("--role", choices=("admin", "viewer"),
                   help="admin or viewer (for add; a new account needs it, an existing one "
                   "keeps its role without it)")
    s.add_argument("--config", type=Path, help="TOML config (for [store] path)")
    return p


def _cmd_models(args) -> int:
    from device.vision import modelfiles

    path = modelfiles.fetch() if args.action == "fetch" else modelfiles.verify()
    if not args.quiet:
        print(f"{path}: sha256 ok")
    return 0


def _load_pose(mode: str = "crop", threads: int = 1, runtime: str = ""):
    from device.vision import modelfiles
    from device.vision.pose import MoveNet

    return MoveNet(modelfiles.verify(), threads=threads, mode=mode, runtime=runtime or None)


def _cmd_analyze(args) -> int:
    from device.files import atomic_write, output_file
    from device.offline.analysis import analyze_path
    from device.offline.clinical import format_report, html_report

    if args.html is not None:
        output_file(args.html, "report", "--html")  # before the clip is processed
    from device.core.coach import CoachParams

    program = _program_file(args.program) if args.program is not None else None
    report = analyze_path(args.path, _load_pose, series=args.html is not None,
                          params=CoachParams(exercise=args.exercise), program=program)
    if args.html is not None:

        atomic_write(args.html, html_report(report).encode(), what="report")
        report.pop("series")
        print(f"report written to {args.html}", file=sys.stderr)
    print(json.dumps(report, indent=1) if args.json else format_report(report))
    return 0


def _program_file(path: Path):
    """A program's JSON file, checked by its schema: one line naming the file otherwise."""
    from device.store import programs

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HingeMirrorError(f"program {path}: cannot be read ({exc}); give the JSON the "
                               "console's program page exports") from None
    try:
        return programs.loads(text)
    except programs.ProgramError as exc:
        raise HingeMirrorError(f"program {path}: {exc}") from None


def _cmd_track(args) -> int:
    from device.files import output_file
    from device.offline.analysis import track_video
    from device.vision.tracks import save_track

    output_file(args.output, "track", "-o")  # before the model runs over the whole video
    track = track_video(args.video, _load_pose())
    save_track(args.output, track)
    print(f"{args.output}: {len(track)} frames")
    return 0


def _cmd_eval(args) -> int:
    from device.offline.evaluate import (
        MissingClips,
        dose_response,
        evaluate_dir,
        format_dose,
        format_table,
        originals,
        summary,
    )

    if args.perturb and args.perturb[0] == "keypoints" and args.pose_mode != "crop":
        raise HingeMirrorError("eval --perturb keypoints: only the crop follows keypoints; "
                               "use --pose-mode crop or --perturb pixels:SIZE")
    missing = None
    load = lambda: _load_pose(args.pose_mode)  # noqa: E731
    try:
        rows = evaluate_dir(args.dir, load, args.tracks, args.max_fps)
    except MissingClips as exc:  # report what was there, then fail on what was not
        rows, missing = exc.rows, exc
    result = {"clips": rows, "summary": summary(rows)}
    text = format_table(rows)
    # Warped clips (warps/labels.json): their originals are the dose-response's zero.
    zero = originals(args.dir, rows, load, args.tracks, args.max_fps)
    if zero:
        result["dose_response"] = dose_response(rows + zero)
        text += "\n\n" + format_dose(rows + zero)
    if args.perturb:
        from device.offline.evaluate import format_perturbation, perturbation

        result["perturbed"] = perturbation(args.dir, rows, load, *args.perturb, args.seed)
        text += "\n\n" + format_perturbation(result["perturbed"])
    if args.margins:
        from device.offline.margins import format_margins, margins

        result["margins"] = margins(rows)
        text += "\n\n" + format_margins(result["margins"])
    print(json.dumps(result, indent=1) if args.json else text)
    if missing is not None:
        raise missing
    return 0


def _cmd_bench(args) -> int:
    from device.offline.bench import (
        check_camera_frames,
        check_clip,
        check_rounds,
        format_bench,
        run_bench,
    )

    if args.camera is not None:
        check_camera_frames(args.frames)  # before the model loads and the camera opens
        return _bench_camera(args)
    check_rounds(args.frames, args.rounds)  # before the model loads
    check_clip(args.clip)
    if args.threads:
        import functools

        result = {"by_threads": {}}
        for n in args.threads:
            r = run_bench(functools.partial(_load_pose, threads=n), clip=args.clip,
                          frames=args.frames, rounds=args.rounds,
                          experiments=args.experiments,
                          device_run=n == args.threads[0])  # memory: once
            result["by_threads"][str(n)] = r
            if not args.json:
                print(f"--- {n} thread(s)\n{format_bench(r)}")
        if args.json:
            print(json.dumps(result))
        else:
            print("threads  invoke-only fps  pipeline fps (decoded)  ratio")
            for n, r in result["by_threads"].items():
                print(f"{n:>7}  {r['invoke_only_fps']:>15}  {r['pipeline_fps_decoded']:>22}  "
                      f"{r['decoded_over_invoke']:.3f}")
        return 0
    result = run_bench(_load_pose, clip=args.clip, frames=args.frames, rounds=args.rounds,
                       experiments=args.experiments)
    print(json.dumps(result) if args.json else format_bench(result))
    return 0


def _cmd_config(args) -> int:
    import dataclasses

    import tomli_w

    from device.config import defaults_toml, load_config, load_layers, settings_path, value_of

    if args.defaults or args.file is None:
        if args.file is not None:
            raise HingeMirrorError(f"config check {args.file} --defaults: give a file or "
                                   "--defaults, not both")
        if not args.defaults:
            raise HingeMirrorError("config check: no file given; name the config file, or "
                                   "give --defaults for the commented default config")
        print(defaults_toml(), end="")
        return 0
    layers = load_layers(args.file, settings_path(load_config(args.file)),
                         tolerate_unreadable=True)
    shown = dataclasses.asdict(layers.config)
    if shown["mqtt"]["password"]:
        shown["mqtt"]["password"] = "(set)"  # never echoed
    _warn_backup_folder(layers.config)
    print(f"# config {args.file}: ok. The settings in effect, each with where it comes from:")
    print(f"# file: {args.file}; staff page: {layers.settings} (wins over the file; "
          "the settings page puts the file's back); default: the schema (device/config.py)")
    if layers.unreadable:
        print(f"# the staff page's settings {layers.settings} cannot be read "
              f"({layers.unreadable}): run this as the service's user (sudo -u hinge-mirror) "
              "to see which of the settings below it changes")
    for section, values in shown.items():
        print(f"\n[{section}]")
        for key, value in values.items():
            name = f"{section}.{key}"
            origin = layers.origin(name)
            if origin == "staff page" and name in layers.file_keys:
                said = tomli_w.dumps({key: value_of(layers.file, name)}).strip()
                origin += f" (the file says {said.partition(' = ')[2]})"
            print(f"{tomli_w.dumps({key: value}).strip()}  # {origin}")
    return 0


def _warn_backup_folder(config) -> None:
    """A warning line (stderr; the exit stays 0) when [backup] dir cannot take a
    backup now. Not an error: the service runs `config check` before every start,
    and a stick that is out must not keep the mirror dark; the device runs, and
    its backups fail, red on the dashboard, and are tried again within the hour."""
    from device.service.backups import folder_problem

    if not (config.backup.dir and config.backup.every_h):
        return
    why = folder_problem(config.backup.dir, config.store.path)
    if why is not None:
        print(f"hinge-mirror: warning: {why}; until it is, the device runs but makes no "
              "backup (the staff dashboard shows it in red)", file=sys.stderr)


def _bench_camera(args) -> int:
    from device.config import load_config
    from device.offline.bench import camera_bench, format_camera_bench
    from device.vision.cameras import open_source

    if args.camera == "demo" or args.camera.lower().endswith(".npz"):
        raise HingeMirrorError(f"bench --camera {args.camera}: not a camera; give auto, "
                               "picamera or a webcam index (a video: --clip, or its path "
                               "to play it at its own pace)")
    config = load_config(_config_path(args.config))
    p = config.pose
    threads = args.threads[0] if args.threads else p.model_threads()
    pose = _load_pose(p.mode, threads, p.runtime)
    source, _ = open_source(args.camera, config.camera, loop=False)
    result = camera_bench(source, pose, frames=args.frames)  # closes the source
    print(json.dumps(result) if args.json else format_camera_bench(result))
    return 0


def _cmd_run(args) -> int:
    from device.app import run_device
    from device.config import load_config, load_layers, settings_path
    from device.service import logs

    path = _config_path(args.config)
    layers = load_layers(path, settings_path(load_config(path)))  # the staff's settings win
    config = layers.config
    logs.install(config.log)
    for name, file_value, staff_value in layers.overridden():
        logging.getLogger("device.config").warning(
            "setting %s = %r from the staff page (%s) overrides the config file's %r (%s); "
            "the settings page can put the file's back", name, staff_value, layers.settings,
            file_value, path)
    # No config file: a laptop's `make run`, where "auto" with no camera is the demo.
    return run_device(config, source=args.source, host=args.host, port=args.port,
                      loop=args.loop, load_pose=_load_pose, demo_fallback=path is None,
                      limits=_limits(), layers=layers)


def _limits() -> dict[str, float]:
    """$HINGE_MIRROR_LIMITS, "ready_s=5,camera_retry_s=0.5": shorter waits, for tests."""
    raw = os.environ.get("HINGE_MIRROR_LIMITS", "")
    out = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        key, _, value = part.partition("=")
        try:
            if key not in ("ready_s", "camera_retry_s") or float(value) <= 0:
                raise ValueError
        except ValueError:
            raise HingeMirrorError(f"HINGE_MIRROR_LIMITS: {part!r} is not ready_s=S or "
                                   "camera_retry_s=S (S > 0); fix or unset it") from None
        out[key] = float(value)
    return out


def _cmd_backup(args) -> int:
    from device.config import load_config
    from device.files import output_file
    from device.store.backup import audit_backup, make_backup

    config = load_config(_config_path(args.config))
    output_file(args.out, "backup", "path")
    if args.out.exists() and not args.force:  # an older backup, kept on purpose
        raise HingeMirrorError(f"backup {args.out}: already exists; give another name, or "
                               "--force to replace it; nothing was written")
    manifest = make_backup(config.store.path, args.out)
    if not audit_backup(config.store.path, str(args.out), "hinge-mirror backup"):
        log.warning("backup %s: not written to the audit trail (the store is at schema %s, "
                    "not this version's)", args.out, manifest["schema"])
    print(f"backup {args.out}: schema {manifest['schema']}, "
          f"{', '.join(sorted(manifest['files']))}")
    return 0


def _cmd_restore(args) -> int:
    from device.config import load_config
    from device.store.backup import restore_backup

    config = load_config(_config_path(args.config))
    done = restore_backup(args.file, config.store.path)
    print(f"restored {args.file} into {config.store.path}: {done['sessions']} sessions, "
          f"{', '.join(done['files'])}")
    return 0


def _cmd_store(args) -> int:
    from device.config import Config, backup_dir, load_config
    from device.store.upgrade import check_upgrade, upgrade

    config = load_config(_config_path(args.config)) if args.path is None or \
        args.backup_dir is None else Config()
    path = args.path or Path(config.store.path)
    if args.check:
        done = check_upgrade(path)
    else:
        done = upgrade(path, args.backup_dir or backup_dir(config))
    if done["from"] is None:
        print(f"store {path}: none yet; it is made at the first start")
    elif done["from"] == done["to"]:
        print(f"store {path}: schema {done['to']}, up to date ({done['sessions']} sessions)")
    else:
        verb = "would migrate cleanly" if args.check else "migrated"
        print(f"store {path}: schema {done['from']} -> {done['to']} {verb} "
              f"({done['sessions']} sessions, {done['reps']} reps)"
              + (f"; backup {done['backup']}" if done.get("backup") else ""))
    return 0


def _cmd_staff(args) -> int:
    import contextlib
    import getpass

    from device.config import load_config
    from device.store import accounts, audit, connect

    config = load_config(_config_path(args.config))
    if args.action == "cert":
        from device.service import tls

        srv = config.server
        cert, _ = tls.ensure_certificate(Path(config.store.path).parent, srv.cert, srv.key)
        print(f"{cert}\nSHA-256 {tls.fingerprint(cert)}")
        return 0
    if not args.user:
        raise HingeMirrorError("staff add: give the account's name and --role admin|viewer, "
                               "e.g. hinge-mirror staff add ana --role admin")
    # What can be refused is refused before the password is asked for: the name,
    # the role, the last admin's demotion (the store is read only if it is there),
    # and a short password after the first time it is typed, not the second.
    # Without --role, an existing account keeps its own (a password reset).
    role = args.role
    try:
        if Path(config.store.path).is_file():
            with contextlib.closing(connect(config.store.path)) as conn:
                role = role or accounts.role_of(conn, args.user)
                if role is not None:
                    accounts.check_not_last_admin(conn, args.user, role)
        if role is None:
            raise HingeMirrorError(f"staff add {args.user}: no such account yet; give its "
                                   f"role, e.g. hinge-mirror staff add {args.user} --role "
                                   "viewer")
        accounts.check_name_and_role(args.user, role)
    except ValueError as exc:
        raise HingeMirrorError(f"staff add {args.user}: {exc}; nothing was changed") from None
    try:
        first = getpass.getpass(f"password for {args.user}: ")
        try:
            accounts.check_password(first)
        except ValueError as exc:
            raise HingeMirrorError(f"staff add {args.user}: {exc}; nothing was changed, "
                                   "run it again") from None
        again = getpass.getpass("again: ")
    except EOFError:  # piped input ended, or Ctrl-D at the prompt
        raise HingeMirrorError("staff add: no password was typed; run it on a terminal and "
                               "type the password twice (it is never taken from the command "
                               "line)") from None
    if again != first:
        raise HingeMirrorError("staff add: the two passwords differ; nothing was changed, "
                               "run it again")
    conn = connect(config.store.path)
    try:
        accounts.add(conn, args.user, role, first)
        # In the audit trail as the console's own account changes are, from no
        # staff account but this machine's terminal.
        audit.record(conn, None, "local", "account_changed", f"account {args.user}",
                     f"added or password set, role {role} (hinge-mirror staff add)")
    except ValueError as exc:
        raise HingeMirrorError(f"staff add {args.user}: {exc}; nothing was changed") from None
    finally:
        conn.close()
    print(f"staff account {args.user} ({role}) saved in {config.store.path}")
    return 0


COMMANDS = {"run": _cmd_run, "analyze": _cmd_analyze, "track": _cmd_track, "eval": _cmd_eval,
            "bench": _cmd_bench, "models": _cmd_models, "staff": _cmd_staff,
            "config": _cmd_config, "backup": _cmd_backup, "restore": _cmd_restore,
            "store": _cmd_store}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:  # the terminal's: a record may stay off it
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
            handler.addFilter(lambda record: getattr(record, "console", True))
    # LiteRT/TFLite print their own INFO lines through C++; keep them out of the way.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # OpenCV's own warnings (a camera index it cannot open) come before the
    # one line that names the source and what to do: errors only, but with -v.
    # ffmpeg's own lines ("moov atom not found" for a broken video) likewise:
    # -8 is its AV_LOG_QUIET, read by OpenCV when it first opens a file.
    if not args.verbose:
        os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # systemd stop = clean exit
    try:
        try:
            return COMMANDS[args.command](args)
        except HingeMirrorError as exc:
            print(f"hinge-mirror: error: {exc}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt:
            return 130
        finally:
            sys.stdout.flush()  # a reader that left is met here, not at the interpreter's exit
    except BrokenPipeError:  # `hinge-mirror bench | head`: the reader left; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # for the exit's flush
        return 141  # as a shell reports SIGPIPE (128 + 13)


if __name__ == "__main__":
    sys.exit(main())
