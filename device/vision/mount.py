"""How the camera is mounted: flips, then a clockwise rotation, before the pose model.

A mirror's camera is often upside down or on its side. `[camera] rotation`
(0, 90, 180, 270, clockwise) and `hflip`/`vflip` say how to turn its picture
upright. The camera's own hardware does what it can (libcamera's transform:
flips, and 180 degrees as both flips), for free; what it cannot (90 and 270
degrees: picamera2 has no transpose) is done once per frame in software,
before the model sees the frame, by OpenCV's flip and rotate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROTATIONS = (0, 90, 180, 270)


@dataclass(frozen=True)
class Mount:
    rotation: int = 0
    hflip: bool = False
    vflip: bool = False

    def __post_init__(self) -> None:
        if self.rotation not in ROTATIONS:
            raise ValueError(f"rotation {self.rotation} must be one of {ROTATIONS}")

    def hardware(self) -> tuple[bool, bool, int]:
        """(hflip, vflip) for the camera's transform, and the rotation left to software."""
        if self.rotation in (0, 180):
            half = self.rotation == 180  # 180 degrees = both flips
            return self.hflip != half, self.vflip != half, 0
        return self.hflip, self.vflip, self.rotation

    def size(self, height: int, width: int) -> tuple[int, int]:
        """The upright frame's (height, width) for a camera frame of this size."""
        return (width, height) if self.rotation in (90, 270) else (height, width)


def apply(image: np.ndarray, hflip: bool, vflip: bool, rotation: int) -> np.ndarray:
    """The flips, then the clockwise rotation, in software: a new contiguous
    frame, or the same one when there is nothing to do.

    OpenCV's `flip` and `rotate` move the same pixels as numpy's reversed views
    and `rot90` made contiguous (tests/test_mount.py), in a fraction of the
    time, on every frame of a mirror mounted on its side (docs/measured.md,
    "The mirror page and the server")."""
    if not (hflip or vflip or rotation):
        return image
    import cv2  # imported here: the config reads Mount without loading OpenCV

    turned = image
    if hflip or vflip:
        turned = cv2.flip(turned, -1 if hflip and vflip else 1 if hflip else 0)
    if rotation:
        turned = cv2.rotate(turned, {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180,
                                     270: cv2.ROTATE_90_COUNTERCLOCKWISE}[rotation])
    if turned.ndim < image.ndim:  # OpenCV drops a single channel's axis
        turned = turned[:, :, None]
    return turned
