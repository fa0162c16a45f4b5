"""`hinge-mirror bench`: which variants run, and the report's figures from them.

By default the rounds hold what a Pi owner needs: the model alone
(`invoke_only`), the device's Processor on decoded frames (`pipeline_decoded`)
and from the clip (`pipeline_file`), and the device's own threads
(`pipeline_threaded`), beside preprocessing, the invoke and the coach timed on
their own, peak memory and the device's memory as it runs. `experiments` adds
the variants and figures that explain those: a shorter switch interval,
OpenCV's pool of one thread, TensorFlow's example loop, the clip through
the threads, the process boundary, the machine's charge for a pause, the
bytes a frame holds and the CPU beside the invoke.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from device.core.coach import Coach
from device.errors import HingeMirrorError
from device.offline.bench.clock import InvokeClock
from device.offline.bench.frames import DECODED_BUFFER, decoded_frames
from device.offline.bench.memory import alloc_bytes_per_frame, device_memory, peak_rss_mb
from device.offline.bench.rounds import Rounds, interleave
from device.offline.bench.stats import quartiles, stats
from device.offline.bench.supervised import Supervised, crossing_us
from device.offline.bench.timings import core_us_per_frame, pause_charge, preprocess_and_invoke
from device.offline.bench.variants import (
    OPENCV_THREADS,
    SWITCH_FAST_S,
    Decoded,
    Example,
    FileThreaded,
    FromFile,
    InvokeOnly,
    Threaded,
)
from device.vision.pose import SteppedPose

# Ratios paired within each round beside every `<variant>_over_invoke`: name ->
# (a, b), a's rate over b's; each only when both variants ran.
PAIRS = {
    "supervised_over_decoded": ("pipeline_supervised", "pipeline_decoded"),  # > 0.98: < 2%
    # > 1: a 0.5 ms switch interval is faster than Python's 5 ms default.
    "switch_0_5ms_over_default": ("pipeline_threaded_switch_0_5ms", "pipeline_threaded"),
    # > 1: OpenCV's warp on one thread, not its default pool, is faster
    # (docs/decisions/0004-opencv-thread-pool.md).
    "opencv_1_thread_over_default": ("pipeline_threaded_opencv_1_thread", "pipeline_threaded"),
    # > 1: the device (pose, coach, publish) is faster than TensorFlow's example.
    "device_over_tf_example": ("pipeline_threaded", "tf_example"),
}
NOT_OVER_INVOKE = ("invoke_only", "tf_example")
THREADS = ("capture", "pose", "coach")


def check_rounds(frames: int, rounds: int) -> None:
    """The bench's rounds and frames, refused in one line rather than changed."""
    if rounds < 10:
        raise HingeMirrorError(f"bench --rounds {rounds}: at least 10 rounds are needed "
                               "(each ratio is a median over them); give 10 or more")
    if frames < 10 * rounds:
        raise HingeMirrorError(f"bench --frames {frames}: at least 10 frames a round are "
                               f"needed, {10 * rounds} for {rounds} rounds; give more frames "
                               "or fewer rounds")


def run_bench(load_pose: Callable[[], SteppedPose], clip: Path | None = None,
              frames: int = 300, rounds: int = 10, experiments: bool = False,
              boundary: bool = True, device_run: bool = True) -> dict:
    """The variants interleaved in `rounds` rounds of frames // rounds each (rounds.py),
    then the pieces timed on their own. clip: a video, or None for synthetic
    frames (no figure from a file). experiments: the other variants and figures
    too; boundary: with them, the supervised child. device_run: the memory of a
    real `hinge-mirror run`. load_pose: called once here (and once in the supervised
    child), picklable for that."""
    check_rounds(frames, rounds)
    per_round = frames // rounds
    pose = load_pose()
    with contextlib.ExitStack() as stack:
        def held(variant):
            stack.callback(variant.close)
            return variant

        # The device path from the file first: its warm-up gives the device-only
        # peak memory, before the decoded-frame buffer exists.
        from_file = held(FromFile(pose, Coach(), clip, per_round)) if clip is not None else None
        rss_device = peak_rss_mb()
        decoded, clip_name = decoded_frames(clip, DECODED_BUFFER)
        inputs = [pose.preprocess(f.image)[0].copy() for f in decoded]  # one buffer, reused
        dec = Decoded(pose, Coach(), decoded)
        thr = Threaded("pipeline_threaded", pose, Coach(), decoded)
        variants = [InvokeOnly(pose, inputs), dec, thr]
        if experiments:
            variants += [Threaded("pipeline_threaded_switch_0_5ms", pose, Coach(), decoded,
                                  switch_s=SWITCH_FAST_S),
                         Threaded("pipeline_threaded_opencv_1_thread", pose, Coach(), decoded,
                                  opencv_threads=OPENCV_THREADS),
                         Example(pose, decoded)]
        if from_file is not None:
            variants.append(from_file)
            if experiments:
                variants.append(held(FileThreaded(pose, Coach(), clip)))
        sup = held(Supervised(load_pose, clip)) if experiments and boundary else None
        if sup is not None:
            variants.append(sup)
        clock = InvokeClock.on(pose)
        try:
            m = interleave(variants, rounds, per_round, clock)
        finally:
            if clock is not None:
                clock.close()  # before the timing below, and whatever went wrong
        pre, inv = preprocess_and_invoke(pose, decoded)
        paused = pause_charge(pose, decoded, float(np.median(inv))) if experiments else {}
    h, w = decoded[0].size
    names = m.names
    ratios = {f"{n}_over_invoke": m.rate_ratio(n, "invoke_only")
              for n in names if n not in NOT_OVER_INVOKE}
    ratios.update({k: m.rate_ratio(a, b) for k, (a, b) in PAIRS.items()
                   if a in names and b in names})
    # Every frame offered to a pipeline variant reached the hub as a snapshot
    # (counted, not assumed: the threads could drop one).
    received = {v.name: v.hub.received for v in variants if v.hub is not None}
    r = {
        "runtime": pose.runtime, "threads": pose.threads,
        "model": "movenet_singlepose_lightning_int8", "pose_mode": pose.mode,
        "clip": clip_name, "frame_size": [h, w], "frames": rounds * per_round,
        "rounds": rounds, "frames_per_round": per_round, "experiments": experiments,
        "invoke_ms": stats(inv, 1e3),
        "preprocess_ms": stats(pre, 1e3),
        "core_us_per_frame": core_us_per_frame(),
        "pipeline_fps_decoded": m.fps("pipeline_decoded"),
        "pipeline_fps_file": m.fps("pipeline_file") if from_file is not None else None,
        "pipeline_fps_threaded": m.fps("pipeline_threaded"),
        "invoke_only_fps": m.fps("invoke_only"),
        "decoded_over_invoke": ratios["pipeline_decoded_over_invoke"]["median"],
        "ratios": ratios,
        "wall_ms_per_frame": {n: quartiles([v * 1e3 for v in m.wall[n]]) for n in names},
        "cpu_ms_per_frame": {n: quartiles([v * 1e3 for v in m.cpu[n]]) for n in names},
        # Where it goes: each thread of the device's path, its CPU per frame.
        "threads_cpu_us_per_frame": {
            t: quartiles([d.get(t, 0.0) / per_round * 1e6 for d in thr.thread_cpu])
            for t in THREADS},
        **({"invoke_wall_share": {n: quartiles(v) for n, v in m.share.items() if v},
            "between_invokes_us": {n: quartiles([g * 1e6 for g in v])
                                   for n, v in m.between.items() if v}}
           if clock is not None else {}),
        "snapshots": received,
        "dropped": {n: m.offered[n] - got for n, got in received.items()},
        "peak_rss_mb": rss_device,
    }
    if experiments:
        r.update(paused)
        r.update(_experiment_figures(m, thr, dec, decoded, clock is not None, sup, ratios))
    if device_run:  # the device as it runs (a real `run`): what the < 250 MB target is about
        r["memory_mb"] = device_memory(clip)
    return r


def _experiment_figures(m: Rounds, thr: Threaded, dec: Decoded, decoded: list,
                        clocked: bool, sup: Supervised | None, ratios: dict) -> dict:
    """The experiments' own figures beside their variants' rounds."""
    n, per_thread = m.per_round, thr.thread_cpu
    # The device's threads' CPU less invoke-only's, round by round (another
    # variant's invoke and the machine's drift are in it).
    overhead = [m.cpu["pipeline_threaded"][r] - m.cpu["invoke_only"][r] for r in range(m.count)]
    own = m.invoke_cpu["pipeline_threaded"]
    out = {
        "pipeline_fps_file_threaded": m.fps("pipeline_file_threaded")
        if "pipeline_file_threaded" in m.names else None,
        "overhead_us_per_frame": quartiles([v * 1e6 for v in overhead]),
        "pose_thread_beside_invoke_us_per_frame": quartiles(
            [d.get("pose", 0.0) / n * 1e6 - m.cpu["invoke_only"][r] * 1e6
             for r, d in enumerate(per_thread)]),
        # The same from the invoke's own CPU in those threads (no other variant's
        # timing in it): the device's own work, and what the invoke itself costs
        # there against invoke-only (caches shared with that work).
        **({"invoke_cpu_us_per_frame": {
                "invoke_only": quartiles([v * 1e6 for v in m.invoke_cpu["invoke_only"]]),
                "in_device_threads": quartiles([v * 1e6 for v in own])},
            "overhead_own_us_per_frame": quartiles(
                [(sum(d.get(t, 0.0) for t in THREADS) / n - own[r]) * 1e6
                 for r, d in enumerate(per_thread)]),
            "pose_thread_beside_own_invoke_us_per_frame": quartiles(
                [(d.get("pose", 0.0) / n - own[r]) * 1e6 for r, d in enumerate(per_thread)])}
           if clocked else {}),
        "alloc_bytes_per_frame": alloc_bytes_per_frame(dec.proc, decoded[:30]),
        "peak_rss_mb_with_decoded_buffer": peak_rss_mb(),
    }
    if sup is not None:  # closed by now: its figures are in
        got = sup.hub.received
        out.update({
            "pipeline_fps_supervised": m.fps(sup.name),
            "supervised_over_decoded": ratios["supervised_over_decoded"]["median"],
            "supervised_snapshots": got, "supervised_dropped": m.offered[sup.name] - got,
            # The child's own share of the variant's CPU per frame (in cpu_ms_per_frame).
            "supervised_child_cpu_ms_per_frame": round(
                float(np.median(sup.child_cpu)) / n * 1e3, 3),
            "latency_ms": sup.figures["latency_ms"],
            # The bench's own two processes, each holding the decoded frames.
            "bench_memory_mb": sup.figures["memory_mb"],
            "crossing_us_per_snapshot": crossing_us(dec.hub.latest()[1])["median"]})
    return out

