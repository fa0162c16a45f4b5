"""The coach's types: parameters, state, the phases of a rep, and its events.

All frozen dataclasses, changed only through `evolve`; events are plain
dicts (so that they cross a pipe or become JSON as they are), typed here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Literal, TypedDict

from device.core.faults import MIN_DOWN_S
from device.core.features import Calibration
from device.core.filters import OneEuroParams, OneEuroState


class Phase(StrEnum):
    """Where the person is in a rep (DESIGN.md: a rep is counted at its lockout)."""

    ABSENT = "absent"  # nobody usable in view
    READY = "ready"  # someone there; counting arms once they stand still for arm_s
    STANDING = "standing"
    DESCENDING = "descending"
    BOTTOM = "bottom"
    ASCENDING = "ascending"
    LOCKOUT = "lockout"  # the top, watched before the rep counts
    SEATED = "seated"  # on a seat: sitting down, sitting and getting up count nothing


ACTIVE = (Phase.DESCENDING, Phase.BOTTOM, Phase.ASCENDING)


class RepEvent(TypedDict):
    """A counted rep: the per-rep figures of the analysis report (DESIGN.md)."""

    type: Literal["rep"]
    index: int
    start_s: float | None
    bottom_s: float
    end_s: float
    hinge_deg: float
    knee_deg: float
    hip_deg: float
    down_s: float | None
    up_s: float
    faults: list[str]
    unjudged: list[str]
    view: str
    confidence: float
    score: int
    # The measures behind the thresholds, for their margins (eval --margins):
    top_hip_deg: float  # straightest hip flexion of the top (incomplete_lockout)
    top_lean_deg: float | None  # most backward signed trunk lean at the top (back_overarching)
    rise: float  # shoulder height at the top over its lowest in the rep (rise_frac)
    depth_by: Literal["angle", "rise"]  # how its depth was known (depth_rise_frac)
    heel_rise: float  # most the ankles rose over standing, shin lengths (weight_on_toes)


class PartialEvent(TypedDict):
    type: Literal["partial"]
    peak_hip_deg: float
    t_s: float


class CueEvent(TypedDict):
    type: Literal["cue"]
    id: str  # a fault id, "praise" or "praise_fixed": words live outside the core
    t_s: float


class SetEndedEvent(TypedDict):
    type: Literal["set_ended"]
    reason: Literal["target", "idle", "left", "someone_else", "recording_ended",
                    "camera_lost"]
    set: int
    reps: int
    faults_per_rep: list[list[str]]
    down_s_mean: float | None
    up_s_mean: float
    rep_period_s: float | None
    depth_trend_deg_per_rep: float
    start_s: float
    end_s: float


class SetStartedEvent(TypedDict):
    type: Literal["set_started"]
    set: int
    session: int
    t_s: float


class SessionStartedEvent(TypedDict):
    type: Literal["session_started"]
    session: int
    t_s: float


class SessionEndedEvent(TypedDict):
    type: Literal["session_ended"]
    session: int
    reason: Literal["left", "someone_else", "clock_restarted", "camera_lost"]
    sets: list[int]  # reps of each set
    reps: int
    t_s: float


class SeatedEvent(TypedDict):
    type: Literal["seated"]
    t_s: float


class PersonChangedEvent(TypedDict):
    """The model follows someone else now (person.identity): all starts over."""

    type: Literal["person_changed"]
    t_s: float


class RejectedEvent(TypedDict):
    """A frame the core refused; the caller logs it."""

    type: Literal["rejected"]
    reason: Literal["non_finite_time", "non_finite_keypoints", "time_not_increasing",
                    "clock_restarted"]
    t_s: float | None


Event = (RepEvent | PartialEvent | CueEvent | SetStartedEvent | SetEndedEvent
         | SessionStartedEvent | SessionEndedEvent | SeatedEvent | PersonChangedEvent
         | RejectedEvent)


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
    # The rise that stands for depth where the calibration cannot (a set that
    # starts at depth, seen from the front): coming up from depth_deg of hip
    # flexion raises the shoulders by 17% (Winter's segment proportions, for a
    # hinge and a squat alike), less the keypoints' 1-3% of noise.
    depth_rise_frac: float = 0.15
    rep_timeout_s: float = 30.0  # a rep still in progress after this is a partial (DESIGN.md)
    # A bottom held this long (a weight set down, a long hold) has its lockout
    # watched for first_hold_s, like a pick-up: walking off within it is no rep.
    long_bottom_s: float = 1.5
    # Putting the weight down at the end of a set is not a rep (DESIGN.md): a
    # descent faster than set_down_s (a drop, not a lowering: faults.MIN_DOWN_S,
    # ACSM 2009, the too_fast line) straight from a top held set_down_after_s
    # since a counted rep, such as a lifter lowering the bar quickly after
    # holding the last lockout, then standing up without it. Swings descend as
    # fast (0.23-0.37 s on the dev clip) but from tops of 0.6-0.8 s; a rep after
    # a pause of 2.7-2.8 s at the top descended in 0.43-0.47 s.
    set_down_s: float = MIN_DOWN_S
    set_down_after_s: float = 2.0
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
    # The camera's angles to the person (person.camera_deg) at which the side-view
    # faults are judged at an angle, corrected (features.sagittal): from 35 deg,
    # where the correction multiplies sideways distances, keypoint noise with
    # them, by 1 / sin 35 = 1.74; the oblique view ends at about 68 deg.
    sagittal_deg: tuple[float, float] = (35.0, 90.0)
    # Feet faster than this (torso lengths / s) are walking: a slow clinical walk
    # of 0.8 m/s is about 1.6 torso lengths per second.
    still_torso_per_s: float = 1.0
    travel_tau_s: float = 0.4  # averaging time of the feet position for that speed
    absent_s: float = 1.0  # unseen this long: the person has left
    # Identity (person.identity): a raw jump of the hips, knees and feet alike
    # beyond this many torso lengths plus what a brisk walk covers is someone
    # else (the same person's raw hips move under 0.09 torso lengths a frame in
    # 99% of frames on the dev clips); seen for switch_s, a switch.
    jump_torso: float = 0.2
    # How fast most of a body's joints move at once: a brisk walk.
    body_speed_torso_per_s: float = 2.0
    switch_s: float = 0.3
    bridge_s: float = 0.5  # a keypoint dropout up to this long is bridged
    set_idle_s: float = 10.0  # standing idle this long ends a set
    # Sessions and sets (DESIGN.md): a target of reps per set and of sets (0 =
    # none: a set ends by its idle pause), the rest shown between sets, and how
    # long nobody in view ends a session.
    set_target_reps: int = 0
    set_target_sets: int = 0
    rest_s: float = 90.0
    session_idle_s: float = 10.0
    # The guided set-up before a session's first rep (COACHING.md): stand tall,
    # feet hip to shoulder width (seen from the front), brace for brace_s, then
    # "hinge when ready". Only words: it never holds counting back.
    guide: bool = True
    brace_s: float = 3.0
    # The staff's sensitivity: fault thresholds (faults.py) times this factor;
    # 1.0 is the thresholds as sourced, 1.25 relaxed, 0.8 strict.
    fault_tolerance: float = 1.0
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
            if f.name in COUNTS:
                if not isinstance(value, int) or value < 0:
                    raise ValueError(f"{f.name} must be a whole number >= 0, got {value}")
            elif isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
                raise ValueError(f"{f.name} must be > 0, got {value}")
        if self.arm_s < self.travel_tau_s:
            raise ValueError("arm_s must be >= travel_tau_s: walking is only seen after that")
        if not 0.5 <= self.calib_quantile < 1:
            raise ValueError("calib_quantile must be in [0.5, 1)")


COUNTS = ("set_target_reps", "set_target_sets")  # parameters that may be 0


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

    shift: float = math.nan  # person.body_over_feet
    lr: float = 0.0  # left hip x - right hip x: the sign says where the person's left is
    hip_w: float = 0.0  # the hips' width as this view shows it
    ankle_y: float = math.nan  # the ankles' height on the image (the heels down)


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
    # The body over the feet in the deep part of the rep: the sum of
    # person.body_over_feet and its frames; `top` is the Upright the rep began
    # from (None: not yet known).
    shift_sum: float = 0.0
    shift_n: int = 0
    top: Upright | None = None
    # The result at the finish: the mean deep-part shift from the top, in the top's
    # hip widths, + toward the person's left (nan where it could not be measured).
    shift: float = math.nan
    com_max: float = -math.inf  # centre of mass ahead of the ankle, foot lengths
    com_min: float = math.inf
    heel_rise_max: float = 0.0  # ankle lift over the standing ankle, shin lengths
    heel_seen: bool = False  # heel_rise_max was measured on some frame
    ankle_high: float = math.inf  # from the front: the ankles' highest (least y) this rep
    drop_max: float = 0.0  # the hips' lowest point, in leg lengths below standing
    lockout_s: float = 0.0  # when standing was reached
    top_s: float = 0.0  # the straightest moment of the top
    top_hip: float = 180.0
    top_lean: float = math.inf  # most backward signed lean at the top
    top_judged: bool = False  # the top has been watched for lockout_hold_s
    ext_low: float = math.inf  # lowest shoulder height above the ankles before the top
    ext_top: float = 0.0  # highest at the top
    # Depth stood in by the shoulders' rise (CoachParams.depth_rise_frac): a set
    # that starts at depth before the calibration has seen the person stand.
    depth_by_rise: bool = False
    began_s: float = 0.0  # when this rep (or the hold it started from) began
    depth_s: float | None = None  # when depth was first reached
    held_s: float = 0.0  # how long the bottom was held before the way up
    # The trunk's length as calibrated when the rep began: over a long hold the
    # calibration learns the bent, foreshortened trunk, and would read it upright.
    torso_ref: float = 0.0


@dataclass(frozen=True)
class CoachState:
    filt: OneEuroState | None = None
    seen_s: tuple[float, ...] | None = None  # the last time each of the 17 keypoints was seen
    bridged: int = 0  # keypoints bridged over a dropout in this frame
    cal: Calibration = Calibration()
    ref: Reference = Reference()
    ref_t_s: float | None = None  # last frame the standing reference was updated
    top: Upright = Upright()  # the hips over the feet at the top of the reps
    phase: Phase = Phase.ABSENT
    last_seen_s: float = -math.inf
    still_since_s: float | None = None
    # Who is followed, judged on raw keypoints (person.identity): the raw
    # midpoints of the hips, knees and ankles of the last frame of this person
    # (None where unseen), and of someone else seen instead, since when.
    anchor_pts: tuple | None = None
    anchor_t_s: float | None = None
    other_pts: tuple | None = None
    other_since_s: float | None = None
    feet_avg: tuple[float, float] = (0.0, 0.0)
    feet_t_s: float | None = None  # last frame the feet were seen
    travel: float = 0.0  # smoothed speed of the feet, torso lengths per second
    facing: float = 0.0  # + facing +x, - facing -x (side view), averaged
    view_ratio: float = 0.0  # shoulder width / torso length, averaged while upright
    view_asym: float = 0.0  # left/right score asymmetry, averaged while upright
    view_votes: tuple[int, int, int] = (0, 0, 0)  # front, oblique, side frames
    # Before any vote, view_ratio and view_asym average every frame on the feet
    # (person.early_view) over this much time; None before the first such frame.
    early_view_s: float | None = None
    rep: RepTrack = RepTrack()
    last_stand_s: float = 0.0  # last frame below stand_deg
    rep_count: int = 0
    partial_count: int = 0
    set_index: int = 0
    set_reps: tuple = ()  # summaries of the reps of the current set
    set_started_s: float | None = None  # when the current set's first rep began
    # The session: one person in front of the mirror, from stepping in (and
    # being calibrated, or a first rep) to leaving for session_idle_s.
    session_index: int = 0  # sessions started so far (the current one while active)
    session_active: bool = False
    session_sets: tuple[int, ...] = ()  # reps of each set this session has ended
    session_reps: int = 0
    resting_since_s: float | None = None  # a set ended and the next has not begun
    hinge_deg: float = 0.0
    hip_deg: float = 0.0
    knee_deg: float = 0.0
    lean_deg: float = 0.0  # signed trunk lean, + forward
    hip_drop: float = 0.0  # hips lowered, in leg lengths (0 standing)
    behind_s: float = 0.0  # how long the centre of mass has stayed behind the heels at depth
    rest_s: float = 0.0  # how long a seated posture has been held still (person.seat_times)
    seat_lean: float = math.nan  # the most upright trunk of the seated posture at this depth
    seat_rose: bool = False  # got up off a seat: the trunk leant forward from it
    framing: str | None = None  # person.framing: why the body cannot be measured
    last_fault: str | None = None
    cue_id: str | None = None
    cue_s: float = -math.inf
    last_rep: dict | None = None
    last_set: dict | None = None
    t_s: float | None = None  # the last frame accepted; None before the first
