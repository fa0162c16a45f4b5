"""MoveNet SinglePose: an RGB (or BGR, `bgr`) frame of any size, three channels or
four (R, G, B, X: the Pi camera's XBGR8888) -> (17, 3) keypoints on the full frame.

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
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

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
# A four-channel frame's 192x192 input, to the model's three channels (R, G, B).
_FROM_FOUR = {False: cv2.COLOR_RGBA2RGB, True: cv2.COLOR_BGRA2RGB}


class PoseEstimator(Protocol):
    def estimate(self, frame: np.ndarray, before_invoke=None, bgr: bool = False) -> np.ndarray:
        """RGB uint8 (H, W, 3) (B, G, R with `bgr`), or (H, W, 4) with a fourth
        byte not looked at (the Pi camera's R, G, B, X), -> float32 (17, 3) of
        (y, x, score) on the full frame, read-only; before_invoke, if given, is
        called once the model's input is ready."""

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


# MoveNet's scores are float32, compared as float32 with the threshold (as the
# numpy array comparison did, on NumPy 1.x and 2.x alike).
_MIN_SCORE32 = float(np.float32(CROP_MIN_SCORE))
_TORSO_JOINTS = (5, 6, 11, 12)


def crop_square(keypoints: np.ndarray, height: int, width: int) -> np.ndarray:
    """MoveNet's crop region from the previous frame's full-frame keypoints.

    Returns (y0, x0, side) in pixels; the square may extend past the frame
    (the outside is padded black). Falls back to `full_frame_square` when
    neither a hip nor a shoulder is confidently seen. Bit for bit the numpy
    version's result (float64 throughout; tests/test_pose.py checks it against
    that); the work is `_crop_flat`'s.
    """
    return np.array(_crop_flat(np.asarray(keypoints).ravel().tolist(), height, width))


def _full_square(height: int, width: int) -> tuple[float, float, float]:
    side = float(max(height, width))
    return ((height - side) / 2.0, (width - side) / 2.0, side)


def _crop_flat(kp: list[float], height: int, width: int) -> tuple[float, float, float]:
    """`crop_square` on the 51 values y, x, score of the 17 joints, flat.

    Plain Python floats: on the device this runs once per frame between
    invokes, with its data cold, where each of a dozen small numpy calls cost
    more than the arithmetic (measured 169 µs per frame in the pose thread as
    numpy, 47 µs as nested lists, this).
    """
    m = _MIN_SCORE32
    if not ((kp[35] > m or kp[38] > m) and (kp[17] > m or kp[20] > m)):
        return _full_square(height, width)
    cy = (kp[33] * height + kp[36] * height) / 2.0
    cx = (kp[34] * width + kp[37] * width) / 2.0
    ty = max(abs(kp[3 * j] * height - cy) for j in _TORSO_JOINTS)
    tx = max(abs(kp[3 * j + 1] * width - cx) for j in _TORSO_JOINTS)
    seen = [i for i in range(0, len(kp), 3) if kp[i + 2] > m]
    by = max(abs(kp[i] * height - cy) for i in seen)
    bx = max(abs(kp[i + 1] * width - cx) for i in seen)
    half = max(max(ty, tx) * TORSO_MARGIN, max(by, bx) * BODY_MARGIN)
    half = min(half, max(cx, width - cx, cy, height - cy))
    if half > max(height, width) / 2.0:
        return _full_square(height, width)
    return (cy - half, cx - half, 2.0 * half)


def steady_square(target: tuple[float, float, float], kept: tuple[float, float, float] | None,
                  height: int, width: int) -> tuple[float, float, float]:
    """The square to use this frame: `kept` (last frame's) while `target` (what
    `_crop_flat` asks for) stays within the hold band, else `target` on the grid.

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
                 out: np.ndarray | None = None, matrix: np.ndarray | None = None) -> np.ndarray:
    """Crop the square (y0, x0, side) from the frame, pad black, resize to size x size.

    One affine warp does crop, pad and bilinear resize together, sampling only
    the output pixels, so the cost does not grow with the frame size. matrix: a
    (2, 3) float64 array to write the warp's matrix into (its zeros kept), not a
    new one each frame (a new array cost 45-60 µs at the device's pace, the four
    entries 15-25).
    """
    y0, x0, side = square
    s = size / side
    if matrix is None:
        m = np.array([[s, 0.0, -s * x0], [0.0, s, -s * y0]])
    else:
        m = matrix
        m[0, 0] = m[1, 1] = s
        m[0, 2] = -s * x0
        m[1, 2] = -s * y0
    return cv2.warpAffine(frame, m, (size, size), dst=out, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def to_full_frame(raw: np.ndarray, square, height: int, width: int) -> np.ndarray:
    """MoveNet's (y, x, score) on the input square -> (y, x, score) on the full frame.

    float64 arithmetic, stored as float32: NumPy 2's result for the numpy
    formulation bit for bit (tests/test_pose.py), and now the same on NumPy
    1.x, which did it in float32. The work is `_full_frame_flat`'s.
    """
    return _as_keypoints(_full_frame_flat(raw.tolist(), square, height, width))


def _full_frame_flat(rows: list, square, height: int, width: int) -> array:
    """The 17 rows (y, x, score) on the square -> the 51 values on the full frame,
    flat, rounded to float32 (`array("f")` rounds as numpy's cast does).

    Plain Python floats, one conversion in, no numpy call: for the reason
    `_crop_flat` gives (as numpy, ten small calls cost 135 µs per frame in the
    pose thread; as a list made into an array, 130 µs, most of it the array).
    """
    y0, x0, side = square
    y0, x0, side = float(y0), float(x0), float(side)
    return array("f", [v for y, x, score in rows
                       for v in ((y0 + y * side) / height, (x0 + x * side) / width, score)])


def _as_keypoints(flat: array) -> np.ndarray:
    """The flat float32 values as the (17, 3) keypoints array, without a copy;
    read-only, since MoveNet keeps the same values for the next frame's crop."""
    keypoints = np.frombuffer(flat, dtype=np.float32).reshape(-1, 3)
    keypoints.flags.writeable = False
    return keypoints


def _four(frame: np.ndarray) -> bool:
    """R, G, B, X (or B, G, R, X) uint8: the fourth channel is not looked at."""
    return frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 4


class MoveNet:
    """MoveNet SinglePose on a TFLite interpreter (LiteRT preferred)."""

    def __init__(self, model: Path, *, threads: int = 1, mode: str = "crop",
                 runtime: str | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"pose mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.threads = threads
        self._interp, self.runtime = load_interpreter(model, threads, prefer=runtime)
        # OpenCV's own thread pool for the warp: its worker spun about 1 ms of CPU
        # per frame beside a 0.3 ms warp (measured per thread, /proc/self/task),
        # CPU the model's threads need. One thread; the warp's result is the same.
        cv2.setNumThreads(1)
        inp = self._interp.get_input_details()[0]
        self._in_index = inp["index"]
        self._in_dtype = inp["dtype"]
        self._out_index = self._interp.get_output_details()[0]["index"]
        # The last frame's keypoints, flat (51 float32 values), for the crop.
        self._previous: array | list[float] | None = None
        # The square used last frame, held while the keypoints stay within its band.
        self._kept: tuple[float, float, float] | None = None
        # The model's input, written in place every frame (no allocation per frame).
        self._input = np.zeros((INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
        # A four-channel frame is warped with four channels, then its first three
        # copied to the model's input: OpenCV's bilinear warp has a vector path
        # for four channels and not for three (143 against 392 µs per frame in a
        # hot loop here; at the device's pace 415 against 640 for the warp alone
        # with a real invoke between frames, 400-405 against about 600 inside the
        # device's threads), and gives the same bytes per channel
        # (tests/test_pose.py). The Pi camera delivers four (XBGR8888).
        self._input4 = np.zeros((INPUT_SIZE, INPUT_SIZE, 4), dtype=np.uint8)
        self._matrix = np.zeros((2, 3))  # the warp's, rewritten every frame
        # estimate() warps straight into the interpreter's own input tensor, with
        # no set_tensor copy (with the output's view, 80 µs per frame between
        # invokes, measured in the pose thread). The view must be gone before
        # invoke: the interpreter refuses to run while a numpy array holds its
        # memory. The output, 51 floats, is read by get_tensor: its copy
        # measured 58 µs per frame at the device's pace against 70 for a view.
        self._tensor_in = self._interp.tensor(self._in_index)
        self._in_place = self._in_dtype == np.uint8
        log.info("MoveNet pose mode %s", mode)

    def reset(self) -> None:
        self._previous = None
        self._kept = None

    def follow(self, keypoints: np.ndarray) -> None:
        """What the next frame's crop follows, in place of the keypoints `estimate`
        gave last: (17, 3) (y, x, score) on the full frame. For measuring how the
        crop loop carries a difference (`hinge-mirror eval --perturb`)."""
        self._previous = array("f", np.asarray(keypoints, dtype=np.float32).ravel().tolist())

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
            self._kept = steady_square(_crop_flat(self._previous, height, width), self._kept,
                                       height, width)
            return self._kept
        return _full_square(height, width)

    def preprocess(self, frame: np.ndarray,
                   bgr: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """RGB frame (B, G, R with `bgr`) -> (model input (192, 192, 3), RGB;
        square (y0, x0, side) in pixels)."""
        square = self._square(*frame.shape[:2])
        if _four(frame):
            model_input = cv2.cvtColor(square_input(frame, square, out=self._input4),
                                       _FROM_FOUR[bgr], dst=self._input)
        else:
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

    def estimate(self, frame: np.ndarray, before_invoke=None, bgr: bool = False) -> np.ndarray:
        """preprocess, infer and to_full_frame, the same result without their copies.
        before_invoke: called once the input is ready, just before the model runs.
        bgr: the frame is B, G, R; the channels are swapped on the model's input."""
        h, w = frame.shape[:2]
        four = _four(frame)
        if self._in_place and frame.size and (four or (
                frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3)):
            square = self._square(h, w)
            view = self._tensor_in()[0]
            try:
                if four:
                    warped = square_input(frame, square, out=self._input4, matrix=self._matrix)
                    written = warped is self._input4 and \
                        cv2.cvtColor(warped, _FROM_FOUR[bgr], dst=view) is view
                else:
                    written = square_input(frame, square, out=view,
                                           matrix=self._matrix) is view and (
                        not bgr or cv2.cvtColor(view, cv2.COLOR_BGR2RGB, dst=view) is view)
            except Exception as exc:  # its traceback would hold the view: invoke refuses
                del view
                raise exc.with_traceback(None) from None
            del view
            if not written:  # never silently the last frame's input
                raise RuntimeError("pose: the warp did not write the model's input")
            if before_invoke is not None:
                before_invoke()
            self._interp.invoke()
            rows = self._interp.get_tensor(self._out_index).tolist()[0][0]  # (17, 3)
        else:  # anything else goes the copying way, which refuses what the model cannot take
            model_input, square = self.preprocess(frame, bgr)
            if before_invoke is not None:
                before_invoke()
            rows = self.infer(model_input).tolist()
        flat = _full_frame_flat(rows, square, h, w)
        self._previous = flat  # indexed as floats by _crop_flat, no list made
        return _as_keypoints(flat)
