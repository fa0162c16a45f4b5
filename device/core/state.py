"""The coach's vocabulary: its parameters, the phases of a rep, its events, and
`evolve`.

The state is frozen dataclasses, each owned by the module whose rules change
it (`filters.Filtered`; `person.Body`, `View`, `Identity`, `Seat`;
`perception.Perception`; `reps.RepTrack` and `reps.CoachState`, the whole),
changed only through `evolve`; events are plain dicts (so that they cross a
pipe or become JSON as they are), typed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Literal, TypedDict

from device.core.faults import MIN_DOWN_S
from device.core.filters import OneEuroParams
from device.core.skeleton import FAULTS


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
    reason: Literal["left", "someone_else", "clock_restarted", "camera_lost", "recording_ended"]
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
# What a step of the rules returns beside the new state: its events in order,
# immutable, so the caller concatenates them (the rules thread no shared list).
Events = tuple[Event, ...]


def evolve(obj, **changes):
    """`dataclasses.replace` for the coach's own state types, without re-running
    ``__init__``: the step makes several copies a frame, and a frozen type's
    ``__init__`` sets every field one by one (docs/decisions/0010-evolve.md).
    It skips ``__post_init__`` too, so it is not for `CoachParams`."""
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
    # The feet faster than that for this long are a walk, not a keypoint glitch:
    # three frames at 30 fps (bbdl_squatting's ankle read on the knee, arm64's
    # decode: one frame over), against a walk-off's half second and more.
    walk_s: float = 0.08
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
    # The exercise (device/core/exercises.py): what the program, the config or
    # `analyze --exercise` names; its rules change what is judged.
    exercise: str = "deadlift"
    # A client's program block (device/store/programs.py), None without one:
    # the tempo (seconds down, held at the bottom, up) that the glass counts
    # down; the deepest hip flexion allowed (a patient after surgery), past
    # which the coach says so at once; and each fault's own factor on top of
    # fault_tolerance ((fault id, factor), ...: 1.25 relaxed, 0.8 strict).
    tempo: tuple[float, float, float] | None = None
    max_hip_deg: float | None = None
    fault_factors: tuple[tuple[str, float], ...] = ()
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
            elif f.name == "tempo" and value is not None:
                if len(value) != 3 or min(value) < 0 or value[0] <= 0 or value[2] <= 0:
                    raise ValueError(f"tempo must be (down > 0, hold >= 0, up > 0) s, got {value}")
            elif f.name == "fault_factors":
                if any(fault not in FAULTS or not k > 0 for fault, k in value):
                    raise ValueError(f"fault_factors must be (fault id, factor > 0) pairs, "
                                     f"got {value}")
            elif isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
                raise ValueError(f"{f.name} must be > 0, got {value}")
        if self.arm_s < self.travel_tau_s:
            raise ValueError("arm_s must be >= travel_tau_s: walking is only seen after that")
        if not 0.5 <= self.calib_quantile < 1:
            raise ValueError("calib_quantile must be in [0.5, 1)")


COUNTS = ("set_target_reps", "set_target_sets")  # parameters that may be 0
