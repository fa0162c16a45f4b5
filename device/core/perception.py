"""Perception: one frame's keypoints -> what is seen of the person followed.

The filter (`filters`), identity, body measures, view and seat (`person`), with
no rep logic in them: `identify` says whether the frame shows the person
followed, `perceive` measures them. What the coach decides from it is
`reps.decide`'s. The state is `Perception`, a part of `reps.CoachState`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from device.core.features import Calibration, Features, measure, sagittal
from device.core.filters import Filtered, filter_frame, off_the_knee, seen
from device.core.person import (
    Body,
    Identity,
    Seat,
    View,
    angle_corrected,
    angle_view,
    camera_deg,
    early_view,
    feet_travel,
    forget,
    framing,
    identity,
    observe_standing,
    observe_top,
    on_feet,
    seat_times,
    signed_lean,
    to_xy,
)
from device.core.skeleton import L_SHOULDER
from device.core.state import CoachParams, evolve


@dataclass(frozen=True)
class Perception:
    """What is known of the person in view, frame to frame. Angles in degrees."""

    keypoints: Filtered = Filtered()
    identity: Identity = Identity()
    body: Body = Body()
    view: View = View()
    seat: Seat = Seat()
    # The last frame's measures (the snapshot's):
    hinge_deg: float = 0.0
    hip_deg: float = 0.0
    knee_deg: float = 0.0
    lean_deg: float = 0.0  # signed trunk lean, + forward
    hip_drop: float = 0.0  # hips lowered, in leg lengths (0 standing)
    framing: str | None = None  # person.framing: why the body cannot be measured
    last_seen_s: float = -math.inf


class Raw(NamedTuple):
    """One frame's keypoints as read before the filter."""

    keypoints: np.ndarray  # (17, 3) (y, x, score), normalized to the frame
    rows: list  # the same as plain floats
    xy: list  # 17 (x, y) in frame heights
    valid: list  # 17 bools: seen (filters.seen), and no ankle on its own knee


class Sight(NamedTuple):
    """What `perceive` saw on one frame."""

    perception: Perception
    f: Features | None  # None: nobody measurable, even with bridged keypoints
    hip: float  # hip flexion, degrees (nan when f is None)
    score: float  # the body's mean usable keypoint score (not the face's)
    walking: bool  # the feet travel: nothing here is a rep


def identify(per: Perception, keypoints: np.ndarray, rows: list, aspect: float, t_s: float,
             p: CoachParams) -> tuple[str, Perception, Raw]:
    """Whether the frame shows the person followed ("same"), someone else for a
    moment ("other": skip the frame) or for good ("switched"), by
    `person.identity`; the perception with the identity updated, and the frame."""
    xy = to_xy(rows, aspect, keypoints.dtype == np.float32)
    valid = off_the_knee(seen(rows), xy, per.body.cal.shin)
    who, ident = identity(per.identity, per.body.cal, xy, valid, t_s, p)
    return who, evolve(per, identity=ident), Raw(keypoints, rows, xy, valid)


def arrived(per: Perception, t_s: float) -> Perception:
    """Someone steps in: their body is learnt anew, and their view."""
    return evolve(per, body=forget(per.body, t_s), view=evolve(per.view, votes=(0, 0, 0),
                                                               early_s=None))


def switched(per: Perception, t_s: float) -> Perception:
    """Someone else is followed now: as for an arrival, and the filter starts over."""
    return evolve(arrived(per, t_s), keypoints=evolve(per.keypoints, filt=None, seen_s=None))


def left(per: Perception, t_s: float) -> Perception:
    """Nobody in view any more: the body forgotten, nobody followed."""
    return evolve(per, body=forget(per.body, t_s), identity=Identity())


def perceive(per: Perception, raw: Raw, t_s: float, last_t_s: float | None, *,
             arriving: bool, torso_ref: float, hold_ref: bool, p: CoachParams) -> Sight:
    """Filter and measure one frame of the person followed.

    last_t_s: the last frame accepted (None: this is the first); arriving: nobody
    was in view (`arrived` if someone is now); torso_ref: the trunk's length when
    the rep in progress began (0: none), for the seat; hold_ref: a set or a lockout
    is under way, so standing does not move the standing reference."""
    dt_s = t_s - last_t_s if last_t_s is not None else 0.0
    keypoints, pts, usable = filter_frame(per.keypoints, raw.rows, raw.xy, raw.valid, t_s,
                                          p.bridge_s, p.filter)
    f = measure(pts, usable)
    score = sum(usable[L_SHOULDER:]) / (len(usable) - L_SHOULDER)  # the body, not the face
    if f is None or not on_feet(f, per.body.cal, p):
        return Sight(evolve(per, keypoints=keypoints, framing=framing(raw.keypoints)), None,
                     math.nan, score, False)
    if arriving:
        per = arrived(per, t_s)
    body = per.body
    cal = body.cal.update(f, t_s, p.calib_quantile, p.calib_rate_per_s)
    view = early_view(per.view, f, cal, dt_s)
    seen_as = angle_view(view)
    side = seen_as == "side"
    if seen_as == "oblique":
        f = at_an_angle(f, pts, usable, camera_deg(view), p)
    hinge, thigh, shin = f.angles(cal if not side else Calibration())
    hip = hinge + thigh
    knee = thigh + shin
    if side and not math.isnan(f.knee3_deg):
        knee = f.knee3_deg  # from the side the knee angle itself is seen
    facing = body.facing
    # Which way the person faces, read only while upright: bent over, the face
    # can point down and back.
    if hinge < p.stand_deg and not math.isnan(f.nose_ahead):
        # Time-based, from zero: about 0.2 s of consistent readings make it known (>= 0.5).
        k = max(dt_s, 0.0) / (p.facing_tau_s + max(dt_s, 0.0))
        facing += (math.copysign(1.0, f.nose_ahead) - facing) * k
    avg, travel = feet_travel(body, f, t_s, p)
    thigh_len, shin_len = cal.lengths()[1:]
    hip_drop = 1.0 - (f.ankle_y - f.hip_y) / max(thigh_len + shin_len, 1e-6)
    seat = seat_times(per.seat, view, torso_ref, f, hip, hinge, thigh, travel, cal, facing,
                      dt_s, p)
    top = observe_top(body.top, f, dt_s, p) if hip < p.stand_deg else body.top
    lean = signed_lean(view, body.ref, f, hinge, facing)
    moving = travel > p.still_torso_per_s
    # Walking is the feet moving for walk_s: one ankle read on its knee for a
    # frame or two (MoveNet's low-score glitch) throws the average for as long.
    moving_s = body.moving_s + max(dt_s, 0.0) if moving else 0.0
    body = evolve(body, cal=cal, top=top, facing=facing, feet_avg=avg, travel=travel,
                  moving_s=moving_s, feet_t_s=t_s if f.legs else body.feet_t_s)
    walking = moving and moving_s >= p.walk_s
    if not moving and hip < p.stand_deg:
        view, body = observe_standing(view, body, f, t_s, p, hold_ref)
    per = evolve(per, keypoints=keypoints, body=body, view=view, seat=seat, last_seen_s=t_s,
                 hinge_deg=hinge, hip_deg=hip, knee_deg=knee, lean_deg=lean, hip_drop=hip_drop,
                 framing=None)
    return Sight(per, f, hip, score, walking)


def at_an_angle(f: Features, pts: list, usable: list, deg: float | None,
                p: CoachParams) -> Features:
    """At an angle, the side-view measures put back to their sagittal size
    (`features.sagittal`), where the camera's angle is known and within
    `sagittal_deg`; elsewhere they are not judged (`Features.sag_ok`)."""
    sag = sagittal(pts, usable, 1.0 / math.sin(math.radians(deg))) \
        if angle_corrected(deg, p) else None
    if sag is None:
        return replace(f, sag_ok=False)
    neck, dx, dy, com = sag
    return replace(f, sag_neck=neck, sag_dx=dx, sag_dy=dy, sag_com=com)
