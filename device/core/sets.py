"""Cues and sets: one cue at a time after each rep, and the summary of a set."""

from __future__ import annotations

import numpy as np

from device.core.skeleton import FAULTS
from device.core.state import CoachParams, CoachState, Event, evolve


def give_cue(s: CoachState, found: list[str], t_s: float, p: CoachParams,
         events: list[Event]) -> CoachState:
    """One cue at a time, most important fault first, no repeats within cue_repeat_s."""
    if found:
        cue_id = found[0]
    elif s.cue_id in FAULTS:
        cue_id = "praise_fixed"
    else:
        cue_id = "praise"
    if cue_id == s.cue_id and t_s - s.cue_s < p.cue_repeat_s:
        return s
    events.append({"type": "cue", "id": cue_id, "t_s": t_s})
    return evolve(s, cue_id=cue_id, cue_s=t_s)


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


def end_set(s: CoachState, events: list[Event]) -> CoachState:
    if not s.set_reps:
        return s
    summary = set_summary(s.set_index, s.set_reps)
    events.append({"type": "set_end", **summary})
    return evolve(s, set_reps=(), last_set=summary)
