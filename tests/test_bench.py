"""`bench --json`: its keys and types (DESIGN.md's and the new ones beside them).
Untimed: speed is measured by `hinge-mirror bench`, never asserted here."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from device.core.synth import Session, session_track
from device.errors import HingeMirrorError
from device.offline.bench import format_bench, run_bench

DESIGN_KEYS = {"runtime": str, "threads": int, "model": str, "invoke_ms": dict,
               "preprocess_ms": dict, "core_us_per_frame": dict,
               "pipeline_fps_decoded": float, "pipeline_fps_file": float, "peak_rss_mb": float}
# The default report: DESIGN's keys and what a Pi owner needs beside them (the
# invoke clock's two only with a model that can be clocked; memory_mb only with
# the device's own run).
DEFAULT_KEYS = {*DESIGN_KEYS, "pose_mode", "clip", "frame_size", "frames", "rounds",
                "frames_per_round", "experiments", "pipeline_fps_threaded", "invoke_only_fps",
                "decoded_over_invoke", "ratios", "wall_ms_per_frame", "cpu_ms_per_frame",
                "threads_cpu_us_per_frame", "snapshots", "dropped"}
CLOCK_KEYS = {"invoke_wall_share", "between_invokes_us"}
# `--experiments` only (their names as before the bench was split).
EXPERIMENT_KEYS = {"core_after_pause_us_per_frame", "preprocess_back_to_back_ms",
                   "pipeline_fps_file_threaded", "overhead_us_per_frame",
                   "pose_thread_beside_invoke_us_per_frame", "alloc_bytes_per_frame",
                   "peak_rss_mb_with_decoded_buffer", "pipeline_fps_supervised",
                   "supervised_over_decoded", "supervised_snapshots", "supervised_dropped",
                   "supervised_child_cpu_ms_per_frame", "latency_ms", "bench_memory_mb",
                   "crossing_us_per_snapshot"}
CLOCKED_EXPERIMENT_KEYS = {"invoke_cpu_us_per_frame", "overhead_own_us_per_frame",
                           "pose_thread_beside_own_invoke_us_per_frame"}
DEFAULT_VARIANTS = {"invoke_only", "pipeline_decoded", "pipeline_file", "pipeline_threaded"}
EXPERIMENT_VARIANTS = {"pipeline_threaded_opencv_1_thread", "pipeline_threaded_switch_0_5ms",
                       "tf_example",
                       "pipeline_file_threaded", "pipeline_supervised"}


class FakePose:
    """Stands in for MoveNet: same methods, a standing figure for every frame."""

    runtime, threads, mode = "fake", 1, "crop"

    def __init__(self) -> None:
        self.kp = session_track(Session(view="side", reps=1))[0][0]

    def reset(self) -> None:
        pass

    def preprocess(self, frame):
        return frame[:192, :192].copy(), (0, 0, 192)

    def infer(self, model_input):
        """The model's raw answer on its input square: no one seen (noise), so
        TensorFlow's example loop keeps its whole-frame region."""
        return np.zeros((17, 3), np.float32)

    def estimate(self, frame, bgr=False):
        return self.kp


@pytest.fixture
def clip(tmp_path):
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "noise.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    rng = np.random.default_rng(0)
    for _ in range(20):
        writer.write(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
    writer.release()
    return path


def test_the_default_report_has_designs_keys_and_none_of_the_experiments(clip):
    r = run_bench(FakePose, clip=clip, frames=100, rounds=10, device_run=False)
    assert set(r) == DEFAULT_KEYS, set(r) ^ DEFAULT_KEYS
    for key, kind in DESIGN_KEYS.items():
        assert isinstance(r[key], kind), (key, r[key])
    assert r["experiments"] is False and r["clip"] == clip.name
    assert set(r["ratios"]) == {"pipeline_decoded_over_invoke", "pipeline_file_over_invoke",
                                "pipeline_threaded_over_invoke"}
    assert set(r["cpu_ms_per_frame"]) == set(r["wall_ms_per_frame"]) == DEFAULT_VARIANTS
    assert r["snapshots"] == dict.fromkeys(DEFAULT_VARIANTS - {"invoke_only"}, 100)
    assert r["dropped"] == dict.fromkeys(DEFAULT_VARIANTS - {"invoke_only"}, 0)
    assert set(r["threads_cpu_us_per_frame"]) == {"capture", "pose", "coach"}
    assert isinstance(r["pipeline_fps_threaded"], float)
    text = format_bench(r)
    assert f"clip {clip.name} 320x240" in text and "--experiments" in text
    assert "after a pause" not in text and "supervised" not in text
    assert "through the device's threads" in text


def test_without_a_clip_the_bench_runs_on_synthetic_frames_and_says_so():
    from device.offline.bench.frames import SYNTHETIC

    r = run_bench(FakePose, frames=100, rounds=10, device_run=False)
    assert r["clip"] == SYNTHETIC and r["frame_size"] == [480, 640]
    assert r["pipeline_fps_file"] is None  # DESIGN's key, with nothing to measure
    assert "pipeline_file" not in r["cpu_ms_per_frame"]
    first = format_bench(r).splitlines()[0]
    assert "no clip given" in first and "synthetic noise frames 640x480" in first


def test_bench_json_keeps_designs_keys_and_adds_the_measures_beside_them(clip):
    import cv2

    pool = cv2.getNumThreads()
    r = run_bench(FakePose, clip=clip, frames=100, rounds=10, experiments=True,
                  device_run=False)
    assert set(r) == DEFAULT_KEYS | EXPERIMENT_KEYS, set(r) ^ (DEFAULT_KEYS | EXPERIMENT_KEYS)
    assert r["experiments"] is True
    for key, kind in DESIGN_KEYS.items():
        assert isinstance(r[key], kind), (key, r[key])
    for key in ("invoke_ms", "preprocess_ms", "core_us_per_frame", "preprocess_back_to_back_ms"):
        assert set(r[key]) == {"median", "p90"}
    # The core after a pause as long as the median invoke (the machine's charge for it).
    paused = r["core_after_pause_us_per_frame"]
    assert set(paused) == {"median", "p90", "pause_ms", "frames", "back_to_back"}
    assert paused["pause_ms"] == r["invoke_ms"]["median"] and paused["frames"] == 150
    assert set(paused["back_to_back"]) == {"median", "p90"}
    assert "after a pause the core" in (text := format_bench(r)) and \
        "back to back on the same 150 frames" in text
    assert r["rounds"] == 10 and r["frames_per_round"] == 10 and r["frames"] == 100
    assert set(r["ratios"]) == {"pipeline_decoded_over_invoke", "pipeline_file_over_invoke",
                                "pipeline_threaded_over_invoke",
                                "pipeline_file_threaded_over_invoke",
                                "pipeline_threaded_switch_0_5ms_over_invoke",
                                "switch_0_5ms_over_default",
                                "pipeline_threaded_opencv_1_thread_over_invoke",
                                "opencv_1_thread_over_default",
                                "pipeline_supervised_over_invoke", "supervised_over_decoded",
                                "device_over_tf_example"}
    assert isinstance(r["pipeline_fps_threaded"], float)
    assert isinstance(r["pipeline_fps_file_threaded"], float)
    assert sys.getswitchinterval() == 0.005  # the fast variant put Python's default back
    assert cv2.getNumThreads() == pool  # and the one-thread variant OpenCV's pool
    for q in (*r["ratios"].values(), r["overhead_us_per_frame"],
              *r["cpu_ms_per_frame"].values(), *r["wall_ms_per_frame"].values()):
        assert set(q) == {"median", "p25", "p75"} and q["p25"] <= q["median"] <= q["p75"]
    assert set(r["cpu_ms_per_frame"]) == DEFAULT_VARIANTS | EXPERIMENT_VARIANTS
    # Every frame a pipeline variant was offered reached the hub, the threaded ones
    # too (the file's 20 frames looped through five times).
    assert r["snapshots"] == {"pipeline_decoded": 100, "pipeline_file": 100,
                              "pipeline_threaded": 100, "pipeline_threaded_opencv_1_thread": 100,
                              "pipeline_threaded_switch_0_5ms": 100,
                              "pipeline_file_threaded": 100, "pipeline_supervised": 100}
    assert r["dropped"] == {"pipeline_decoded": 0, "pipeline_file": 0, "pipeline_threaded": 0,
                            "pipeline_threaded_opencv_1_thread": 0,
                            "pipeline_threaded_switch_0_5ms": 0,
                            "pipeline_file_threaded": 0, "pipeline_supervised": 0}
    assert isinstance(r["alloc_bytes_per_frame"], int) and r["alloc_bytes_per_frame"] > 0
    # Each thread's CPU, read from the threads themselves: the coach thread runs
    # the coach, so it costs something on every frame; so do the others.
    threads = r["threads_cpu_us_per_frame"]
    assert set(threads) == {"capture", "pose", "coach"}
    assert all(q["median"] > 0 for q in threads.values()), threads
    assert set(r["pose_thread_beside_invoke_us_per_frame"]) == {"median", "p25", "p75"}
    assert "threads       CPU per frame: capture" in format_bench(r)
    # Across the process boundary, as the device runs it.
    assert isinstance(r["pipeline_fps_supervised"], float) and r["supervised_snapshots"] == 100
    assert r["supervised_dropped"] == 0 and isinstance(r["supervised_over_decoded"], float)
    # The supervised variant's CPU is both processes': at least the child's own.
    child = r["supervised_child_cpu_ms_per_frame"]
    assert child > 0 and r["cpu_ms_per_frame"]["pipeline_supervised"]["p75"] >= child
    assert set(r["latency_ms"]) == {"median", "p95"} and r["latency_ms"]["median"] > 0
    assert isinstance(r["crossing_us_per_snapshot"], float)
    assert set(r["bench_memory_mb"]) == {"pipeline_pss", "parent_pss"}
    assert all(v is not None and v > 0 for v in r["bench_memory_mb"].values())  # Linux: /proc
    text = format_bench(r)
    assert "10 interleaved rounds of 10 frames" in text and "IQR" in text
    # The difference of two variants' CPU is named as one: its quartiles can be below 0.
    assert "by difference" in text and "can fall below 0" in text
    assert "across the process boundary" in text


def test_fewer_than_ten_rounds_or_frames_a_round_are_refused_not_changed(clip):
    with pytest.raises(HingeMirrorError, match="bench --rounds 3: at least 10 rounds"):
        run_bench(FakePose, clip=clip, frames=50, rounds=3, boundary=False, device_run=False)
    with pytest.raises(HingeMirrorError, match="bench --frames 50: at least 10 frames a round"):
        run_bench(FakePose, clip=clip, frames=50, rounds=10, boundary=False, device_run=False)


def test_the_devices_memory_is_read_from_a_real_run_of_both_processes():
    from device.offline.bench import device_memory

    m = device_memory(None, settle_frames=60)  # the demo: no model, no clip needed
    assert "error" not in m, m
    assert m["source"] == "demo" and m["frames"] >= 60 and m["streams"] == 5
    assert m["pipeline_pss"] > 0 and m["server_pss"] > 0
    assert m["total"] == round(m["pipeline_pss"] + m["server_pss"], 1)
    text = format_bench({**run_bench(FakePose, frames=100, boundary=False, device_run=False),
                         "memory_mb": m})
    assert f"= {m['total']} MB PSS" in text


class _SpinningInterpreter:
    """An interpreter whose invoke burns 1 ms of its thread's CPU, exactly enough
    for the bench's invoke clock to have something to find."""

    def __init__(self) -> None:
        self.out = np.zeros((1, 1, 17, 3), np.float32)

    def set_tensor(self, index, value) -> None:
        pass

    def invoke(self) -> None:
        import time

        end = time.thread_time() + 0.001
        while time.thread_time() < end:
            pass

    def get_tensor(self, index):
        return self.out


class SpinningPose(FakePose):
    """FakePose with an interpreter whose invokes can be clocked (as MoveNet's
    `clock_invokes`): the invoke's own CPU is measured."""

    def __init__(self) -> None:
        super().__init__()
        self._interp = _SpinningInterpreter()
        self.clock = None

    def clock_invokes(self, clock) -> None:
        self.clock = clock

    def _invoke(self) -> None:
        if self.clock is None:
            self._interp.invoke()
        else:
            self.clock(self._interp.invoke)

    def infer(self, model_input):
        self._invoke()
        return super().infer(model_input)

    def estimate(self, frame, bgr=False):
        self._invoke()
        return self.kp


def test_the_invokes_own_cpu_in_the_devices_threads_is_taken_from_their_cpu(clip):
    r = run_bench(SpinningPose, clip=clip, frames=100, rounds=10, experiments=True,
                  boundary=False, device_run=False)
    assert CLOCK_KEYS | CLOCKED_EXPERIMENT_KEYS <= set(r)
    inv = r["invoke_cpu_us_per_frame"]
    assert set(inv) == {"invoke_only", "in_device_threads"}
    assert inv["in_device_threads"]["p25"] >= 1000  # every frame's invoke burnt 1 ms of CPU
    assert inv["invoke_only"]["p25"] >= 1000  # the same clock, alone
    own, pose_own = r["overhead_own_us_per_frame"], r["pose_thread_beside_own_invoke_us_per_frame"]
    assert set(own) == set(pose_own) == {"median", "p25", "p75"}
    assert pose_own["median"] >= 0  # the invoke's CPU is part of the pose thread's
    assert "device_over_tf_example" in r["ratios"]
    # The invoke clock's wall time: how much of each block the model ran, and the
    # wait between invokes, per variant that runs this interpreter (the
    # supervised child has its own). Each invoke spins 1 ms, so the model ran a share of
    # every block, and invoke-only, doing nothing else, most of its wall time.
    share, between = r["invoke_wall_share"], r["between_invokes_us"]
    assert set(share) == set(between) >= {"invoke_only", "pipeline_decoded", "pipeline_threaded",
                                          "tf_example", "pipeline_file"}
    assert all(0 < q["median"] <= 1 for q in share.values()), share
    assert share["invoke_only"]["median"] > 0.5
    assert all(q["median"] >= 0 for q in between.values()), between
    assert "model's share pipeline_threaded" in format_bench(r)
    assert "beside the invoke's own" in format_bench(r)


def test_the_invoke_clock_is_gone_when_the_bench_ends_even_on_an_error(clip, monkeypatch):
    from device.offline.bench import variants

    poses = []

    def load():
        poses.append(SpinningPose())
        return poses[-1]

    r = run_bench(load, clip=clip, frames=100, rounds=10, device_run=False)
    assert r["invoke_wall_share"] and poses[-1].clock is None
    clocked = []
    real = variants.threaded

    def broken(*a, **k):
        clocked.append(poses[-1].clock)  # the clock was on while the rounds ran
        if len(clocked) > 1:
            raise RuntimeError("a variant failed")
        return real(*a, **k)

    monkeypatch.setattr(variants, "threaded", broken)
    with pytest.raises(RuntimeError, match="a variant failed"):
        run_bench(load, clip=clip, frames=100, rounds=10, device_run=False)
    assert clocked[0] is not None and poses[-1].clock is None


def test_the_decoded_frames_are_as_the_pi_camera_delivers_them(clip):
    """Every variant gets R, G, B (picamera2's BGR888), TensorFlow's example too."""
    import cv2

    from device.offline.bench.frames import decoded_frames

    frames, name = decoded_frames(clip, 5)
    assert name == clip.name and len(frames) == 5
    src = cv2.VideoCapture(str(clip))
    ok, bgr = src.read()
    src.release()
    assert ok and frames[0].image.shape == (240, 320, 3)
    assert np.array_equal(frames[0].image, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


class _SlowInterpreter:
    """An invoke of 60 ms of wall time: a model slower than a 30 fps camera."""

    def invoke(self) -> None:
        import time

        time.sleep(0.06)


class SlowPose(SpinningPose):
    def __init__(self) -> None:
        super().__init__()
        self._interp = _SlowInterpreter()


def test_the_camera_bench_runs_the_devices_threads_on_a_live_camera():
    """`bench --camera`: a live camera at its own pace (a fake at 30 fps with
    pixels), a model slower than it (60 ms an invoke): every snapshot counted,
    the frames the model had no time for dropped, not queued, and the figures
    the invoke's own clock and the camera's stamps give."""
    from device.offline.bench import camera_bench, format_camera_bench
    from tests.fakes import LiveFake

    camera = LiveFake("pixels")
    r = camera_bench(camera, SlowPose(), frames=12, timeout_s=30)
    assert r["frames"] >= 12 and r["complete"] and r["camera_frames"] >= r["frames"]
    assert r["dropped"] >= 1  # about 30 frames a second came, at most 17 could go through
    assert r["camera_frames"] - r["dropped"] >= r["frames"]
    assert r["invoke_ms"]["median"] >= 60 and 0.5 < r["invoke_wall_share"] <= 1
    assert r["pipeline_fps"] < 20  # an invoke takes 60 ms: no more than 17 a second
    assert 10 < r["camera_fps"] < 60  # the fake's 30, give or take a slow machine
    # A frame's snapshot waits for its invoke; and not for seconds (a wrong stamp).
    assert 60 <= r["latency_ms"]["median"] < 1000
    assert set(r["threads_cpu_us_per_frame"]) == {"capture", "pose", "coach"}
    assert r["frame_size"] == list(camera.size) and r["source"] == "fake camera"
    assert camera._closed.is_set()  # the camera is closed when the bench ends
    text = format_camera_bench(r)
    assert "dropped (newest wins)" in text and "the model ran" in text


def test_a_camera_that_gives_nothing_is_one_line_and_closed():
    from device.offline.bench import camera_bench
    from tests.fakes import LiveFake

    camera = LiveFake("stall", after=0)
    with pytest.raises(HingeMirrorError, match="gave no frame in 1 s; check the camera"):
        camera_bench(camera, SlowPose(), frames=5, timeout_s=1.0)
    assert camera._closed.is_set()
    with pytest.raises(HingeMirrorError, match="--frames 1 is too few"):
        camera_bench(LiveFake("pixels"), SlowPose(), frames=1)


def test_a_camera_that_ends_early_is_reported_as_incomplete_not_as_done():
    from device.offline.bench import camera_bench, format_camera_bench

    r = camera_bench(_Ending(8), SlowPose(), frames=50, timeout_s=30)
    assert not r["complete"] and 2 <= r["frames"] <= 8
    assert "before --frames" in format_camera_bench(r)


class _Ending:
    """A live camera that gives n frames at 30 fps, then ends (unplugged)."""

    live, name = True, "ending camera"

    def __init__(self, n: int) -> None:
        self.n, self.closed = n, False

    def frames(self):
        import time

        from device.vision.sources import Frame

        for i in range(self.n):
            time.sleep(1 / 30)
            yield Frame(t_s=i / 30, image=np.zeros((48, 64, 3), np.uint8), size=(48, 64))

    def close(self) -> None:
        self.closed = True


def test_the_core_after_a_pause_waits_once_before_each_frame_and_not_in_the_hot_loop(monkeypatch):
    from device.offline.bench import timings

    waits: list[float] = []
    monkeypatch.setattr(timings, "busy_wait", waits.append)
    frames = len(session_track(Session(reps=5, noise=0.003, dropout_rate=0.02))[1])
    timings.core_us_per_frame(1)
    assert waits == []
    paused = timings.core_us_per_frame(1, pause_s=0.015)
    assert waits == [0.015] * frames
    assert set(paused) == {"median", "p90"} and paused["median"] > 0
    waits.clear()
    timings.core_us_per_frame(2, pause_s=0.015, frames=150)  # the first 150, each time
    assert waits == [0.015] * 300


def test_the_command_reports_designs_keys_by_default_and_the_experiments_when_asked(
        clip, capsys, monkeypatch):
    """`hinge-mirror bench --json` and `--json --experiments`, end to end but for
    the model (FakePose) and the device's own run (its memory: a stand-in)."""
    import json

    import device.cli as cli
    import device.offline.bench.run as run

    monkeypatch.setattr(cli, "_load_pose", FakePose)
    monkeypatch.setattr(run, "device_memory", lambda clip: {"error": "not measured here"})
    args = ["bench", "--json", "--frames", "100", "--clip", str(clip)]
    assert cli.main(args) == 0
    r = json.loads(capsys.readouterr().out)
    assert set(r) == DEFAULT_KEYS | {"memory_mb"}, set(r) ^ (DEFAULT_KEYS | {"memory_mb"})
    assert not EXPERIMENT_KEYS & set(r) and set(r["cpu_ms_per_frame"]) == DEFAULT_VARIANTS
    assert cli.main([*args, "--experiments"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert set(r) == DEFAULT_KEYS | EXPERIMENT_KEYS | {"memory_mb"}
    assert set(r["cpu_ms_per_frame"]) == DEFAULT_VARIANTS | EXPERIMENT_VARIANTS
    assert r["experiments"] is True


def _shared_paths(source: str) -> list[str]:
    """Strings naming a `shared` folder where a path is built from them: an
    operand of `/`, an argument of Path(...) or a join, or "shared" alone."""
    import ast
    import re

    def strings(node) -> list[str]:
        return [n.value for n in ast.walk(node)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)]

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            parts = strings(node.left) + strings(node.right)
        elif isinstance(node, ast.Call) and getattr(
                node.func, "id", getattr(node.func, "attr", None)) in (
                "Path", "PurePath", "PosixPath", "join", "joinpath"):
            parts = [s for a in [*node.args, *(k.value for k in node.keywords)]
                     for s in strings(a)]
        elif isinstance(node, ast.Constant) and node.value == "shared":
            parts = ["shared"]
        else:
            continue
        found += [s for s in parts if "shared" in re.split(r"[/\\]", s)]
    return found


def test_the_package_builds_no_path_to_shared():
    """DESIGN: the package knows nothing of ../shared (the Makefile and CI name
    it). Words about it in docstrings and help are no path; building one is."""
    from pathlib import Path

    # The detector finds what the bench once had, and the other ways of writing it.
    assert _shared_paths('D = Path(__file__).resolve().parents[3] / "shared" / "clips"')
    assert _shared_paths('D = Path("../shared/clips/bbdl_front_studio.mp4")')
    assert _shared_paths('D = os.path.join(ROOT, "../shared", "models")')
    assert not _shared_paths('"""Tests read the clips from ../shared/clips."""\nx = 1')
    device = Path(__file__).resolve().parents[1] / "device"
    found = {str(p.relative_to(device)): hits for p in sorted(device.rglob("*.py"))
             if (hits := _shared_paths(p.read_text()))}
    assert found == {}, found
