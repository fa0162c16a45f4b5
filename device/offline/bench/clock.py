"""The invoke clock: the model's own time, read around each invoke."""

from __future__ import annotations

import time


class InvokeClock:
    """Each invoke's own CPU time (time.thread_time around it, the calling
    thread's: with more than one model thread, the runtime's workers are not in
    it), summed: what the invoke costs inside the device's threads, to take from
    their CPU; and each invoke's (start, end) on the monotonic clock, for the
    block under way: how much of a block's wall time the model ran, and the waits
    between one invoke and the next.

    Installed through the estimator's `clock_invokes` on the one model the
    in-process variants share, so each pays its two clock reads (the supervised
    child has its own model, unclocked). Close it, whatever happens: the model
    is then called directly again."""

    def __init__(self, pose) -> None:
        self.pose, self.cpu_s = pose, 0.0
        self.spans: list[tuple[float, float]] = []  # emptied by block_spans
        pose.clock_invokes(self)

    @classmethod
    def on(cls, pose) -> InvokeClock | None:
        """A clock on the pose's model, or None for an estimator that cannot be clocked."""
        return cls(pose) if hasattr(pose, "clock_invokes") else None

    def __call__(self, invoke) -> None:
        t, w = time.thread_time(), time.perf_counter()
        try:
            invoke()
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
        self.pose.clock_invokes(None)
