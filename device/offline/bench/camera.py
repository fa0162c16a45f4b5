"""`hinge-mirror bench --camera`: the device's own threads on a live camera."""

from __future__ import annotations

import time

import numpy as np

from device.errors import HingeMirrorError
from device.offline.bench.clock import InvokeClock
from device.offline.bench.stats import stats
from device.offline.bench.variants import CountingHub
from device.service.pipeline import Processor
from device.vision.sources import Frame


def check_camera_frames(frames: int) -> None:
    """`bench --camera`'s snapshots: two at least, for a rate between them."""
    if frames < 2:
        raise HingeMirrorError(f"bench --camera: --frames {frames} is too few; give 2 or more "
                               "(300 by default)")


def camera_bench(source, pose, frames: int = 300, timeout_s: float = 120.0) -> dict:
    """The device's own threads on a live camera, as `hinge-mirror run` drives them:
    what a Pi owner measures on their own camera (`hinge-mirror bench --camera`).

    The camera's frames come at its own rate and the newest wins, as on the
    device: frames the model had no time for are counted as dropped, not
    queued. Reports the snapshots' rate into the hub, the invoke (its own clock),
    the model's share of the wall time and the wait between invokes (a camera
    slower than the model shows here as waiting), each thread's CPU per frame,
    and the time from a frame leaving the camera to its snapshot in the hub."""
    from device.core.coach import Coach
    from device.service.pipeline import Pipeline

    check_camera_frames(frames)
    hub = CountingHub()
    proc = Processor(pose, Coach(), hub)
    taken: dict[float, float] = {}  # a frame's t_s -> when the camera's frame reached Python
    came: list[float | None] = [None, None]  # the first and the last of those
    received: list[float] = []  # when each frame's snapshot reached the hub
    latency: list[float] = []
    delivered = [0]
    size: list = []

    class Stamped:
        live, name = source.live, source.name

        def frames(self):
            for f in source.frames():
                now = time.monotonic()
                taken[f.t_s] = now
                if came[0] is None:
                    came[0] = now
                came[1] = now
                delivered[0] += 1
                if not size:
                    size.extend(f.size)
                if len(taken) > 64:  # dropped frames' stamps: keep the newest only
                    for t in sorted(taken)[:-32]:
                        taken.pop(t, None)
                yield f

        def close(self):
            source.close()

    step = proc.coach_step

    def timed_step(frame: Frame, keypoints) -> list:
        # Only the camera's frames: not a "camera unavailable" snapshot after a stall.
        events = step(frame, keypoints)
        now = time.monotonic()
        received.append(now)
        was = taken.pop(frame.t_s, None)
        if was is not None:
            latency.append(now - was)
        return events

    proc.coach_step = timed_step
    clock = InvokeClock.on(pose)
    pipeline = Pipeline(Stamped(), proc)
    t0 = time.monotonic()
    try:
        try:
            pipeline.start()
            deadline = t0 + timeout_s
            while len(received) < frames and not pipeline.source_ended and \
                    time.monotonic() < deadline:
                time.sleep(0.05)
            wall = time.monotonic() - t0  # the run itself, not the stopping after it
        finally:  # the camera closed whatever happens (the pipeline's stop closes its source)
            pipeline.stop()
    finally:
        if clock is not None:
            clock.close()
    if pipeline.error and pipeline.error.startswith("processing:"):
        raise HingeMirrorError(f"bench --camera: the pose model failed on {source.name}'s frames "
                               f"({pipeline.error}); check the model with `hinge-mirror models "
                               "verify` and the log")
    if pipeline.error:
        raise HingeMirrorError(f"bench --camera: {pipeline.error}; check the camera's cable and "
                               "that no other program holds it")
    if len(received) < 2:
        if delivered[0] == 0:
            raise HingeMirrorError(f"bench --camera: {source.name} gave no frame in "
                                   f"{wall:.0f} s; check the camera's cable and that no other "
                                   "program holds it")
        raise HingeMirrorError(f"bench --camera: {source.name} gave {delivered[0]} frame(s) but "
                               f"{len(received)} went through in {wall:.0f} s; see the log for "
                               "what the pipeline said")
    n = len(received)
    figures = clock.block_figures() if clock is not None else None
    cpu = pipeline.thread_cpu_s
    return {
        "source": source.name, "frame_size": size, "runtime": getattr(pose, "runtime", None),
        "threads": getattr(pose, "threads", None), "pose_mode": getattr(pose, "mode", None),
        "frames": n, "complete": n >= frames,  # False: the source ended or the time ran out
        "camera_frames": delivered[0], "dropped": pipeline.mailbox.dropped,
        "seconds": round(wall, 2),
        "camera_fps": round((delivered[0] - 1) / (came[1] - came[0]), 1)
        if came[0] is not None and came[1] > came[0] else None,
        "pipeline_fps": round((n - 1) / (received[-1] - received[0]), 1)
        if received[-1] > received[0] else None,
        **({"invoke_ms": stats(figures[0], 1e3), "invoke_wall_share": round(figures[1], 3),
            "between_invokes_us": stats(figures[2], 1e6)} if figures is not None else {}),
        "latency_ms": {"median": round(float(np.median(latency)) * 1e3, 1),
                       "p95": round(float(np.percentile(latency, 95)) * 1e3, 1)}
        if latency else None,
        "threads_cpu_us_per_frame": {t: round(cpu.get(t, 0.0) / n * 1e6)
                                     for t in ("capture", "pose", "coach")},
    }
