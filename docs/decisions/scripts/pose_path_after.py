"""The old pose path against the new, paired and interleaved, through the device's threads.

The old: 9f1703e's pose.py (the in-place tensor path, flat lists, the kept warp
matrix, cv2.setNumThreads(1)); the new: this tree's (one path, numpy by joint
name, OpenCV's default pool); both through the device's threads as they are now
(the hand-off at once). From this tree:
    git show 9f1703e:device/vision/pose.py > /tmp/old_pose.py
    .venv/bin/python docs/decisions/scripts/pose_path_after.py CLIP 60 30
"""
import importlib.util
import json
import sys
from pathlib import Path

import cv2

from device.core.coach import Coach
from device.offline.bench.clock import InvokeClock
from device.offline.bench.frames import DECODED_BUFFER, decoded_frames
from device.offline.bench.rounds import interleave
from device.offline.bench.stats import quartiles
from device.offline.bench.variants import Threaded
from device.vision import modelfiles
from device.vision.pose import MoveNet


class Pooled:
    """A Threaded variant run with OpenCV's pool at `threads` for its blocks."""

    def __init__(self, inner, threads):
        self.inner, self.threads = inner, threads
        self.name, self.hub = inner.name, inner.hub

    def run(self, first, n):
        cv2.setNumThreads(self.threads)
        return self.inner.run(first, n)

    def close(self):
        pass


def main():
    clip = Path(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    per_round = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    spec = importlib.util.spec_from_file_location("old_pose", "/tmp/old_pose.py")
    old_mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old_mod)
    model = modelfiles.verify()
    old, new = old_mod.MoveNet(model), MoveNet(model)
    frames, _ = decoded_frames(clip, DECODED_BUFFER)
    variants = [Pooled(Threaded("old", old, Coach(), frames), 1),
                Pooled(Threaded("new", new, Coach(), frames), -1)]
    clocks = {"old": InvokeClock.on(old), "new": InvokeClock.on(new)}

    class Both:  # one clock interface over the two models' clocks
        cpu_s = 0.0

        def block_spans(self):
            return [c.block_spans() for c in clocks.values()]

        def block_figures(self):
            figs = [c.block_figures() for c in clocks.values()]
            return next((f for f in figs if f is not None), None)

    try:
        m = interleave(variants, rounds, per_round, Both())
    finally:
        for c in clocks.values():
            c.close()
    cv2.setNumThreads(-1)
    print(json.dumps({
        "clip": clip.name, "rounds": rounds, "per_round": per_round,
        "new_over_old_rate": m.rate_ratio("new", "old"),
        "cpu_new_over_old": quartiles([m.cpu["new"][r] / m.cpu["old"][r]
                                       for r in range(m.count)]),
        "share": {n: quartiles(m.share[n]) for n in m.names},
        "share_new_over_old": quartiles([m.share["new"][r] / m.share["old"][r]
                                         for r in range(m.count)]),
        "between_invokes_us": {n: quartiles([g * 1e6 for g in m.between[n]]) for n in m.names},
        "wall_ms_per_frame": {n: quartiles([x * 1e3 for x in m.wall[n]]) for n in m.names},
        "cpu_ms_per_frame": {n: quartiles([x * 1e3 for x in m.cpu[n]]) for n in m.names},
        "snapshots": {v.name: v.hub.received for v in variants}}, indent=1))


if __name__ == "__main__":
    main()
