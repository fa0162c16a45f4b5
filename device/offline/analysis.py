"""Offline work on recordings: video -> keypoint track; track -> coach report."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from device.core.coach import CoachParams
from device.core.coach import analyze as coach_analyze
from device.files import not_a_file
from device.service.programs import ProgramRunner
from device.store import programs
from device.vision.pose import PoseEstimator
from device.vision.sources import OpenCVSource
from device.vision.tracks import Track, load_track

log = logging.getLogger(__name__)

TRACK_SUFFIXES = (".npz",)


def track_video(path: Path, pose: PoseEstimator) -> Track:
    """Run the pose model over every frame of a video (as fast as it can)."""
    source = OpenCVSource(str(path))
    keypoints, times = [], []
    size = (0, 0)
    pose.reset()
    try:
        for frame in source.frames():
            keypoints.append(pose.estimate(frame.image, bgr=frame.bgr))
            times.append(frame.t_s)
            size = frame.size
    finally:
        source.close()
    t = np.asarray(times, dtype=np.float64)
    return Track(np.stack(keypoints).astype(np.float32), t - t[0], size)


def load_or_track(path: Path, load_pose) -> Track:
    """A track file as is, or a video run through the pose model (loaded only then)."""
    path = Path(path)
    if path.suffix.lower() in TRACK_SUFFIXES:
        return load_track(path)
    if not path.is_file():
        raise not_a_file("video", path)
    return track_video(path, load_pose())


def analyze_path(path: Path, load_pose, series: bool = False, params=None,
                 program=None) -> dict:
    """The analysis report (DESIGN.md) of a video or a track (`series`: with the
    hip angle of every frame, for the HTML report; `params`: the coach's, e.g.
    its exercise; `program`: a client's program (device/store/programs.Program),
    followed block by block as the mirror does, the report's `program` its
    blocks and what was done of them)."""
    track = load_or_track(path, load_pose)
    follow = runner = None
    if program is not None:
        latest: list = []
        runner = ProgramRunner(None, latest.append, {}, tag=lambda code, followed: None)
        runner.settings_changed(params or CoachParams())
        runner.start("analyze", program=program)

        def follow(events):  # the parameters the runner set last, if it set any
            runner.on_events(events)
            new = latest[-1] if latest else None
            latest.clear()
            return new

        params = follow([])
    report = coach_analyze(track.keypoints, track.t, track.frame_size, params, series=series,
                           follow=follow)
    if runner is not None:
        report["program"] = {"blocks": programs.to_dict(program)["blocks"],
                             **runner.followed(program)}
    if report["rejected_frames"]:
        log.warning("%s: %d frames skipped (%s)", Path(path).name, report["rejected_frames"],
                    ", ".join(report["rejected_why"]))
    return {"source": Path(path).name, **report}
