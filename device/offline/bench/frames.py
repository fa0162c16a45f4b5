"""The bench's frames: a clip's, decoded into memory as the Pi camera delivers
them (R, G, B), or synthetic noise when no clip is given (and the report says so)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from device.vision.sources import Frame, OpenCVSource

DECODED_BUFFER = 60  # frames held decoded in memory, cycled
SYNTHETIC = "synthetic noise 640x480"  # the report's clip name without a clip


def check_clip(clip: Path | None) -> None:
    """A clip that is missing, a folder or not a video: the one line that says
    which (OpenCVSource's), before the model loads."""
    if clip is not None:
        OpenCVSource(str(clip)).close()


def decoded_frames(clip: Path | None, n: int) -> tuple[list[Frame], str]:
    """The clip's first n frames (at most; synthetic noise: at most 60) as the Pi's
    camera delivers them, R, G, B (picamera2's BGR888), and the clip's name."""
    import cv2

    if clip is not None:
        src = OpenCVSource(str(clip))
        frames = []
        try:
            for f in src.frames():
                rgb = cv2.cvtColor(f.image, cv2.COLOR_BGR2RGB) if f.bgr else f.image
                frames.append(Frame(t_s=f.t_s, image=rgb, size=f.size))
                if len(frames) >= n:
                    break
        finally:
            src.close()
        return frames, clip.name
    rng = np.random.default_rng(0)
    return [Frame(t_s=i / 30, image=rng.integers(0, 255, (480, 640, 3), dtype=np.uint8),
                  size=(480, 640)) for i in range(min(n, 60))], SYNTHETIC


def restamped(block: list[Frame], t0_s: float) -> Iterator[Frame]:
    """The block's frames at 30 fps from t0_s: time moves on from round to round."""
    return (Frame(t_s=t0_s + i / 30.0, image=f.image, size=f.size) for i, f in enumerate(block))
