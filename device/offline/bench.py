"""`hinge-mirror bench`: measured speed and memory on this machine.

Reports medians and 90th percentiles, never a single timing. The pipeline
figures run the same `Processor` as the device (pose + coach + publish):
``pipeline_fps_decoded`` on frames already decoded into memory (the device's
own overhead), ``pipeline_fps_file`` reading the video file (decode included).
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

import numpy as np

from device.core.coach import CoachParams, CoachState, step
from device.core.synth import Session, session_track
from device.service.hub import StateHub
from device.service.pipeline import Processor
from device.vision.sources import Frame, OpenCVSource

DECODED_BUFFER = 60  # frames held decoded in memory, cycled
DEFAULT_CLIP = Path(__file__).resolve().parents[3] / "shared" / "clips" / "bbdl_front_studio.mp4"


def _stats(samples_s: list[float], scale: float) -> dict[str, float]:
    a = np.asarray(samples_s) * scale
    return {"median": round(float(np.median(a)), 3), "p90": round(float(np.percentile(a, 90)), 3)}


def _frames(clip: Path | None, n: int) -> tuple[list[Frame], str]:
    if clip is not None:
        src = OpenCVSource(str(clip))
        frames = []
        try:
            for f in src.frames():
                frames.append(f)
                if len(frames) >= n:
                    break
        finally:
            src.close()
        return frames, clip.name
    rng = np.random.default_rng(0)
    return [Frame(t_s=i / 30, image=rng.integers(0, 255, (480, 640, 3), dtype=np.uint8),
                  size=(480, 640)) for i in range(min(n, 60))], "synthetic noise 640x480"


def core_us_per_frame(repeats: int = 5) -> dict[str, float]:
    """Coach cost per frame over a synthetic session with noise and dropouts."""
    kp, t, size = session_track(Session(reps=5, noise=0.003, dropout_rate=0.02))
    params = CoachParams()
    aspect = size[1] / size[0]
    per_frame = []
    for _ in range(repeats):
        state = CoachState()
        for k, ts in zip(kp, t, strict=True):
            t0 = time.perf_counter()
            state, _ = step(state, k, float(ts), aspect, params)
            per_frame.append(time.perf_counter() - t0)
    return _stats(per_frame, 1e6)


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_bench(load_pose, clip: Path | None = None, frames: int = 300) -> dict:
    from device.core.coach import Coach

    if clip is None and DEFAULT_CLIP.is_file():
        clip = DEFAULT_CLIP
    pose = load_pose()
    # 1. The device path from the file, decoding included; measured first so
    # that the peak memory is the device's, not the decoded-frame buffer's.
    fps_file = None
    if clip is not None:
        proc = Processor(pose, Coach(), StateHub())
        src = OpenCVSource(str(clip), loop=True)
        n = 0
        t0 = time.perf_counter()
        try:
            for f in src.frames():
                proc.process(f)
                n += 1
                if n >= frames:
                    break
        finally:
            src.close()
        fps_file = round(n / (time.perf_counter() - t0), 1)
    rss_device = _peak_rss_mb()
    # 2. A bounded buffer of decoded frames, cycled to `frames` steps.
    decoded, clip_name = _frames(clip, DECODED_BUFFER)
    steps = [decoded[i % len(decoded)] for i in range(frames)]
    pre, inv = [], []
    pose.reset()
    for f in steps:
        t0 = time.perf_counter()
        model_input, _ = pose.preprocess(f.image)
        t1 = time.perf_counter()
        pose.infer(model_input)
        inv.append(time.perf_counter() - t1)
        pre.append(t1 - t0)
    invoke = _stats(inv, 1e3)
    # 3. Preprocess + pose + core + publish on the decoded frames.
    pose.reset()
    proc = Processor(pose, Coach(), StateHub())
    t0 = time.perf_counter()
    for i, f in enumerate(steps):
        proc.process(Frame(t_s=i / 30.0, image=f.image, size=f.size))
    fps_decoded = len(steps) / (time.perf_counter() - t0)
    invoke_fps = 1000.0 / invoke["median"]
    h, w = decoded[0].size
    return {
        "runtime": pose.runtime, "threads": pose.threads,
        "model": "movenet_singlepose_lightning_int8", "pose_mode": pose.mode,
        "clip": clip_name, "frame_size": [h, w], "frames": len(steps),
        "invoke_ms": invoke,
        "preprocess_ms": _stats(pre, 1e3),
        "core_us_per_frame": core_us_per_frame(),
        "pipeline_fps_decoded": round(fps_decoded, 1),
        "pipeline_fps_file": fps_file,
        "invoke_only_fps": round(invoke_fps, 1),
        "decoded_over_invoke": round(fps_decoded / invoke_fps, 3),
        "peak_rss_mb": rss_device,
        "peak_rss_mb_with_decoded_buffer": _peak_rss_mb(),
    }


def format_bench(r: dict) -> str:
    return "\n".join([
        f"runtime {r['runtime']}, {r['threads']} thread(s), pose mode {r['pose_mode']}, "
        f"clip {r['clip']} {r['frame_size'][1]}x{r['frame_size'][0]}",
        f"invoke        {r['invoke_ms']['median']:.2f} ms median, {r['invoke_ms']['p90']:.2f} p90",
        f"preprocess    {r['preprocess_ms']['median']:.2f} ms median, "
        f"{r['preprocess_ms']['p90']:.2f} p90",
        f"core          {r['core_us_per_frame']['median']:.1f} us/frame median, "
        f"{r['core_us_per_frame']['p90']:.1f} p90",
        f"pipeline      {r['pipeline_fps_decoded']:.0f} fps decoded "
        f"({r['decoded_over_invoke']:.0%} of invoke-only {r['invoke_only_fps']:.0f} fps), "
        f"{r['pipeline_fps_file']} fps from the file",
        f"peak RSS      {r['peak_rss_mb']:.0f} MB (device path), "
        f"{r['peak_rss_mb_with_decoded_buffer']:.0f} MB with {DECODED_BUFFER} decoded frames held",
    ])
