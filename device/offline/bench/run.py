"""`hinge-mirror bench`: measured speed and memory on this machine.

Reports medians and 90th percentiles, never a single timing. The pipeline
figures run the same `Processor` as the device (pose + coach + publish):
``pipeline_fps_decoded`` on frames already decoded into memory (the device's
own overhead), ``pipeline_fps_file`` reading the video file (decode included),
``pipeline_fps_threaded`` and ``pipeline_fps_file_threaded`` the same through the
device's own threads.
"""

from __future__ import annotations

import functools
import itertools
import resource
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from device.core.coach import CoachParams, CoachState, step
from device.core.synth import Session, session_track
from device.service.hub import StateHub
from device.service.pipeline import Processor
from device.vision.sources import Frame, OpenCVSource

DECODED_BUFFER = 60  # frames held decoded in memory, cycled
PAUSED_FRAMES = 150  # the core after a pause: 2.3 s here, 15-20 s on a Pi
SWITCH_FAST_S = 0.0005  # the switch interval of one variant (Python's default: 0.005)
DEFAULT_CLIP = Path(__file__).resolve().parents[3] / "shared" / "clips" / "bbdl_front_studio.mp4"


def _stats(samples_s: list[float], scale: float) -> dict[str, float]:
    a = np.asarray(samples_s) * scale
    return {"median": round(float(np.median(a)), 3), "p90": round(float(np.percentile(a, 90)), 3)}


def _frames(clip: Path | None, n: int) -> tuple[list[Frame], str]:
    """n frames in memory as the Pi's camera delivers them: R, G, B, X (XBGR8888)."""
    import cv2

    if clip is not None:
        src = OpenCVSource(str(clip))
        frames = []
        try:
            for f in src.frames():
                rgbx = cv2.cvtColor(f.image, cv2.COLOR_BGR2RGBA if f.bgr else cv2.COLOR_RGB2RGBA)
                frames.append(Frame(t_s=f.t_s, image=rgbx, size=f.size))
                if len(frames) >= n:
                    break
        finally:
            src.close()
        return frames, clip.name
    rng = np.random.default_rng(0)
    return [Frame(t_s=i / 30, image=cv2.cvtColor(
        rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), cv2.COLOR_RGB2RGBA),
        size=(480, 640)) for i in range(min(n, 60))], "synthetic noise 640x480"


def _three_channels(frames: list[Frame]) -> list[Frame]:
    """The same frames as R, G, B: a camera of three channels, and what TensorFlow's
    example takes (its main loop converts each camera frame to R, G, B)."""
    import cv2

    return [Frame(t_s=f.t_s, image=cv2.cvtColor(f.image, cv2.COLOR_RGBA2RGB), size=f.size)
            for f in frames]


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
                _busy_wait(pause_s)
            t0 = time.perf_counter()
            state, _ = step(state, k, float(ts), aspect, params)
            per_frame.append(time.perf_counter() - t0)
    return _stats(per_frame, 1e6)


def _busy_wait(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _quartiles(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=float)
    return {"median": round(float(np.median(a)), 3), "p25": round(float(np.percentile(a, 25)), 3),
            "p75": round(float(np.percentile(a, 75)), 3)}


class ExampleLoop:
    """What the detector of TensorFlow's `lite/examples/pose_estimation/raspberry_pi`
    does per frame (its ml/movenet.py `detect`), written here from reading it, on
    the device's own interpreter (same model, runtime and threads): the crop
    region from the last keypoints through per-joint Python loops and dicts; the
    crop cut by slicing, padded by copyMakeBorder and resized by cv2.resize; a
    dtype cast and a batch axis; set_tensor, invoke, get_tensor; the keypoints
    moved back to the frame joint by joint; a person record of 17 keypoints and
    a box. Differences from the example itself: it ships the float16 model and
    hard-codes 4 threads (here both loops use the device's model and threads);
    its main loop also flips and converts each camera frame and draws the
    skeleton, which are not the detector's work and are left out of both. Both
    get the same pixels, each as its camera hands them over: the example R, G, B
    (its loop's conversion of an OpenCV frame), the device R, G, B, X (the Pi
    camera's XBGR8888); `device_three_channels_over_tf_example` gives the device
    R, G, B too."""

    MIN_SCORE, TORSO, BODY = 0.2, 1.9, 1.2

    def __init__(self, pose) -> None:
        self.interp = pose._interp
        self.inp, self.out = pose._in_index, pose._out_index
        self.region: dict | None = None

    @staticmethod
    def _initial(h: int, w: int) -> dict:
        if w > h:
            y0, bh, x0, bw = (h / 2 - w / 2) / h, w / h, 0.0, 1.0
        else:
            y0, bh, x0, bw = 0.0, 1.0, (w / 2 - h / 2) / w, h / w
        return {"y_min": y0, "x_min": x0, "y_max": y0 + bh, "x_max": x0 + bw,
                "height": bh, "width": bw}

    def _next_region(self, kp: np.ndarray, h: int, w: int) -> dict:
        pts = {i: [kp[i, 0] * h, kp[i, 1] * w] for i in range(17)}
        ok = [kp[i, 2] > self.MIN_SCORE for i in (5, 6, 11, 12)]
        if not ((ok[2] or ok[3]) and (ok[0] or ok[1])):
            return self._initial(h, w)
        cy, cx = (pts[11][0] + pts[12][0]) / 2, (pts[11][1] + pts[12][1]) / 2
        ty = tx = by = bx = 0.0
        for j in (5, 6, 11, 12):
            ty, tx = max(ty, abs(cy - pts[j][0])), max(tx, abs(cx - pts[j][1]))
        for j in range(17):
            if kp[j, 2] >= self.MIN_SCORE:
                by, bx = max(by, abs(cy - pts[j][0])), max(bx, abs(cx - pts[j][1]))
        half = max(tx * self.TORSO, ty * self.TORSO, by * self.BODY, bx * self.BODY)
        half = min(half, max(cx, w - cx, cy, h - cy))
        if half > max(w, h) / 2:
            return self._initial(h, w)
        y0, x0, side = cy - half, cx - half, 2 * half
        return {"y_min": y0 / h, "x_min": x0 / w, "y_max": (y0 + side) / h,
                "x_max": (x0 + side) / w, "height": side / h, "width": side / w}

    def detect(self, image: np.ndarray) -> list:
        import cv2

        h, w = image.shape[:2]
        r = self.region or self._initial(h, w)
        top, bottom = int(max(r["y_min"], 0) * h), int(min(r["y_max"], 1) * h)
        left, right = int(max(r["x_min"], 0) * w), int(min(r["x_max"], 1) * w)
        pad = [int(-r["y_min"] * h) if r["y_min"] < 0 else 0,
               int((r["y_max"] - 1) * h) if r["y_max"] >= 1 else 0,
               int(-r["x_min"] * w) if r["x_min"] < 0 else 0,
               int((r["x_max"] - 1) * w) if r["x_max"] >= 1 else 0]
        crop = cv2.copyMakeBorder(image[top:bottom, left:right], *pad, cv2.BORDER_CONSTANT)
        model_input = cv2.resize(crop, (192, 192)).astype(np.uint8)
        self.interp.set_tensor(self.inp, np.expand_dims(model_input, axis=0))
        self.interp.invoke()
        kp = np.squeeze(self.interp.get_tensor(self.out)).copy()
        for i in range(17):
            kp[i, 0] = r["y_min"] + r["height"] * kp[i, 0]
            kp[i, 1] = r["x_min"] + r["width"] * kp[i, 1]
        self.region = self._next_region(kp, h, w)
        person = [(int(kp[i, 1] * w), int(kp[i, 0] * h), float(kp[i, 2])) for i in range(17)]
        xs, ys = [p[0] for p in person], [p[1] for p in person]
        return [person, (min(xs), min(ys), max(xs), max(ys))]


class _HandedSource:
    """Frames to the device's threaded Pipeline, each only once the previous one
    was taken: the capture hand-off is measured, nothing dropped. From a file,
    the next frame is decoded in the capture thread while the model works on
    this one, as the device runs a file."""

    live = False
    name = "bench (decoded frames)"

    def __init__(self, frames: Iterable[Frame]) -> None:
        self._frames, self.mailbox = frames, None

    def frames(self):
        for f in self._frames:
            self.mailbox.wait_taken(5.0)
            yield f

    def close(self) -> None:
        pass


def _threaded(proc: Processor, hub, frames: Iterable[Frame], n: int,
              defer: bool = True, switch_s: float | None = None) -> dict[str, float]:
    """n frames through the device's own Pipeline (capture, pose and coach
    threads), returning once every frame's snapshot reached the hub. defer: the
    device's hand-off just before the next invoke (Pipeline.defer_handoff);
    switch_s: Python's thread switch interval for the block (then put back)."""
    from device.service.pipeline import Pipeline

    source = _HandedSource(frames)
    pipeline = Pipeline(source, proc)
    pipeline.defer_handoff = defer
    source.mailbox = pipeline.mailbox
    want = hub.received + n
    default_s = sys.getswitchinterval()
    if switch_s is not None:
        sys.setswitchinterval(switch_s)
    try:
        pipeline.start()
        with hub._cond:
            hub._cond.wait_for(lambda: hub.received >= want, 60.0)
        pipeline.stop()
    finally:
        sys.setswitchinterval(default_s)
    return dict(pipeline.thread_cpu_s)  # each thread's CPU seconds over the block


class _InvokeClock:
    """Each invoke's own CPU time (time.thread_time around it, the calling
    thread's: with more than one model thread, the runtime's workers are not in
    it), summed: what the invoke costs inside the device's threads, to take from
    their CPU. Installed on the one interpreter the in-process variants use, so
    each pays its two clock reads (the supervised child has its own, unclocked)."""

    def __init__(self, interp) -> None:
        self.interp, self.real, self.cpu_s = interp, interp.invoke, 0.0
        # Each invoke's (start, end) on the monotonic clock, for the block under
        # way (`spans`, emptied by `block_spans`): how much of a block's wall time
        # the model ran, and the waits between one invoke and the next.
        self.spans: list[tuple[float, float]] = []
        interp.invoke = self

    def __call__(self) -> None:
        t, w = time.thread_time(), time.perf_counter()
        try:
            self.real()
        finally:
            self.cpu_s += time.thread_time() - t
            self.spans.append((w, time.perf_counter()))

    def block_spans(self) -> list[tuple[float, float]]:
        spans, self.spans = self.spans, []
        return spans

    def block_figures(self) -> tuple[list[float], float, list[float]] | None:
        """This block's invokes (emptied): their wall times, the model's share of
        the steady state (the first invoke's start to the last one's end) and the
        waits from one invoke's end to the next one's start; None under two."""
        spans = self.block_spans()
        if len(spans) < 2:
            return None
        took = [e - b for b, e in spans]
        return (took, sum(took) / (spans[-1][1] - spans[0][0]),
                [spans[i + 1][0] - spans[i][1] for i in range(len(spans) - 1)])

    def close(self) -> None:
        del self.interp.invoke  # the class's own method again


def _decoded_block(block: list[Frame], t0: float) -> Iterator[Frame]:
    return (Frame(t_s=t0 + i / 30.0, image=f.image, size=f.size) for i, f in enumerate(block))


class _CountingHub(StateHub):
    """The hub, counting the snapshots that reach it (the rate that matters)."""

    def __init__(self) -> None:
        super().__init__()
        self.received = 0

    def publish(self, value: dict) -> int:
        self.received += 1
        return super().publish(value)


def _block(fn, frames: list) -> tuple[float, float]:
    """(wall s, process CPU s) of fn over frames."""
    w0, c0 = time.perf_counter(), time.process_time()
    for f in frames:
        fn(f)
    return time.perf_counter() - w0, time.process_time() - c0


def _timed(fn) -> tuple[float, float, object]:
    """(wall s, process CPU s, result) of one call of fn."""
    w0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - w0, time.process_time() - c0, result


def _alloc_bytes_per_frame(proc: Processor, frames: list[Frame]) -> int:
    """Median of the most memory one frame's processing holds at once beyond what
    was held before (tracemalloc): transient allocation per frame."""
    import tracemalloc

    tracemalloc.start()
    try:
        peaks = []
        for i, f in enumerate(frames):
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            proc.process(Frame(t_s=1000.0 + i / 30.0, image=f.image, size=f.size))
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
    return int(np.median(peaks))


def check_rounds(frames: int, rounds: int) -> None:
    """The bench's rounds and frames, refused in one line rather than changed."""
    from device.errors import HingeMirrorError

    if rounds < 10:
        raise HingeMirrorError(f"bench --rounds {rounds}: at least 10 rounds are needed "
                               "(each ratio is a median over them); give 10 or more")
    if frames < 10 * rounds:
        raise HingeMirrorError(f"bench --frames {frames}: at least 10 frames a round are "
                               f"needed, {10 * rounds} for {rounds} rounds; give more frames "
                               "or fewer rounds")


def check_camera_frames(frames: int) -> None:
    """`bench --camera`'s snapshots: two at least, for a rate between them."""
    from device.errors import HingeMirrorError

    if frames < 2:
        raise HingeMirrorError(f"bench --camera: --frames {frames} is too few; give 2 or more "
                               "(300 by default)")


def run_bench(load_pose, clip: Path | None = None, frames: int = 300,
              rounds: int = 10, boundary: bool = True, device_run: bool = True) -> dict:
    """Invoke-only, the device's path on decoded frames and the device's path from
    the file, interleaved in `rounds` rounds of frames // rounds each (the order
    rotating), so that a drift of the machine's speed hits every variant alike;
    ratios are paired within a round."""
    from device.core.coach import Coach

    check_rounds(frames, rounds)
    if clip is None and DEFAULT_CLIP.is_file():
        clip = DEFAULT_CLIP
    per_round = frames // rounds
    pose = load_pose()
    # The device path from the file, decoding included; its peak memory first,
    # before the decoded-frame buffer exists.
    file_src = OpenCVSource(str(clip), loop=True) if clip is not None else None
    file_frames = file_src.frames() if file_src is not None else None
    file_hub = _CountingHub()
    file_proc = Processor(pose, Coach(), file_hub)
    if file_frames is not None:
        for _ in range(per_round):  # warm-up, and the device-only peak
            file_proc.process(next(file_frames))
    rss_device = _peak_rss_mb()
    warm = file_hub.received  # snapshots of the warm-up, not of the rounds
    decoded, clip_name = _frames(clip, DECODED_BUFFER)
    decoded_rgb = _three_channels(decoded)
    inputs = [pose.preprocess(f.image)[0].copy() for f in decoded]  # one buffer, reused
    dec_hub = _CountingHub()
    dec_proc = Processor(pose, Coach(), dec_hub)
    clock = [0.0]

    def device_decoded(f: Frame) -> None:
        clock[0] += 1 / 30.0
        dec_proc.process(Frame(t_s=clock[0], image=f.image, size=f.size))

    def device_file(_) -> None:
        file_proc.process(next(file_frames))

    # The device's threads on decoded frames, as it runs (defer, the default
    # switch interval); with each frame's keypoints handed to the coach at once
    # rather than just before the next invoke (what the deferral buys); and with
    # Python's thread switch interval at a tenth of its 5 ms default (what it
    # does to the threads' convoy). Each: its processor, hub and _threaded options.
    threaded = {name: (Processor(pose, Coach(), hub), hub, options) for name, hub, options in (
        ("pipeline_threaded", _CountingHub(), {}),
        ("pipeline_threaded_at_once", _CountingHub(), {"defer": False}),
        ("pipeline_threaded_switch_0_5ms", _CountingHub(), {"switch_s": SWITCH_FAST_S}),
        ("pipeline_threaded_three_channels", _CountingHub(), {}))}
    variants = {"invoke_only": (pose.infer, inputs), "pipeline_decoded": (device_decoded, decoded),
                **{name: (None, decoded_rgb if name.endswith("_three_channels") else decoded)
                   for name in threaded}}
    if hasattr(pose, "_interp"):  # the real model: TensorFlow's example loop beside it
        example = ExampleLoop(pose)
        variants["tf_example"] = (lambda f: example.detect(f.image), decoded_rgb)
    if file_frames is not None:
        variants["pipeline_file"] = (device_file, [None])
        # The file through the device's threads: decoding in the capture thread,
        # beside the model, as `hinge-mirror run --source FILE` runs it.
        file_thr_src = OpenCVSource(str(clip), loop=True)
        file_thr_frames = file_thr_src.frames()
        file_thr_hub = _CountingHub()
        file_thr_proc = Processor(pose, Coach(), file_thr_hub)
        variants["pipeline_file_threaded"] = (None, [None])
    sup = Supervised(load_pose, clip) if boundary else None
    if sup is not None:  # the device's path across the process boundary, in the rounds
        variants["pipeline_supervised"] = (None, decoded)
    names = list(variants)
    invoke_clock = _InvokeClock(pose._interp) if hasattr(pose, "_interp") else None
    per_thread: list[dict[str, float]] = []  # the threaded variant's threads, per round
    wall = {n: [] for n in names}
    cpu = {n: [] for n in names}
    invoke_cpu = {n: [] for n in names}  # the invoke's own CPU per frame, by the clock
    # The same clock's wall time: the share of each block the model ran, and the
    # median wait from one invoke's end to the next one's start (what a variant
    # loses to invoke-only, measured on its own frames, not against another
    # variant's rounds).
    share: dict[str, list[float]] = {n: [] for n in names}
    between: dict[str, list[float]] = {n: [] for n in names}
    offered = {n: 0 for n in names}
    try:
        for r in range(rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                fn, pool = variants[name]
                block = [pool[(r * per_round + i) % len(pool)] for i in range(per_round)]
                before = invoke_clock.cpu_s if invoke_clock is not None else 0.0
                if invoke_clock is not None:
                    invoke_clock.block_spans()  # only this block's invokes below
                if name in threaded:  # the whole block through the threads
                    proc, hub, options = threaded[name]
                    frames_in = _decoded_block(block, 1000.0 + r * per_round / 30.0)
                    w, c, threads_s = _timed(functools.partial(
                        _threaded, proc, hub, frames_in, per_round, **options))
                    if name == "pipeline_threaded":
                        per_thread.append(threads_s)
                elif name == "pipeline_file_threaded":  # the file's next frames, threaded
                    w, c, _ = _timed(functools.partial(
                        _threaded, file_thr_proc, file_thr_hub,
                        itertools.islice(file_thr_frames, per_round), per_round))
                elif name == "pipeline_supervised":  # the child's block, into this hub
                    w, c, _ = _timed(functools.partial(sup.block, r * per_round, per_round))
                    c += sup.child_cpu[-1]  # both processes' CPU
                else:
                    w, c = _block(fn, block)
                if invoke_clock is not None:
                    invoke_cpu[name].append((invoke_clock.cpu_s - before) / per_round)
                    figures = invoke_clock.block_figures()  # none: the supervised child's model
                    if figures is not None:
                        share[name].append(figures[1])
                        between[name].append(float(np.median(figures[2])))
                wall[name].append(w / per_round)
                cpu[name].append(c / per_round)
                offered[name] += per_round
    finally:
        if invoke_clock is not None:
            invoke_clock.close()  # before the timing below, and whatever went wrong
    # Timed separately, never inside the rounds: preprocessing alone, the coach alone.
    pre, inv = [], []
    pose.reset()
    for f in decoded:
        t0 = time.perf_counter()
        model_input, _ = pose.preprocess(f.image)
        t1 = time.perf_counter()
        pose.infer(model_input)
        inv.append(time.perf_counter() - t1)
        pre.append(t1 - t0)
    # The same work back to back, and the core after a pause as long as an
    # invoke: the machine's own charge for a pause (README, "Speed").
    pre_hot = []
    for f in decoded:
        t0 = time.perf_counter()
        pose.preprocess(f.image)
        pre_hot.append(time.perf_counter() - t0)
    # On the session's first PAUSED_FRAMES only (a Pi's invoke of 100 ms makes
    # each frame that long), beside the hot loop on the same frames.
    pause_s = float(np.median(inv))
    core_paused = {**core_us_per_frame(1, pause_s, PAUSED_FRAMES),
                   "pause_ms": round(pause_s * 1e3, 3), "frames": PAUSED_FRAMES,
                   "back_to_back": core_us_per_frame(5, 0.0, PAUSED_FRAMES)}
    if file_src is not None:
        file_src.close()
        file_thr_src.close()
    ratio = {f"{n}_over_invoke": _quartiles([wall["invoke_only"][r] / wall[n][r]
                                             for r in range(rounds)])
             for n in names if n not in ("invoke_only", "tf_example")}
    if sup is not None:  # > 0.98: the boundary costs less than 2%
        ratio["supervised_over_decoded"] = _quartiles(
            [wall["pipeline_decoded"][r] / wall["pipeline_supervised"][r] for r in range(rounds)])
    # > 1: handing the keypoints over just before the next invoke is faster.
    ratio["deferred_over_at_once"] = _quartiles(
        [wall["pipeline_threaded_at_once"][r] / wall["pipeline_threaded"][r]
         for r in range(rounds)])
    # > 1: a 0.5 ms switch interval is faster than Python's 5 ms default.
    ratio["switch_0_5ms_over_default"] = _quartiles(
        [wall["pipeline_threaded"][r] / wall["pipeline_threaded_switch_0_5ms"][r]
         for r in range(rounds)])
    # > 1: the camera's four channels (R, G, B, X) are faster than three.
    ratio["four_over_three_channels"] = _quartiles(
        [wall["pipeline_threaded_three_channels"][r] / wall["pipeline_threaded"][r]
         for r in range(rounds)])
    if "tf_example" in wall:  # > 1: the device (pose, coach, publish) is faster
        ratio["device_over_tf_example"] = _quartiles(
            [wall["tf_example"][r] / wall["pipeline_threaded"][r] for r in range(rounds)])
        # The same with the device given three channels too, as from a webcam.
        ratio["device_three_channels_over_tf_example"] = _quartiles(
            [wall["tf_example"][r] / wall["pipeline_threaded_three_channels"][r]
             for r in range(rounds)])
    invoke_fps = 1.0 / float(np.median(wall["invoke_only"]))
    fps = {n: round(1.0 / float(np.median(wall[n])), 1) for n in names}
    # The device's own path (its threads) less the invoke: what a Pi pays beside the model.
    overhead = [cpu["pipeline_threaded"][r] - cpu["invoke_only"][r] for r in range(rounds)]
    h, w = decoded[0].size
    received = {"pipeline_decoded": dec_hub.received, "pipeline_file": file_hub.received - warm,
                **{name: hub.received for name, (_, hub, _) in threaded.items()}}
    if file_src is not None:
        received["pipeline_file_threaded"] = file_thr_hub.received
    if sup is not None:
        received["pipeline_supervised"] = sup.hub.received
        sup_end = sup.close()
    return {
        "runtime": pose.runtime, "threads": pose.threads,
        "model": "movenet_singlepose_lightning_int8", "pose_mode": pose.mode,
        "clip": clip_name, "frame_size": [h, w], "frames": rounds * per_round,
        "rounds": rounds, "frames_per_round": per_round,
        "invoke_ms": _stats(inv, 1e3),
        "preprocess_ms": _stats(pre, 1e3),
        "core_us_per_frame": core_us_per_frame(),
        "core_after_pause_us_per_frame": core_paused,
        "preprocess_back_to_back_ms": _stats(pre_hot, 1e3),
        "pipeline_fps_decoded": fps["pipeline_decoded"],
        "pipeline_fps_file": fps.get("pipeline_file"),
        "invoke_only_fps": round(invoke_fps, 1),
        "decoded_over_invoke": ratio["pipeline_decoded_over_invoke"]["median"],
        "pipeline_fps_threaded": fps["pipeline_threaded"],
        "pipeline_fps_file_threaded": fps.get("pipeline_file_threaded"),
        "ratios": ratio,
        "wall_ms_per_frame": {n: _quartiles([v * 1e3 for v in wall[n]]) for n in names},
        "cpu_ms_per_frame": {n: _quartiles([v * 1e3 for v in cpu[n]]) for n in names},
        "overhead_us_per_frame": _quartiles([v * 1e6 for v in overhead]),
        # Where it goes: each thread of the device's path, its CPU per frame (the
        # pose thread's includes the invoke: less invoke-only, the rest is its own).
        "threads_cpu_us_per_frame": {
            t: _quartiles([d.get(t, 0.0) / per_round * 1e6 for d in per_thread])
            for t in ("capture", "pose", "coach")},
        "pose_thread_beside_invoke_us_per_frame": _quartiles(
            [d.get("pose", 0.0) / per_round * 1e6 - cpu["invoke_only"][r] * 1e6
             for r, d in enumerate(per_thread)]),
        # The same from the invoke's own CPU in those threads (no other variant's
        # timing in it): the device's own work, and what the invoke itself costs
        # there against invoke-only (caches shared with that work).
        **({"invoke_cpu_us_per_frame": {  # the same clock, alone and in the threads
                "invoke_only": _quartiles([v * 1e6 for v in invoke_cpu["invoke_only"]]),
                "in_device_threads": _quartiles(
                    [v * 1e6 for v in invoke_cpu["pipeline_threaded"]])},
            "invoke_wall_share": {n: _quartiles(v) for n, v in share.items() if v},
            "between_invokes_us": {n: _quartiles([g * 1e6 for g in v])
                                   for n, v in between.items() if v},
            "overhead_own_us_per_frame": _quartiles(
                [((d.get("capture", 0.0) + d.get("pose", 0.0) + d.get("coach", 0.0)) / per_round
                  - invoke_cpu["pipeline_threaded"][r]) * 1e6 for r, d in enumerate(per_thread)]),
            "pose_thread_beside_own_invoke_us_per_frame": _quartiles(
                [(d.get("pose", 0.0) / per_round - invoke_cpu["pipeline_threaded"][r]) * 1e6
                 for r, d in enumerate(per_thread)])}
           if invoke_clock is not None else {}),
        "alloc_bytes_per_frame": _alloc_bytes_per_frame(dec_proc, decoded[:30]),
        # Every frame offered to a pipeline variant reached the hub as a snapshot
        # (this loop is synchronous: nothing can be dropped; counted, not assumed).
        "snapshots": {n: received[n] for n in names if n in received},
        "dropped": {n: offered[n] - received[n] for n in names if n in received},
        "peak_rss_mb": rss_device,
        "peak_rss_mb_with_decoded_buffer": _peak_rss_mb(),
        **({"pipeline_fps_supervised": fps["pipeline_supervised"],
            "supervised_over_decoded": ratio["supervised_over_decoded"]["median"],
            "supervised_snapshots": received["pipeline_supervised"],
            "supervised_dropped": offered["pipeline_supervised"] - received["pipeline_supervised"],
            # The child's own share of the variant's CPU per frame (in cpu_ms_per_frame).
            "supervised_child_cpu_ms_per_frame": round(
                float(np.median(sup.child_cpu)) / per_round * 1e3, 3),
            "latency_ms": sup_end["latency_ms"],
            # The bench's own two processes, each holding the decoded frames.
            "bench_memory_mb": sup_end["memory_mb"],
            "crossing_us_per_snapshot": crossing_us(dec_hub.latest()[1])["median"]}
           if sup is not None else {}),
        # The device as it runs (a real `run`): what the < 250 MB target is about.
        **({"memory_mb": device_memory(clip)} if device_run else {}),
    }


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
    from device.errors import HingeMirrorError
    from device.service.pipeline import Pipeline

    check_camera_frames(frames)
    hub = _CountingHub()
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
    clock = _InvokeClock(pose._interp) if hasattr(pose, "_interp") else None
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
        **({"invoke_ms": _stats(figures[0], 1e3), "invoke_wall_share": round(figures[1], 3),
            "between_invokes_us": _stats(figures[2], 1e6)} if figures is not None else {}),
        "latency_ms": {"median": round(float(np.median(latency)) * 1e3, 1),
                       "p95": round(float(np.percentile(latency, 95)) * 1e3, 1)}
        if latency else None,
        "threads_cpu_us_per_frame": {t: round(cpu.get(t, 0.0) / n * 1e6)
                                     for t in ("capture", "pose", "coach")},
    }


def format_camera_bench(r: dict) -> str:
    lines = [
        f"camera        {r['source']} {r['frame_size'][1]}x{r['frame_size'][0]}: "
        f"{r['camera_frames']} frames in {r['seconds']} s ({r['camera_fps']} fps), "
        f"{r['dropped']} dropped (newest wins)"
        + ("" if r["complete"] else "; the source ended or the time ran out before --frames"),
        f"pipeline      {r['pipeline_fps']} snapshots per second into the hub ({r['frames']}); "
        f"runtime {r['runtime']}, {r['threads']} model thread(s), pose mode {r['pose_mode']}",
    ]
    if "invoke_ms" in r:
        lines.append(f"invoke        {r['invoke_ms']['median']:.1f} ms median, "
                     f"{r['invoke_ms']['p90']:.1f} p90; the model ran {r['invoke_wall_share']:.3f} "
                     f"of the wall, {r['between_invokes_us']['median']:.0f} us from one invoke's "
                     "end to the next one's start (waiting for the camera included)")
    if r["latency_ms"]:
        lines.append(f"latency       {r['latency_ms']['median']} ms median, "
                     f"{r['latency_ms']['p95']} p95, from the frame reaching Python to its "
                     "snapshot in the hub")
    lines.append("threads       CPU per frame: " + ", ".join(
        f"{t} {v} us" for t, v in r["threads_cpu_us_per_frame"].items()))
    return "\n".join(lines)


def format_bench(r: dict) -> str:
    return "\n".join([
        f"runtime {r['runtime']}, {r['threads']} thread(s), pose mode {r['pose_mode']}, "
        f"clip {r['clip']} {r['frame_size'][1]}x{r['frame_size'][0]}",
        f"invoke        {r['invoke_ms']['median']:.2f} ms median, {r['invoke_ms']['p90']:.2f} p90",
        f"preprocess    {r['preprocess_ms']['median']:.2f} ms median, "
        f"{r['preprocess_ms']['p90']:.2f} p90",
        f"core          {r['core_us_per_frame']['median']:.1f} us/frame median, "
        f"{r['core_us_per_frame']['p90']:.1f} p90",
        f"after a pause the core {r['core_after_pause_us_per_frame']['median']:.1f} us/frame "
        f"median with a {r['core_after_pause_us_per_frame']['pause_ms']:.1f} ms busy wait "
        "(no work) before each frame, as long as an invoke, against "
        f"{r['core_after_pause_us_per_frame']['back_to_back']['median']:.1f} back to back on "
        f"the same {r['core_after_pause_us_per_frame']['frames']} frames; preprocessing "
        f"{r['preprocess_back_to_back_ms']['median']:.2f} ms back to back against "
        f"{r['preprocess_ms']['median']:.2f} between invokes: what this machine charges for a "
        "pause",
        f"pipeline      {r['pipeline_fps_decoded']:.0f} fps decoded, "
        f"{r['pipeline_fps_file']} fps from the file ({r.get('pipeline_fps_file_threaded')} "
        f"through the device's threads); invoke-only {r['invoke_only_fps']:.0f} fps",
        *[f"ratio         {name}: {q['median']:.3f} median (IQR {q['p25']:.3f}-{q['p75']:.3f}), "
          f"{r['rounds']} interleaved rounds of {r['frames_per_round']} frames"
          for name, q in r["ratios"].items()],
        *[f"cpu / frame   {name}: {q['median']:.2f} ms "
          f"(wall {r['wall_ms_per_frame'][name]['median']:.2f})"
          for name, q in r["cpu_ms_per_frame"].items()],
        *([f"overhead      {r['overhead_own_us_per_frame']['median']:.0f} us CPU per frame "
           f"beside the invoke's own (IQR {r['overhead_own_us_per_frame']['p25']:.0f}-"
           f"{r['overhead_own_us_per_frame']['p75']:.0f}), the pose thread's "
           f"{r['pose_thread_beside_own_invoke_us_per_frame']['median']:.0f} us of it; the "
           f"invoke {r['invoke_cpu_us_per_frame']['in_device_threads']['median']:.0f} us CPU "
           f"there, {r['invoke_cpu_us_per_frame']['invoke_only']['median']:.0f} us alone"]
          if "overhead_own_us_per_frame" in r else []),
        f"by difference {r['overhead_us_per_frame']['median']:.0f} us CPU per frame: the "
        "threads' less invoke-only's, round by round (IQR "
        f"{r['overhead_us_per_frame']['p25']:.0f} to {r['overhead_us_per_frame']['p75']:.0f}: "
        "another variant's invoke and the machine's drift are in it, so it can fall below 0); "
        f"{r['alloc_bytes_per_frame']} bytes held at most per frame",
        "threads       CPU per frame: " + ", ".join(
            f"{t} {q['median']:.0f} us" for t, q in r["threads_cpu_us_per_frame"].items())
        + f" (the pose thread's less invoke-only's: "
          f"{r['pose_thread_beside_invoke_us_per_frame']['median']:.0f} us)",
        *([f"model's share {name}: {q['median']:.3f} of the wall (IQR {q['p25']:.3f}-"
           f"{q['p75']:.3f}), {r['between_invokes_us'][name]['median']:.0f} us from one "
           "invoke's end to the next one's start"
           for name, q in r.get("invoke_wall_share", {}).items()]),
        f"snapshots     {r['snapshots']} reached the hub, dropped {r['dropped']}",
        *([f"supervised    {r['pipeline_fps_supervised']:.0f} fps across the process boundary "
           f"({r['supervised_over_decoded']:.3f} of in-process, paired in the rounds), crossing "
           f"{r['crossing_us_per_snapshot']:.0f} us per snapshot, capture-to-parent latency "
           f"{r['latency_ms']['median']:.1f} ms median, {r['latency_ms']['p95']:.1f} p95; "
           f"PSS of the bench's pipeline {r['bench_memory_mb']['pipeline_pss']} MB and parent "
           f"{r['bench_memory_mb']['parent_pss']} MB ({DECODED_BUFFER} decoded frames each)"]
          if "pipeline_fps_supervised" in r else []),
        *([f"memory        the device as it runs (hinge-mirror run, {m.get('streams')} pages "
           "streaming): "
           f"pipeline {m['pipeline_pss']} MB + web server {m['server_pss']} MB = "
           f"{m['total']} MB PSS" if "error" not in m else f"memory        {m['error']}"]
          if (m := r.get("memory_mb")) else []),
        f"peak RSS      {r['peak_rss_mb']:.0f} MB (device path), "
        f"{r['peak_rss_mb_with_decoded_buffer']:.0f} MB with {DECODED_BUFFER} decoded frames held",
    ])


# -- the process boundary ------------------------------------------------------------

def _pss_mb(pid: int) -> float | None:
    """Proportional set size (pages shared between processes counted once, split)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _child_pipeline(conn, load_pose, clip: Path | None) -> None:
    """The bench's pipeline process: the device's Processor over decoded frames,
    one block of them per command from the parent (between blocks it waits on
    the pipe, costing nothing), each snapshot crossing the pipe as on the
    device, stamped with its frame's capture time (CLOCK_MONOTONIC, shared by
    both processes). After a block: its CPU time, for the parent's figures."""
    import os

    from device.core.coach import Coach
    from device.service.child import _PipeHub, _Sender

    send = _Sender(conn)
    pose = load_pose()
    decoded, _ = _frames(clip, DECODED_BUFFER)

    class StampedHub(_PipeHub):
        captured_ns = 0

        def publish(self, snap: dict) -> int:
            snap["captured_ns"] = self.captured_ns
            return super().publish(snap)

    hub = StampedHub(send)
    proc = Processor(pose, Coach(), hub)
    send("ready", {"pid": os.getpid()})
    done = 0
    while True:
        kind, arg = conn.recv()
        if kind != "block":
            break
        first, n = arg
        c0 = time.process_time()
        for i in range(first, first + n):
            f = decoded[i % len(decoded)]
            hub.captured_ns = time.monotonic_ns()
            proc.process(Frame(t_s=done / 30.0, image=f.image, size=f.size))
            done += 1
        send("block_done", time.process_time() - c0)
    send("pss", _pss_mb(os.getpid()))


class Supervised:
    """The device's path across the process boundary, as one variant of the
    rounds: a child runs pose, coach and snapshots; the parent receives them
    into its hub, as the supervisor does."""

    def __init__(self, load_pose, clip: Path | None) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_child_pipeline, args=(child, load_pose, clip),
                                daemon=True)
        self.proc.start()
        child.close()
        self.hub = _CountingHub()
        self.latencies: list[float] = []
        self.child_cpu: list[float] = []  # the child's CPU seconds, per block
        kind, self.info = self.conn.recv()
        assert kind == "ready", kind

    def block(self, first: int, n: int) -> None:
        self.conn.send(("block", (first, n)))
        while True:
            kind, value = self.conn.recv()
            if kind == "snap":
                self.hub.publish(value)
                self.latencies.append((time.monotonic_ns() - value["captured_ns"]) / 1e6)
            elif kind == "block_done":
                self.child_cpu.append(value)
                return

    def close(self) -> dict:
        import os

        self.conn.send(("stop", None))
        kind, pss_child = self.conn.recv()
        self.proc.join(10)
        return {"latency_ms": {"median": round(float(np.median(self.latencies)), 2),
                               "p95": round(float(np.percentile(self.latencies, 95)), 2)},
                "memory_mb": {"pipeline_pss": pss_child, "parent_pss": _pss_mb(os.getpid())}}


STREAMS = 5  # mirror pages streaming while the device's memory is read


def device_memory(clip: Path | None, settle_frames: int = 300,
                  timeout_s: float = 120.0) -> dict:
    """PSS of the device as it runs: a real `hinge-mirror run` (the web server,
    its supervisor and the pipeline child, the model loaded once, in the child)
    on the clip looped, or on the demo, read once STREAMS mirror pages are
    streaming and the pipeline has processed `settle_frames` frames."""
    import json
    import socket
    import subprocess
    import sys
    import tempfile
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "bench.toml"
        cfg.write_text(f'[store]\npath = "{tmp}/store.db"\n[log]\ndir = ""\n'
                       '[server]\nhttps_port = 0\n[backup]\nevery_h = 0\n')
        source = str(clip) if clip is not None else "demo"
        proc = subprocess.Popen(
            [sys.executable, "-m", "device.cli", "run", "--source", source, "--loop",
             "--host", "127.0.0.1", "--port", str(port), "--config", str(cfg)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        streams = []
        try:
            deadline = time.monotonic() + timeout_s
            health: dict = {}
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    return {"error": f"hinge-mirror run exited ({proc.returncode})"}
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                                timeout=2) as r:
                        health = json.load(r)
                except OSError:
                    time.sleep(0.2)
                    continue
                if len(streams) < STREAMS:
                    streams.append(urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/api/stream", timeout=5))
                    streams[-1].readline()  # the stream has begun: its first line
                if (len(streams) == STREAMS and
                        (health.get("pipeline") or {}).get("frames", 0) >= settle_frames):
                    break
                time.sleep(0.2)
            else:
                return {"error": f"the pipeline did not reach {settle_frames} frames"}
            child = (health.get("supervisor") or {}).get("pid")
            server_mb, pipeline_mb = _pss_mb(proc.pid), _pss_mb(child) if child else None
        finally:
            for s in streams:
                s.close()
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    total = round(server_mb + pipeline_mb, 1) if server_mb and pipeline_mb else None
    return {"pipeline_pss": pipeline_mb, "server_pss": server_mb, "total": total,
            "frames": health["pipeline"]["frames"], "source": source, "streams": len(streams)}


def crossing_us(snapshot: dict, n: int = 2000) -> dict[str, float]:
    """A snapshot's own cost of crossing: pickled, written to the pipe, read and
    unpickled on the other end (a thread here), in µs per snapshot."""
    import multiprocessing
    import threading

    a, b = multiprocessing.Pipe(duplex=False)
    got = [0]

    def reader() -> None:
        for _ in range(n):
            a.recv()
            got[0] += 1

    t = threading.Thread(target=reader)
    t.start()
    t0 = time.perf_counter()
    for _ in range(n):
        b.send(("snap", snapshot))
    t.join()
    elapsed = time.perf_counter() - t0
    a.close()
    b.close()
    return {"median": round(elapsed / n * 1e6, 1), "snapshots": got[0]}
