"""Fault injection: the pipeline in its own process, killed, hung, crashed, fed
garbage, its camera failing; the parent (web server, store) answers throughout,
restarts it, and keeps every stored session."""

from __future__ import annotations

import functools
import os
import signal
import time

import pytest

from device.core.coach import CoachParams
from device.errors import HingeMirrorError
from device.service.hub import StateHub
from device.store import connect
from tests import fakes
from tests.helpers import job


def test_a_killed_pipeline_is_restarted_and_no_stored_rep_is_lost(rig):
    from device.service.metrics import Metrics

    metrics = Metrics()
    r = rig(job(), metrics=metrics)
    r.sup.start()
    r.wait(lambda: r.reps() >= 2, 40, "two reps stored")
    first_pid, before = r.sup.health()["supervisor"]["pid"], r.reps()
    os.kill(first_pid, signal.SIGKILL)
    r.wait(lambda: "pipeline_restart" in r.kinds(), 10, "the restart event")
    assert ("pipeline_restart", "killed by signal SIGKILL") in r.device_events
    r.wait(lambda: any(s.get("camera") == "restarting" for s in r.snaps), 5,
           "the mirror saying so")
    r.wait(lambda: r.sup.health()["ok"], 20, "healthy again")
    assert r.sup.health()["supervisor"]["pid"] != first_pid
    # The open session was closed; the file is sound.
    conn = connect(r.store)
    assert conn.execute("SELECT end_reason FROM sessions ORDER BY id").fetchone()[0] == (
        "interrupted")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    r.wait(lambda: r.reps() > before, 40, "coaching to go on after the restart")
    # /metrics in the parent counts what the child did, across the restart, and
    # every rep the parent was told of is stored.
    assert metrics.restarts._value.get() == 1
    r.wait(lambda: metrics.reps._value.get() == r.reps(), 5, "reps counted = reps stored")
    assert metrics.frames._value.get() >= r.sup.health()["pipeline"]["frames"] > 0


def test_a_sigterm_to_the_child_alone_restarts_it_but_not_one_the_device_stops_with(rig):
    r = rig(job())
    r.sup.start()
    os.kill(r.sup.health()["supervisor"]["pid"], signal.SIGTERM)  # the child alone
    r.wait(lambda: "pipeline_restart" in r.kinds(), 10, "the restart event")
    assert ("pipeline_restart", "killed by signal SIGTERM") in r.device_events
    r.wait(lambda: r.sup.health()["ok"], 20, "healthy again")
    # Now as a stop to the whole process group: the child dies first, the
    # device's own stop follows.
    events = len(r.device_events)
    os.kill(r.sup.health()["supervisor"]["pid"], signal.SIGTERM)
    time.sleep(0.2)
    r.sup.stop()
    assert r.device_events[events:] == [] and r.sup.state == "stopped"


def test_a_stop_to_the_whole_process_group_is_a_clean_stop_with_no_restart(tmp_path):
    """`kill -TERM -PGID` (a terminal's `timeout make run`) reaches the pipeline's
    process and the parent at once: a real `hinge-mirror run`, on `--port 0`,
    found at the port its log names."""
    import json
    import re
    import sqlite3
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    from tests.helpers import free_port

    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/data/s.db"\n[log]\ndir = "{tmp_path}/log"\n'
                   f'[server]\nhttps_port = {free_port()}\nhttps_host = "127.0.0.1"\n')
    run_out = tmp_path / "run.out"
    with open(run_out, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--source", "demo",
                                 "--host", "127.0.0.1", "--port", "0", "--config", str(cfg)],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (said := re.search(r"mirror on http://127\.0\.0\.1:(\d+)/",
                                     run_out.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, run_out.read_text()
            time.sleep(0.2)
        port = int(said.group(1))
        assert port != 0
        while True:  # the port it named answers, with frames through the pipeline's process
            try:  # 503 until the source's first frames: ready is the model loaded
                h = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except urllib.error.HTTPError as exc:
                h = exc
            with h:
                if (json.load(h).get("pipeline") or {}).get("frames"):
                    break
            assert time.monotonic() < deadline, run_out.read_text()
            time.sleep(0.2)
        while True:  # the demo's first rep, counted on the mirror
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/state", timeout=2) as st:
                if (json.load(st).get("state") or {}).get("rep_count"):
                    break
            assert time.monotonic() < deadline + 60, run_out.read_text()
            time.sleep(0.2)
        # The mirror page is open, as on every device: its stream keeps the web
        # server's stop waiting for seconds, the pipeline's process long dead.
        import threading

        stream = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/stream", timeout=30)
        assert stream.readline()  # streaming
        reader = threading.Thread(target=lambda: [None for _ in iter(stream.readline, b"")],
                                  daemon=True)
        reader.start()
        os.killpg(proc.pid, signal.SIGTERM)
        stop_s = time.monotonic()
        assert proc.wait(timeout=20) == 0, run_out.read_text()
        # Not held by the open stream: the hub closes first and the stream ends
        # (0.3 s here; waitress alone waited 5 s for it). A bound, not a speed.
        assert time.monotonic() - stop_s < 3.0
        reader.join(10)
        stream.close()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    kinds = [k for (k,) in sqlite3.connect(tmp_path / "data" / "s.db").execute(
        "SELECT kind FROM events")]
    log = run_out.read_text()
    assert "pipeline_restart" not in kinds and "restarting it" not in log, (kinds, log)
    assert kinds[-1] == "stop"
    # The demo's reps are nobody's: none in the clinic's store.
    stored = sqlite3.connect(tmp_path / "data" / "s.db")
    assert stored.execute("SELECT COUNT(*) FROM reps").fetchone()[0] == 0
    assert stored.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0


def test_a_pipeline_that_crashes_at_every_start_gives_up_within_its_limit(rig):
    # Ready (the model loaded) before each crash in the camera's open: the
    # device serves on, says it has stopped, and stops feeding the watchdog.
    r = rig(job(open_source=functools.partial(fakes.exit_now, 5)), max_restarts=2)
    r.sup.start()
    r.wait(lambda: r.sup.state == "failed", 30, "giving up")
    assert r.kinds().count("pipeline_restart") == 2 and r.kinds()[-1] == "pipeline_failed"
    assert r.sup.health()["error"] == "pipeline failed: exited with code 5"
    assert r.snaps[-1]["camera"] == "failed" and not r.sup.watchdog_ok()


def test_a_model_that_will_not_load_is_a_one_line_error_at_start(rig):
    r = rig(job(load_pose=fakes.no_model))
    with pytest.raises(HingeMirrorError, match="model /nowhere/movenet.tflite: not installed"):
        r.sup.start()
    assert "pipeline_restart" not in r.kinds()


def test_a_hung_pose_runtime_is_killed_and_the_next_process_coaches(rig, tmp_path):
    marker = str(tmp_path / "pose-loads")
    r = rig(job(open_source=functools.partial(fakes.open_fake, "pixels"),
                load_pose=functools.partial(fakes.pose, "hang", marker)))
    r.sup.start()
    r.wait(lambda: "pipeline_restart" in r.kinds(), 20, "the hang to be seen")
    why = dict(r.device_events)["pipeline_restart"]
    assert "none processed" in why or "no heartbeat" in why, why
    r.wait(lambda: r.sup.health()["ok"] and r.sup.health()["pipeline"]["frames"] > 30, 20,
           "frames processed by the second process")


def test_a_pose_runtime_that_raises_is_reported_once_then_the_process_restarts(rig, tmp_path):
    marker = str(tmp_path / "pose-loads")
    r = rig(job(open_source=functools.partial(fakes.open_fake, "pixels"),
                load_pose=functools.partial(fakes.pose, "raise", marker), failing_s=2.0),
            hang_s=8.0)  # the hang check must not win the race with failing_s
    r.sup.start()
    r.wait(lambda: "pipeline_restart" in r.kinds(), 20, "the restart")
    errors = [d for k, d in r.device_events if k == "error"]
    assert errors == ["processing: fake runtime error"]  # one event, not one per frame
    assert dict(r.device_events)["pipeline_restart"] == "exited with code 4"
    r.wait(lambda: r.sup.health()["ok"] and r.sup.health()["pipeline"]["frames"] > 30, 20,
           "frames processed by the second process")


def test_a_camera_that_is_not_there_yet_is_retried_until_it_opens(rig):
    r = rig(job(open_source=functools.partial(fakes.open_fake, fail_first=2)))
    r.sup.start()  # ready with the model (none here), not with the camera
    r.wait(lambda: r.kinds(), 10, "the first failed open")  # the child reports it
    assert r.kinds()[0] == "camera_retry" and "cannot be opened" in r.device_events[0][1]
    assert r.snaps[0]["camera"] == "unavailable"
    r.wait(lambda: r.sup.health()["ok"], 10, "the camera")


def test_an_explicit_source_that_cannot_be_opened_is_one_line_at_start(rig, caplog):
    r = rig(job(open_source=functools.partial(fakes.open_fake, fail_first=1),
                fail_fast=True))
    with pytest.raises(HingeMirrorError, match="camera fake: cannot be opened"):
        r.sup.start()
    assert "pipeline_restart" not in r.kinds()
    # start() raises it, and the command line prints it: logged for the log
    # file, kept off the terminal (cli's filter reads `console`).
    said = [rec for rec in caplog.records if "cannot be opened" in rec.getMessage()]
    assert said and all(rec.console is False for rec in said)


@pytest.mark.parametrize("mode", ["end", "raise", "stall"])
def test_a_camera_that_fails_mid_run_is_reopened_and_coaching_resumes(rig, tmp_path, mode):
    # end: a USB camera unplugged; raise: a driver error; stall: no frame comes
    # (picamera2's "frontend timed out"). The child closes and reopens it.
    marker = str(tmp_path / "opens")
    r = rig(job(open_source=functools.partial(fakes.open_fake, mode, 90, marker=marker),
                camera_stale_s=1.0, reopen_after_s=1.0))
    r.sup.start()
    r.wait(lambda: "camera_back" in r.kinds(), 30, "the camera back")
    assert "camera_lost" in r.kinds()
    assert any(s.get("camera") == "unavailable" for s in r.snaps)
    assert "pipeline_restart" not in r.kinds()  # the process itself was fine
    frames = r.sup.health()["pipeline"]["frames"]
    r.wait(lambda: r.sup.health()["pipeline"]["frames"] > frames + 30 and r.sup.health()["ok"],
           20, "frames flowing again")


def test_a_camera_stuck_in_its_driver_restarts_the_pipeline_process(rig, tmp_path):
    marker = str(tmp_path / "opens")
    r = rig(job(open_source=functools.partial(fakes.open_fake, "stuck", 60, marker=marker),
                camera_stale_s=1.0, reopen_after_s=1.0))
    r.sup.start()
    r.wait(lambda: "pipeline_restart" in r.kinds(), 30, "the restart")
    assert dict(r.device_events)["pipeline_restart"] == "exited with code 3"
    r.wait(lambda: r.sup.health()["ok"], 20, "a healthy second process")


def test_garbage_frames_are_refused_by_the_coach_and_nothing_breaks(rig, caplog):
    import json

    r = rig(job(open_source=functools.partial(fakes.open_fake, "garbage", 30)))
    r.sup.start()
    time.sleep(4.0)
    h = r.sup.health()
    assert h["supervisor"]["restarts"] == 0 and h["pipeline"]["frames"] > 60
    assert not [k for k in r.kinds() if k in ("error", "pipeline_restart")]
    # The coach said no (its warning relayed from the child), and every snapshot
    # that reached the mirror is strict JSON: no NaN or infinity got through.
    assert "skipped by the coach" in caplog.text
    for snap in r.snaps:
        json.dumps(snap, allow_nan=False)


def test_new_coach_settings_reach_the_running_process_and_the_next_one(rig):
    r = rig(job())
    r.sup.start()
    r.sup.set_params(CoachParams(set_idle_s=3.0, set_target_reps=7))
    r.wait(lambda: (r.hub.latest()[1] or {}).get("set_target_reps") == 7, 10, "the target")
    os.kill(r.sup.health()["supervisor"]["pid"], signal.SIGKILL)
    r.wait(lambda: "pipeline_restart" in r.kinds() and r.sup.health()["ok"], 20, "restart")
    r.snaps.clear()
    r.wait(lambda: r.snaps and r.snaps[-1].get("set_target_reps") == 7, 10,
           "the target kept by the new process")


def test_the_live_skeleton_reaches_the_staff_framing_check_but_not_healthz(rig):
    r = rig(job())
    r.sup.start()
    framing = r.wait(lambda: (r.sup.framing or {}).get("skeleton") and r.sup.framing, 20,
                     "a skeleton")
    points = [p for p in framing["skeleton"] if p is not None]
    assert len(framing["skeleton"]) == 17 and len(points) >= 12
    assert all(0 <= x <= 1 and 0 <= y <= 1 for x, y in points)  # within the frame
    assert "skeleton" not in str(r.sup.health()) and "framing" not in r.sup.health()


def test_a_sigterm_or_ctrl_c_tells_the_supervisor_and_closes_the_hub_first_then_put_back():
    from device.app import _stop_first

    calls = []

    class Sup:
        def stopping(self):
            calls.append("supervisor")

    def before(signum, frame):
        calls.append(("before", signum))

    old = {n: signal.signal(n, before) for n in (signal.SIGTERM, signal.SIGINT)}
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            calls.clear()
            hub = StateHub()
            restore = _stop_first(Sup(), hub)
            handler = signal.getsignal(signum)
            assert handler is not before
            handler(signum, None)
            assert calls == ["supervisor", ("before", signum)] and hub.closed
            restore()
            assert signal.getsignal(signum) is before
    finally:
        for n, h in old.items():
            signal.signal(n, h)


def test_a_closed_hub_ends_every_wait_at_once():
    import threading

    hub = StateHub()
    hub.publish({"n": 1})
    got = []
    reader = threading.Thread(target=lambda: got.append(hub.wait(1, timeout_s=30)))
    reader.start()
    time.sleep(0.1)
    hub.close()
    reader.join(5)
    assert not reader.is_alive() and got == [(1, None)]
    assert hub.wait(1, timeout_s=30) == (1, None)  # a later wait does not wait
    hub.publish({"n": 2})
    assert hub.wait(1, timeout_s=30) == (2, {"n": 2})  # what is there is still given
