"""The interleaved rounds and their paired ratios.

Every variant runs a block of frames in each round, the order rotating from
round to round, so that a drift of the machine's speed hits every variant alike;
a ratio of two variants is taken within each round, then summarised over the
rounds (median and interquartile range), never from one timing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from device.offline.bench.clock import InvokeClock
from device.offline.bench.stats import quartiles
from device.offline.bench.variants import Variant


@dataclass
class Rounds:
    """Per variant name, one value a round (seconds per frame unless named)."""

    names: list[str]
    per_round: int
    wall: dict[str, list[float]] = field(init=False)
    cpu: dict[str, list[float]] = field(init=False)  # process CPU (+ another process's)
    invoke_cpu: dict[str, list[float]] = field(init=False)  # by the invoke clock
    share: dict[str, list[float]] = field(init=False)  # the model's share of the wall
    between: dict[str, list[float]] = field(init=False)  # s from an invoke's end to the next
    offered: dict[str, int] = field(init=False)  # frames in all

    def __post_init__(self) -> None:
        for kind in ("wall", "cpu", "invoke_cpu", "share", "between"):
            setattr(self, kind, {n: [] for n in self.names})
        self.offered = dict.fromkeys(self.names, 0)

    @property
    def count(self) -> int:
        return len(self.wall[self.names[0]]) if self.names else 0

    def rate_ratio(self, a: str, b: str) -> dict[str, float]:
        """a's rate over b's (b's wall time over a's), paired round by round:
        above 1, a is faster."""
        return quartiles([self.wall[b][r] / self.wall[a][r] for r in range(self.count)])

    def fps(self, name: str) -> float:
        return round(1.0 / float(np.median(self.wall[name])), 1)


def interleave(variants: list[Variant], rounds: int, per_round: int,
               clock: InvokeClock | None) -> Rounds:
    """Each variant's block of per_round frames in each of the rounds, the order
    rotating; the wall and process CPU around each block, and from the invoke
    clock (when there is one) the invoke's own CPU, the model's share of the
    block's wall time and the median wait between invokes."""
    names = [v.name for v in variants]
    out = Rounds(names, per_round)
    for r in range(rounds):
        k = r % len(variants)
        for v in variants[k:] + variants[:k]:
            before = clock.cpu_s if clock is not None else 0.0
            if clock is not None:
                clock.block_spans()  # only this block's invokes below
            w0, c0 = time.perf_counter(), time.process_time()
            elsewhere = v.run(r * per_round, per_round)
            w, c = time.perf_counter() - w0, time.process_time() - c0 + elsewhere
            if clock is not None:
                out.invoke_cpu[v.name].append((clock.cpu_s - before) / per_round)
                figures = clock.block_figures()  # none: the supervised child's model
                if figures is not None:
                    out.share[v.name].append(figures[1])
                    out.between[v.name].append(float(np.median(figures[2])))
            out.wall[v.name].append(w / per_round)
            out.cpu[v.name].append(c / per_round)
            out.offered[v.name] += per_round
    return out
