"""The device's path across the process boundary, as a variant of the rounds
(an experiment: `bench --experiments`): a child runs pose, coach and snapshots;
the parent receives them into its hub, as the supervisor does."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from device.offline.bench.frames import DECODED_BUFFER, decoded_frames
from device.offline.bench.memory import pss_mb
from device.offline.bench.variants import CountingHub
from device.service.pipeline import Processor
from device.vision.sources import Frame


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
    decoded, _ = decoded_frames(clip, DECODED_BUFFER)

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
    send("pss", pss_mb(os.getpid()))


class Supervised:
    """The variant `pipeline_supervised`: the bench's pipeline child, and the
    parent's end of its pipe. Its CPU is both processes': `run` returns the
    child's for the block. Closed, it leaves its figures in `figures`: the
    capture-to-parent latency and both processes' PSS."""

    name = "pipeline_supervised"

    def __init__(self, load_pose, clip: Path | None) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_child_pipeline, args=(child, load_pose, clip),
                                daemon=True)
        self.proc.start()
        child.close()
        self.hub = CountingHub()
        self.latencies: list[float] = []
        self.child_cpu: list[float] = []  # the child's CPU seconds, per block
        self.figures: dict | None = None
        kind, self.info = self.conn.recv()
        assert kind == "ready", kind

    def run(self, first: int, n: int) -> float:
        self.conn.send(("block", (first, n)))
        while True:
            kind, value = self.conn.recv()
            if kind == "snap":
                self.hub.publish(value)
                self.latencies.append((time.monotonic_ns() - value["captured_ns"]) / 1e6)
            elif kind == "block_done":
                self.child_cpu.append(value)
                return value

    def close(self) -> None:
        import os

        if self.figures is not None:
            return
        try:
            self.conn.send(("stop", None))
            _, pss_child = self.conn.recv()
        except (OSError, EOFError):  # the child is gone: no figure from it
            pss_child = None
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()
        lat = self.latencies
        self.figures = {
            "latency_ms": {"median": round(float(np.median(lat)), 2),
                           "p95": round(float(np.percentile(lat, 95)), 2)} if lat else None,
            "memory_mb": {"pipeline_pss": pss_child, "parent_pss": pss_mb(os.getpid())}}


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
