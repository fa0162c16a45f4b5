"""Per-frame body geometry from gated, filtered keypoints, in any camera view.

Coordinates are aspect-corrected: x and y in frame heights, y pointing down,
so angles are true angles whatever the frame's shape.

Segment inclinations come from foreshortening, which works in every view:
under (near-)orthographic projection a segment of true length L tilted by an
angle a from vertical, in any direction, shows a vertical extent of L cos(a).
So ``a = arccos(dy / L)``; from the side this equals the plain 2-D angle, and
from the front it recovers a forward lean that the 2-D angle cannot see. L
comes from calibration (`Calibration`): the longest each segment has looked
recently, bounded below by anthropometric ratios to the shin, which hardly
tilts in a hinge (Winter, Biomechanics and Motor Control of Human Movement,
4th ed., table 4.1: trunk about 0.29 and shank about 0.25 of body height).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from device.core.filters import MIN_SCORE
from device.core.skeleton import (
    L_ANKLE,
    L_HIP,
    L_KNEE,
    L_SHOULDER,
    R_ANKLE,
    R_HIP,
    R_KNEE,
    R_SHOULDER,
)

# Lower bounds of segment length against the shin (Winter's table: trunk/shank
# about 1.17, thigh/shank about 1.0), kept below the mean so they only rescue a
# calibration that has not yet seen the segment upright.
TORSO_PER_SHIN = 1.0
THIGH_PER_SHIN = 0.9


def _track_quantile(q: float, x: float, dt_s: float, p: float, rate_per_s: float) -> float:
    """One step of a streaming quantile estimate (stochastic approximation).

    Moves q up by ``rate*dt*p`` (relative) when x is above it and down by
    ``rate*dt*(1-p)`` when below, so it settles where a fraction p of recent
    samples lie below: robust to single outlier keypoints, O(1), no buffer.
    """
    if q <= 0.0:
        return x
    step = rate_per_s * min(dt_s, 0.25) * q
    return q + step * p if x > q else q - step * (1.0 - p)


@dataclass(frozen=True)
class Calibration:
    """Standing segment lengths in frame heights (0 = not seen yet).

    Each is a running high quantile of the segment's 2-D length: bending only
    shortens a segment on the image, so the upper part of the distribution is
    the standing length, and the quantile (not the maximum) ignores the odd
    misplaced keypoint.
    """

    torso: float = 0.0
    thigh: float = 0.0
    shin: float = 0.0
    t_s: float = 0.0

    def lengths(self) -> tuple[float, float, float]:
        """(torso, thigh, shin) with the anthropometric lower bounds applied."""
        return (max(self.torso, TORSO_PER_SHIN * self.shin),
                max(self.thigh, THIGH_PER_SHIN * self.shin), self.shin)

    def update(self, f: Features, t_s: float, quantile: float, rate_per_s: float) -> Calibration:
        dt = max(0.0, t_s - self.t_s)
        torso = _track_quantile(self.torso, f.torso_len, dt, quantile, rate_per_s)
        if not f.legs:
            return Calibration(torso, self.thigh, self.shin, t_s)
        return Calibration(
            torso,
            _track_quantile(self.thigh, f.thigh_len, dt, quantile, rate_per_s),
            _track_quantile(self.shin, f.shin_len, dt, quantile, rate_per_s),
            t_s,
        )


@dataclass(frozen=True)
class Features:
    """Geometry of one frame. Lengths in frame heights, angles in degrees."""

    legs: bool  # knees and ankles seen
    hip_x: float
    hip_y: float
    torso_len: float
    thigh_len: float
    shin_len: float
    torso_dy: float  # hip y - shoulder y (positive when upright)
    thigh_dy: float
    shin_dy: float
    torso_dx: float  # horizontal extents, for the plain 2-D angles
    thigh_dx: float
    shin_dx: float
    shoulder_w: float
    hip_w: float
    knee_w: float
    ankle_w: float
    hip_over_ankle: float  # hip x - ankle x
    hip_height: float  # ankle y - hip y

    def angles(self, cal: Calibration) -> tuple[float, float, float]:
        """(hinge_deg, thigh_deg, shin_deg): inclination from vertical of each segment.

        The larger of the foreshortening angle and the plain 2-D angle: a
        projection can only understate a tilt, so the 2-D angle is a floor
        that needs no calibration (and is the whole answer from the side).
        """
        torso, thigh, shin = cal.lengths()
        hinge = _incline(self.torso_dx, self.torso_dy, torso)
        if not self.legs:
            return hinge, 0.0, 0.0
        return (hinge, _incline(self.thigh_dx, self.thigh_dy, thigh),
                _incline(self.shin_dx, self.shin_dy, shin))


def _incline(dx: float, dy: float, length: float) -> float:
    plain = math.atan2(abs(dx), dy)
    if length <= 0:
        return math.degrees(plain)
    return math.degrees(max(plain, math.acos(max(-1.0, min(1.0, dy / length)))))


def _mid(pts: list, scores: list, a: int, b: int) -> tuple[float, float, float] | None:
    """Score-weighted midpoint of a left/right pair; one side alone if only one is seen."""
    sa, sb = scores[a], scores[b]
    ok_a, ok_b = sa >= MIN_SCORE, sb >= MIN_SCORE
    if ok_a and ok_b:
        w = sa + sb
        return ((pts[a][0] * sa + pts[b][0] * sb) / w, (pts[a][1] * sa + pts[b][1] * sb) / w,
                abs(pts[a][0] - pts[b][0]))
    if ok_a:
        return pts[a][0], pts[a][1], 0.0
    if ok_b:
        return pts[b][0], pts[b][1], 0.0
    return None


def measure(xy: np.ndarray, scores: np.ndarray) -> Features | None:
    """Features of one frame, or None when shoulders and hips are not both seen.

    xy: (17, 2) aspect-corrected (x, y) in frame heights; scores: (17,).
    """
    pts = xy.tolist()
    sc = scores.tolist()
    s = _mid(pts, sc, L_SHOULDER, R_SHOULDER)
    h = _mid(pts, sc, L_HIP, R_HIP)
    if s is None or h is None:
        return None
    k = _mid(pts, sc, L_KNEE, R_KNEE)
    a = _mid(pts, sc, L_ANKLE, R_ANKLE)
    legs = k is not None and a is not None
    if not legs:
        k = a = h
    return Features(
        legs=legs, hip_x=h[0], hip_y=h[1],
        torso_len=math.hypot(s[0] - h[0], s[1] - h[1]),
        thigh_len=math.hypot(k[0] - h[0], k[1] - h[1]),
        shin_len=math.hypot(a[0] - k[0], a[1] - k[1]),
        torso_dy=h[1] - s[1], thigh_dy=k[1] - h[1], shin_dy=a[1] - k[1],
        torso_dx=s[0] - h[0], thigh_dx=k[0] - h[0], shin_dx=a[0] - k[0],
        shoulder_w=s[2], hip_w=h[2], knee_w=k[2], ankle_w=a[2],
        hip_over_ankle=h[0] - a[0], hip_height=a[1] - h[1],
    )
