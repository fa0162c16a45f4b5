"""OpenCV's pool of one thread against its default (one per core), on the pose path as
it is now: the device's threads and the synchronous loop, paired and interleaved.
    .venv/bin/python docs/decisions/scripts/opencv_pool.py CLIP 40 30
(`hinge-mirror bench --experiments` has the threaded half as
`opencv_1_thread_over_default`, for a Pi.)"""
import json
import sys
from pathlib import Path

import cv2

from device.cli import _load_pose
from device.core.coach import Coach
from device.offline.bench.clock import InvokeClock
from device.offline.bench.frames import DECODED_BUFFER, decoded_frames
from device.offline.bench.rounds import interleave
from device.offline.bench.stats import quartiles
from device.offline.bench.variants import Decoded, Threaded


class Pooled:
    def __init__(self, name, inner, threads):
        self.inner, self.threads, self.name, self.hub = inner, threads, name, inner.hub

    def run(self, first, n):
        cv2.setNumThreads(self.threads)
        return self.inner.run(first, n)

    def close(self):
        pass


clip = Path(sys.argv[1])
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 40
per_round = int(sys.argv[3]) if len(sys.argv) > 3 else 30
pose = _load_pose()
default = cv2.getNumThreads()
frames, _ = decoded_frames(clip, DECODED_BUFFER)
variants = [Pooled("threaded_default", Threaded("a", pose, Coach(), frames), -1),
            Pooled("threaded_one", Threaded("b", pose, Coach(), frames), 1),
            Pooled("sync_default", Decoded(pose, Coach(), frames), -1),
            Pooled("sync_one", Decoded(pose, Coach(), frames), 1)]
clock = InvokeClock.on(pose)
try:
    m = interleave(variants, rounds, per_round, clock)
finally:
    clock.close()
    cv2.setNumThreads(-1)
out = {"clip": clip.name, "rounds": rounds, "per_round": per_round, "opencv_default": default}
for path in ("threaded", "sync"):
    one, dflt = f"{path}_one", f"{path}_default"
    out[path] = {
        "rate_one_over_default": m.rate_ratio(one, dflt),
        "cpu_default_over_one": quartiles([m.cpu[dflt][r] / m.cpu[one][r] for r in range(m.count)]),
        "share_one_over_default": quartiles([m.share[one][r] / m.share[dflt][r]
                                             for r in range(m.count)]),
        "cpu_ms_per_frame": {n: quartiles([x * 1e3 for x in m.cpu[n]]) for n in (one, dflt)},
        "wall_ms_per_frame": {n: quartiles([x * 1e3 for x in m.wall[n]]) for n in (one, dflt)},
        "between_invokes_us": {n: quartiles([g * 1e6 for g in m.between[n]]) for n in (one, dflt)},
    }
print(json.dumps(out, indent=1))
