"""Frame sources and pose runtimes that fail on purpose, for the fault-injection
tests. Module-level callables: the pipeline's child process (spawn) imports
them by name, as it imports the real ones."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

from device.core.synth import Session, session_track
from device.errors import HingeMirrorError
from device.vision.sources import Frame, Pacer


class LiveFake:
    """A "camera" replaying a synthetic session of hinges in real time, forever,
    with one way of failing after `after` frames:

    - "raise": frames() raises (a driver error)
    - "end": frames() returns (a USB camera unplugged)
    - "stall": frames() blocks until close() (picamera2's "frontend timed out")
    - "stuck": frames() blocks and close() does not free it (a wedged driver)
    - "garbage": NaN, infinite and out-of-range keypoints, and time going back
    - "pixels": frames with an image and no keypoints (the model must run)
    """

    live = True

    def __init__(self, mode: str = "", after: int = 60, name: str = "fake camera") -> None:
        kp, t, size = session_track(Session(view="side", reps=40, seed=3))
        self.kp, self.t, self.size = kp, t, size
        self.mode, self.after, self.name = mode, after, name
        self._closed = threading.Event()

    def frames(self):
        pacer = Pacer()
        rng = np.random.default_rng(0)
        for i, (k, ts) in enumerate(zip(self.kp, self.t, strict=True)):
            if self._closed.is_set():
                return
            pacer.wait(float(ts))
            if i >= self.after:
                if self.mode == "raise":
                    raise RuntimeError("fake driver error")
                if self.mode == "end":
                    return
                if self.mode == "stall":
                    self._closed.wait()
                    return
                if self.mode == "stuck":
                    threading.Event().wait()
                if self.mode == "garbage":
                    bad = k.copy()
                    bad[rng.integers(0, 17, 5)] = rng.choice([np.nan, np.inf, -1e9, 7.0])
                    yield Frame(t_s=float(ts) - (5.0 if i % 7 == 0 else 0.0),
                                keypoints=bad.astype(np.float32), size=self.size)
                    continue
            if self.mode == "pixels":
                yield Frame(t_s=float(ts), image=np.zeros((*self.size, 3), np.uint8),
                            size=self.size)
            else:
                yield Frame(t_s=float(ts), keypoints=k, size=self.size)

    def close(self) -> None:
        self._closed.set()


def open_fake(mode: str = "", after: int = 60, fail_first: int = 0, marker: str = ""):
    """`open_source` for the child: fails the first `fail_first` opens of this
    process (a camera that is not there yet), then a LiveFake. With `marker`, a
    file that holds how many times a camera was opened across processes; the
    mode applies to the first opening only, so a restarted pipeline is healthy."""
    open_fake.calls = getattr(open_fake, "calls", 0) + 1
    if open_fake.calls <= fail_first:
        raise HingeMirrorError(f"camera fake: cannot be opened (try {open_fake.calls})")
    if _seen_before(marker):
        mode = ""
    return LiveFake(mode, after), False


def _seen_before(marker: str) -> bool:
    """Count a call in the file `marker` (across processes); True after the first."""
    if not marker:
        return False
    path = Path(marker)
    n = int(path.read_text()) if path.exists() else 0
    path.write_text(str(n + 1))
    return n > 0


class RaisingPose:
    runtime, threads, mode = "fake", 1, "crop"

    def estimate(self, image, bgr=False):
        raise RuntimeError("fake runtime error")


class HangingPose:
    """An invoke that never returns (a native hang): the thread sleeps forever."""

    runtime, threads, mode = "fake", 1, "crop"

    def estimate(self, image, bgr=False):
        threading.Event().wait()


def pose(kind: str, marker: str = ""):
    """`load_pose` for the child: a pose that raises or hangs (on the first
    process only, with `marker`), else one that returns a still standing figure."""
    if _seen_before(marker):
        kind = "still"
    if kind == "raise":
        return RaisingPose()
    if kind == "hang":
        return HangingPose()
    kp, _, _ = session_track(Session(view="side", reps=1, seed=4))

    class Still:
        runtime, threads, mode = "fake", 1, "crop"

        def estimate(self, image, bgr=False):
            return kp[0]

    return Still()


def exit_now(code: int = 5):
    """An `open_source` that takes the whole process down (a native crash)."""
    time.sleep(0.2)
    os._exit(code)


class FakeWebcam(LiveFake):
    """What OpenCVSource(index) gives in the `auto` tests: a live fake camera."""

    def __init__(self, index, size=None, mount=None) -> None:
        super().__init__(name=f"camera {index}")


def _fake_cameras(webcams_from_s: float | None, webcam_opens: bool, libcamera: list | None):
    """In this (child) process: picamera2 importable with `libcamera` listed (None:
    not installed), whose Picamera2() finds none; /dev/video0, a UVC webcam,
    there from `webcams_from_s` after the first call (None: never); it opens
    (a FakeWebcam) or not."""
    import sys
    import types

    from device.vision import cameras

    if libcamera is not None and "picamera2" not in sys.modules:
        pc2, lc = types.ModuleType("picamera2"), types.ModuleType("libcamera")

        class Picamera2:
            @staticmethod
            def global_camera_info():
                return list(libcamera)

            def __init__(self):
                raise IndexError("list index out of range")  # what it says with none

        pc2.Picamera2, lc.Transform = Picamera2, lambda **kw: None
        sys.modules.update(picamera2=pc2, libcamera=lc)
    t0 = _fake_cameras.__dict__.setdefault("t0", time.monotonic())

    def nodes(pattern="/dev/video*"):
        there = webcams_from_s is not None and time.monotonic() - t0 >= webcams_from_s
        return [cameras.V4L2Node(0, "Fake Webcam", "uvcvideo")] if there else []

    def webcam(index, size=None, mount=None):
        if not webcam_opens:
            raise HingeMirrorError(f"camera {index}: cannot be opened or gives no frames; "
                                   "check the cable")
        return FakeWebcam(index, size, mount)

    cameras.webcam_nodes, cameras.OpenCVSource = nodes, webcam


def open_auto(webcams_from_s: float | None = 0.0, webcam_opens: bool = True,
              libcamera: list | None = None, demo: bool = False):
    """`open_source` for the child: the real "auto" over fake cameras (above)."""
    from device.config import CameraConfig
    from device.vision import cameras

    _fake_cameras(webcams_from_s, webcam_opens, libcamera)
    return cameras.open_source("auto", CameraConfig(), loop=False, demo=demo)


def no_model():
    """`load_pose` for the child: the model file is not there."""
    raise HingeMirrorError("model /nowhere/movenet.tflite: not installed; run "
                           "`hinge-mirror models fetch`")


class ManualClock:
    """A clock that moves only when told: `now` is its reading; `set` moves it."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def set(self, now: float) -> None:
        self.now = now


class StallingCamera:
    """A live camera on a `ManualClock`: it delivers a person standing, each frame
    at once with the clock set to its time, until `stall_at_s`; there it stops
    (the frontend timed out) until `resume` is set, and goes on from
    `resume_at_s`; after its last frame it waits to be closed (a live camera
    that ends is one unplugged). No real time passes for the frames: the clock
    says it."""

    live = True
    name = "stalling camera"

    def __init__(self, clock: ManualClock, stall_at_s: float = 2.0,
                 resume_at_s: float = 6.0) -> None:
        kp, t, self.size = session_track(Session(reps=0, lead_s=8.0, tail_s=0.0))
        self.kp, self.t, self.clock = kp, t, clock
        self.stall_at_s, self.resume_at_s = stall_at_s, resume_at_s
        self.stalled, self.resume = threading.Event(), threading.Event()
        self.ended, self.closed = threading.Event(), threading.Event()

    def frames(self):
        for k, ts in zip(self.kp, self.t, strict=True):
            if self.stall_at_s <= ts < self.resume_at_s:
                if not self.stalled.is_set():
                    self.stalled.set()
                    self.resume.wait()
                continue
            self.clock.set(float(ts))
            yield Frame(t_s=float(ts), keypoints=k, size=self.size)
            time.sleep(0.001)  # a frame at a time: the pipeline keeps up
        self.ended.set()
        self.closed.wait()

    def close(self) -> None:
        self.resume.set()
        self.closed.set()
