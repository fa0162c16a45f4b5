"""Per-frame body geometry from gated, filtered keypoints, in any camera view.

Coordinates are aspect-corrected: x and y in frame heights, y pointing down,
so angles are true angles whatever the frame's shape.

Segment inclinations come from foreshortening, which works in every view:
under (near-)orthographic projection a segment of true length L tilted by an
angle a from vertical, in any direction, shows a vertical extent of L cos(a).
So ``a = arccos(dy / L)``; from the side this equals the plain 2-D angle, and
from the front it recovers a forward lean that the 2-D angle cannot see. L
comes from calibration (`Calibration`), bounded below by anthropometric ratios
to the shin, which hardly tilts in a hinge (Winter, Biomechanics and Motor
Control of Human Movement, 4th ed., table 4.1: trunk about 0.29, thigh 0.245
and shank 0.246 of body height).

What each reported angle is, and how it is estimated per view (the analysis
report's reps and the snapshot carry these; `reportable` applies the ranges):

- ``hinge_deg``: the trunk's (hip-to-shoulder line's) inclination from
  vertical. Side: the plain 2-D angle, a measurement. Front and oblique: the
  larger of the 2-D angle and the foreshortening angle against the calibrated
  trunk length, an estimate (a 3% length error alone moves it up to 14 deg
  near vertical, hence FORESHORTENING_SLACK; about +-10 deg at a 45-70 deg lean).
- ``hip_deg``: hip flexion, the angle between the trunk and the thigh lines
  (trunk inclination plus thigh inclination; pelvic and lumbar motion are
  in it, the keypoints have no pelvis). Side: 2-D; front and oblique:
  foreshortening, an estimate.
- ``knee_deg``: knee flexion, 180 minus the hip-knee-ankle angle. Side: the
  2-D angle of the surer leg. Front and oblique: the thigh's plus the
  shin's inclination by foreshortening, an estimate; a thigh foreshortened to
  nothing (pointing at the camera) reads 180 or more, which no knee does.

A value past what the body can do (PHYSIOLOGICAL_MAX) or from keypoints seen
too poorly is reported as null, with the reason, never as a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from device.core.filters import MIN_SCORE
from device.core.skeleton import (
    L_ANKLE,
    L_EAR,
    L_ELBOW,
    L_HIP,
    L_KNEE,
    L_SHOULDER,
    L_WRIST,
    NOSE,
    R_ANKLE,
    R_EAR,
    R_HIP,
    R_KNEE,
    R_SHOULDER,
    R_WRIST,
)

# Lower bounds of segment length against the shin (Winter: trunk/shank about
# 1.17, thigh/shank about 1.0), kept below the mean so they only rescue a
# calibration that has not yet seen the segment upright.
TORSO_PER_SHIN = 1.0
THIGH_PER_SHIN = 0.9
# Relative length error below which foreshortening cannot tell a tilt (see _incline).
FORESHORTENING_SLACK = 0.03
# Leg length (hip joint to ankle) over the shoulders' joint-centre width, a lower
# bound: Winter's figure 4.1 puts the hip joint at 0.530 and the ankle at 0.039 of
# body height (leg 0.491) and the shoulder joints about 0.23 apart (0.8 of the
# 0.288 trunk, as MoveNet's shoulders measure facing the camera): about 2.1.
# Kept below it for broad shoulders, short legs and a camera close to the chest.
LEG_PER_SHOULDER = 1.5
# Foot length over shank length (Winter: foot 0.152, shank 0.246 of height).
FOOT_PER_SHIN = 0.62
# Segment mass fractions (Winter, table 4.1): head and neck, trunk, both arms,
# both thighs, both legs, both feet. They weight the centre-of-mass proxy.
MASS_HEAD, MASS_TRUNK, MASS_ARMS = 0.081, 0.497, 0.100
MASS_THIGHS, MASS_LEGS, MASS_FEET = 0.200, 0.093, 0.029
# The most each reported angle can be, in degrees. Knee flexion: 160, the
# deepest squats measured (Hemmerich et al., Clin Biomech 2006;21:1002: 157 deg
# in full squatting; active range 0-135 by the AAOS norms). Hip flexion here
# includes the pelvis and the lower back (no pelvis keypoints): 150, the AAOS
# 120 deg of the hip joint plus about 30 of pelvic tilt in a deep squat. Trunk
# inclination: 120, past which the coach takes the person to be lying down
# (CoachParams.max_hinge_deg).
PHYSIOLOGICAL_MAX = {"hinge_deg": 120.0, "hip_deg": 150.0, "knee_deg": 160.0}

# Left-side keypoints of the limbs and trunk; each right twin is the next index.
_LEFT = (L_SHOULDER, L_ELBOW, L_WRIST, L_HIP, L_KNEE, L_ANKLE)
_RIGHT = tuple(i + 1 for i in _LEFT)


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
    t_s: float | None = None  # the last frame folded in; None before the first

    def lengths(self) -> tuple[float, float, float]:
        """(torso, thigh, shin) with the anthropometric lower bounds applied."""
        return (max(self.torso, TORSO_PER_SHIN * self.shin),
                max(self.thigh, THIGH_PER_SHIN * self.shin), self.shin)

    def update(self, f: Features, t_s: float, quantile: float, rate_per_s: float) -> Calibration:
        dt = 0.0 if self.t_s is None else max(0.0, t_s - self.t_s)
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
    ankle_x: float
    ankle_y: float
    torso_len: float
    thigh_len: float
    shin_len: float
    torso_dx: float  # shoulder - hip
    torso_dy: float  # hip y - shoulder y (positive when upright)
    thigh_dx: float
    thigh_dy: float
    shin_dx: float
    shin_dy: float
    shoulder_w: float  # horizontal separations of the left/right pairs
    hip_w: float
    knee_w: float
    ankle_w: float
    knee3_deg: float  # knee flexion from hip-knee-ankle on the surer side (nan if unseen)
    neck_deg: float  # head line against the trunk line, signed for a +x facing (nan if unseen)
    nose_ahead: float  # nose x - ear x: which way the person faces (nan if unseen)
    com_x: float  # centre-of-mass proxy x
    hips_lr: float  # left hip x - right hip x: which way the person's left is (0 if unseen)
    asym: float  # |left - right| mean keypoint score: high in a side view
    # The sagittal measures the side-view faults read: the head line against the
    # trunk (as neck_deg), the trunk's dx and dy (as torso_dx, torso_dy) and the
    # centre of mass ahead of the ankles (com_x - ankle_x). As measured here from
    # the side; at an angle, `with_sagittal` puts them back to their size in the
    # sagittal plane. nan: not set (`sagittal_of` then gives the plain ones).
    sag_neck: float = math.nan
    sag_dx: float = math.nan
    sag_dy: float = math.nan
    sag_com: float = math.nan
    sag_ok: bool = True  # False at an angle that could not be corrected: not judged

    def sagittal_of(self) -> tuple[float, float, float, float]:
        """(neck_deg, trunk dx, trunk dy, com - ankle x), corrected where set."""
        if math.isnan(self.sag_dx):
            return self.neck_deg, self.torso_dx, self.torso_dy, self.com_x - self.ankle_x
        return self.sag_neck, self.sag_dx, self.sag_dy, self.sag_com

    @property
    def shoulder_height(self) -> float:
        """How high the shoulders stand above the ankles, frame heights: it falls in
        every hinge or squat and rises again at its top, whatever the calibration."""
        return self.ankle_y - self.hip_y + self.torso_dy

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


# Why a reported angle is what it is (`reportable`; words in device/words.py).
ANGLE_WHY = ("not_seen", "poorly_seen", "out_of_range", "measured", "foreshortened")


def reportable(name: str, value: float, view: str,
               confidence: float | None = None) -> tuple[float | None, str]:
    """(value or None, a reason id of ANGLE_WHY) for a reported angle: how it was
    got, or why there is none."""
    if not math.isfinite(value):
        return None, "not_seen"
    if confidence is not None and confidence < MIN_SCORE:
        return None, "poorly_seen"
    if not -5.0 <= value <= PHYSIOLOGICAL_MAX[name]:
        return None, "out_of_range"
    return round(max(value, 0.0), 1), "measured" if view == "side" else "foreshortened"


def _incline(dx: float, dy: float, length: float) -> float:
    """Inclination from vertical, degrees: max of the 2-D angle and the foreshortening angle.

    Calibrated lengths are known to a few percent (the quantile tracker
    hovers about 2-3% above a steady length), and arccos is steepest near 1:
    a 3% length error alone reads as 14 deg. So a segment within
    FORESHORTENING_SLACK of its length counts as vertical; at 70 deg the slack
    changes the angle by under 1 deg.
    """
    plain = math.atan2(abs(dx), dy)
    if length <= 0:
        return math.degrees(plain)
    ratio = dy / (length * (1.0 - FORESHORTENING_SLACK))
    return math.degrees(max(plain, math.acos(max(-1.0, min(1.0, ratio)))))


def _mid(pts: list, sc: list, a: int, b: int) -> tuple[float, float, float] | None:
    """Score-weighted midpoint of a left/right pair and its horizontal separation."""
    sa, sb = sc[a], sc[b]
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


def sagittal(pts: list, sc: list, stretch: float) -> tuple[float, float, float, float] | None:
    """At an angle: (neck_deg, trunk dx, trunk dy, com - ankle x) from midline points
    only, the midpoints of left/right pairs (a turn moves a pair's two points
    sideways in opposite ways, and their midpoint not at all), with every x
    distance from the ankles stretched by `stretch` (1 / sin of the camera's angle
    to the person) back to its size in the sagittal plane. The midpoints are
    plain means: a score-weighted one leans toward the nearer side. None when a
    shoulder, hip or ankle pair is not seen whole."""
    def mid(a: int) -> tuple[float, float] | None:
        if min(sc[a], sc[a + 1]) < MIN_SCORE:
            return None
        return (pts[a][0] + pts[a + 1][0]) / 2, (pts[a][1] + pts[a + 1][1]) / 2

    s, h, a = mid(L_SHOULDER), mid(L_HIP), mid(L_ANKLE)
    if s is None or h is None or a is None:
        return None
    ax = a[0]

    def x(p: tuple[float, float]) -> float:
        return ax + (p[0] - ax) * stretch

    ear, wrist, knee = mid(L_EAR), mid(L_WRIST), mid(L_KNEE)
    tx, ty = x(s) - x(h), s[1] - h[1]
    neck = math.nan if ear is None else _head_line(tx, ty, x(ear) - x(s), ear[1] - s[1])
    head_x = x(ear) if ear else x(s)
    arm_x = (x(s) + x(wrist)) / 2 if wrist else x(s)
    knee_x = x(knee) if knee else (x(h) + ax) / 2
    return neck, tx, -ty, _com_x(head_x, x(s), arm_x, x(h), knee_x, ax) - ax


def _com_x(head_x: float, sho_x: float, arm_x: float, hip_x: float, knee_x: float,
           ankle_x: float) -> float:
    """The centre-of-mass proxy's x: Winter's segment masses over the keypoints."""
    return (MASS_HEAD * head_x + MASS_TRUNK * (sho_x + hip_x) / 2 + MASS_ARMS * arm_x
            + MASS_THIGHS * (hip_x + knee_x) / 2 + MASS_LEGS * (knee_x + ankle_x) / 2
            + MASS_FEET * ankle_x)


def _head_line(tx: float, ty: float, nx: float, ny: float) -> float:
    """The head line (shoulder -> ear: nx, ny) against the trunk line (hip ->
    shoulder: tx, ty), degrees; positive when the head turns from the trunk line
    toward +x-and-down, i.e. flexion for someone facing +x (y points down)."""
    return math.degrees(math.atan2(tx * ny - ty * nx, tx * nx + ty * ny))


def _angle_at(p: list, q: list, r: list) -> float:
    """Interior angle at q of the path p-q-r, degrees."""
    ax, ay, bx, by = p[0] - q[0], p[1] - q[1], r[0] - q[0], r[1] - q[1]
    return math.degrees(math.atan2(abs(ax * by - ay * bx), ax * bx + ay * by))


def _surer_side(sc: list, idx: tuple[int, ...]) -> int:
    """0 for the left chain, 1 for the right (COCO puts each right twin next), whichever
    is seen more surely."""
    left = min(sc[i] for i in idx)
    right = min(sc[i + 1] for i in idx)
    return 0 if left >= right else 1


def measure(pts: list, sc: list) -> Features | None:
    """Features of one frame, or None when shoulders and hips are not both seen.

    pts: 17 aspect-corrected (x, y) in frame heights; sc: 17 scores.
    """
    s = _mid(pts, sc, L_SHOULDER, R_SHOULDER)
    h = _mid(pts, sc, L_HIP, R_HIP)
    if s is None or h is None:
        return None
    k = _mid(pts, sc, L_KNEE, R_KNEE)
    a = _mid(pts, sc, L_ANKLE, R_ANKLE)
    legs = k is not None and a is not None
    if not legs:
        k = a = h
    nan = math.nan
    # Knee angle from the side: the surer hip-knee-ankle chain.
    side = _surer_side(sc, (L_HIP, L_KNEE, L_ANKLE))
    hip_i, knee_i, ankle_i = L_HIP + side, L_KNEE + side, L_ANKLE + side
    knee3 = (180.0 - _angle_at(pts[hip_i], pts[knee_i], pts[ankle_i])
             if min(sc[hip_i], sc[knee_i], sc[ankle_i]) >= MIN_SCORE else nan)
    # Head line: shoulder -> ear on the surer side, against hip -> shoulder.
    side = _surer_side(sc, (L_EAR, L_SHOULDER, L_HIP))
    ear_i, sho_i, hip_j = L_EAR + side, L_SHOULDER + side, L_HIP + side
    neck = nan
    nose_ahead = nan
    if min(sc[ear_i], sc[sho_i], sc[hip_j]) >= MIN_SCORE:
        tx, ty = pts[sho_i][0] - pts[hip_j][0], pts[sho_i][1] - pts[hip_j][1]
        neck = _head_line(tx, ty, pts[ear_i][0] - pts[sho_i][0], pts[ear_i][1] - pts[sho_i][1])
        if sc[NOSE] >= MIN_SCORE:
            nose_ahead = pts[NOSE][0] - pts[ear_i][0]
    ear = _mid(pts, sc, L_EAR, R_EAR)
    head_x = ear[0] if ear else s[0]
    wrist = _mid(pts, sc, L_WRIST, R_WRIST)
    arm_x = (s[0] + wrist[0]) / 2 if wrist else s[0]
    com_x = _com_x(head_x, s[0], arm_x, h[0], k[0], a[0])
    asym = abs(sum(sc[i] for i in _LEFT) - sum(sc[i] for i in _RIGHT)) / len(_LEFT)
    hips_lr = (pts[L_HIP][0] - pts[R_HIP][0]
               if min(sc[L_HIP], sc[R_HIP]) >= MIN_SCORE else 0.0)
    return Features(
        legs=legs, hip_x=h[0], hip_y=h[1], ankle_x=a[0], ankle_y=a[1],
        torso_len=math.hypot(s[0] - h[0], s[1] - h[1]),
        thigh_len=math.hypot(k[0] - h[0], k[1] - h[1]),
        shin_len=math.hypot(a[0] - k[0], a[1] - k[1]),
        torso_dx=s[0] - h[0], torso_dy=h[1] - s[1],
        thigh_dx=k[0] - h[0], thigh_dy=k[1] - h[1],
        shin_dx=a[0] - k[0], shin_dy=a[1] - k[1],
        shoulder_w=s[2], hip_w=h[2], knee_w=k[2], ankle_w=a[2],
        knee3_deg=knee3, neck_deg=neck, nose_ahead=nose_ahead, com_x=com_x, hips_lr=hips_lr,
        asym=asym,
    )
