"""Bad input: one line naming the thing, the problem and the fix; non-zero exit; no traceback."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest

from device.cli import main
from device.vision import modelfiles


def err_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err, "expected an error message"
    assert not any("Traceback" in line for line in err)
    return err[-1]


def test_help_explains_the_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for word in ("run", "analyze", "track", "bench", "models", "eval"):
        assert word in out


def test_wrong_video_path(capsys, tmp_path):
    assert main(["analyze", str(tmp_path / "nope.mp4")]) == 2
    line = err_line(capsys)
    assert "nope.mp4" in line and "no such file" in line


def test_a_file_that_is_not_a_video(capsys, tmp_path, model_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("hello")
    assert main(["analyze", str(bad)]) == 2
    line = err_line(capsys)
    assert "notes.mp4" in line and "not a video" in line


def test_a_track_with_nans(capsys, tmp_path):
    p = tmp_path / "t.npz"
    kp = np.zeros((3, 17, 3), np.float32)
    kp[1, 2, 0] = np.nan
    np.savez(p, keypoints=kp, t=np.arange(3.0), frame_size=np.array([10, 10]))
    assert main(["analyze", str(p)]) == 2
    assert "NaN" in err_line(capsys)


def test_missing_model(capsys, tmp_path, monkeypatch):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"0")
    monkeypatch.setenv(modelfiles.INSTALL_ENV, str(tmp_path / "empty"))
    assert main(["analyze", str(video)]) == 2
    line = err_line(capsys)
    assert "not installed" in line and "models fetch" in line


def test_corrupt_model(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv(modelfiles.INSTALL_ENV, str(tmp_path))
    spec = modelfiles.load_manifest()[modelfiles.DEFAULT_MODEL]
    (tmp_path / spec.file).write_bytes(b"\0" * 1000)
    assert main(["models", "verify"]) == 2
    assert "does not match" in err_line(capsys)


def test_camera_that_cannot_be_opened(capsys):
    assert main(["run", "--source", "57", "--port", "0"]) == 2
    line = err_line(capsys)
    assert "camera 57" in line and "cannot be opened" in line


def test_invalid_config(capsys, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[server]\nprot = 8000\n")
    assert main(["run", "--config", str(cfg)]) == 2
    line = err_line(capsys)
    assert "server.prot" in line and "not a known key" in line
    cfg.write_text("[pose]\nmode = 'fast'\n")
    assert main(["run", "--config", str(cfg)]) == 2
    assert "pose.mode" in err_line(capsys)
    for text, says in (("[server]\nport = 'eighty'\n", "server.port = 'eighty' must be a whole "
                        "number"),
                       ("[display]\nchime = 1\n", "display.chime = 1 must be true or false"),
                       ("port = 8000\n", "port = 8000 is outside any [section]: put it under "
                        "its section (server,"),
                       ("[serv]\nport = 8000\n", "[serv] is not a known section (server,")):
        cfg.write_text(text)
        assert main(["config", "check", str(cfg)]) == 2
        assert says in err_line(capsys), text


def test_a_corrupt_config_is_one_line_and_left_as_it_was(capsys, tmp_path):
    cfg = tmp_path / "c.toml"
    garbage = b"\x00\xff[server\nport = = 8\n" * 20
    cfg.write_bytes(garbage)
    assert main(["run", "--config", str(cfg)]) == 2
    assert "not valid TOML" in err_line(capsys)
    assert cfg.read_bytes() == garbage


def test_port_in_use(capsys, tmp_path):
    """A port that is taken is one line, before the store is opened (or made)."""
    store = tmp_path / "data" / "s.db"
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{store}"\n[server]\nhttps_port = 0\n[log]\ndir = ""\n')
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["run", "--source", "demo", "--host", "127.0.0.1", "--port", str(port),
                     "--config", str(cfg)]) == 2
    line = err_line(capsys)
    assert f"port {port}" in line and "already in use" in line
    assert not store.exists()


def test_analyze_a_synthetic_track_as_json(capsys, tmp_path):
    from device.core.synth import Session, session_track
    from device.vision.tracks import Track, save_track

    kp, t, size = session_track(Session(reps=3))
    save_track(tmp_path / "s.npz", Track(kp, t, size))
    assert main(["analyze", str(tmp_path / "s.npz"), "--json"]) == 0
    import json

    report = json.loads(capsys.readouterr().out)
    assert report["source"] == "s.npz" and report["rep_count"] == 3
    assert set(report) >= {"frames", "duration_s", "view", "partial_reps", "reps", "faults"}


def test_eval_over_a_folder_of_labelled_tracks(capsys, tmp_path):
    import json

    from device.core.synth import Session, session_track
    from device.vision.tracks import Track, save_track

    sessions = {"hinges": (Session(reps=3), 3), "squats": (Session(reps=2, style="squat"), 2),
                "standing": (Session(reps=0, lead_s=4.0), 0)}
    labels = {"_about": "synthetic"}
    for name, (session, reps) in sessions.items():
        save_track(tmp_path / f"{name}.npz", Track(*session_track(session)))
        labels[f"{name}.mp4"] = {"reps": reps, "faults": ["knees_bent_too_much"]
                                 if name == "squats" else []}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    for extra in ([], ["--max-fps", "10"]):
        assert main(["eval", str(tmp_path), "--json", *extra]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["summary"]["clips"] == 3 and out["summary"]["exact"] == 3, out["summary"]
        assert out["summary"]["faults"]["knees_bent_too_much"]["recall"] == [2, 2]


def test_eval_thins_frames_as_a_slower_device_would():
    import numpy as np

    from device.offline.evaluate import thin

    t30 = np.arange(90) / 30.0
    assert thin(t30, 15).tolist() == list(range(0, 90, 2))
    assert thin(t30, 30).tolist() == list(range(90))
    t24 = np.arange(48) / 24.0
    assert np.diff(t24[thin(t24, 15)]).min() >= 1 / 15 - 1e-3


def test_coach_settings_from_the_config(tmp_path, capsys):
    from device.config import load_config

    cfg = tmp_path / "c.toml"
    cfg.write_text("[coach]\nset_reps = 8\nsets = 3\nrest_s = 60\n")
    params = load_config(cfg).coach.params()
    assert (params.set_target_reps, params.set_target_sets, params.rest_s) == (8, 3, 60.0)
    assert load_config(None).coach.params().set_target_reps == 0  # no target by default
    cfg.write_text("[coach]\nset_reps = -1\n")
    assert main(["run", "--config", str(cfg)]) == 2
    assert "coach.set_reps" in err_line(capsys)


def test_a_store_that_cannot_be_opened_is_one_line(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    bad = tmp_path / "not-a-db.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    cfg.write_text(f'[store]\npath = "{bad}"\n[server]\nport = {_free_port()}\n'
                   f'https_port = {_free_port()}\n')
    assert main(["run", "--source", "demo", "--config", str(cfg)]) == 2
    line = err_line(capsys)
    assert str(bad) in line and "not a usable database" in line
    assert bad.read_bytes() == b"this is not sqlite" * 100  # nothing lost: left as it was


def test_store_migrate_says_in_one_line_what_is_wrong_and_changes_nothing(tmp_path, capsys):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    for path, says in ((junk, "not a usable database"), (tmp_path, "is a folder")):
        for check in ([], ["--check"]):
            assert main(["store", "migrate", "--path", str(path),
                         "--backup-dir", str(tmp_path / "bk"), *check]) == 2
            line = err_line(capsys)
            assert str(path) in line and says in line
    assert junk.read_bytes() == b"this is not sqlite" * 100
    assert not (tmp_path / "bk").exists()
    # A database at this schema but without its tables: one line, not a traceback.
    import sqlite3

    from device.store.schema import VERSION

    bare = sqlite3.connect(tmp_path / "bare.db")
    bare.execute(f"PRAGMA user_version = {VERSION}")
    bare.execute("CREATE TABLE x (a)")
    bare.commit()
    bare.close()
    assert main(["store", "migrate", "--check", "--path", str(tmp_path / "bare.db")]) == 2
    assert "cannot be upgraded (no such table: sessions)" in err_line(capsys)
    # Its twin: a store that is there and current is said so, exit 0.
    from device.store import connect

    connect(tmp_path / "ok.db").close()
    assert main(["store", "migrate", "--check", "--path", str(tmp_path / "ok.db")]) == 0
    assert "up to date" in capsys.readouterr().out


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_port_out_of_range_is_refused_before_anything_starts(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--port", "80000"])
    assert exit_.value.code == 2
    assert "'80000' is not a port" in capsys.readouterr().err


def test_config_check_prints_the_settings_in_effect_or_one_line(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[server]\nport = 8080\n[mqtt]\npassword = "s3cret"\n')
    assert main(["config", "check", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "port = 8080" in out and "set_reps = 0" in out and "s3cret" not in out
    cfg.write_text("[server]\nport = 80000\n")
    assert main(["config", "check", str(cfg)]) == 2
    assert "server.port = 80000 must be 1..65535" in err_line(capsys)
    assert main(["config", "check", str(tmp_path / "none.toml")]) == 2
    assert "no such file" in err_line(capsys)


def test_config_check_warns_of_a_backup_folder_that_is_not_there(tmp_path, capsys):
    """Issue 25, item 7: `config check` accepted a [backup] dir that does not
    exist. A warning line, exit 0: the service runs `config check` before each
    start, and a stick that is out must not keep the mirror dark."""
    data = tmp_path / "data"
    data.mkdir()
    cfg = tmp_path / "c.toml"
    stick = tmp_path / "media" / "stick"
    cfg.write_text(f'[store]\npath = "{data}/s.db"\n[backup]\ndir = "{stick}"\n')
    assert main(["config", "check", str(cfg)]) == 0
    out, err = capsys.readouterr()
    assert f'dir = "{stick}"' in out
    assert err.splitlines() == [f"hinge-mirror: warning: backup folder {stick}: not there; "
                                "plug the stick in or mount the share (it is never created "
                                "here); until it is, the device runs but makes no backup (the "
                                "staff dashboard shows it in red)"]
    assert not stick.exists()  # never made
    stick.mkdir(parents=True)  # an empty mount point: a folder on the store's own disk
    assert main(["config", "check", str(cfg)]) == 0
    assert "on the store's own disk" in capsys.readouterr().err
    cfg.write_text(f'[store]\npath = "{data}/s.db"\n')  # beside the store: nothing to say
    assert main(["config", "check", str(cfg)]) == 0
    assert capsys.readouterr().err == ""


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("hinge-mirror ")


def test_the_models_threads_default_to_what_the_machine_spares(monkeypatch, caplog):
    from device.config import PoseConfig

    monkeypatch.setattr("os.cpu_count", lambda: 4)
    assert PoseConfig().model_threads() == 3  # one core for camera, server and coach
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert PoseConfig().model_threads() == 1
    assert PoseConfig(threads=2).model_threads() == 2
    assert "more than this machine's 1 cores" in caplog.text
    with pytest.raises(SystemExit):
        main(["bench", "--threads", "1,x"])


def test_bench_on_a_camera_that_is_not_one(capsys):
    assert main(["bench", "--camera", "demo"]) == 2
    line = err_line(capsys)
    assert "bench --camera demo" in line and "not a camera" in line


def test_bench_on_a_webcam_that_is_not_there(capsys, model_path):
    assert main(["bench", "--camera", "57"]) == 2
    line = err_line(capsys)
    assert "camera 57" in line and "cannot be opened" in line


def test_an_output_in_a_missing_folder_is_refused_before_any_work(capsys, tmp_path, monkeypatch):
    import device.cli as cli
    from device.core.synth import Session, session_track
    from device.vision.tracks import Track, save_track

    def no_model(*_a, **_k):
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr(cli, "_load_pose", no_model)
    video = tmp_path / "v.mp4"
    video.write_bytes(b"0")
    missing = tmp_path / "no" / "such"
    assert main(["track", str(video), "-o", str(missing / "t.npz")]) == 2
    line = err_line(capsys)
    assert f"folder {missing} does not exist" in line and "-o" in line
    save_track(tmp_path / "s.npz", Track(*session_track(Session(reps=1))))
    assert main(["analyze", str(tmp_path / "s.npz"), "--html", str(missing / "r.html")]) == 2
    assert "does not exist" in (line := err_line(capsys)) and "--html" in line
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/data/s.db"\n')
    assert main(["backup", str(missing / "b.tar.gz"), "--config", str(cfg)]) == 2
    assert "does not exist" in err_line(capsys)
    assert main(["backup", str(tmp_path), "--config", str(cfg)]) == 2
    assert f"backup {tmp_path}: is a folder" in err_line(capsys)
    assert not (tmp_path / "no").exists()  # no folder made for a typo


def test_backup_refuses_to_replace_a_file_unless_forced(capsys, tmp_path):
    """Issue 25, item 7: `backup OUT` overwrote an existing file without a word."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/data/s.db"\n')
    from device.store import connect

    connect(tmp_path / "data" / "s.db").close()
    out = tmp_path / "monday.tar.gz"
    out.write_bytes(b"last week's backup")
    assert main(["backup", str(out), "--config", str(cfg)]) == 2
    line = err_line(capsys)
    assert f"backup {out}: already exists" in line and "--force" in line
    assert out.read_bytes() == b"last week's backup"
    assert main(["backup", str(out), "--force", "--config", str(cfg)]) == 0
    assert out.read_bytes() != b"last week's backup"


def test_a_folder_given_where_a_file_is_read_says_so(capsys, tmp_path):
    assert main(["analyze", str(tmp_path)]) == 2
    assert f"video {tmp_path}: is a folder" in err_line(capsys)
    assert main(["config", "check", str(tmp_path)]) == 2
    assert f"config {tmp_path}: is a folder" in err_line(capsys)
    (tmp_path / "t.npz").mkdir()
    assert main(["analyze", str(tmp_path / "t.npz")]) == 2
    assert "is a folder" in err_line(capsys)


def test_a_reader_that_leaves_the_pipe_early_is_no_traceback(tmp_path):
    """`hinge-mirror bench | head`: the output's reader closes the pipe first."""
    import subprocess
    import sys

    cfg = tmp_path / "c.toml"
    cfg.write_text("")
    import os

    read, write = os.pipe()
    os.close(read)  # before it writes a line
    try:
        proc = subprocess.run([sys.executable, "-m", "device.cli", "config", "check", str(cfg)],
                              stdout=write, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write)
    err = proc.stderr.decode()
    assert proc.returncode == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_bench_refuses_too_few_rounds_or_frames_instead_of_changing_them(capsys):
    assert main(["bench", "--rounds", "5"]) == 2
    assert "bench --rounds 5: at least 10 rounds" in err_line(capsys)
    assert main(["bench", "--frames", "50"]) == 2
    assert "bench --frames 50: at least 10 frames a round" in (line := err_line(capsys))
    assert "100 for 10 rounds" in line
    assert main(["bench", "--camera", "0", "--frames", "1"]) == 2  # before the camera opens
    assert "bench --camera: --frames 1 is too few; give 2 or more" in err_line(capsys)


def test_bench_camera_with_no_camera_says_so_and_never_mentions_the_demo(capsys, monkeypatch,
                                                                       caplog):
    import device.cli as cli
    from device.vision import cameras

    monkeypatch.setattr(cli, "_load_pose", lambda *a, **k: object())
    monkeypatch.setattr(cameras, "libcamera_cameras", lambda: [])
    monkeypatch.setattr(cameras.glob, "glob", lambda pattern: [])
    assert main(["bench", "--camera"]) == 2
    err = capsys.readouterr().err
    assert "camera auto: no camera found" in err.strip().splitlines()[-1]
    assert "demo" not in err and "demo" not in caplog.text  # nor in the log


def test_a_camera_that_cannot_be_opened_at_run_is_one_line_in_all(tmp_path):
    """As a person at the keyboard sees it: no OpenCV warnings first, and the
    error once (not also as the supervisor's log line)."""
    import subprocess
    import sys

    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/s.db"\n[log]\ndir = "{tmp_path}/log"\n'
                   '[server]\nhttps_port = 0\n')
    proc = subprocess.run([sys.executable, "-m", "device.cli", "run", "--source", "57",
                           "--host", "127.0.0.1", "--port", "0", "--config", str(cfg)],
                          capture_output=True, text=True, timeout=120)
    lines = [line for line in proc.stderr.splitlines() if " INFO " not in line]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("hinge-mirror: error: camera 57: cannot be "
                                                   "opened"), proc.stderr
    # The log file (the staff console's Logs page) keeps it.
    assert "camera 57: cannot be opened" in (tmp_path / "log" / "hinge-mirror.log").read_text()


def test_a_broken_video_is_the_projects_one_line_without_ffmpegs_own(tmp_path, model_path):
    """Issue 25, item 7: ffmpeg's "moov atom not found" came before the project's
    line. The model's start-up lines (the log's INFO and LiteRT's own) are
    what any analyze prints; apart from them, stderr is exactly one line."""
    import subprocess
    import sys

    broken = tmp_path / "cut-short.mp4"  # a recording whose end was never written
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 12)
    proc = subprocess.run([sys.executable, "-m", "device.cli", "analyze", str(broken)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "moov" not in proc.stderr and "mov,mp4" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines()
             if " INFO " not in line and not line.startswith("INFO: Created TensorFlow Lite")]
    assert lines == [f"hinge-mirror: error: video {broken}: not a video OpenCV can decode; "
                     "give an .mp4/.avi/.mov file (run and analyze take a track .npz too)"], \
        proc.stderr


def test_bench_with_a_bad_clip_is_one_line_naming_it_before_the_model_loads(capsys, tmp_path,
                                                                            monkeypatch):
    import device.cli as cli

    def no_model(*_a, **_k):
        raise AssertionError("the model was loaded before the clip was checked")

    monkeypatch.setattr(cli, "_load_pose", no_model)
    missing = tmp_path / "nope.mp4"
    assert main(["bench", "--clip", str(missing), "--frames", "100"]) == 2
    line = err_line(capsys)
    assert str(missing) in line and "no such file" in line
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video at all")
    assert main(["bench", "--clip", str(garbage), "--experiments"]) == 2
    line = err_line(capsys)
    assert str(garbage) in line and "not a video" in line
    assert main(["bench", "--clip", str(tmp_path)]) == 2
    assert f"{tmp_path}: is a folder" in err_line(capsys)


def test_analyze_takes_the_exercise_and_refuses_one_not_built_in_one_line(capsys, tmp_path):
    from device.core.synth import Session, session_track
    from device.vision.tracks import Track, save_track

    kp, t, size = session_track(Session(reps=3, down_s=0.3, up_s=0.3))
    save_track(tmp_path / "s.npz", Track(kp, t, size))
    assert main(["analyze", str(tmp_path / "s.npz"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["faults"].get("too_fast") == 3
    assert main(["analyze", str(tmp_path / "s.npz"), "--json",
                 "--exercise", "kettlebell_swing"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["exercise"] == "kettlebell_swing" and "too_fast" not in report["faults"]
    for name, words in (("good_morning", "not built yet"), ("yoga", "is not an exercise")):
        with pytest.raises(SystemExit) as exit_:
            main(["analyze", str(tmp_path / "s.npz"), "--exercise", name])
        assert exit_.value.code == 2
        assert words in capsys.readouterr().err
