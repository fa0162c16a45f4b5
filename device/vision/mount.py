"""How the camera is mounted: flips, then a clockwise rotation, before the pose model.

A mirror's camera is often upside down or on its side. `[camera] rotation`
(0, 90, 180, 270, clockwise) and `hflip`/`vflip` say how to turn its picture
upright. The camera's own hardware does what it can (libcamera's transform:
flips, and 180 degrees as both flips), for free; what it cannot (90 and 270
degrees: picamera2 has no transpose) is done once per frame in software, one
copy, before the model sees the frame.
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
    """The flips, then the clockwise rotation, in software (one contiguous copy)."""
    if not (hflip or vflip or rotation):
        return image
    if hflip:
        image = image[:, ::-1]
    if vflip:
        image = image[::-1]
    if rotation:
        image = np.rot90(image, k=-rotation // 90)
    return np.ascontiguousarray(image)
