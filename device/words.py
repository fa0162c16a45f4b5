"""The words the mirror, the staff pages and the `analyze` report use: one table
(DESIGN.md, "Words"). The core speaks in fault ids and cue ids only.

Cues follow the clinic's guide (COACHING.md): short enough to read at three
metres and to hear once.
"""

from __future__ import annotations

from typing import Any

CUES = {
    "back_rounding": "Chest slightly forward, long spine: move as one unit",
    "knees_bent_too_much": "Drive your hips back, as if touching a wall behind you",
    "knees_caving": "Spread the floor apart; keep slight outward pressure on the knees",
    "back_overarching": "Squeeze your glutes to stand tall, without leaning back",
    "hips_shifting": "Keep your weight centered between both feet",
    "incomplete_lockout": "Finish tall: squeeze your glutes at the top",
    "weight_on_toes": "Feet like roots: keep your weight even over the whole foot",
    "weight_on_heels": "Feet like roots: keep your weight even over the whole foot",
    "too_fast": "Slow down: control the way down",
}

FAULT_WORDS = {
    "back_rounding": "Back rounding",
    "knees_bent_too_much": "Squatting, not hinging",
    "knees_caving": "Knees caving in",
    "back_overarching": "Leaning back at the top",
    "hips_shifting": "Hips shifting sideways",
    "incomplete_lockout": "Incomplete lockout",
    "weight_on_toes": "Weight on the toes",
    "weight_on_heels": "Weight on the heels",
    "too_fast": "Too fast",
}

# Praise says only what the rep's view judged (device/core/sets.py, PRAISE_NEEDS).
PRAISE = {
    "praise": "Good rep: hips back, long spine, tall finish",
    "praise_knees": "Good rep: hips back, knees out, tall finish",
    "praise_hips": "Good rep: hips back, tall finish",
    "praise_fixed": "Better: that fault is gone",
}


# A program's limits (device/core/sets.py, RANGE_CUE): said as a cue, before any fault.
LIMITS = {"range_limit": "Stop higher: range limit"}


# The guided set-up before the first rep (COACHING.md: set-up and bracing).
GUIDE = {
    "stand_tall": "Stand tall and still for a second",
    "feet_wider": "Feet a little wider: about hip width",
    "feet_closer": "Feet a little closer: no wider than your shoulders",
    "brace": "Breathe in through your nose, ribs down",
    "hinge_when_ready": "Hinge when ready",
}


def cue_text(cue_id: str | None) -> str | None:
    """The sentence of a cue id (a fault id, a praise id or a limit's)."""
    if cue_id is None:
        return None
    return PRAISE.get(cue_id) or LIMITS.get(cue_id) or CUES[cue_id]


def cue_ids() -> tuple[str, ...]:
    """Every cue id there is a sentence for."""
    return (*CUES, *PRAISE, *LIMITS)


def score_words(rep: dict[str, Any]) -> str:
    """A rep's score with what it covered: "100 (3 of 9 checks)"; a stored rep
    from before `checked` was kept says it from its unjudged faults."""
    from device.core.skeleton import FAULTS

    checks = rep.get("checks") or len(FAULTS)
    checked = rep.get("checked", checks - len(rep.get("unjudged") or ()))
    return f"{rep['score']} ({checked} of {checks} checks)"


# Which way the hips went (a rep's hips_to): the person's own left or right.
HIPS_TO = {"left": "Hips shifting to your left", "right": "Hips shifting to your right"}


def fault_words(fault: str | None, rep: dict[str, Any] | None = None) -> str | None:
    """A fault's words; with the rep, hips_shifting says which way the hips went."""
    if fault == "hips_shifting" and rep and rep.get("hips_to") in HIPS_TO:
        return HIPS_TO[rep["hips_to"]]
    return FAULT_WORDS.get(fault) if fault else None


def rep_faults_words(rep: dict[str, Any]) -> str:
    """A rep's faults as the console and the report list them, or "clean"."""
    return ", ".join(fault_words(f, rep) for f in rep["faults"]) or "clean"


def dress(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The core's snapshot with the words the page shows beside its ids."""
    return {**snapshot, "last_fault_text": fault_words(snapshot.get("last_fault"),
                                                       snapshot.get("last_rep")),
            "cue": cue_text(snapshot.get("cue_id")),
            "guide_text": GUIDE.get(snapshot.get("guide") or "")}


# Why the camera is away, as the glass and the staff dashboard say it (the
# reason ids of device.errors.CameraError).
CAMERA = {
    "not_found": "No camera found: check that it is plugged in",
    "cannot_open": "The camera is there but will not open",
    "no_module": "The camera's software is not installed",
    "lost": "The camera stopped sending pictures",
    "ended": "The recording has ended",
}


def camera_words(reason: str | None) -> str | None:
    return CAMERA.get(reason or "", CAMERA["cannot_open"]) if reason else None


# Where the camera can go (docs/install.md, "Where to put the camera"; the glass's guide
# and the staff framing page), each with the view the coach sees from there.
# What each judges comes from the coach itself (device.core.faults.judged_from).
PLACEMENTS = (
    ("front", "Behind the glass, at chest height",
     "weight on the toes by the heels rising only; knees caving is an estimate that "
     "misses collapses at the bottom"),
    ("oblique", "At the glass's edge, turned 30-45° toward the person",
     "the back and the feet corrected for the angle; the view is the angle between "
     "where the person faces and the camera: 36° needs the camera about 2 m to the "
     "side of a person 3 m away facing the glass, or the person turned toward it"),
    ("side", "On a side wall", ""),
)

VIEWS = {"front": "from the front", "oblique": "at an angle", "side": "from the side",
         "unknown": "not known yet"}


def judged_words(judged: list[str] | set[str]) -> tuple[list[str], list[str]]:
    """Fault ids judged -> (the judged faults' words, the others'), in priority order."""
    from device.core.skeleton import FAULTS

    return ([FAULT_WORDS[f] for f in FAULTS if f in judged],
            [FAULT_WORDS[f] for f in FAULTS if f not in judged])


def waits_for_standing(view: str) -> list[str]:
    """The words of the faults a view judges only after the standing calibration."""
    from device.core.faults import judged_from

    later = set(judged_from(view, calibrated=True)) - set(judged_from(view, calibrated=False))
    return judged_words(later)[0]


def standing_words() -> str:
    """How long the standing calibration takes, as the pages say it."""
    from device.core.state import CoachParams

    return f"{CoachParams().calib_s:g} s of still standing"


def placements() -> list[dict[str, Any]]:
    """Each placement with the camera's angles to the person it stands for, the
    faults it judges and those it does not, in words (after the standing
    calibration, at an angle within the corrected range), and those that wait
    for that calibration."""
    from device.core.faults import judged_from
    from device.core.person import view_deg

    rows = []
    for view, name, note in PLACEMENTS:
        judged, unjudged = judged_words(judged_from(view, calibrated=True))
        lo, hi = view_deg(view)
        rows.append({"view": view, "name": name, "note": note,
                     "sees": f"{VIEWS[view]}, {lo:.0f}-{hi:.0f}°",
                     "judged": judged, "unjudged": unjudged,
                     "waits": waits_for_standing(view)})
    return rows


def placements_markdown() -> str:
    """The placement table of docs/install.md, from `placements` (a test keeps them equal)."""
    lines = ["| placement | the coach sees | judged | not judged there | "
             f"judged only after {standing_words()} | note |", "|---|---|---|---|---|---|"]
    for row in placements():
        lines.append(f"| {row['name']} | {row['sees']} | {' · '.join(row['judged'])} | "
                     f"{' · '.join(row['unjudged']) or '-'} | {' · '.join(row['waits']) or '-'} "
                     f"| {row['note'] or '-'} |")
    return "\n".join(lines)


# The mirror's phase line, by the core's phase id (device/core/state.py, Phase).
PHASES = {"absent": "", "ready": "Stand tall and still to begin", "standing": "",
          "descending": "Hips back", "bottom": "", "ascending": "Drive up",
          "lockout": "Stand tall", "seated": "Seated: stand up when ready"}

# What the framing check (device/core/person.py, framing) asks, by its id: on the
# glass, to the person (a line and its small print); on the staff framing page,
# to whoever aims the camera. "away": nobody measurable in view.
FRAMING = {
    "away": {"glass": ("Step into view", "whole body, head to feet"), "staff": ""},
    "move_back": {"glass": ("Move back", "whole body, head to feet"),
                  "staff": "The person is too close: the whole body, head to feet, "
                           "must be in the frame."},
    "step_left": {"glass": ("Step to your left", "whole body in view"),
                  "staff": "The person is off to one side: aim the camera, or step left."},
    "step_right": {"glass": ("Step to your right", "whole body in view"),
                   "staff": "The person is off to one side: aim the camera, or step right."},
}

# The glass while the pipeline is not running (the supervisor's camera states).
CAMERA_STATES = {"restarting": ("Restarting…", "one moment"),
                 "failed": ("The mirror has stopped", "staff: see the dashboard"),
                 "ended": ("The recording has ended", "its sets are stored")}

# Every other line of the glass, by id; {name} is filled in by the page
# (web_ui/static/mirror.js `say`), from the snapshot.
GLASS = {
    "title": "Hinge Mirror",
    "connecting": "Connecting…",
    "reconnecting": "Reconnecting…",
    "reconnecting_why": "the mirror's server is not answering",
    "camera_away": "Camera unavailable, retrying…",
    "next_try": "next try in {s} s",
    "trying_now": "trying now",
    "unclear": "Can't see you clearly",
    "reps": "reps",
    "depth": "depth",
    "of_target": "of {target}",
    "sets_done_one": "1 set done: {reps} reps",
    "sets_done": "{n} sets done: {reps} reps",
    "set": "Set {n}",
    "set_of": "Set {n} of {sets}",
    "extra_set": "Extra set {n} · the {sets} sets are done",
    "set_done": "Set done",
    "rest": "Rest {clock}",
    "rest_over": "Ready for the next set",
    "last_set_faults": "{faulty} with a fault",
    "last_set_clean": "all clean",
    "all_done": "All sets done",
    "all_done_extra": "All sets done · {extra} extra",
    "program_block": "{exercise}, set {set} of {sets}, {reps} reps",
    "program_blocks": "block {n} of {blocks}",
    "tempo_down": "down",
    "tempo_hold": "hold",
    "tempo_up": "up",
    "program_done": "Program done",
    "summary_block": "{exercise}: {sets} × {reps} · done {done}",
    "summary_faulty": "{n} with a fault",
    "summary_clean": "all clean",
    "summary_tempo": "down {median} s, aimed at {target} s",
    "summary_tempo_kept": "tempo kept: down {median} s",
    "summary_range": "{n} past the range limit",
    "summary_range_kept": "range kept",
    "summary_adherence": "{pct}% of the reps prescribed",
    "menu_ask": "Menu: keep your left hand up, lower your right",
    "menu_ask_left": "{s} s",
    "menu_title": "Menu",
    "menu_how": "right hand up: next · left hand up: change · both hands up: save",
    "menu_exercise": "Exercise",
    "menu_set_reps": "Reps per set",
    "menu_sets": "Sets",
    "menu_rest_s": "Rest",
    "menu_no_target": "no target",
    "menu_seconds": "{s} s",
    "demo": "Demo: a synthetic session, no camera",
    "camera_on": "camera on · no video recorded",
    "staff_console": "Staff console",
    "certificate": "certificate SHA-256",
    "placements": "Where the camera judges what",
    "this_camera": "this camera",
    "not_judged_there": "not judged there: {parts}",
    "nothing": "nothing",
}

# The exercises (device/core/exercises.py), as the glass and the console name them.
EXERCISE_WORDS = {"deadlift": "Deadlift", "kettlebell_swing": "Kettlebell swing"}

def adherence_lines(a: dict[str, Any]) -> list[str]:
    """A program's prescribed against done (device/store/programs.adherence), a
    line per block and its total, in the glass summary's words (mirror.js says
    them the same way)."""
    g = GLASS
    lines = []
    for n, b in enumerate(a["blocks"], 1):
        parts = [g["summary_block"].format(
            exercise=EXERCISE_WORDS.get(b["exercise"], b["exercise"]), sets=b["sets"],
            reps=b["reps"], done=" · ".join(map(str, b["reps_per_set"])) or "0"),
            g["summary_faulty"].format(n=b["faulty"]) if b["faulty"] else g["summary_clean"]]
        if b["tempo_down_s"] is not None and b["down_s_median"] is not None:
            parts.append(g["summary_tempo_kept" if b["tempo_kept"] else "summary_tempo"].format(
                median=b["down_s_median"], target=b["tempo_down_s"]))
        if b["max_hip_deg"] is not None:
            parts.append(g["summary_range"].format(n=b["past_range"]) if b["past_range"]
                         else g["summary_range_kept"])
        lines.append(f"Block {n}: " + " · ".join(parts))
    if a["adherence_pct"] is not None:
        lines.append(g["summary_adherence"].format(pct=a["adherence_pct"]))
    return lines


# A fault the view could not judge, as the glass names the part it looks at.
CHECK_PARTS = {"back_rounding": "back", "back_overarching": "lean back",
               "weight_on_toes": "weight on the toes", "weight_on_heels": "weight on the heels",
               "knees_caving": "knees", "hips_shifting": "hips"}


def page_words() -> dict[str, Any]:
    """The sentences the mirror page looks its ids up in (web_ui/static/mirror.js
    and mirror.html hold none of their own): the glass's lines, phases, framing
    asks, camera states, and for each
    part a view may not check, where it can be: the side view for what it judges,
    facing the mirror for the rest (device.core.faults.JUDGED_IN)."""
    from device.core.faults import JUDGED_IN

    return {"phases": PHASES, "framing": {k: v["glass"] for k, v in FRAMING.items()},
            "camera": CAMERA_STATES,
            "checks": {f: {"part": part, "where": "side" if f in JUDGED_IN["side"] else "front"}
                       for f, part in CHECK_PARTS.items()},
            # In this order on the glass: "back: turn sideways; knees: face the mirror".
            "where": [["side", "turn sideways"], ["front", "face the mirror"]],
            "not_checked": "Not checked from here: {}.", "glass": GLASS,
            "exercises": EXERCISE_WORDS}


# The reported angles, and why each is what it is (`<angle>_why`, the reason ids
# of device.core.features.ANGLE_WHY), as the report says them.
ANGLE_WORDS = {"hinge_deg": "trunk lean", "hip_deg": "hip flexion", "knee_deg": "knee flexion"}
ANGLE_WHY = {
    "not_seen": "{angle}: not seen",
    "poorly_seen": "{angle}: keypoints seen too poorly (confidence {confidence:.2f})",
    "out_of_range": "{angle}: past what the body does; the {view} view cannot give it here",
    "measured": "{angle}: measured (2-D)",
    "foreshortened": "{angle}: estimated from foreshortening ({view})",
}


def angle_note(rep: dict[str, Any], name: str) -> str | None:
    """How a rep's angle was got, or why it has none, in words; a report from
    before the reason ids kept its sentences in `angle_notes`."""
    why = rep.get(f"{name}_why")
    if why is None:
        return (rep.get("angle_notes") or {}).get(name)
    return ANGLE_WHY[why].format(angle=ANGLE_WORDS[name], view=rep.get("view", "unknown"),
                                 confidence=rep.get("confidence") or 0.0)


def angle_blanks(rep: dict[str, Any]) -> list[str]:
    """Why each of a rep's angles that has no number has none."""
    return [note for name in ANGLE_WORDS if rep.get(name) is None
            and (note := angle_note(rep, name))]
