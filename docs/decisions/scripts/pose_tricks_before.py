"""The pose path's tricks one by one, paired and interleaved, through the device's threads.

Runs on commit 9f1703e only (the tricks it switches off are gone after it):
    git worktree add /tmp/hm-9f1703e 9f1703e && cd /tmp/hm-9f1703e && make venv model
    .venv/bin/python /path/to/docs/decisions/scripts/pose_tricks_before.py CLIP 30 30
Each variant is the bench's `pipeline_threaded` (device/offline/bench/variants.py)
on the clip's decoded frames (R, G, B, X), with one trick switched off for its
blocks only; the rounds rotate the order; each ratio is the median of the
per-round ratios with its IQR (`device_over`: above 1, the trick is faster;
`cpu_ratio_other_over_device`: above 1, switching it off costs CPU;
`share_device_over`: the model's share of the wall, the device's over the variant's).
"""

import contextlib
import json
import sys
from array import array
from pathlib import Path

import cv2
import numpy as np

import device.vision.pose as P
from device.cli import _load_pose
from device.core.coach import Coach
from device.offline.bench.clock import InvokeClock
from device.offline.bench.frames import DECODED_BUFFER, decoded_frames
from device.offline.bench.rounds import interleave
from device.offline.bench.stats import quartiles
from device.offline.bench.variants import Threaded


def crop_numpy(kp, height, width):
    """The numpy formulation (tests/test_pose.py's reference), from the flat values."""
    k = np.frombuffer(kp, dtype=np.float32).reshape(17, 3) if isinstance(kp, array) else \
        np.asarray(kp, dtype=np.float32).reshape(17, 3)
    score, m = k[:, 2], np.float32(0.2)
    if not ((score[11] > m or score[12] > m) and (score[5] > m or score[6] > m)):
        return P._full_square(height, width)
    yx = k[:, :2] * np.array([height, width], dtype=np.float64)
    centre = (yx[11] + yx[12]) / 2.0
    torso = np.abs(yx[[5, 6, 11, 12]] - centre).max(axis=0)
    body = np.abs(yx[score > m] - centre).max(axis=0)
    half = max(torso.max() * 1.9, body.max() * 1.2)
    half = min(half, max(centre[1], width - centre[1], centre[0], height - centre[0]))
    if half > max(height, width) / 2.0:
        return P._full_square(height, width)
    return (float(centre[0] - half), float(centre[1] - half), float(2.0 * half))


def full_frame_numpy(rows, square, height, width):
    r = np.asarray(rows, dtype=np.float64)
    y0, x0, side = (float(v) for v in square)
    out = np.empty((17, 3), np.float32)
    out[:, 0] = (y0 + r[:, 0] * side) / height
    out[:, 1] = (x0 + r[:, 1] * side) / width
    out[:, 2] = r[:, 2]
    return array("f", out.tobytes())


class Toggled:
    """A Threaded variant whose blocks run with `on()` applied, `off()` after."""

    def __init__(self, inner, on, off):
        self.inner, self.on, self.off = inner, on, off
        self.name, self.hub = inner.name, inner.hub

    def run(self, first, n):
        self.on()
        try:
            return self.inner.run(first, n)
        finally:
            self.off()

    def close(self):
        pass


def main():
    clip = Path(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    per_round = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    pose = _load_pose()  # sets cv2.setNumThreads(1), as the device does
    frames, _ = decoded_frames(clip, DECODED_BUFFER)
    saved = {"crop": P._crop_flat, "full": P._full_frame_flat}
    default_threads = [None]

    def nop():
        pass

    def copying_on():
        pose._in_place = False

    def copying_off():
        pose._in_place = True

    def cv_on():
        cv2.setNumThreads(-1)  # OpenCV's default pool
        default_threads[0] = cv2.getNumThreads()

    def cv_off():
        cv2.setNumThreads(1)

    def numpy_on():
        P._crop_flat, P._full_frame_flat = crop_numpy, full_frame_numpy

    def numpy_off():
        P._crop_flat, P._full_frame_flat = saved["crop"], saved["full"]

    def plain_on():
        copying_on(), cv_on(), numpy_on()

    def plain_off():
        copying_off(), cv_off(), numpy_off()

    def v(name, on=nop, off=nop, **options):
        return Toggled(Threaded(name, pose, Coach(), frames, **options), on, off)

    variants = [v("device"), v("copying_path", copying_on, copying_off),
                v("opencv_default_threads", cv_on, cv_off),
                v("numpy_crop_and_full_frame", numpy_on, numpy_off),
                v("handoff_at_once", defer=False),
                v("all_four_off", plain_on, plain_off, defer=False)]
    clock = InvokeClock.on(pose)
    try:
        m = interleave(variants, rounds, per_round, clock)
    finally:
        clock.close()
    out = {"clip": clip.name, "rounds": rounds, "per_round": per_round,
           "opencv_default_threads": default_threads[0],
           "device_over": {n: m.rate_ratio("device", n) for n in m.names if n != "device"},
           "cpu_ratio_other_over_device": {
               n: quartiles([m.cpu[n][r] / m.cpu["device"][r] for r in range(m.count)])
               for n in m.names if n != "device"},
           "wall_ms_per_frame": {n: quartiles([x * 1e3 for x in m.wall[n]]) for n in m.names},
           "cpu_ms_per_frame": {n: quartiles([x * 1e3 for x in m.cpu[n]]) for n in m.names},
           "share_device_over": {n: quartiles([m.share["device"][r] / m.share[n][r]
                                                for r in range(m.count)])
                                 for n in m.names if n != "device"},
           "invoke_wall_share": {n: quartiles(m.share[n]) for n in m.names},
           "between_invokes_us": {n: quartiles([g * 1e6 for g in m.between[n]])
                                  for n in m.names},
           "snapshots": {vv.name: vv.hub.received for vv in variants}}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        main()
