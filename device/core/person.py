"""The person in view: which way they face, the camera's view of them, whether
they are on their feet, walking, the same person as before, or seated.

The state of each is a frozen type of its own here (`Body`, `View`,
`Identity`, `Seat`; `perception.Perception` holds them). Each function reads
one frame's `Features` (or raw keypoints, for identity) against the part it
needs and returns values or a new part.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

import numpy as np

from device.core.features import FOOT_PER_SHIN, LEG_PER_SHOULDER, Calibration, Features
from device.core.filters import EDGE_MARGIN, MIN_SCORE
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
from device.core.state import CoachParams, evolve

VIEWS = ("front", "oblique", "side")
# The heel lies about a quarter of the foot's length behind the ankle joint
# (Winter, table 4.1 and figure 4.1). A centre of mass half a foot behind the
# ankle has left the feet by a further quarter foot (about 6 cm), past what the
# proxy's own errors (the load is not in it) explain: someone sits there. Weight
# on the heels (faults.COM_HEELS_FOOT) is the band in front of it.
COM_SEAT_FOOT = -0.5
# The seated posture: the trunk within this of vertical and the thighs at least
# this far from it (hips about level with the knees), where a seat holds a person.
SEATED_TRUNK_DEG = 30.0
SEATED_THIGH_DEG = 60.0
# Getting up from a seat, the trunk first flexes forward with the hips still on
# it (the flexion-momentum phase of sit-to-stand: Schenkman et al., Phys Ther
# 1990;70:638, trunk flexion of about 30-50 deg before the hips leave the
# seat). A forward lean of this much past the most upright seated posture,
# before the hips leave depth, is getting up off a seat; the dev clip of a real
# sit-to-stand leans 39 deg (10 to 49), a wall squat's back stays on the wall.
SEAT_RISE_LEAN_DEG = 20.0
FACING_KNOWN = 0.5  # |averaged facing| from which the direction is trusted


@dataclass(frozen=True)
class Reference:
    """The person's own standing posture, averaged over still standing frames."""

    standing_s: float = 0.0  # how long they have stood still so far
    shoulder_w: float = 0.0
    hip_w: float = 0.0
    knee_w: float = 0.0
    ankle_w: float = 0.0
    ankle_y: float = 0.0


@dataclass(frozen=True)
class Upright:
    """Where the hips stand over the feet, and the ankles' height, while the
    person is upright: the top of every rep, averaged (ref_tau_s). Each rep is
    judged against the top it began from (or, for a set that starts at depth,
    the top it reached), so no still standing calibration is needed. Frame
    heights; nan before the first."""

    shift: float = math.nan  # body_over_feet
    lr: float = 0.0  # left hip x - right hip x: the sign says where the person's left is
    hip_w: float = 0.0  # the hips' width as this view shows it
    ankle_y: float = math.nan  # the ankles' height on the image (the heels down)


@dataclass(frozen=True)
class Body:
    """What is learnt of the followed person's body (`forget` drops it): segment
    lengths, the standing reference, the top of the reps, which way they face and
    how fast their feet travel."""

    cal: Calibration = Calibration()
    ref: Reference = Reference()
    ref_t_s: float | None = None  # last frame the standing reference was updated
    top: Upright = Upright()  # the hips over the feet at the top of the reps
    facing: float = 0.0  # + facing +x, - facing -x (side view), averaged
    feet_avg: tuple[float, float] = (0.0, 0.0)
    feet_t_s: float | None = None  # last frame the feet were seen
    travel: float = 0.0  # smoothed speed of the feet, torso lengths per second
    moving_s: float = 0.0  # how long the feet have travelled faster than standing still


@dataclass(frozen=True)
class View:
    """The camera's view of the person: shoulder width over torso length and the
    left/right score asymmetry, averaged while upright, and the frames that voted
    front, oblique or side."""

    ratio: float = 0.0
    asym: float = 0.0
    votes: tuple[int, int, int] = (0, 0, 0)  # front, oblique, side frames
    # Before any vote, ratio and asym average every frame on the feet
    # (early_view) over this much time; None before the first such frame.
    early_s: float | None = None


@dataclass(frozen=True)
class Identity:
    """Who is followed, judged on raw keypoints (`identity`): the raw midpoints
    of the hips, knees and ankles of the last frame of this person (None where
    unseen), and of someone else seen instead, since when."""

    anchor_pts: tuple | None = None
    anchor_t_s: float | None = None
    other_pts: tuple | None = None
    other_since_s: float | None = None


@dataclass(frozen=True)
class Seat:
    """What a seat does to a person at depth (`seat_times`)."""

    behind_s: float = 0.0  # how long the centre of mass has stayed behind the heels at depth
    rest_s: float = 0.0  # how long a seated posture has been held still
    lean: float = math.nan  # the most upright trunk of the seated posture at this depth
    rose: bool = False  # got up off a seat: the trunk leant forward from it


NO_SEAT = Seat()  # not at depth


# Shoulder width over trunk length facing the camera. From body-segment
# proportions: the trunk (hip joint to shoulder joint) is 0.288 of body height
# (Winter, Biomechanics and Motor Control of Human Movement, figure 4.1: 0.818 -
# 0.530) and the biacromial width 0.259 (Drillis & Contini 1966, as Winter
# reproduces them): 0.90; MoveNet's shoulder keypoints are the joint centres,
# inside the acromia, and measure 0.76-0.86 on the front-view dev clips. An
# error of 0.05 in it moves a 45-degree estimate by about 4 degrees.
FRONT_RATIO = 0.8


def classify_view(ratio: float, asym: float) -> str:
    """Front, oblique or side from shoulder width over torso length and L/R asymmetry.

    MoveNet's shoulder keypoints (joint centres) span about 0.8 torso lengths
    facing the camera (0.76-0.86 measured on the front-view dev clips), and
    that width shrinks with the cosine of the turn: above 0.65 the person is
    within about 35 deg of facing the camera (front), below 0.3 turned more
    than about 68 deg (side). A far side seen much less surely also means side.
    """
    if ratio > FRONT_MIN_RATIO and asym < 0.15:
        return "front"
    if ratio < SIDE_MAX_RATIO or asym > 0.3:
        return "side"
    return "oblique"


FRONT_MIN_RATIO = 0.65
SIDE_MAX_RATIO = 0.3


def view_deg(view: str) -> tuple[float, float]:
    """The camera's angles to the person, degrees, that `classify_view` calls
    `view` (by the shoulders' width alone)."""
    front = math.degrees(math.acos(FRONT_MIN_RATIO / FRONT_RATIO))
    side = math.degrees(math.acos(SIDE_MAX_RATIO / FRONT_RATIO))
    return {"front": (0.0, front), "oblique": (front, side), "side": (side, 90.0)}[view]


def window_view(v: View) -> str:
    return classify_view(v.ratio, v.asym) if sum(v.votes) else "unknown"


def angle_view(v: View) -> str:
    """The view the angles are read for: the view once the person has been seen
    standing (`window_view`); before that, "side" where the early estimate
    (`early_view`) says so, else "unknown" (angles through the calibration)."""
    if sum(v.votes):
        return window_view(v)
    if v.early_s is not None and classify_view(v.ratio, 0.0) == "side":
        return "side"
    return "unknown"


def early_view(v: View, f: Features, cal: Calibration, dt_s: float) -> View:
    """Before the person is first seen standing (a set that starts at depth), the
    view's shoulder width over trunk length, a time-weighted mean of every frame
    on the feet so far (no decay: a first frame does not outweigh the rest); the
    first standing frame starts the view over (`observe_standing`).

    Only its "side" is acted on, and only by that width (`angle_view`): a hinge
    or a squat moves the trunk forward, which leaves the shoulder line as it is
    and can only shorten the trunk on the image, so bent over the ratio can only
    be larger than it is standing. A side reading while bent is a side view.
    """
    if sum(v.votes):
        return v
    ratio = f.shoulder_w / max(cal.lengths()[0], 1e-6)
    if v.early_s is None:
        return evolve(v, ratio=ratio, asym=f.asym, early_s=0.0)
    dt = min(max(dt_s, 0.0), 0.1)  # a gap weighs no more than a few frames
    k = dt / (v.early_s + dt) if v.early_s + dt > 0 else 1.0
    return evolve(v, ratio=v.ratio + k * (ratio - v.ratio), asym=v.asym + k * (f.asym - v.asym),
                  early_s=v.early_s + dt)


def dominant_view(votes: tuple[int, int, int]) -> str:
    return VIEWS[int(np.argmax(votes))] if sum(votes) else "unknown"


def to_xy(rows: list, aspect: float, single: bool) -> list[tuple[float, float]]:
    """17 (y, x, score) rows, normalized -> 17 (x, y) in frame heights (aspect =
    width / height).

    single: the keypoints are float32 (the model's), and x is scaled in float32,
    as numpy scales a float32 array: the product of two float32 values is exact
    in a double, so rounding it once to float32 (`array`'s "f") gives numpy's
    product bit for bit (tests/test_core_input.py checks it).
    """
    if single:
        a = array("f", (aspect,))[0]
        xs = array("f", [row[1] * a for row in rows])
        return [(x, row[0]) for x, row in zip(xs, rows, strict=True)]
    return [(row[1] * aspect, row[0]) for row in rows]


def forget(b: Body, t_s: float) -> Body:
    """Someone new (or nobody): drop what was learnt about the last person's body.

    The view votes stay until someone new appears, so a report still names the
    view of the person who just left."""
    return evolve(b, cal=Calibration(t_s=t_s), ref=Reference(), top=Upright(), facing=0.0,
                  travel=0.0, moving_s=0.0, feet_t_s=None)


def observe_top(top: Upright, f: Features, dt_s: float, p: CoachParams) -> Upright:
    """An upright frame (the top of a rep, or standing) folded into the average of
    where the hips stand over the feet (`Upright`)."""
    if not f.legs or f.hip_w <= 0 or f.hips_lr == 0:
        return top
    if math.isnan(top.shift):
        return Upright(body_over_feet(f), f.hips_lr, f.hip_w, f.ankle_y)
    k = max(dt_s, 0.0) / (p.ref_tau_s + max(dt_s, 0.0))
    return Upright(top.shift + k * (body_over_feet(f) - top.shift),
                   top.lr + k * (f.hips_lr - top.lr), top.hip_w + k * (f.hip_w - top.hip_w),
                   top.ankle_y + k * (f.ankle_y - top.ankle_y))


def body_over_feet(f: Features) -> float:
    """How far sideways the body stands over the feet: the midpoint of the hips and
    the shoulders less the ankles' midpoint, frame heights. A shift of the hips
    over one foot carries the trunk with it; the two midpoints together halve the
    hips' keypoint noise (a hinge's shoulders move toward a front camera, not
    sideways)."""
    return f.hip_x + f.torso_dx / 2 - f.ankle_x


def hip_shift(rep_top: Upright | None, top: Upright, shift_sum: float, n: int) -> float:
    """The deep part's mean shift of the hips over the feet from the top the rep
    began from (or, when that is unknown, the top it reached), in that top's hip
    widths, + toward the person's left; nan where it cannot be measured."""
    ref = rep_top if rep_top is not None and not math.isnan(rep_top.shift) else top
    if n == 0 or math.isnan(ref.shift) or ref.hip_w <= 0:
        return math.nan
    return math.copysign(1.0, ref.lr) * (shift_sum / n - ref.shift) / ref.hip_w


def facing_sign(facing: float) -> float | None:
    """+1 facing +x, -1 facing -x, None while not yet known (seen upright for ~0.2 s)."""
    if abs(facing) < FACING_KNOWN:
        return None
    return 1.0 if facing > 0 else -1.0


def on_feet(f: Features, cal: Calibration, params: CoachParams) -> bool:
    """Someone on their feet: trunk not past max_hinge_deg, hips well above the ankles.

    "Well above" is a fraction of the leg's length, taken as the largest of
    the calibrated length, the length on this frame, and a lower bound from
    the shoulders' width. The last is what tells a plank or a push-up seen
    head-on: the calibration is then learnt from legs that point at the
    camera, and only the shoulders still show the body's true size.
    """
    if f.torso_dy < -f.torso_len * math.cos(math.radians(180.0 - params.max_hinge_deg)):
        return False
    if not f.legs:  # a hinge cannot be judged without the legs: step back into view
        return False
    _, thigh, shin = cal.lengths()
    leg = max(thigh + shin, f.thigh_len + f.shin_len, LEG_PER_SHOULDER * f.shoulder_w)
    return (f.ankle_y - f.hip_y) > params.upright_leg_frac * leg


def identity(s: Identity, cal: Calibration, xy: list, valid: list, t_s: float,
             p: CoachParams) -> tuple[str, Identity]:
    """Whether this frame shows the person followed: "same", "other" (skip the
    frame) or "switched" (someone else, seen for ``switch_s``).

    Judged on raw keypoints, before any filtering: the filter would halve a
    jump. The single-pose model locking on to someone else moves the whole
    skeleton at once, hips, knees and feet, further than a body moves them:
    ``jump_torso`` torso lengths beyond what ``body_speed_torso_per_s`` covers
    since the followed person was last seen. One part alone is not enough: a
    fast pull moves the hips a third of a torso between frames at 15 fps while
    the feet stay planted, and plates or a bar hide the ankles so that they
    wander by as much while the hips stay (measured on the dev clips).
    Someone else for less than ``switch_s`` is flicker: their frames are
    skipped and the followed person kept.
    """
    if not (valid[L_HIP] and valid[R_HIP] and valid[L_SHOULDER] and valid[R_SHOULDER]):
        return "same", s
    pts = _parts(xy, valid)
    sx = (xy[L_SHOULDER][0] + xy[R_SHOULDER][0]) / 2 - pts[0][0]
    sy = (xy[L_SHOULDER][1] + xy[R_SHOULDER][1]) / 2 - pts[0][1]
    torso = max(cal.lengths()[0], math.hypot(sx, sy), 1e-6)
    here = evolve(s, anchor_pts=pts, anchor_t_s=t_s, other_pts=None, other_since_s=None)
    if s.anchor_pts is None or s.anchor_t_s is None:
        return "same", here
    # While someone else is seen, the followed person is judged as of the first
    # such frame: their reach must not grow with the frames skipped since.
    since = s.other_since_s if s.other_since_s is not None else t_s
    dt = max(since - s.anchor_t_s, 0.0)
    if _moved(s.anchor_pts, pts, torso * (p.jump_torso + p.body_speed_torso_per_s * dt)):
        if s.other_pts is not None and s.other_since_s is not None and \
                not _moved(s.other_pts, pts, torso * p.jump_torso):
            # Still the one seen instead: a switch once they have stayed for switch_s.
            if t_s - s.other_since_s < p.switch_s:
                return "other", evolve(s, other_pts=pts)
            return "switched", here
        return "other", evolve(s, other_pts=pts, other_since_s=t_s)
    return "same", here


Parts = tuple[tuple[float, float] | None, ...]  # midpoints of hips, knees, feet


def _parts(xy: list, valid: list) -> Parts:
    """Midpoints of the hips, the knees and the ankles, None where a pair is not both seen."""
    out = []
    for left, right in ((L_HIP, R_HIP), (L_KNEE, R_KNEE), (L_ANKLE, R_ANKLE)):
        if valid[left] and valid[right]:
            out.append(((xy[left][0] + xy[right][0]) / 2, (xy[left][1] + xy[right][1]) / 2))
        else:
            out.append(None)
    return tuple(out)


def _moved(a: Parts, b: Parts, reach: float) -> bool:
    """Every part seen in both frames is further than `reach` from where it was
    (a part unseen in either is no evidence either way)."""
    for pa, pb in zip(a, b, strict=True):
        if pa is not None and pb is not None and \
                math.hypot(pb[0] - pa[0], pb[1] - pa[1]) <= reach:
            return False
    return True


def feet_travel(body: Body, f: Features, t_s: float,
                params: CoachParams) -> tuple[tuple[float, float], float]:
    """Where the feet have been lately and how fast they travel.

    Speed is the lag between the ankles and an exponential average of their
    position (time constant ``travel_tau_s``) divided by that constant: for a
    steady walk it equals the walking speed, and unlike a frame-to-frame
    difference it does not grow with keypoint jitter at high frame rates. The
    ankles, not the hips: they stay planted in a hinge and move in a walk.
    Units: torso lengths per second.
    """
    torso = max(body.cal.lengths()[0], f.torso_len, 1e-6)
    x, y = f.ankle_x, f.ankle_y
    if body.feet_t_s is None:
        return (x, y), 0.0
    k = (t_s - body.feet_t_s) / (params.travel_tau_s + t_s - body.feet_t_s)
    avg = (body.feet_avg[0] + k * (x - body.feet_avg[0]),
           body.feet_avg[1] + k * (y - body.feet_avg[1]))
    return avg, math.hypot(x - avg[0], y - avg[1]) / torso / params.travel_tau_s


def seat_times(s: Seat, v: View, torso_ref: float, f: Features, hip: float, trunk: float,
               thigh: float, travel: float, cal: Calibration, facing: float, dt_s: float,
               p: CoachParams) -> Seat:
    """What a seat does to a person at depth (behind_s, rest_s, lean, rose).

    A seat is a body at rest on something, judged by what the body does. The
    seated posture (the trunk within SEATED_TRUNK_DEG of vertical, the thighs at
    least SEATED_THIGH_DEG from it) is shared by a wall squat and a deep squat;
    what a seat adds is that the body rests on it, or gets up off it:

    - resting: the seated posture held still for `seated_rest_s` (rest_s);
    - getting up: from the most upright the seated posture was (seat_lean), the
      trunk leans forward by SEAT_RISE_LEAN_DEG before the hips leave depth, as
      everyone getting up from a chair does (rose). A wall squat rises with the
      back on the wall; a hinge never had the upright trunk.

    Where the way the person faces and a side or oblique view show the fore-aft
    centre of mass, the posture counts only with it behind the heels for
    `supported_s` (behind_s, the support). From the front the centre of mass is
    unseen: only resting is watched, since a squat's rise leans forward too.
    torso_ref: the trunk's length when the rep began (0: not known).
    """
    if hip < p.depth_deg:
        return NO_SEAT
    dt = max(dt_s, 0.0)
    sign = facing_sign(facing)
    torso, _, shin = cal.lengths()
    view = window_view(v) if sum(v.votes) else classify_view(
        f.shoulder_w / max(torso, 1e-6), f.asym)
    torso_ref = torso_ref if torso_ref > 0 else torso
    upright = f.torso_dy >= math.cos(math.radians(SEATED_TRUNK_DEG)) * torso_ref
    posture = upright and thigh > SEATED_THIGH_DEG
    behind = 0.0
    lean = s.lean
    if sign is not None and shin > 0 and view != "front":
        com = sign * (f.com_x - f.ankle_x) / (FOOT_PER_SHIN * shin)
        behind = s.behind_s + dt if com < COM_SEAT_FOOT else 0.0
        posture = posture and behind >= p.supported_s
        if posture:  # getting up is watched only where the support is seen
            lean = trunk if math.isnan(lean) else min(lean, trunk)
    rest = s.rest_s + dt if posture and travel < p.still_torso_per_s else 0.0
    rose = not math.isnan(lean) and trunk >= lean + SEAT_RISE_LEAN_DEG
    return evolve(s, behind_s=behind, rest_s=rest, lean=lean, rose=rose)


def framing(keypoints: np.ndarray) -> str | None:
    """What to tell someone the camera sees only in part: "move_back" (cut off
    at the bottom or the top), "step_left" or "step_right" (cut off at a side;
    the camera faces the person, so the picture's left edge is their right),
    or None (the whole body is in view, or too little of anyone is seen).
    keypoints: (17, 3) raw (y, x, score), normalized to the frame."""
    body = keypoints[L_SHOULDER:]
    sure = body[:, 2] >= MIN_SCORE
    if sure.sum() < 4:
        return None
    y, x = body[sure, 0], body[sure, 1]
    feet = sure[L_ANKLE - L_SHOULDER] or sure[R_ANKLE - L_SHOULDER]
    if (y > 1 - EDGE_MARGIN).any() or (y < EDGE_MARGIN).any() or not feet:
        return "move_back"
    if (x < EDGE_MARGIN).any():
        return "step_left"
    if (x > 1 - EDGE_MARGIN).any():
        return "step_right"
    return None


def is_seated(s: Seat, p: CoachParams) -> bool:
    """On a seat (`seat_times`): rested on it, or got up off it."""
    return s.rest_s >= p.seated_rest_s or s.rose


def trunk_lean(f: Features, sign: float) -> float:
    """Signed trunk lean from vertical, degrees, + forward (from the side, or at an
    angle once corrected: `Features.sagittal_of`); sign from `facing_sign`."""
    _, dx, dy, _ = f.sagittal_of()
    return math.degrees(math.atan2(sign * dx, dy))


def camera_deg(v: View) -> float | None:
    """The camera's angle to the person, degrees (0 facing it, 90 from the side),
    from the shoulders' width over the trunk's length while standing: the width
    shrinks with the cosine of the turn. Facing the camera the ratio is
    FRONT_RATIO. None before the person has been seen standing."""
    if not sum(v.votes):
        return None
    return math.degrees(math.acos(max(0.0, min(1.0, v.ratio / FRONT_RATIO))))


def angle_corrected(deg: float | None, p: CoachParams) -> bool:
    """Whether the side-view measures are put back to their sagittal size at
    this camera angle (CoachParams.sagittal_deg; perception.at_an_angle)."""
    return deg is not None and p.sagittal_deg[0] <= deg <= p.sagittal_deg[1]


def signed_lean(v: View, ref: Reference, f: Features, hinge: float, facing: float) -> float:
    """Trunk lean, degrees, + forward and - backward, where the view can tell.

    From the side, the trunk's direction against the way the person faces.
    From the front the foreshortening gives only the size of the lean; its
    sign comes from the shoulders' width: leaning toward the camera brings
    them closer (wider on the image), leaning back takes them away.
    """
    view = window_view(v)
    sign = facing_sign(facing)
    if view != "front" and sign is not None:
        return trunk_lean(f, sign)
    if view == "front" and ref.shoulder_w > 0:
        return hinge if f.shoulder_w >= ref.shoulder_w else -hinge
    return hinge


def observe_standing(v: View, b: Body, f: Features, t_s: float, p: CoachParams,
                     hold_ref: bool) -> tuple[View, Body]:
    """Upright and still: update the view estimate, and the standing reference
    unless `hold_ref` (a set under way or a lockout watched: a short lockout
    never becomes the reference)."""
    # Time standing since the last such frame, capped so a gap does not count as standing.
    dt = min(max(t_s - b.ref_t_s, 0.0), 0.1) if b.ref_t_s is not None else 0.0
    torso = max(b.cal.lengths()[0], 1e-6)
    kv = dt / (p.view_tau_s + dt)
    ratio = v.ratio + kv * (f.shoulder_w / torso - v.ratio) if sum(v.votes) \
        else f.shoulder_w / torso
    asym = v.asym + kv * (f.asym - v.asym) if sum(v.votes) else f.asym
    votes = list(v.votes)
    votes[VIEWS.index(classify_view(ratio, asym))] += 1
    view = evolve(v, ratio=ratio, asym=asym, votes=(votes[0], votes[1], votes[2]))
    if hold_ref:
        return view, evolve(b, ref_t_s=t_s)
    r = b.ref
    k = dt / (p.ref_tau_s + dt) if r.standing_s > 0 else 1.0
    ref = Reference(
        standing_s=r.standing_s + dt,
        shoulder_w=r.shoulder_w + k * (f.shoulder_w - r.shoulder_w),
        hip_w=r.hip_w + k * (f.hip_w - r.hip_w),
        knee_w=r.knee_w + k * (f.knee_w - r.knee_w),
        ankle_w=r.ankle_w + k * (f.ankle_w - r.ankle_w),
        ankle_y=r.ankle_y + k * (f.ankle_y - r.ankle_y),
    )
    return view, evolve(b, ref=ref, ref_t_s=t_s)
