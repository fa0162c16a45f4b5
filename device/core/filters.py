"""Keypoint conditioning: confidence and in-frame gating, and a One Euro filter.

One Euro filter: Casiez, Roussel & Vogel, "1 Euro Filter: A Simple Speed-based
Low-pass Filter for Noisy Input in Interactive Systems", CHI 2012. An
exponential smoother whose cutoff rises with speed: steady when still, little
lag when moving. Here it runs on the 34 coordinates each on its own; the rate comes
from the timestamps, so a Pi that drops frames still filters correctly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from device.core.skeleton import L_ANKLE, L_KNEE, R_ANKLE, R_KNEE

# MoveNet's model card: keypoints below 0.3 are not reliable.
MIN_SCORE = 0.3
# Keypoints closer than this to the frame's edge, in fractions of the frame,
# are not seen either. A joint centre lies a limb's radius inside the body's
# outline (about 0.02 of the frame for someone filling most of its height),
# so at the edge the joint itself is cut off, and MoveNet, run on a crop
# that reaches past the frame, places it by guesswork, often confidently.
EDGE_MARGIN = 0.02
# An ankle closer to its own knee than this fraction of the person's standing
# shin is the knee seen twice, not an ankle: MoveNet, unsure of the lower leg,
# puts the ankle on the knee with a score of 0.3-0.4 (measured on the dev clips,
# e.g. bbdl_squatting's last second, every other frame). A real shin reads this
# short on the image only when it points within about 24 degrees of the camera
# (cos 66 = 0.4): kneeling or lying toward it, never standing or in a squat
# (a front squat's shin leans 30-45 degrees, 0.7-0.87 of its length).
SHIN_MIN_FRAC = 0.4
_SHINS = ((L_KNEE, L_ANKLE), (R_KNEE, R_ANKLE))


def seen(keypoints: np.ndarray | list) -> list[bool]:
    """17 bools: confident and inside the frame. keypoints: (17, 3) (y, x, score),
    normalized to the full frame, as an array or as its ``tolist()``."""
    rows = keypoints.tolist() if isinstance(keypoints, np.ndarray) else keypoints
    edge = 0.5 - EDGE_MARGIN
    return [score >= MIN_SCORE and abs(y - 0.5) <= edge and abs(x - 0.5) <= edge
            for y, x, score in rows]


def off_the_knee(valid: list[bool], xy: list[tuple[float, float]], shin: float) -> list[bool]:
    """`valid` with each ankle that sits on its own knee (closer than SHIN_MIN_FRAC
    of the standing shin, `shin` in the units of xy; 0 = not known yet) made unseen."""
    if shin <= 0.0:
        return valid
    out = list(valid)
    for knee, ankle in _SHINS:
        if valid[knee] and valid[ankle] and math.hypot(
                xy[ankle][0] - xy[knee][0], xy[ankle][1] - xy[knee][1]) < SHIN_MIN_FRAC * shin:
            out[ankle] = False
    return out


@dataclass(frozen=True)
class OneEuroParams:
    min_cutoff_hz: float = 1.5  # cutoff when still: lower = steadier, more lag
    beta: float = 4.0  # cutoff growth per (frame height / s) of speed
    d_cutoff_hz: float = 1.0  # cutoff of the speed estimate

    def __post_init__(self) -> None:
        if self.min_cutoff_hz <= 0 or self.d_cutoff_hz <= 0:
            raise ValueError("min_cutoff_hz and d_cutoff_hz must be > 0 Hz")
        if self.beta < 0:
            raise ValueError("beta must be >= 0")


@dataclass(frozen=True)
class OneEuroState:
    x: tuple[float, ...]  # filtered values
    dx: tuple[float, ...]  # filtered speed, units per second
    t_s: float
    started: tuple[bool, ...]  # like `valid`: the entry has had a valid sample


def _alpha(cutoff_hz: float, dt_s: float) -> float:
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt_s)


def one_euro_step(state: OneEuroState | None, x, valid, t_s: float,
                  params: OneEuroParams) -> OneEuroState:
    """Filter one sample of a few values (the coach's 34 coordinates), each on its own.
    Entries where `valid` is False keep their previous value.

    An entry starts from its first valid sample, never from an unseen one (an
    unseen keypoint's coordinates are whatever the model left there). Raises
    ValueError when time does not increase: the caller decides what that means.

    Plain Python floats, not numpy: on 34 values each numpy call costs more
    than its arithmetic, the more so at the device's pace, with other work
    between frames leaving the interpreter cold (measured in CHANGELOG.md, "Why
    the core costs three to five times its hot loop"). The arithmetic is float64
    either way, in the same order, so the result is the same.
    """
    if isinstance(x, np.ndarray):
        if x.ndim != 1:
            raise ValueError(f"x must be one value per entry (flat), got shape {x.shape}")
        x = x.tolist()
    if isinstance(valid, np.ndarray):
        if valid.ndim != 1:
            raise ValueError(f"valid must be one flag per entry (flat), got shape {valid.shape}")
        valid = valid.tolist()
    if state is None:
        return OneEuroState(tuple(v if ok else 0.0 for v, ok in zip(x, valid, strict=True)),
                            (0.0,) * len(x), t_s, tuple(valid))
    dt = t_s - state.t_s
    if not dt > 0:
        raise ValueError(f"time must increase: {t_s} s after {state.t_s} s")
    a_d = _alpha(params.d_cutoff_hz, dt)
    min_cutoff, beta, two_pi = params.min_cutoff_hz, params.beta, 2.0 * math.pi
    new_x, new_dx = [], []
    for v, ok, old, old_dx, started in zip(x, valid, state.x, state.dx, state.started,
                                           strict=True):
        if not ok:
            new_x.append(old)
            new_dx.append(old_dx)
        elif not started:  # the first valid sample
            new_x.append(v)
            new_dx.append(0.0)
        else:
            dx = old_dx + a_d * ((v - old) / dt - old_dx)
            # _alpha of the speed-dependent cutoff, written out (34 calls a frame)
            tau = 1.0 / (two_pi * (min_cutoff + beta * abs(dx)))
            new_x.append(old + 1.0 / (1.0 + tau / dt) * (v - old))
            new_dx.append(dx)
    return OneEuroState(tuple(new_x), tuple(new_dx), t_s,
                        tuple(s or ok for s, ok in zip(state.started, valid, strict=True)))


@dataclass(frozen=True)
class Filtered:
    """The keypoints through the filter: the One Euro state of their 34
    coordinates, when each of the 17 was last seen, and how many the last frame
    bridged over a dropout."""

    filt: OneEuroState | None = None
    seen_s: tuple[float, ...] | None = None
    bridged: int = 0


def filter_frame(state: Filtered, rows: list, xy: list, valid: list, t_s: float,
                 bridge_s: float, params: OneEuroParams) -> tuple[Filtered, list, list]:
    """One frame through the filter: (the new state, the 17 filtered (x, y), their 17
    usable scores).

    rows: the 17 (y, x, score) as given; xy: the 17 (x, y) in frame heights;
    valid: which were seen (`seen`, `off_the_knee`). A keypoint unseen for at
    most `bridge_s` seconds keeps its filtered position at the lowest usable
    score (MIN_SCORE), and is counted as bridged; longer, its score is 0.
    """
    # The 34 coordinates filtered as one vector, x then y of each keypoint.
    filt = one_euro_step(state.filt, [v for point in xy for v in point],
                         [ok for ok in valid for _ in (0, 1)], t_s, params)
    last = state.seen_s if state.seen_s is not None else (-math.inf,) * len(valid)
    seen_s = tuple(t_s if ok else was for ok, was in zip(valid, last, strict=True))
    bridged = [not ok and t_s - was <= bridge_s for ok, was in zip(valid, seen_s, strict=True)]
    usable = [row[2] if ok else (MIN_SCORE if gap else 0.0)
              for row, ok, gap in zip(rows, valid, bridged, strict=True)]
    fx = filt.x
    pts = list(zip(fx[0::2], fx[1::2], strict=True))
    return Filtered(filt, seen_s, sum(bridged)), pts, usable
