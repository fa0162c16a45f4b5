"""Offline work on recordings: video -> keypoint track; track -> coach report."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from device.pose import PoseEstimator
from device.sources import OpenCVSource
from device.tracks import Track

TRACK_SUFFIXES = (".npz",)


def track_video(path: Path, pose: PoseEstimator) -> Track:
    """Run the pose model over every frame of a video (as fast as it can)."""
    source = OpenCVSource(str(path))
    keypoints, times = [], []
    size = (0, 0)
    pose.reset()
    try:
        for frame in source.frames():
            keypoints.append(pose.estimate(frame.image))
            times.append(frame.t_s)
            size = frame.size
    finally:
        source.close()
    t = np.asarray(times, dtype=np.float64)
    return Track(np.stack(keypoints).astype(np.float32), t - t[0], size)
