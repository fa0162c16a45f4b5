"""Keypoint conditioning: confidence and in-frame gating, and a vectorized One Euro filter.

One Euro filter: Casiez, Roussel & Vogel, "1 Euro Filter: A Simple Speed-based
Low-pass Filter for Noisy Input in Interactive Systems", CHI 2012. An
exponential smoother whose cutoff rises with speed: steady when still, little
lag when moving. Here it runs on all 34 coordinates at once; the rate comes
from the timestamps, so a Pi that drops frames still filters correctly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# MoveNet's model card: keypoints below 0.3 are not reliable.
MIN_SCORE = 0.3
# Keypoints closer than this to the frame's edge, in fractions of the frame,
# are not seen either. A joint centre lies a limb's radius inside the body's
# outline (about 0.02 of the frame for someone filling most of its height),
# so at the edge the joint itself is cut off, and MoveNet, run on a crop
# that reaches past the frame, places it by guesswork, often confidently.
EDGE_MARGIN = 0.02


def seen(keypoints: np.ndarray) -> np.ndarray:
    """(17,) bool: confident and inside the frame. keypoints: (17, 3) (y, x, score),
    normalized to the full frame."""
    inside = (np.abs(keypoints[:, :2] - 0.5) <= 0.5 - EDGE_MARGIN).all(axis=1)
    return (keypoints[:, 2] >= MIN_SCORE) & inside


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
    x: np.ndarray  # filtered values
    dx: np.ndarray  # filtered speed, units per second
    t_s: float
    started: np.ndarray  # bool, like `valid`: the entry has had a valid sample


def _alpha(cutoff_hz: np.ndarray | float, dt_s: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt_s)


def one_euro_step(state: OneEuroState | None, x: np.ndarray, valid: np.ndarray, t_s: float,
                  params: OneEuroParams) -> OneEuroState:
    """Filter one sample. Entries where `valid` is False keep their previous value.

    An entry starts from its first valid sample, never from an unseen one (an
    unseen keypoint's coordinates are whatever the model left there). Raises
    ValueError when time does not increase: the caller decides what that means.
    """
    if state is None:
        return OneEuroState(np.where(valid, x, 0.0), np.zeros_like(x), t_s, valid.copy())
    dt = t_s - state.t_s
    if not dt > 0:
        raise ValueError(f"time must increase: {t_s} s after {state.t_s} s")
    raw_dx = (x - state.x) / dt
    dx = state.dx + _alpha(params.d_cutoff_hz, dt) * (raw_dx - state.dx)
    cutoff = params.min_cutoff_hz + params.beta * np.abs(dx)
    new_x = state.x + _alpha(cutoff, dt) * (x - state.x)
    first = valid & ~state.started
    if first.any():
        new_x = np.where(first, x, new_x)
        dx = np.where(first, 0.0, dx)
    return OneEuroState(np.where(valid, new_x, state.x), np.where(valid, dx, state.dx), t_s,
                        state.started | valid)
