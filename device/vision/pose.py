"""MoveNet SinglePose: an RGB (or BGR, `bgr`) frame of any size -> (17, 3)
keypoints on the full frame.

The one place where MoveNet's conventions are converted: the model takes a
192x192 RGB uint8 square and returns (y, x, score) normalized to that square;
`estimate` returns (y, x, score) float32 normalized to the *full frame*
(y by its height, x by its width), COCO keypoint order (see DESIGN.md).

Two ways to build the square input:

* ``letterbox``: the whole frame, padded to a square with black, resized.
* ``crop``: MoveNet's recommended crop-region tracking. The square follows the
  previous frame's keypoints (centred on the hips, sized to hold the torso
  with a 1.9x margin and the visible body with 1.2x), and falls back to the
  letterbox square when the torso is not confidently seen. A person small in
  a wide frame then gets more of the model's 192 pixels.

  The square is held steady (`steady_square`): it stays put while the region
  the keypoints ask for moves less than a band, and when it moves it lands on
  a coarse grid. Fed straight back, the keypoints' last bits (which differ
  between CPUs' int8 kernels) would move the next square and grow from frame
  to frame; held, two CPUs give the same square, the same input and so the
  same keypoints again (measured in docs/measured.md, "Counts on any CPU").
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from device.core.skeleton import L_HIP, L_SHOULDER, R_HIP, R_SHOULDER
from device.vision import MODES
from device.vision.runtime import load_interpreter

log = logging.getLogger(__name__)

INPUT_SIZE = 192
# MoveNet's crop tracking thresholds and margins (the model authors' tutorial).
CROP_MIN_SCORE = 0.2
TORSO_MARGIN = 1.9
BODY_MARGIN = 1.2
# The held square (ours, not the tutorial's): kept while the asked-for centre
# moves less than HOLD_SHIFT of its half side and the asked-for half side stays
# within HOLD_SHRINK..HOLD_GROW of the kept one; a new square lands on a grid of
# 1/HOLD_GRID of the frame's long side. With BODY_MARGIN 1.2 a held square still
# holds the body: 1.05 / 1.2 + 0.1 = 0.975 of its half side at the worst.
HOLD_SHIFT = 0.1
HOLD_GROW = 1.05
HOLD_SHRINK = 0.85
HOLD_GRID = 64


class PoseEstimator(Protocol):
    def estimate(self, frame: np.ndarray, bgr: bool = False) -> np.ndarray:
        """RGB uint8 (H, W, 3) (B, G, R with `bgr`) -> float32 (17, 3) of
        (y, x, score) on the full frame, read-only."""

    def reset(self) -> None:
        """Forget any tracking state (a new video, a new person)."""


class SteppedPose(PoseEstimator, Protocol):
    """A pose estimator whose steps can also be run, and the model timed, one
    by one: what `hinge-mirror bench` measures (device/offline/bench/)."""

    runtime: str
    threads: int
    mode: str

    def preprocess(self, frame: np.ndarray, bgr: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Frame -> (model input (192, 192, 3) uint8 RGB, square (y0, x0, side) in pixels)."""

    def infer(self, model_input: np.ndarray) -> np.ndarray:
        """The model alone: (192, 192, 3) uint8 -> raw (17, 3) float32 on the input square."""

    def clock_invokes(self, clock: Callable[[Callable[[], None]], None] | None) -> None:
        """From now on run each of the model's invokes as clock(invoke), in the
        thread that calls it; with None, directly again."""


def full_frame_square(height: int, width: int) -> np.ndarray:
    """The letterbox square in pixels: (y0, x0, side), centred on the frame."""
    return np.array(_full_square(height, width))


# MoveNet's scores are float32, compared as float32 with the threshold (as
# numpy compares a float32 array with a float32 scalar, on NumPy 1.x and 2.x alike).
_MIN_SCORE32 = np.float32(CROP_MIN_SCORE)
_TORSO = [L_SHOULDER, R_SHOULDER, L_HIP, R_HIP]


def crop_square(keypoints: np.ndarray, height: int, width: int) -> np.ndarray:
    """MoveNet's crop region from the previous frame's full-frame keypoints.

    Returns (y0, x0, side) in pixels; the square may extend past the frame
    (the outside is padded black). Falls back to `full_frame_square` when
    neither a hip nor a shoulder is confidently seen. float64 arithmetic on the
    float32 keypoints.
    """
    return np.array(_crop(np.asarray(keypoints, dtype=np.float32), height, width))


def _full_square(height: int, width: int) -> tuple[float, float, float]:
    side = float(max(height, width))
    return ((height - side) / 2.0, (width - side) / 2.0, side)


def _crop(keypoints: np.ndarray, height: int, width: int) -> tuple[float, float, float]:
    """`crop_square` as a tuple of floats (what `steady_square` compares)."""
    score, m = keypoints[:, 2], _MIN_SCORE32
    if not ((score[L_HIP] > m or score[R_HIP] > m)
            and (score[L_SHOULDER] > m or score[R_SHOULDER] > m)):
        return _full_square(height, width)
    yx = keypoints[:, :2] * np.array([height, width], dtype=np.float64)
    cy, cx = (yx[L_HIP] + yx[R_HIP]) / 2.0
    torso = np.abs(yx[_TORSO] - (cy, cx)).max()
    body = np.abs(yx[score > m] - (cy, cx)).max()
    half = max(torso * TORSO_MARGIN, body * BODY_MARGIN)
    half = min(half, max(cx, width - cx, cy, height - cy))
    if half > max(height, width) / 2.0:
        return _full_square(height, width)
    return (float(cy - half), float(cx - half), float(2.0 * half))


def steady_square(target: tuple[float, float, float], kept: tuple[float, float, float] | None,
                  height: int, width: int) -> tuple[float, float, float]:
    """The square to use this frame: `kept` (last frame's) while `target` (what
    `_crop` asks for) stays within the hold band, else `target` on the grid.

    The letterbox square passes through as it is: it depends on the frame size only.
    """
    full = _full_square(height, width)
    if target == full:
        return full
    half = target[2] / 2.0
    cy, cx = target[0] + half, target[1] + half
    if kept is not None and kept != full:
        k_half = kept[2] / 2.0
        if (abs(cy - kept[0] - k_half) <= HOLD_SHIFT * k_half
                and abs(cx - kept[1] - k_half) <= HOLD_SHIFT * k_half
                and HOLD_SHRINK * k_half <= half <= HOLD_GROW * k_half):
            return kept
    grid = max(height, width) / HOLD_GRID
    half = math.ceil(half / grid) * grid
    if half > max(height, width) / 2.0:
        return full
    cy, cx = round(cy / grid) * grid, round(cx / grid) * grid
    return (cy - half, cx - half, 2.0 * half)


def square_input(frame: np.ndarray, square, size: int = INPUT_SIZE,
                 out: np.ndarray | None = None) -> np.ndarray:
    """Crop the square (y0, x0, side) from the frame, pad black, resize to size x size.

    One affine warp does crop, pad and bilinear resize together, sampling only
    the output pixels, so the cost does not grow with the frame size.
    """
    y0, x0, side = square
    s = size / side
    m = np.array([[s, 0.0, -s * x0], [0.0, s, -s * y0]])
    return cv2.warpAffine(frame, m, (size, size), dst=out, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def to_full_frame(raw: np.ndarray, square, height: int, width: int) -> np.ndarray:
    """MoveNet's (y, x, score) on the input square -> (y, x, score) on the full frame.

    float64 arithmetic, stored as float32 (the same on NumPy 1.x and 2.x);
    read-only, since MoveNet keeps the same array for the next frame's crop.
    """
    y0, x0, side = (float(v) for v in square)
    r = np.asarray(raw, dtype=np.float64)
    keypoints = np.empty((len(r), 3), np.float32)
    keypoints[:, 0] = (y0 + r[:, 0] * side) / height
    keypoints[:, 1] = (x0 + r[:, 1] * side) / width
    keypoints[:, 2] = raw[:, 2]
    keypoints.flags.writeable = False
    return keypoints


class MoveNet:
    """MoveNet SinglePose on a TFLite interpreter (LiteRT preferred)."""

    def __init__(self, model: Path, *, threads: int = 1, mode: str = "crop",
                 runtime: str | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"pose mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.threads = threads
        self._interp, self.runtime = load_interpreter(model, threads, prefer=runtime)
        inp = self._interp.get_input_details()[0]
        self._in_index = inp["index"]
        self._in_dtype = inp["dtype"]
        self._out_index = self._interp.get_output_details()[0]["index"]
        # The last frame's keypoints (17, 3), for the crop.
        self._previous: np.ndarray | None = None
        # The square used last frame, held while the keypoints stay within its band.
        self._kept: tuple[float, float, float] | None = None
        # The model's input, written in place every frame.
        self._input = np.zeros((INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
        log.info("MoveNet pose mode %s", mode)

    def reset(self) -> None:
        self._previous = None
        self._kept = None

    def follow(self, keypoints: np.ndarray) -> None:
        """What the next frame's crop follows, in place of the keypoints `estimate`
        gave last: (17, 3) (y, x, score) on the full frame. For measuring how the
        crop loop carries a difference (`hinge-mirror eval --perturb`)."""
        self._previous = np.array(keypoints, dtype=np.float32)

    def clock_invokes(self, clock: Callable[[Callable[[], None]], None] | None) -> None:
        """Each invoke of the model as clock(invoke) until clock_invokes(None): the
        bench's clock on the model's own time (device/offline/bench/clock.py).
        Only the call is wrapped: what estimate and infer compute is the same, and
        without a clock they call the interpreter as before."""
        vars(self._interp).pop("invoke", None)  # the interpreter's own method again
        if clock is not None:
            self._interp.invoke = functools.partial(clock, self._interp.invoke)

    def _square(self, height: int, width: int) -> tuple[float, float, float]:
        if self.mode == "crop" and self._previous is not None:
            self._kept = steady_square(_crop(self._previous, height, width), self._kept,
                                       height, width)
            return self._kept
        return _full_square(height, width)

    def preprocess(self, frame: np.ndarray,
                   bgr: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """RGB frame (B, G, R with `bgr`) -> (model input (192, 192, 3), RGB;
        square (y0, x0, side) in pixels)."""
        square = self._square(*frame.shape[:2])
        model_input = square_input(frame, square, out=self._input)
        if bgr:
            cv2.cvtColor(model_input, cv2.COLOR_BGR2RGB, dst=model_input)
        return model_input, np.array(square)

    def infer(self, model_input: np.ndarray) -> np.ndarray:
        """(192, 192, 3) uint8 -> raw (17, 3) float32 on the input square."""
        batch = model_input[None].astype(self._in_dtype, copy=False)
        self._interp.set_tensor(self._in_index, batch)
        self._interp.invoke()
        return self._interp.get_tensor(self._out_index)[0, 0]

    def estimate(self, frame: np.ndarray, bgr: bool = False) -> np.ndarray:
        """preprocess, infer and to_full_frame; the crop follows the keypoints.
        bgr: the frame is B, G, R; the channels are swapped on the model's input."""
        model_input, square = self.preprocess(frame, bgr)
        keypoints = to_full_frame(self.infer(model_input), square, *frame.shape[:2])
        self._previous = keypoints
        return keypoints
