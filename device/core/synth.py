"""A synthetic kinematic generator: a 2-D stick figure driven by joint angles.

The figure is defined by trunk, thigh and shin inclinations from vertical
(degrees) over time; it is projected from the side (sagittal plane) or from the
front (the sagittal axis points at the camera, so a lean shows only as a
shorter vertical extent). It produces MoveNet-shaped keypoints, (y, x, score)
normalized to a frame, with optional noise, dropouts, a walk-in, a walk-off and a
second person passing in front. It drives the unit tests and the built-in demo;
it is this project's own data, not derived from any recording.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from device.core.skeleton import (
    L_ANKLE,
    L_EAR,
    L_ELBOW,
    L_EYE,
    L_HIP,
    L_KNEE,
    L_SHOULDER,
    L_WRIST,
    NOSE,
    R_EAR,
    R_EYE,
)

# Segment lengths in frame heights for a person filling ~70% of the frame
# (ratios after Winter's anthropometric table: trunk 0.29, thigh 0.245,
# shank 0.246 of height; shoulder width 0.26, hip width 0.19).
TORSO, THIGH, SHIN = 0.20, 0.17, 0.17
SHOULDER_W, HIP_W, KNEE_W, ANKLE_W = 0.18, 0.13, 0.12, 0.12
NECK, UPPER_ARM, FOREARM = 0.05, 0.11, 0.10
# Camera to person, frame heights (about 2.5-3 m for a full-body mirror view).
CAMERA_DISTANCE = 1.2
# Walking speed, frame heights per second: 0.5 is 2.5 torso lengths, about
# 1.2 m/s, a comfortable adult walk.
WALK_SPEED = 0.5


@dataclass(frozen=True)
class Pose2D:
    trunk_deg: float = 0.0  # forward lean from vertical
    thigh_deg: float = 0.0  # thigh from vertical (knee ahead of hip)
    shin_deg: float = 0.0  # shin from vertical (knee ahead of ankle)
    knee_w: float = KNEE_W  # knee separation (front view), frame heights
    hip_shift: float = 0.0  # sideways hip shift (front view), frame heights
    neck_deg: float = 0.0  # head and upper back curled forward of the trunk line
    heel_rise: float = 0.0  # the ankles lifted off the floor (heels up), frame heights
    # Each arm raised forward from hanging, degrees (180: straight overhead).
    l_arm_deg: float = 0.0
    r_arm_deg: float = 0.0


# The camera's angle to the person in the "oblique" view, degrees from facing it.
OBLIQUE_DEG = 50.0


def figure(p: Pose2D, view: str, x0: float, ground: float, aspect: float,
           score: float = 0.85) -> np.ndarray:
    """(17, 3) keypoints (y, x, score) of one pose; x0/ground in frame-height units.
    view: "side", "front" (in perspective) or "oblique" (OBLIQUE_DEG from facing
    the camera, orthographic: forward distances shrink by its sine, sideways
    ones by its cosine)."""
    t, th, sh = (math.radians(a) for a in (p.trunk_deg, p.thigh_deg, p.shin_deg))
    # Sagittal coordinates: u forward, y down.
    ankle = (0.0, ground - p.heel_rise)
    knee = (ankle[0] + SHIN * math.sin(sh), ankle[1] - SHIN * math.cos(sh))
    hip = (knee[0] - THIGH * math.sin(th), knee[1] - THIGH * math.cos(th))
    sho = (hip[0] + TORSO * math.sin(t), hip[1] - TORSO * math.cos(t))
    n = t + math.radians(p.neck_deg)
    head = (sho[0] + NECK * math.sin(n), sho[1] - NECK * math.cos(n))
    arms = []
    for deg in (p.l_arm_deg, p.r_arm_deg):
        a = math.radians(deg)
        elbow = (sho[0] + UPPER_ARM * math.sin(a), sho[1] + UPPER_ARM * math.cos(a))
        arms.append((elbow, (elbow[0] + FOREARM * math.sin(a), elbow[1] + FOREARM * math.cos(a))))
    kp = np.zeros((17, 3), dtype=np.float32)

    def put(i: int, u: float, y: float, lateral: float) -> None:
        if view == "side":
            x = x0 + u
        elif view == "oblique":
            a = math.radians(OBLIQUE_DEG)
            x = x0 + u * math.sin(a) + lateral * math.cos(a)
        else:  # perspective: what comes toward the camera (u > 0) looks wider
            x = x0 + lateral * CAMERA_DISTANCE / (CAMERA_DISTANCE - u)
        kp[i] = (y, x / aspect, score)

    # The face points along the head line turned forward: nose ahead of the ears.
    fx, fy = math.cos(n), math.sin(n)
    put(NOSE, head[0] + 0.03 * fx, head[1] + 0.03 * fy, 0.0)
    put(L_EYE, head[0] + 0.02 * fx, head[1] + 0.02 * fy - 0.01, -0.015)
    put(R_EYE, head[0] + 0.02 * fx, head[1] + 0.02 * fy - 0.01, 0.015)
    put(L_EAR, head[0], head[1], -0.035)
    put(R_EAR, head[0], head[1], 0.035)
    for i, sign in ((0, -1), (1, 1)):  # left, then its right twin (the next index)
        shift = p.hip_shift
        put(L_SHOULDER + i, sho[0], sho[1], sign * SHOULDER_W / 2 + shift / 2)
        elbow, wrist = arms[i]
        put(L_ELBOW + i, elbow[0], elbow[1], sign * SHOULDER_W / 2 + shift / 2)
        put(L_WRIST + i, wrist[0], wrist[1], sign * SHOULDER_W / 2.2 + shift / 2)
        put(L_HIP + i, hip[0], hip[1], sign * HIP_W / 2 + shift)
        put(L_KNEE + i, knee[0], knee[1], sign * p.knee_w / 2 + shift / 2)
        put(L_ANKLE + i, ankle[0], ankle[1], sign * ANKLE_W / 2)
    return kp


# (trunk, thigh, shin) inclinations at the bottom, degrees. The hinge is
# balanced: its centre-of-mass proxy stays over the mid-foot, as the real
# lifters' did on the dev clips; "toes" and "heels" are not.
STYLES = {
    "hinge": (75.0, 35.0, 5.0),
    "squat": (40.0, 85.0, 35.0),
    # A barbell deadlift from the floor, at lift-off (Escamilla et al. 2000:
    # trunk 45-60 deg from vertical, knees well bent behind the bar).
    "deadlift": (50.0, 70.0, 20.0),
    # Low hips at the bar with the shins far forward: trunk, thighs and shins all
    # tilted alike, so that from the front the whole body only looks shorter.
    "crouch": (45.0, 45.0, 45.0),
    "toes": (60.0, 20.0, 25.0),  # knees forward, hips not back
    "heels": (45.0, 60.0, 5.0),  # sitting back with an upright trunk
    # On a chair: trunk upright, thighs level, shins vertical; the centre of
    # mass far behind the heels, where only the seat holds it.
    "seat": (10.0, 88.0, 0.0),
}


def hinge_pose(depth: float, style: str = "hinge") -> Pose2D:
    """A pose `depth` (0 standing .. 1 bottom) into a hinge, a squat or a faulty hinge."""
    trunk, thigh, shin = STYLES[style]
    return Pose2D(trunk_deg=trunk * depth, thigh_deg=thigh * depth, shin_deg=shin * depth)


@dataclass(frozen=True)
class Session:
    """A scripted session. Times in seconds."""

    view: str = "side"
    reps: int = 5
    style: str = "hinge"  # or "squat"
    down_s: float = 1.2
    up_s: float = 1.0
    pause_s: float = 0.8  # standing between reps
    hold_s: float = 0.0  # held at the bottom of each rep
    lead_s: float = 2.0  # standing before the first rep
    tail_s: float = 2.0
    fps: float = 30.0
    frame_size: tuple[int, int] = (480, 640)
    noise: float = 0.0  # keypoint position noise, frame heights (std)
    dropout_rate: float = 0.0  # chance per frame that a keypoint drops (score 0.1)
    walk_in_s: float = 0.0  # walk in from the side before standing still
    walk_out_s: float = 0.0  # after tail_s standing, walk off to the side for this long
    start_at_depth: bool = False
    passerby_at_s: float | None = None  # a second person crosses for 0.5 s
    depth: float = 1.0  # fraction of the full hinge reached
    neck_deg: float = 0.0  # head/upper back curling at the bottom (back rounding)
    knees_in: float = 0.0  # knees drawn together at the bottom, fraction of knee width
    hip_shift: float = 0.0  # hips sideways at the bottom, in hip widths
    heel_rise: float = 0.0  # heels off the floor at the bottom, in shin lengths
    # Getting up the way one gets up from a chair: on the way up the trunk first
    # leans forward by up to this much with the hips still low (sit-to-stand's
    # flexion-momentum phase), most two thirds of the way down. 0: a wall squat's
    # rise, the back on the wall.
    rise_lean_deg: float = 0.0
    lockout_lean_deg: float = 0.0  # trunk angle at the top of each rep (negative: leans back)
    lockout_depth: float = 0.0  # how far from standing the top of each rep stays (0..1)
    arms_deg: float = 0.0  # both arms raised throughout (180: overhead, an overhead squat)
    seed: int = 0


def depth_profile(s: Session) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t_s, depth 0..1, top 0..1) for the scripted reps, smooth (half-cosine) ramps.

    `top` is 1 while standing between and after reps (where lockout faults
    are scripted), 0 before the first rep.
    """
    dt = 1.0 / s.fps
    top_depth = s.lockout_depth
    segs: list[tuple[float, float, float, float, float]] = []  # (duration, from, to, top0, top1)
    if s.start_at_depth:
        segs += [(s.lead_s, 1.0, 1.0, 0, 0), (s.up_s, 1.0, top_depth, 0, 1),
                 (s.pause_s, top_depth, top_depth, 1, 1)]
        n = s.reps - 1
    else:
        segs.append((s.lead_s + s.walk_in_s, 0.0, 0.0, 0, 0))
        n = s.reps
    start = top_depth if s.start_at_depth else 0.0
    for i in range(n):
        first = i == 0 and not s.start_at_depth
        segs += [(s.down_s, 0.0 if first else start, 1.0, 0 if first else 1, 0)]
        if s.hold_s:
            segs.append((s.hold_s, 1.0, 1.0, 0, 0))
        segs += [(s.up_s, 1.0, top_depth, 0, 1), (s.pause_s, top_depth, top_depth, 1, 1)]
        start = top_depth
    segs.append((s.tail_s, start, 0.0, 1 if (n or s.start_at_depth) else 0, 0))
    if s.walk_out_s:
        segs.append((s.walk_out_s, 0.0, 0.0, 0, 0))
    ts, ds, tops = [], [], []
    t0 = 0.0
    for dur, a, b, ta, tb in segs:
        k = max(1, int(round(dur / dt)))
        u = np.arange(k) / k
        ramp = (1 - np.cos(np.pi * u)) / 2
        ts.append(t0 + u * dur)
        ds.append(a + (b - a) * ramp)
        tops.append(ta + (tb - ta) * ramp)
        t0 += dur
    return np.concatenate(ts), np.concatenate(ds) * s.depth, np.concatenate(tops)


def session_track(s: Session) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Keypoints (N, 17, 3), t (N,) and frame size for a scripted session."""
    rng = np.random.default_rng(s.seed)
    t, depth, top = depth_profile(s)
    h, w = s.frame_size
    aspect = w / h
    centre = aspect / 2
    frames = []
    walk_out_at = t[-1] - s.walk_out_s if s.walk_out_s else math.inf
    rising = np.append(np.diff(depth) < 0, False)
    for ti, d, up, rise in zip(t, depth, top, rising, strict=True):
        x0 = centre
        p = hinge_pose(float(d), s.style)
        lean = s.rise_lean_deg * math.sin(math.pi * (1 - d) * 1.5) if rise and d > 1 / 3 else 0.0
        p = Pose2D(trunk_deg=p.trunk_deg + s.lockout_lean_deg * up * (1 - d) + lean,
                   thigh_deg=p.thigh_deg, shin_deg=p.shin_deg,
                   knee_w=KNEE_W * (1 - s.knees_in * d), hip_shift=s.hip_shift * HIP_W * d,
                   neck_deg=s.neck_deg * d, heel_rise=s.heel_rise * SHIN * d,
                   l_arm_deg=s.arms_deg, r_arm_deg=s.arms_deg)
        walking_out = ti - walk_out_at
        if s.walk_in_s and ti < s.walk_in_s:
            # Walk in from the left edge, legs swinging.
            x0 = centre * (0.2 + 0.8 * ti / s.walk_in_s)
            p = _stride(ti)
        elif walking_out > 0:  # walk off to the right
            x0 = centre + WALK_SPEED * walking_out
            p = _stride(walking_out)
        kp = figure(p, s.view, x0, 0.88, aspect)
        if x0 > aspect:  # out of the frame
            kp[:, 2] = 0.0
        if s.passerby_at_s is not None and s.passerby_at_s <= ti < s.passerby_at_s + 0.5:
            # The single-pose model locks on to someone else nearer the camera.
            kp = figure(Pose2D(), "side", centre * 0.4, 0.97, aspect)
        frames.append(kp)
    kp = np.stack(frames)
    if s.noise:
        kp[:, :, :2] += rng.normal(0, s.noise, kp[:, :, :2].shape).astype(np.float32)
    if s.dropout_rate:
        drop = rng.random(kp.shape[:2]) < s.dropout_rate
        kp[:, :, 2] = np.where(drop, 0.1, kp[:, :, 2])
    return kp.astype(np.float32), t - t[0], s.frame_size


def arms_track(steps: list[tuple[float, float, float]], view: str = "front", fps: float = 30.0,
               frame_size: tuple[int, int] = (480, 640), noise: float = 0.0,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """A person standing still, moving only the arms: `steps` are (seconds, left
    arm, right arm), each arm in degrees raised from hanging (180: overhead),
    each step eased from the last (0.3 s or the step, the shorter)."""
    rng = np.random.default_rng(seed)
    h, w = frame_size
    aspect = w / h
    frames, ts, t, was = [], [], 0.0, (0.0, 0.0)
    for dur, left, right in steps:
        k = max(1, int(round(dur * fps)))
        ease = min(0.3, dur)
        for j in range(k):
            u = min(1.0, (j / fps) / ease) if ease else 1.0
            u = (1 - math.cos(math.pi * u)) / 2
            pose = Pose2D(l_arm_deg=was[0] + (left - was[0]) * u,
                          r_arm_deg=was[1] + (right - was[1]) * u)
            frames.append(figure(pose, view, aspect / 2, 0.88, aspect))
            ts.append(t + j / fps)
        t += k / fps
        was = (left, right)
    kp = np.stack(frames)
    if noise:
        kp[:, :, :2] += rng.normal(0, noise, kp[:, :, :2].shape).astype(np.float32)
    return kp.astype(np.float32), np.asarray(ts), frame_size


def _stride(t_s: float) -> Pose2D:
    """Legs swinging at 1.8 steps per second."""
    swing = 25 * math.sin(2 * math.pi * 1.8 * t_s)
    return Pose2D(thigh_deg=abs(swing), shin_deg=abs(swing) * 0.6)


def demo_session() -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """The built-in demo: walk in, five hinges, a pause, three squat-like reps, leave."""
    a = session_track(Session(view="side", reps=5, walk_in_s=2.0, noise=0.002,
                              dropout_rate=0.01, seed=1, tail_s=4.0))
    b = session_track(Session(view="side", reps=3, style="squat", noise=0.002,
                              dropout_rate=0.01, seed=2, lead_s=1.0))
    gap = np.zeros((45, 17, 3), dtype=np.float32)  # 1.5 s nobody in view
    t_gap = a[1][-1] + (np.arange(1, 46) / 30.0)
    t_b = t_gap[-1] + 1 / 30.0 + b[1]
    return (np.concatenate([a[0], gap, b[0]]), np.concatenate([a[1], t_gap, t_b]), a[2])
