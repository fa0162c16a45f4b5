"""The coach: one step per frame, keypoints in, reps, faults and cues out.

``step(state, keypoints, t_s, aspect, params) -> (state, events)`` over frozen
dataclasses; `Coach` is a small stateful wrapper for the pipeline and
`analyze` the batch twin over a whole track.

A rep (DESIGN.md) is a hinge from standing to depth and back to lockout,
counted at the lockout. The depth signal is hip flexion: trunk inclination
plus thigh inclination, both from vertical, which a hinge and a squat both
drive, and which arm movements, walking and standing do not.

Phases: ``absent`` (nobody usable in view) -> ``ready`` (someone is there;
counting is armed once they have stood still, upright or at depth, for
``arm_s``) -> ``standing`` -> ``descending`` -> ``bottom`` -> ``ascending`` ->
``lockout`` (the top of the rep, watched for ``lockout_hold_s`` so that
leaning back or stopping short is seen; the rep counts at its end) ->
``standing``; from ``ready`` or any active phase, ``seated`` -> ``standing``.

Walking off from the top is not a rep: bending to pick something up and
carrying it away looks like a set that starts at depth, so that first
lockout is watched for ``first_hold_s`` (or until the next rep begins), and a
lockout left on foot is reported as a partial. So is a lockout after a bottom
held for ``long_bottom_s`` (a weight set down, then walking away).

Real sessions: a lockout needs the shoulders to have risen (``rise_frac``)
as well as the hips' angle to read standing, so a long setup or hold at the
bottom, over which the calibration learns the bent body, is one rep or none;
a rep in progress for ``rep_timeout_s`` is a partial. A seat is what holds a
body whose centre of mass is behind its heels (or, from the front, where
that is unseen, what a person rests on in the seated posture): ``seated``,
where sitting down, sitting and getting up count nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from device.core import faults as faults_mod
from device.core.features import (
    FOOT_PER_SHIN,
    LEG_PER_SHOULDER,
    Calibration,
    Features,
    measure,
)
from device.core.filters import MIN_SCORE, OneEuroParams, OneEuroState, one_euro_step, seen
from device.core.skeleton import (
    CUES,
    FAULT_WORDS,
    FAULTS,
    L_HIP,
    L_SHOULDER,
    PRAISE,
    PRAISE_FIXED,
    R_HIP,
    R_SHOULDER,
)


def evolve(obj, **changes):
    """`dataclasses.replace` for the coach's own state types, without re-running
    ``__init__``: the step function makes several per frame, and replace's
    generic path was over half of the core's cost."""
    new = object.__new__(type(obj))
    d = new.__dict__
    d.update(obj.__dict__)
    d.update(changes)
    return new


@dataclass(frozen=True)
class CoachParams:
    """Thresholds of the rep logic; angles in degrees, times in seconds."""

    stand_deg: float = 40.0  # hip flexion below this is standing (lockout)
    start_deg: float = 50.0  # above this a descent has begun (hysteresis band 40..50)
    depth_deg: float = 70.0  # a rep must reach this hip flexion
    turn_deg: float = 15.0  # fall from the peak that marks the bottom / rise that marks a bounce
    min_rep_s: float = 0.6  # shorter down-and-up movements are not reps
    min_down_s: float = 0.15  # a faster "descent" is a keypoint glitch or a fall, not a hinge
    lockout_hold_s: float = 0.3  # the top of the rep is watched this long before counting
    # The first lockout of a set that started at depth is watched this long:
    # people who bend to pick something up and carry it away walk off within it.
    first_hold_s: float = 1.5
    # A lockout must raise the shoulders above the ankles by this fraction of
    # their height at the rep's lowest point. The shallowest rep (depth_deg of
    # hip flexion) lowers them by about 15% of standing height, so coming back
    # up from it rises about 17%; keypoint noise alone moves them 1-3%. Hip
    # flexion read through a calibration learnt while bent over (a long setup at
    # the bar) can fall to "standing" with no movement at all: this tells it.
    rise_frac: float = 0.10
    rep_timeout_s: float = 30.0  # a rep still in progress after this is a partial (DESIGN.md)
    # A bottom held this long (a weight set down, a long hold) has its lockout
    # watched for first_hold_s, like a pick-up: walking off within it is no rep.
    long_bottom_s: float = 1.5
    # Seated: the centre of mass stays behind the heels at depth this long. An
    # unsupported body whose centre of mass leaves its feet topples within about
    # one pendulum time constant, sqrt(h / g) = 0.3 s for h = 0.9 m; only a seat
    # (or a hand on something) holds it there longer.
    supported_s: float = 0.3
    # Where the fore-aft centre of mass cannot be seen (from the front), a seat
    # is what people rest on: the seated posture held still this long.
    seated_rest_s: float = 2.0
    arm_s: float = 0.4  # be still this long before counting starts (>= travel_tau_s)
    calib_s: float = 1.0  # standing still this long calibrates the standing reference
    ref_tau_s: float = 0.5  # averaging time of the standing reference
    view_tau_s: float = 2.0  # averaging time of the view estimate
    facing_tau_s: float = 0.3  # averaging time of which way the person faces
    # Feet faster than this (torso lengths / s) are walking: a slow clinical walk
    # of 0.8 m/s is about 1.6 torso lengths per second.
    still_torso_per_s: float = 1.0
    travel_tau_s: float = 0.4  # averaging time of the feet position for that speed
    absent_s: float = 1.0  # unseen this long: the person has left
    # Identity (see _identity): a raw jump of the hips beyond this many torso
    # lengths plus what a brisk walk covers is someone else; kept that long, a switch.
    jump_torso: float = 0.2
    max_speed_torso_per_s: float = 2.0
    switch_s: float = 0.3
    bridge_s: float = 0.5  # a keypoint dropout up to this long is bridged
    set_idle_s: float = 10.0  # standing idle this long ends a set
    cue_repeat_s: float = 6.0  # the same cue is not repeated sooner than this
    upright_leg_frac: float = 0.35  # hips must be this far above the ankles, in leg lengths
    max_hinge_deg: float = 120.0  # a trunk tilted further (shoulders far below hips) is lying
    calib_quantile: float = 0.85
    calib_rate_per_s: float = 0.8
    filter: OneEuroParams = field(default_factory=OneEuroParams)

    def __post_init__(self) -> None:
        if not 0 < self.stand_deg < self.start_deg < self.depth_deg < 180:
            raise ValueError("need 0 < stand_deg < start_deg < depth_deg < 180 (degrees)")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
                raise ValueError(f"{f.name} must be > 0, got {value}")
        if self.arm_s < self.travel_tau_s:
            raise ValueError("arm_s must be >= travel_tau_s: walking is only seen after that")
        if not 0.5 <= self.calib_quantile < 1:
            raise ValueError("calib_quantile must be in [0.5, 1)")


@dataclass(frozen=True)
class Reference:
    """The person's own standing posture, averaged over still standing frames."""

    standing_s: float = 0.0  # how long they have stood still so far
    shoulder_w: float = 0.0
    hip_w: float = 0.0
    knee_w: float = 0.0
    ankle_w: float = 0.0
    hip_shift: float = 0.0  # hip x - ankle x
    ankle_y: float = 0.0


@dataclass(frozen=True)
class RepTrack:
    """What is known of the rep in progress. Angles in degrees, times in seconds."""

    start_s: float | None = None  # None: the set started at depth
    view: str = "unknown"
    peak_hip: float = 0.0
    peak_hinge: float = 0.0
    peak_knee: float = 0.0
    bottom_s: float = 0.0
    low_hip: float = 180.0  # lowest hip flexion since the bottom
    score_sum: float = 0.0
    frames: int = 0
    neck_max: float = -math.inf  # head flexed against the trunk, deep part of the rep
    knee_ratio_min: float = math.inf  # knee / ankle separation, deep part
    shift_max: float = 0.0  # |sideways hip shift| / hip width, deep part
    com_max: float = -math.inf  # centre of mass ahead of the ankle, foot lengths
    com_min: float = math.inf
    heel_rise_max: float = 0.0  # ankle lift over the standing ankle, shin lengths
    lockout_s: float = 0.0  # when standing was reached
    top_s: float = 0.0  # the straightest moment of the top
    top_hip: float = 180.0
    top_lean: float = math.inf  # most backward signed lean at the top
    top_judged: bool = False  # the top has been watched for lockout_hold_s
    ext_low: float = math.inf  # lowest shoulder height above the ankles before the top
    began_s: float = 0.0  # when this rep (or the hold it started from) began
    depth_s: float | None = None  # when depth was first reached
    held_s: float = 0.0  # how long the bottom was held before the way up
    # The trunk's length as calibrated when the rep began: over a long hold the
    # calibration learns the bent, foreshortened trunk, and would read it upright.
    torso_ref: float = 0.0


@dataclass(frozen=True)
class CoachState:
    filt: OneEuroState | None = None
    seen_s: np.ndarray | None = None  # (17,) last time each keypoint was seen
    bridged: int = 0  # keypoints bridged over a dropout in this frame
    cal: Calibration = Calibration()
    ref: Reference = Reference()
    ref_t_s: float | None = None  # last frame the standing reference was updated
    phase: str = "absent"
    last_seen_s: float = -math.inf
    still_since_s: float | None = None
    # Who is followed, judged on raw keypoints: the hips' raw position of the
    # last frame of this person, and of someone else seen instead since when.
    anchor_xy: tuple[float, float] | None = None
    anchor_t_s: float | None = None
    other_xy: tuple[float, float] | None = None
    other_since_s: float | None = None
    feet_avg: tuple[float, float] = (0.0, 0.0)
    feet_t_s: float | None = None  # last frame the feet were seen
    travel: float = 0.0  # smoothed speed of the feet, torso lengths per second
    facing: float = 0.0  # + facing +x, - facing -x (side view), averaged
    view_ratio: float = 0.0  # shoulder width / torso length, averaged while upright
    view_asym: float = 0.0  # left/right score asymmetry, averaged while upright
    view_votes: tuple[int, int, int] = (0, 0, 0)  # front, oblique, side frames
    rep: RepTrack = RepTrack()
    last_stand_s: float = 0.0  # last frame below stand_deg
    rep_count: int = 0
    partial_count: int = 0
    set_index: int = 0
    set_reps: tuple = ()  # summaries of the reps of the current set
    hinge_deg: float = 0.0
    hip_deg: float = 0.0
    knee_deg: float = 0.0
    lean_deg: float = 0.0  # signed trunk lean, + forward
    hip_drop: float = 0.0  # hips lowered, in leg lengths (0 standing)
    behind_s: float = 0.0  # how long the centre of mass has stayed behind the heels at depth
    rest_s: float = 0.0  # how long a seated posture has been held still (where that is unseen)
    last_fault: str | None = None
    cue_id: str | None = None
    cue_s: float = -math.inf
    last_rep: dict | None = None
    last_set: dict | None = None
    t_s: float | None = None  # the last frame accepted; None before the first


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
FACING_KNOWN = 0.5  # |averaged facing| from which the direction is trusted
ACTIVE = ("descending", "bottom", "ascending")


def classify_view(ratio: float, asym: float) -> str:
    """Front, oblique or side from shoulder width over torso length and L/R asymmetry.

    MoveNet's shoulder keypoints (joint centres) span about 0.8 torso lengths
    facing the camera (0.76-0.86 measured on the front-view dev clips), and
    that width shrinks with the cosine of the turn: above 0.65 the person is
    within about 35 deg of facing the camera (front), below 0.3 turned more
    than about 68 deg (side). A far side seen much less surely also means side.
    """
    if ratio > 0.65 and asym < 0.15:
        return "front"
    if ratio < 0.3 or asym > 0.3:
        return "side"
    return "oblique"


def window_view(s: CoachState) -> str:
    return classify_view(s.view_ratio, s.view_asym) if sum(s.view_votes) else "unknown"


def dominant_view(votes: tuple[int, int, int]) -> str:
    return VIEWS[int(np.argmax(votes))] if sum(votes) else "unknown"


def _to_xy(keypoints: np.ndarray, aspect: float) -> np.ndarray:
    """(y, x, score) normalized -> (x, y) in frame heights (aspect = width / height)."""
    xy = np.empty((17, 2))
    xy[:, 0] = keypoints[:, 1] * aspect
    xy[:, 1] = keypoints[:, 0]
    return xy


def step(state: CoachState, keypoints: np.ndarray, t_s: float, aspect: float,
         params: CoachParams) -> tuple[CoachState, list[dict]]:
    """Advance the coach by one frame.

    keypoints: (17, 3) (y, x, score) on the full frame; t_s: frame time in
    seconds; aspect: frame width / height. Returns the new state and the
    events of this frame (``{"type": "rep" | "partial" | "set_end" | "cue", ...}``).
    """
    rejected = _reject(state, keypoints, t_s, params)
    if rejected == "clock_restarted":
        # The clock went back by more than a person's absence: a new recording
        # or a restarted camera. What was under way ends; counting starts over.
        events = [{"type": "rejected", "reason": rejected, "t_s": t_s}]
        state = _end_set(_interrupt(state, events, params, walked_off=False), events)
        state = CoachState(rep_count=state.rep_count, partial_count=state.partial_count,
                           set_index=state.set_index, last_rep=state.last_rep,
                           last_set=state.last_set)
        state, more = step(state, keypoints, t_s, aspect, params)
        return state, events + more
    if rejected is not None:
        return state, [{"type": "rejected", "reason": rejected,
                        "t_s": t_s if math.isfinite(t_s) else None}]
    events: list[dict] = []
    valid = seen(keypoints)
    xy = _to_xy(keypoints, aspect)
    who, state = _identity(state, xy, valid, t_s, params)
    if who == "other":  # someone else for a moment (flicker): this frame is not theirs
        return state, events
    if who == "switched":  # someone else for good: what was under way ends, all starts over
        state = _interrupt(state, events, params, walked_off=False)
        state = evolve(_forget_person(state, t_s), phase="ready", still_since_s=None,
                       view_votes=(0, 0, 0), filt=None, seen_s=None, t_s=None)
    dt_s = t_s - state.t_s if state.t_s is not None else 0.0
    scores = keypoints[:, 2]
    filt = one_euro_step(state.filt, xy, valid[:, None], t_s, params.filter)
    # Bridge short dropouts: a keypoint unseen for at most bridge_s keeps its
    # filtered position at the lowest usable weight, and is counted as bridged.
    seen_s = np.where(valid, t_s, state.seen_s if state.seen_s is not None else -np.inf)
    bridged = ~valid & (t_s - seen_s <= params.bridge_s)
    usable = np.where(valid, scores, np.where(bridged, MIN_SCORE, 0.0))
    f = measure(filt.x, usable)
    state = evolve(state, filt=filt, seen_s=seen_s, t_s=t_s, bridged=int(bridged.sum()))
    if f is None or not _upright(f, state.cal, params):
        return _unseen(state, t_s, params, events), events
    if state.phase == "absent":
        state = evolve(_forget_person(state, t_s), phase="ready", still_since_s=None,
                       view_votes=(0, 0, 0))
    cal = state.cal.update(f, t_s, params.calib_quantile, params.calib_rate_per_s)
    side = window_view(state) == "side"
    hinge, thigh, shin = f.angles(cal if not side else Calibration())
    hip = hinge + thigh
    knee = thigh + shin
    if side and not math.isnan(f.knee3_deg):
        knee = f.knee3_deg  # from the side the knee angle itself is seen
    facing = state.facing
    # Which way the person faces, read only while upright: bent over, the face
    # can point down and back.
    if hinge < params.stand_deg and not math.isnan(f.nose_ahead):
        # Time-based, from zero: about 0.2 s of consistent readings make it known (>= 0.5).
        k = max(dt_s, 0.0) / (params.facing_tau_s + max(dt_s, 0.0))
        facing += (math.copysign(1.0, f.nose_ahead) - facing) * k
    avg, travel = _travel(state, f, t_s, params)
    thigh_len, shin_len = cal.lengths()[1:]
    hip_drop = 1.0 - (f.ankle_y - f.hip_y) / max(thigh_len + shin_len, 1e-6)
    behind_s, rest_s = _seat(state, f, hip, thigh, travel, cal, facing, dt_s, params)
    state = evolve(state, cal=cal, last_seen_s=t_s, hinge_deg=hinge, hip_deg=hip,
                   knee_deg=knee, facing=facing, hip_drop=hip_drop, behind_s=behind_s,
                   rest_s=rest_s,
                   lean_deg=_signed_lean(state, f, hinge, facing),
                   feet_avg=avg, travel=travel, feet_t_s=t_s if f.legs else state.feet_t_s)
    if travel > params.still_torso_per_s:  # walking: nothing here is a rep
        state = _interrupt(state, events, params, walked_off=True)
        return evolve(state, phase="ready", still_since_s=None), events
    if hip < params.stand_deg:
        state = _observe_standing(state, f, t_s, params)
    frame_score = float(usable[L_SHOULDER:].sum()) / (17 - L_SHOULDER)  # the body, not the face
    return _advance(state, f, hip, t_s, frame_score, params, events), events


def _reject(state: CoachState, keypoints: np.ndarray, t_s: float,
            p: CoachParams) -> str | None:
    """Why this frame cannot enter the coach, or None. The one rule for time:
    it must increase; a frame at or before the last one is skipped, and a
    clock that went back by more than ``absent_s`` has restarted."""
    if keypoints.shape != (17, 3):
        raise ValueError(f"keypoints must be (17, 3) (y, x, score), got {keypoints.shape}")
    if not math.isfinite(t_s):
        return "non_finite_time"
    if not np.isfinite(keypoints).all():
        return "non_finite_keypoints"
    if state.t_s is not None and t_s <= state.t_s:
        return "clock_restarted" if state.t_s - t_s > p.absent_s else "time_not_increasing"
    return None


def _forget_person(s: CoachState, t_s: float) -> CoachState:
    """Someone new (or nobody): drop what was learnt about the last person's body.

    The view votes stay until someone new appears, so a report still names the
    view of the person who just left."""
    return evolve(s, cal=Calibration(t_s=t_s), ref=Reference(), facing=0.0, travel=0.0,
                  feet_t_s=None)


def _facing_sign(facing: float) -> float | None:
    """+1 facing +x, -1 facing -x, None while not yet known (seen upright for ~0.2 s)."""
    if abs(facing) < FACING_KNOWN:
        return None
    return 1.0 if facing > 0 else -1.0


def _upright(f: Features, cal: Calibration, params: CoachParams) -> bool:
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


def _identity(s: CoachState, xy: np.ndarray, valid: np.ndarray, t_s: float,
              p: CoachParams) -> tuple[str, CoachState]:
    """Whether this frame shows the person followed: "same", "other" (skip the
    frame) or "switched" (someone else, seen for ``switch_s``).

    Judged on the raw hips, before any filtering: the filter would halve a
    jump. The single-pose model locking on to someone else moves the hips
    further in one frame than a body can: more than ``jump_torso`` torso
    lengths beyond what ``max_speed_torso_per_s`` covers in the time since the
    followed person was last seen. The same person keeps their own keypoint
    noise below about 0.2 torso lengths per frame (measured on the dev clips,
    99th percentile 0.09). Someone else for less than ``switch_s`` is flicker:
    their frames are skipped and the followed person kept.
    """
    if not (valid[L_HIP] and valid[R_HIP] and valid[L_SHOULDER] and valid[R_SHOULDER]):
        return "same", s
    hip = (float(xy[L_HIP:R_HIP + 1, 0].mean()), float(xy[L_HIP:R_HIP + 1, 1].mean()))
    sx, sy = xy[L_SHOULDER:R_SHOULDER + 1].mean(axis=0)
    torso = max(s.cal.lengths()[0], math.hypot(sx - hip[0], sy - hip[1]), 1e-6)
    if s.anchor_xy is None or s.anchor_t_s is None:
        return "same", evolve(s, anchor_xy=hip, anchor_t_s=t_s)

    def dist(a: tuple[float, float]) -> float:
        return math.hypot(hip[0] - a[0], hip[1] - a[1])

    def reach(dt: float) -> float:
        return (p.jump_torso + p.max_speed_torso_per_s * max(dt, 0.0)) * torso

    other = s.other_xy is not None and s.other_since_s is not None
    if other and dist(s.other_xy) < dist(s.anchor_xy) and dist(s.other_xy) <= reach(0.1):
        # Still the one seen instead: a switch once they have stayed for switch_s.
        if t_s - s.other_since_s < p.switch_s:
            return "other", evolve(s, other_xy=hip)
        return "switched", evolve(s, anchor_xy=hip, anchor_t_s=t_s, other_xy=None,
                                  other_since_s=None)
    if dist(s.anchor_xy) <= reach(t_s - s.anchor_t_s):
        return "same", evolve(s, anchor_xy=hip, anchor_t_s=t_s, other_xy=None,
                              other_since_s=None)
    return "other", evolve(s, other_xy=hip, other_since_s=t_s)


def _travel(state: CoachState, f: Features, t_s: float,
            params: CoachParams) -> tuple[tuple[float, float], float]:
    """Where the feet have been lately and how fast they travel.

    Speed is the lag between the ankles and an exponential average of their
    position (time constant ``travel_tau_s``) divided by that constant: for a
    steady walk it equals the walking speed, and unlike a frame-to-frame
    difference it does not grow with keypoint jitter at high frame rates. The
    ankles, not the hips: they stay planted in a hinge and move in a walk.
    Units: torso lengths per second.
    """
    torso = max(state.cal.lengths()[0], f.torso_len, 1e-6)
    x, y = f.ankle_x, f.ankle_y
    if state.feet_t_s is None:
        return (x, y), 0.0
    k = (t_s - state.feet_t_s) / (params.travel_tau_s + t_s - state.feet_t_s)
    avg = (state.feet_avg[0] + k * (x - state.feet_avg[0]),
           state.feet_avg[1] + k * (y - state.feet_avg[1]))
    return avg, math.hypot(x - avg[0], y - avg[1]) / torso / params.travel_tau_s


def _seat(s: CoachState, f: Features, hip: float, thigh: float, travel: float,
          cal: Calibration, facing: float, dt_s: float, p: CoachParams) -> tuple[float, float]:
    """(behind_s, rest_s): what a seat does to a person at depth.

    Where the way the person faces and a side or oblique view show the
    fore-aft centre of mass, the time it has stayed behind the heels; where
    they do not (from the front), the time the seated posture has been held
    still. A deep squat shares the seat's posture but not its support: its
    centre of mass stays over the feet, and it does not rest at the bottom.
    """
    if hip < p.depth_deg:
        return 0.0, 0.0
    dt = max(dt_s, 0.0)
    sign = _facing_sign(facing)
    torso, _, shin = cal.lengths()
    view = window_view(s) if sum(s.view_votes) else classify_view(
        f.shoulder_w / max(torso, 1e-6), f.asym)
    if sign is not None and shin > 0 and view != "front":
        com = sign * (f.com_x - f.ankle_x) / (FOOT_PER_SHIN * shin)
        return (s.behind_s + dt if com < COM_SEAT_FOOT else 0.0), 0.0
    torso_ref = s.rep.torso_ref if s.rep.torso_ref > 0 else torso
    upright = f.torso_dy >= math.cos(math.radians(SEATED_TRUNK_DEG)) * torso_ref
    posture = upright and thigh > SEATED_THIGH_DEG and travel < p.still_torso_per_s
    return 0.0, (s.rest_s + dt if posture else 0.0)


def _seated(s: CoachState, p: CoachParams) -> bool:
    return s.behind_s >= p.supported_s or s.rest_s >= p.seated_rest_s


def _lean(f: Features, sign: float) -> float:
    """Signed trunk lean from vertical, degrees, + forward (from the side); sign from
    `_facing_sign`."""
    return math.degrees(math.atan2(sign * f.torso_dx, f.torso_dy))


def _signed_lean(s: CoachState, f: Features, hinge: float, facing: float) -> float:
    """Trunk lean, degrees, + forward and - backward, where the view can tell.

    From the side, the trunk's direction against the way the person faces.
    From the front the foreshortening gives only the size of the lean; its
    sign comes from the shoulders' width: leaning toward the camera brings
    them closer (wider on the image), leaning back takes them away.
    """
    view = window_view(s)
    sign = _facing_sign(facing)
    if view != "front" and sign is not None:
        return _lean(f, sign)
    if view == "front" and s.ref.shoulder_w > 0:
        return hinge if f.shoulder_w >= s.ref.shoulder_w else -hinge
    return hinge


def _observe_standing(s: CoachState, f: Features, t_s: float, p: CoachParams) -> CoachState:
    """Upright and still: update the view estimate, and the standing reference
    while no set is under way (so a short lockout never becomes the reference)."""
    # Time standing since the last such frame, capped so a gap does not count as standing.
    dt = min(max(t_s - s.ref_t_s, 0.0), 0.1) if s.ref_t_s is not None else 0.0
    torso = max(s.cal.lengths()[0], 1e-6)
    kv = dt / (p.view_tau_s + dt)
    ratio = s.view_ratio + kv * (f.shoulder_w / torso - s.view_ratio) if sum(s.view_votes) \
        else f.shoulder_w / torso
    asym = s.view_asym + kv * (f.asym - s.view_asym) if sum(s.view_votes) else f.asym
    v = list(s.view_votes)
    v[VIEWS.index(classify_view(ratio, asym))] += 1
    if s.set_reps or s.phase == "lockout":
        return evolve(s, view_ratio=ratio, view_asym=asym, view_votes=(v[0], v[1], v[2]),
                      ref_t_s=t_s)
    r = s.ref
    k = dt / (p.ref_tau_s + dt) if r.standing_s > 0 else 1.0
    ref = Reference(
        standing_s=r.standing_s + dt,
        shoulder_w=r.shoulder_w + k * (f.shoulder_w - r.shoulder_w),
        hip_w=r.hip_w + k * (f.hip_w - r.hip_w),
        knee_w=r.knee_w + k * (f.knee_w - r.knee_w),
        ankle_w=r.ankle_w + k * (f.ankle_w - r.ankle_w),
        hip_shift=r.hip_shift + k * ((f.hip_x - f.ankle_x) - r.hip_shift),
        ankle_y=r.ankle_y + k * (f.ankle_y - r.ankle_y),
    )
    return evolve(s, view_ratio=ratio, view_asym=asym, view_votes=(v[0], v[1], v[2]),
                  ref=ref, ref_t_s=t_s)


def _track_rep(s: CoachState, rep: RepTrack, f: Features, hip: float,
               p: CoachParams) -> RepTrack:
    """Fold this frame's fault measures into the rep (deep part of the rep only)."""
    changes = {}
    if f.legs:
        changes["ext_low"] = min(rep.ext_low, f.shoulder_height)
    shin = s.cal.lengths()[2]
    # Forward and back need to know which way the person faces (seen upright).
    sign = _facing_sign(s.facing)
    if shin > 0 and s.ref.standing_s > 0 and sign is not None:
        foot = FOOT_PER_SHIN * shin
        com = sign * (f.com_x - f.ankle_x) / foot
        changes["com_max"] = max(rep.com_max, com)
        changes["com_min"] = min(rep.com_min, com)
        changes["heel_rise_max"] = max(rep.heel_rise_max, (s.ref.ankle_y - f.ankle_y) / shin)
    if hip >= max(p.depth_deg, rep.peak_hip - p.turn_deg):
        if not math.isnan(f.neck_deg) and sign is not None:
            changes["neck_max"] = max(rep.neck_max, sign * f.neck_deg)
        if f.ankle_w > 0:
            changes["knee_ratio_min"] = min(rep.knee_ratio_min, f.knee_w / f.ankle_w)
        if s.ref.hip_w > 0:
            shift = abs((f.hip_x - f.ankle_x) - s.ref.hip_shift) / s.ref.hip_w
            changes["shift_max"] = max(rep.shift_max, shift)
    return evolve(rep, **changes) if changes else rep


def _advance(s: CoachState, f: Features, hip: float, t_s: float, frame_score: float,
             p: CoachParams, events: list) -> CoachState:
    phase = s.phase
    if s.set_reps and phase not in ACTIVE and phase != "lockout" and \
            t_s - s.set_reps[-1]["end_s"] > p.set_idle_s:
        s = _end_set(s, events)
    if _seated(s, p) and (phase == "ready" or phase in ACTIVE):
        # On a seat: sitting down, sitting, and getting up are not reps.
        events.append({"type": "seated", "t_s": t_s})
        return evolve(s, phase="seated", rep=RepTrack(), still_since_s=None)
    if phase == "seated":
        if hip < p.stand_deg:  # stood up from the seat
            return evolve(s, phase="standing", last_stand_s=t_s, rep=RepTrack())
        return s
    if phase == "ready":
        # While getting still, remember the deepest point and the lowest the
        # shoulders came: a set that starts at depth may already be on its way
        # up when counting is armed.
        fresh = s.still_since_s is None
        rep = s.rep
        if fresh or hip >= rep.peak_hip:
            rep = RepTrack(start_s=None, peak_hip=hip, peak_hinge=s.hinge_deg,
                           peak_knee=s.knee_deg, bottom_s=t_s,
                           began_s=t_s if fresh else rep.began_s, ext_low=rep.ext_low,
                           torso_ref=s.cal.lengths()[0] if fresh else rep.torso_ref)
        low = f.shoulder_height if fresh else min(rep.ext_low, f.shoulder_height)
        still = t_s if fresh else s.still_since_s
        s = evolve(s, still_since_s=still, rep=evolve(rep, ext_low=low))
        if t_s - still < p.arm_s:
            return s
        if hip < p.stand_deg:
            return evolve(s, phase="standing", last_stand_s=t_s, rep=RepTrack())
        if s.rep.peak_hip >= p.depth_deg:  # the set starts at depth: its first lockout counts
            up = hip <= s.rep.peak_hip - p.turn_deg
            return evolve(s, phase="ascending" if up else "bottom", rep=evolve(
                s.rep, low_hip=hip, depth_s=s.rep.began_s,
                held_s=t_s - s.rep.began_s if up else 0.0))
        return s
    if phase == "standing":
        if hip > p.start_deg:
            # The rep began when the person last stood.
            rep = RepTrack(start_s=s.last_stand_s, view=window_view(s), peak_hip=hip,
                           bottom_s=t_s, frames=1, score_sum=frame_score,
                           began_s=s.last_stand_s, torso_ref=s.cal.lengths()[0])
            return evolve(s, phase="descending", rep=_track_rep(s, rep, f, hip, p))
        return evolve(s, last_stand_s=t_s) if hip < p.stand_deg else s
    rep = s.rep
    if phase in ACTIVE and t_s - rep.began_s > p.rep_timeout_s:
        # Held too long to be one rep (a two-minute hold, a setup that never
        # pulls): a partial, and counting re-arms as for someone just arrived.
        return evolve(_partial(s, events), still_since_s=None)
    if phase == "lockout":
        if hip > p.start_deg:  # straight into the next rep
            s = _finish(s, t_s, p, events)
            return _advance(s, f, hip, t_s, frame_score, p, events)
        held = t_s - rep.lockout_s
        # The top is judged over lockout_hold_s whatever the wait: a longer
        # wait for a first lockout only asks whether the person stays.
        if not rep.top_judged:
            if hip < rep.top_hip:
                rep = evolve(rep, top_hip=hip, top_s=t_s)
            sign = _facing_sign(s.facing)
            if sign is not None:
                rep = evolve(rep, top_lean=min(rep.top_lean, _lean(f, sign)))
            rep = evolve(rep, top_judged=held >= p.lockout_hold_s)
        s = evolve(s, rep=rep, last_stand_s=t_s)
        # A first lockout of a set that started at depth, or one after a long
        # bottom (a weight set down), is watched longer: walking off is no rep.
        watch = rep.start_s is None or rep.held_s >= p.long_bottom_s
        hold = p.first_hold_s if watch else p.lockout_hold_s
        return _finish(s, t_s, p, events) if held >= hold else s
    rep = _track_rep(s, evolve(rep, score_sum=rep.score_sum + frame_score,
                               frames=rep.frames + 1), f, hip, p)
    if phase in ("descending", "bottom"):
        if hip >= rep.peak_hip:
            rep = evolve(rep, peak_hip=hip, peak_hinge=s.hinge_deg, peak_knee=s.knee_deg,
                         bottom_s=t_s)
        if rep.depth_s is None and rep.peak_hip >= p.depth_deg:
            rep = evolve(rep, depth_s=t_s)
        if hip < p.stand_deg:  # back up without a bottom worth the name
            return _partial(evolve(s, rep=rep), events, back_to="standing")
        if rep.peak_hip >= p.depth_deg and hip < rep.peak_hip - p.turn_deg:
            return evolve(s, phase="ascending", rep=evolve(
                rep, low_hip=hip, held_s=t_s - rep.depth_s))
        return evolve(s, rep=rep, phase="bottom" if rep.peak_hip >= p.depth_deg else phase)
    # ascending
    rep = evolve(rep, low_hip=min(rep.low_hip, hip))
    if hip < p.stand_deg and f.shoulder_height >= (1.0 + p.rise_frac) * rep.ext_low:
        # Standing, by the hips' angle and by the shoulders having risen.
        sign = _facing_sign(s.facing)
        return evolve(s, phase="lockout", rep=evolve(
            rep, lockout_s=t_s, top_s=t_s, top_hip=hip,
            top_lean=_lean(f, sign) if sign is not None else math.inf))
    if hip > rep.low_hip + p.turn_deg:
        if rep.low_hip < p.start_deg + p.turn_deg:
            # Came most of the way up, then went down again: no lockout, a partial.
            s = _partial(evolve(s, rep=rep), events, back_to="descending")
            return evolve(s, rep=RepTrack(start_s=t_s, view=window_view(s), peak_hip=hip,
                                          bottom_s=t_s, began_s=t_s,
                                          torso_ref=rep.torso_ref))
        return evolve(s, phase="bottom", rep=rep)  # a bounce at the bottom: the same rep
    return evolve(s, rep=rep)


def _interrupt(s: CoachState, events: list, p: CoachParams, walked_off: bool) -> CoachState:
    """Counting stops: drop an unfinished rep, and decide a rep still at its lockout.

    walked_off: the person walked away or vanished before the lockout was
    watched to its end, as after picking something up; that is no rep. When
    the model only jumped to someone else, or the recording ends, the rep
    counts.
    """
    if s.phase == "lockout":
        if walked_off:
            return _partial(s, events)
        return _finish(s, s.t_s, p, events)
    if s.phase in ACTIVE:
        return _partial(s, events)
    return s


def _unseen(state: CoachState, t_s: float, params: CoachParams, events: list) -> CoachState:
    """Nobody measurable on this frame (even with bridged keypoints). A rep in
    progress survives bridge_s more of this, about a second of gap in all;
    after that nobody can say what happened in it, so it is a partial (the
    person is still there). After absent_s the person has left."""
    if state.phase in ACTIVE and t_s - state.last_seen_s > params.bridge_s:
        state = evolve(_partial(state, events), still_since_s=None)
    if state.phase == "absent" or t_s - state.last_seen_s < params.absent_s:
        return state
    state = _end_set(_interrupt(state, events, params, walked_off=True), events)
    return evolve(_forget_person(state, t_s), phase="absent", still_since_s=None,
                  anchor_xy=None, anchor_t_s=None, other_xy=None, other_since_s=None)


def _partial(s: CoachState, events: list, back_to: str = "ready") -> CoachState:
    """A hinge that never reached depth, or never locked out: reported, not counted."""
    events.append({"type": "partial", "peak_hip_deg": round(s.rep.peak_hip, 1),
                   "t_s": s.t_s})
    return evolve(s, phase=back_to, partial_count=s.partial_count + 1, rep=RepTrack(),
                  last_stand_s=s.t_s)


def _finish(s: CoachState, t_s: float, p: CoachParams, events: list) -> CoachState:
    """The end of the lockout window: judge the rep and count it."""
    rep = s.rep
    end_s = rep.top_s
    # A set that starts at depth has only its way up to time: half the minimum.
    duration = end_s - (rep.start_s if rep.start_s is not None else rep.bottom_s)
    if duration < (p.min_rep_s if rep.start_s is not None else p.min_rep_s / 2) or (
            rep.start_s is not None and rep.bottom_s - rep.start_s < p.min_down_s):
        return _partial(s, events, back_to="standing")
    view = rep.view if rep.view != "unknown" else window_view(s)
    found, unjudged = faults_mod.judge(rep, s.ref, view, calibrated=s.ref.standing_s >= p.calib_s)
    count = s.rep_count + 1
    summary = {
        "index": count,
        "start_s": None if rep.start_s is None else round(rep.start_s, 3),
        "bottom_s": round(rep.bottom_s, 3), "end_s": round(end_s, 3),
        "hinge_deg": round(rep.peak_hinge, 1), "knee_deg": round(rep.peak_knee, 1),
        "hip_deg": round(rep.peak_hip, 1),
        "down_s": None if rep.start_s is None else round(rep.bottom_s - rep.start_s, 3),
        "up_s": round(end_s - rep.bottom_s, 3),
        "faults": found, "unjudged": unjudged, "view": view,
        "confidence": round(rep.score_sum / max(rep.frames, 1), 3),
        "score": faults_mod.score(found, unjudged),
    }
    events.append({"type": "rep", **summary})
    s = evolve(s, phase="standing", rep=RepTrack(), rep_count=count,
               set_reps=s.set_reps + (summary,),
               set_index=s.set_index + (0 if s.set_reps else 1),
               last_stand_s=t_s, last_rep=summary, last_fault=found[0] if found else None)
    return _cue(s, found, t_s, p, events)


def _cue(s: CoachState, found: list[str], t_s: float, p: CoachParams,
         events: list) -> CoachState:
    """One cue at a time, most important fault first, no repeats within cue_repeat_s."""
    if found:
        cue_id = found[0]
    elif s.cue_id in FAULTS:
        cue_id = "praise_fixed"
    else:
        cue_id = "praise"
    if cue_id == s.cue_id and t_s - s.cue_s < p.cue_repeat_s:
        return s
    events.append({"type": "cue", "id": cue_id, "text": cue_text(cue_id), "t_s": t_s})
    return evolve(s, cue_id=cue_id, cue_s=t_s)


def cue_text(cue_id: str | None) -> str | None:
    if cue_id is None:
        return None
    return {"praise": PRAISE, "praise_fixed": PRAISE_FIXED}.get(cue_id) or CUES[cue_id]


def set_summary(index: int, reps: tuple) -> dict:
    """Reps, faults per rep, tempo and depth trend of a set."""
    downs = [r["down_s"] for r in reps if r["down_s"] is not None]
    ends = [r["end_s"] for r in reps]
    depth = [r["hip_deg"] for r in reps]
    trend = float(np.polyfit(np.arange(len(depth)), depth, 1)[0]) if len(depth) >= 2 else 0.0
    return {
        "set": index, "reps": len(reps),
        "faults_per_rep": [r["faults"] for r in reps],
        "down_s_mean": round(float(np.mean(downs)), 2) if downs else None,
        "up_s_mean": round(float(np.mean([r["up_s"] for r in reps])), 2),
        "rep_period_s": round(float(np.mean(np.diff(ends))), 2) if len(ends) >= 2 else None,
        "depth_trend_deg_per_rep": round(trend, 1),
        "start_s": reps[0]["start_s"] if reps[0]["start_s"] is not None else reps[0]["bottom_s"],
        "end_s": ends[-1],
    }


def _end_set(s: CoachState, events: list) -> CoachState:
    if not s.set_reps:
        return s
    summary = set_summary(s.set_index, s.set_reps)
    events.append({"type": "set_end", **summary})
    return evolve(s, set_reps=(), last_set=summary)


def snapshot(s: CoachState, params: CoachParams | None = None) -> dict:
    """What the mirror shows: JSON-ready, no history, nothing personal."""
    calib_s = (params or CoachParams()).calib_s
    present = s.phase != "absent"

    def num(x: float) -> float | None:  # never NaN or infinity: strict JSON readers
        return round(x, 3) if present and math.isfinite(x) else None

    return {
        "present": present,
        "phase": s.phase,
        "rep_count": s.rep_count,
        "set_reps": len(s.set_reps),
        "partial_reps": s.partial_count,
        "view": window_view(s) if present else "unknown",
        "calibrated": present and s.ref.standing_s >= calib_s,
        "bridged_keypoints": s.bridged,
        "hinge_deg": num(round(s.hinge_deg, 1)),
        "hip_deg": num(round(s.hip_deg, 1)),
        "knee_deg": num(round(s.knee_deg, 1)),
        "lean_deg": num(round(s.lean_deg, 1)),
        "hip_drop": num(s.hip_drop),
        "last_fault": s.last_fault,
        "last_fault_text": FAULT_WORDS.get(s.last_fault) if s.last_fault else None,
        "cue": cue_text(s.cue_id),
        "cue_id": s.cue_id,
        "last_rep": s.last_rep,
        "last_set": s.last_set,
        "t_s": None if s.t_s is None else round(s.t_s, 3),
    }


class Coach:
    """Stateful convenience around `step` for the live pipeline."""

    def __init__(self, params: CoachParams | None = None) -> None:
        self.params = params or CoachParams()
        self.state = CoachState()

    def update(self, keypoints: np.ndarray, t_s: float, aspect: float) -> list[dict]:
        self.state, events = step(self.state, keypoints, t_s, aspect, self.params)
        return events

    def snapshot(self) -> dict:
        return snapshot(self.state, self.params)


def analyze(keypoints: np.ndarray, t: np.ndarray, frame_size: tuple[int, int],
            params: CoachParams | None = None) -> dict:
    """The batch twin: a whole track -> the analysis report of DESIGN.md (minus `source`)."""
    params = params or CoachParams()
    aspect = frame_size[1] / frame_size[0]
    state = CoachState()
    reps: list[dict] = []
    sets: list[dict] = []
    rejected: list[dict] = []
    for kp, t_s in zip(keypoints, t, strict=True):
        state, events = step(state, kp, float(t_s), aspect, params)
        reps.extend(e for e in events if e["type"] == "rep")
        sets.extend(e for e in events if e["type"] == "set_end")
        rejected.extend(e for e in events if e["type"] == "rejected")
    # The recording ends: a rep at its lockout counts, an open set closes.
    end: list[dict] = []
    state = _end_set(_interrupt(state, end, params, walked_off=False), end)
    reps.extend(e for e in end if e["type"] == "rep")
    sets.extend(e for e in end if e["type"] == "set_end")
    counts: dict[str, int] = {}
    for r in reps:
        r.pop("type", None)
        for fault in r["faults"]:
            counts[fault] = counts.get(fault, 0) + 1
    for st in sets:
        st.pop("type", None)
    views = [r["view"] for r in reps if r["view"] != "unknown"]
    return {
        "frames": int(len(t)),
        "duration_s": round(float(t[-1] - t[0]), 3) if len(t) else 0.0,
        "view": dominant_view(state.view_votes) if sum(state.view_votes) else
        (max(set(views), key=views.count) if views else "unknown"),
        "rep_count": state.rep_count,
        "partial_reps": state.partial_count,
        "reps": reps,
        "sets": sets,
        "faults": counts,
        "rejected_frames": len(rejected),
        "rejected_why": sorted({e["reason"] for e in rejected}),
    }
