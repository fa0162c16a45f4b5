"""The pieces timed on their own, never inside the rounds: preprocessing and the
invoke frame by frame, the coach over a synthetic session, and (experiments)
the same work back to back or after a pause."""

from __future__ import annotations

import itertools
import time

from device.core.coach import CoachParams, CoachState, step
from device.core.synth import Session, session_track
from device.offline.bench.stats import stats
from device.vision.sources import Frame

PAUSED_FRAMES = 150  # the core after a pause: a few seconds here, longer on a Pi


def core_us_per_frame(repeats: int = 5, pause_s: float = 0.0,
                      frames: int | None = None) -> dict[str, float]:
    """Coach cost per frame over a synthetic session with noise and dropouts.

    pause_s: a busy wait this long before each frame, doing no work (a loop on
    the clock: it evicts none of the core's code or data and lets the CPU
    idle no more than the hot loop does). Beside the hot loop (0), it shows
    what the machine itself charges for a pause as long as an invoke, which
    the device's threads pay every frame. frames: the session's first so many.
    """
    kp, t, size = session_track(Session(reps=5, noise=0.003, dropout_rate=0.02))
    params = CoachParams()
    aspect = size[1] / size[0]
    per_frame = []
    for _ in range(repeats):
        state = CoachState()
        for k, ts in itertools.islice(zip(kp, t, strict=True), frames):
            if pause_s:
                busy_wait(pause_s)
            t0 = time.perf_counter()
            state, _ = step(state, k, float(ts), aspect, params)
            per_frame.append(time.perf_counter() - t0)
    return stats(per_frame, 1e6)


def busy_wait(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def preprocess_and_invoke(pose, frames: list[Frame]) -> tuple[list[float], list[float]]:
    """Each frame's preprocessing and then its invoke, timed apart (seconds):
    preprocessing as on the device, between invokes."""
    pre, inv = [], []
    pose.reset()
    for f in frames:
        t0 = time.perf_counter()
        model_input, _ = pose.preprocess(f.image)
        t1 = time.perf_counter()
        pose.infer(model_input)
        inv.append(time.perf_counter() - t1)
        pre.append(t1 - t0)
    return pre, inv


def pause_charge(pose, frames: list[Frame], invoke_s: float) -> dict:
    """What this machine charges for a pause (docs/measured.md, "Speed"): preprocessing
    back to back (against between invokes), and the core on the session's first
    PAUSED_FRAMES after a busy wait as long as an invoke before each (a Pi's
    slower invoke makes each frame that long), beside the hot loop on the
    same frames."""
    pre_hot = []
    for f in frames:
        t0 = time.perf_counter()
        pose.preprocess(f.image)
        pre_hot.append(time.perf_counter() - t0)
    return {
        "core_after_pause_us_per_frame": {
            **core_us_per_frame(1, invoke_s, PAUSED_FRAMES),
            "pause_ms": round(invoke_s * 1e3, 3), "frames": PAUSED_FRAMES,
            "back_to_back": core_us_per_frame(5, 0.0, PAUSED_FRAMES)},
        "preprocess_back_to_back_ms": stats(pre_hot, 1e3)}
