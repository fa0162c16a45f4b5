"""The variants of the rounds: each one way of running frames, behind one protocol.

Every variant shares the bench's one model (the supervised child excepted:
supervised.py), so the invoke clock reads them all. Their names are the report's
keys (`wall_ms_per_frame`, `cpu_ms_per_frame`, `snapshots`, ...); which run by
default and which only with `--experiments` is run.py's to say.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from device.offline.bench.example import ExampleLoop
from device.offline.bench.frames import restamped
from device.service.hub import StateHub
from device.service.pipeline import Processor
from device.vision.sources import Frame, OpenCVSource

SWITCH_FAST_S = 0.0005  # the switch interval of one variant (Python's default: 0.005)
OPENCV_THREADS = 1  # OpenCV's pool in one variant (its default: one thread per core)
THREADED_TIMEOUT_S = 60.0  # a block through the threads, at most


class CountingHub(StateHub):
    """The hub, counting the frames' snapshots that reach it (the rate that
    matters); not the one that says a block's frames have run out."""

    def __init__(self) -> None:
        super().__init__()
        self.received = 0

    def publish(self, value: dict) -> int:
        if value.get("camera") != "ended":
            self.received += 1
        return super().publish(value)

    def wait_received(self, n: int, timeout_s: float) -> bool:
        """Until n snapshots in all have reached the hub, or the timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self.received >= n, timeout_s)


class Variant(Protocol):
    """One way of running frames, timed block by block in the rounds."""

    name: str
    hub: CountingHub | None  # where its snapshots arrive; None: it publishes none

    def run(self, first: int, n: int) -> float:
        """Frames first .. first + n - 1 of its own (looped); returns the CPU
        seconds another process spent on them (0.0: none)."""

    def close(self) -> None:
        """Release what it holds (a file, a child process); safe to call twice."""


def _cycle(pool: list, first: int, n: int) -> list:
    return [pool[(first + i) % len(pool)] for i in range(n)]


class InvokeOnly:
    """The model alone on inputs made beforehand: the ceiling every variant is
    compared with (`..._over_invoke`)."""

    name, hub = "invoke_only", None

    def __init__(self, pose, inputs: list) -> None:
        self.infer, self.inputs = pose.infer, inputs

    def run(self, first: int, n: int) -> float:
        infer = self.infer
        for model_input in _cycle(self.inputs, first, n):
            infer(model_input)
        return 0.0

    def close(self) -> None:
        pass


class Decoded:
    """The device's Processor (pose, coach, publish) in one loop over frames
    already in memory: the device's own overhead (`pipeline_fps_decoded`)."""

    name = "pipeline_decoded"

    def __init__(self, pose, coach, frames: list[Frame]) -> None:
        self.hub = CountingHub()
        self.proc = Processor(pose, coach, self.hub)
        self.frames, self.t_s = frames, 0.0

    def run(self, first: int, n: int) -> float:
        process = self.proc.process
        for f in _cycle(self.frames, first, n):
            self.t_s += 1 / 30.0
            process(Frame(t_s=self.t_s, image=f.image, size=f.size))
        return 0.0

    def close(self) -> None:
        pass


class FromFile:
    """The same loop reading the clip (looped), decoding included
    (`pipeline_fps_file`). Warmed up on `warm` frames when made, which the
    snapshots' count leaves out."""

    name = "pipeline_file"

    def __init__(self, pose, coach, clip: Path, warm: int) -> None:
        self.hub = CountingHub()
        self.proc = Processor(pose, coach, self.hub)
        self.src = OpenCVSource(str(clip), loop=True)
        self.frames = self.src.frames()
        for _ in range(warm):
            self.proc.process(next(self.frames))
        self.hub.received = 0  # the rounds' snapshots only

    def run(self, first: int, n: int) -> float:
        for _ in range(n):
            self.proc.process(next(self.frames))
        return 0.0

    def close(self) -> None:
        self.src.close()


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


def threaded(proc: Processor, hub: CountingHub, frames: Iterable[Frame], n: int,
             switch_s: float | None = None,
             opencv_threads: int | None = None) -> dict[str, float]:
    """n frames through the device's own Pipeline (capture, pose and coach
    threads), returning once every frame's snapshot reached the hub. switch_s:
    Python's thread switch interval for the block; opencv_threads: OpenCV's
    thread pool for the block (`cv2.setNumThreads`); each put back after it.
    Returns each thread's CPU seconds over the block."""
    import cv2

    from device.service.pipeline import Pipeline

    source = _HandedSource(frames)
    pipeline = Pipeline(source, proc)
    source.mailbox = pipeline.mailbox
    want = hub.received + n
    default_s, default_pool = sys.getswitchinterval(), cv2.getNumThreads()
    if switch_s is not None:
        sys.setswitchinterval(switch_s)
    if opencv_threads is not None:
        cv2.setNumThreads(opencv_threads)
    try:
        pipeline.start()
        hub.wait_received(want, THREADED_TIMEOUT_S)
        pipeline.stop()
    finally:
        sys.setswitchinterval(default_s)
        cv2.setNumThreads(default_pool)
    return dict(pipeline.thread_cpu_s)


class Threaded:
    """The device's threads (capture, pose, coach) on frames in memory, as it
    runs; `options` are `threaded`'s (the experiments': a shorter switch
    interval, OpenCV's pool of one thread). Keeps each block's per-thread CPU (`thread_cpu`)."""

    def __init__(self, name: str, pose, coach, frames: list[Frame], **options) -> None:
        self.name, self.frames, self.options = name, frames, options
        self.hub = CountingHub()
        self.proc = Processor(pose, coach, self.hub)
        self.thread_cpu: list[dict[str, float]] = []

    def run(self, first: int, n: int) -> float:
        block = restamped(_cycle(self.frames, first, n), 1000.0 + first / 30.0)
        self.thread_cpu.append(threaded(self.proc, self.hub, block, n, **self.options))
        return 0.0

    def close(self) -> None:
        pass


class FileThreaded:
    """The clip through the device's threads, decoding in the capture thread
    beside the model, as `hinge-mirror run --source FILE` runs it."""

    name = "pipeline_file_threaded"

    def __init__(self, pose, coach, clip: Path) -> None:
        self.hub = CountingHub()
        self.proc = Processor(pose, coach, self.hub)
        self.src = OpenCVSource(str(clip), loop=True)
        self.frames = self.src.frames()

    def run(self, first: int, n: int) -> float:
        threaded(self.proc, self.hub, itertools.islice(self.frames, n), n)
        return 0.0

    def close(self) -> None:
        self.src.close()


class Example:
    """TensorFlow's example detector loop (example.py) on three-channel frames."""

    name, hub = "tf_example", None

    def __init__(self, pose, frames_rgb: list[Frame]) -> None:
        self.loop, self.frames = ExampleLoop(pose), frames_rgb

    def run(self, first: int, n: int) -> float:
        for f in _cycle(self.frames, first, n):
            self.loop.detect(f.image)
        return 0.0

    def close(self) -> None:
        pass
