"""The home user's menu at the glass, worked by the arms alone: the exercise, the
reps per set, the sets and the rest, set with nobody else in the room.

The gestures, seen on the keypoints of one person standing still between sets:

- **Ask**: both hands above the head, held for `ask_s` (2 s). The glass asks
  for the second step; nothing opens yet.
- **Open**: then, within `confirm_s`, the right hand lowered below the shoulder
  while the left stays up, for `pose_s`. Arms held overhead in an overhead
  squat, or stretched up and brought down together, never do this: they stop
  at "ask", which closes by itself.
- In the open menu, each gesture from both hands down: **the right hand up**
  alone moves to the next item, **the left hand up** alone changes the item's
  value, **both hands up** held for `ask_s` saves and closes. `idle_s` (20 s)
  with no gesture closes the menu with nothing changed.

Never during a set: the caller says whether a gesture may count (`allowed`:
standing, no set under way, no program); a menu open when a set starts closes
with nothing changed.

Where it can be fooled: a stretch that goes from both arms overhead to one arm
overhead (a side bend to the right with the left arm up) opens the menu; it
then closes by itself after `idle_s`, nothing changed. Hands read above the
head by the pose model while they are not (a low-score wrist) are held off by
`min_score` on the wrists, shoulders and nose.

Pure: keypoints in, a state and events (ids, numbers) out. The words are
device/words.py's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from device.core.exercises import EXERCISES
from device.core.skeleton import L_HIP, L_SHOULDER, L_WRIST, NOSE, R_HIP, R_SHOULDER, R_WRIST

# The menu's items and the values a gesture steps through, in order (a value
# set elsewhere that is not among them steps to the next one above it).
ITEMS: tuple[tuple[str, tuple], ...] = (
    ("exercise", EXERCISES),
    ("set_reps", (0, 5, 6, 8, 10, 12, 15, 20)),
    ("sets", (0, 1, 2, 3, 4, 5)),
    ("rest_s", (30.0, 45.0, 60.0, 90.0, 120.0, 180.0)),
)


@dataclass(frozen=True)
class GestureParams:
    ask_s: float = 2.0  # both hands up this long: ask (closed) or save (open)
    confirm_s: float = 3.0  # after asking, the time to lower the right hand
    pose_s: float = 0.5  # one hand up (or, to open, the right lowered) this long
    idle_s: float = 20.0  # an open menu with no gesture this long closes unchanged
    min_score: float = 0.3  # wrists, shoulders, nose and hips at least this sure
    # A hand is up with its wrist above the nose by this share of the torso (the
    # shoulders' middle to the hips'); overhead, a straight arm puts it about
    # 0.8 above (the synthetic figure too); raised to about 125 degrees, 0.3.
    up_torso: float = 0.3
    # A hand is down with its wrist below the shoulders' line by this share.
    down_torso: float = 0.1


@dataclass(frozen=True)
class MenuState:
    mode: str = "closed"  # closed | asking | open
    pose: str = "none"  # the arms' pose at the last frame: none, both, left, right, down
    pose_since_s: float | None = None
    used: bool = False  # the pose under way has done its gesture already
    asked_s: float | None = None
    last_s: float | None = None  # the open menu's last gesture (or its opening)
    item: int = 0
    values: tuple = ()  # the values being set, one per item


def arms(keypoints: np.ndarray, p: GestureParams) -> str:
    """The arms' pose on one frame: "both" (hands above the head), "left" or
    "right" (that hand above the head, the other down), "down" (both below the
    shoulders), "none" (anything else, or not seen well enough)."""
    kp = np.asarray(keypoints, dtype=np.float64)
    need = (NOSE, L_SHOULDER, R_SHOULDER, L_WRIST, R_WRIST, L_HIP, R_HIP)
    if np.any(kp[list(need), 2] < p.min_score) or not np.all(np.isfinite(kp[list(need), :2])):
        return "none"
    shoulders = (kp[L_SHOULDER, 0] + kp[R_SHOULDER, 0]) / 2
    torso = (kp[L_HIP, 0] + kp[R_HIP, 0]) / 2 - shoulders
    if torso <= 0:  # not upright: bent over or lying
        return "none"
    up_line = kp[NOSE, 0] - p.up_torso * torso  # y grows downward
    down_line = shoulders + p.down_torso * torso
    left_up, right_up = kp[L_WRIST, 0] < up_line, kp[R_WRIST, 0] < up_line
    left_down, right_down = kp[L_WRIST, 0] > down_line, kp[R_WRIST, 0] > down_line
    if left_up and right_up:
        return "both"
    if left_up and right_down:
        return "left"
    if right_up and left_down:
        return "right"
    if left_down and right_down:
        return "down"
    return "none"


def _value_index(choices: tuple, value) -> int:
    if value in choices:
        return choices.index(value)
    above = [i for i, c in enumerate(choices)
             if not isinstance(c, str) and not isinstance(value, str) and c > value]
    return above[0] - 1 if above else len(choices) - 1


def _closed(s: MenuState, t_s: float, why: str) -> tuple[MenuState, list[dict]]:
    return (MenuState(pose=s.pose, pose_since_s=s.pose_since_s, used=True),
            [{"type": "menu", "action": "closed", "reason": why, "t_s": t_s}])


def step(s: MenuState, keypoints: np.ndarray, t_s: float, allowed: bool, current: dict,
         p: GestureParams = GestureParams()) -> tuple[MenuState, list[dict]]:
    """One frame. `allowed`: a gesture may count (standing still, no set under
    way, no program). `current`: the item values in effect ({"exercise":
    "deadlift", "set_reps": 8, ...}), where an opened menu starts. Events:
    {"type": "menu", "action": asked | opened | moved | changed | saved |
    closed, "t_s"}; `saved` carries "values" ({item id: value}, only what
    differs from `current`), `closed` a "reason" (idle, set, dismissed)."""
    pose = arms(keypoints, p)
    if pose != s.pose:
        s = replace(s, pose=pose, pose_since_s=t_s, used=False)
    held = t_s - s.pose_since_s if s.pose_since_s is not None else 0.0
    if not allowed:
        if s.mode == "open":
            return _closed(s, t_s, "set")
        if s.mode == "asking":
            return _closed(s, t_s, "dismissed")
        return replace(s, used=True), []  # a pose held on into an allowed time does not count
    if s.mode == "closed":
        if pose == "both" and held >= p.ask_s and not s.used:
            return (replace(s, mode="asking", asked_s=t_s, used=True),
                    [{"type": "menu", "action": "asked", "t_s": t_s}])
        return s, []
    if s.mode == "asking":
        if pose == "left" and held >= p.pose_s:
            values = tuple(current.get(item, choices[0]) for item, choices in ITEMS)
            return (replace(s, mode="open", item=0, values=values, last_s=t_s, used=True),
                    [{"type": "menu", "action": "opened", "t_s": t_s}])
        if t_s - s.asked_s > p.confirm_s or pose == "down":
            return _closed(s, t_s, "dismissed")
        return s, []
    # Open.
    if s.used or pose in ("none", "down"):
        if t_s - s.last_s > p.idle_s:
            return _closed(s, t_s, "idle")
        return s, []
    if pose == "right" and held >= p.pose_s:
        item = (s.item + 1) % len(ITEMS)
        return (replace(s, item=item, last_s=t_s, used=True),
                [{"type": "menu", "action": "moved", "item": ITEMS[item][0], "t_s": t_s}])
    if pose == "left" and held >= p.pose_s:
        name, choices = ITEMS[s.item]
        value = choices[(_value_index(choices, s.values[s.item]) + 1) % len(choices)]
        values = s.values[:s.item] + (value,) + s.values[s.item + 1:]
        return (replace(s, values=values, last_s=t_s, used=True),
                [{"type": "menu", "action": "changed", "item": name, "value": value,
                  "t_s": t_s}])
    if pose == "both" and held >= p.ask_s:
        changed = {name: v for (name, _), v in zip(ITEMS, s.values, strict=True)
                   if current.get(name) != v}
        return (MenuState(pose=s.pose, pose_since_s=s.pose_since_s, used=True),
                [{"type": "menu", "action": "saved", "values": changed, "t_s": t_s}])
    if t_s - s.last_s > p.idle_s:
        return _closed(s, t_s, "idle")
    return s, []


def view(s: MenuState, t_s: float | None, p: GestureParams = GestureParams()) -> dict | None:
    """What the glass shows of the menu: None while closed; asking, with the
    seconds left to confirm; open, with its items, their values and the one
    the cursor is on."""
    if s.mode == "closed":
        return None
    if s.mode == "asking":
        left = p.confirm_s - ((t_s or s.asked_s) - s.asked_s)
        return {"mode": "asking", "left_s": max(0, math.ceil(left))}
    return {"mode": "open", "item": ITEMS[s.item][0],
            "items": [{"id": name, "value": v}
                      for (name, _), v in zip(ITEMS, s.values, strict=True)]}
