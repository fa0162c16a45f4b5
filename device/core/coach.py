"""The coach, keypoints in, reps, faults and cues out: the public face of the core.

The core is split along its seams, each readable in one sitting:
`state` (parameters, `Phase`, typed events), `person` (view, facing,
identity, walking, seats), `perception` (one frame's keypoints to what is
seen), `reps` (the rep state machine, `step`, `CoachState`), `sets` (cues and
set summaries) and `report` (snapshot, `Coach`, `analyze`).
"""

from __future__ import annotations

from device.core.person import Reference, classify_view, dominant_view, window_view
from device.core.report import Coach, analyze, snapshot
from device.core.reps import CoachState, RepTrack, step
from device.core.sets import set_summary
from device.core.state import ACTIVE, CoachParams, Event, Phase, evolve

__all__ = [
    "ACTIVE", "Coach", "CoachParams", "CoachState", "Event", "Phase", "Reference", "RepTrack",
    "analyze", "classify_view", "dominant_view", "evolve", "set_summary", "snapshot", "step",
    "window_view",
]
