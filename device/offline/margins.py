"""`hinge-mirror eval DIR --margins`: how far each threshold read off clips sits
from the clips on either side of it, checked by leaving one source out.

For every threshold: the measure it cuts, the examples that must stay on the
quiet side (negatives) and those that must fire (positives), the margin of the
current value to the nearest of each, and a leave-one-source-out check: the
threshold is set again from every other source (midway between the two
sides, or at the edge of the only side there is) and the left-out source's
examples are judged by it. A source named there would have been misjudged had
its clips not been seen when the threshold was chosen.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from device.core import faults
from device.core.state import CoachParams

Example = tuple[str, float]  # (source, measured value)


def _clean(row: dict) -> bool:
    """A clip of correct hinges: its source says so and it labels no fault."""
    words = row["source_label"].lower()
    return not row["label_faults"] and row["labelled"] > 0 and not row["clip"].startswith(
        ("neg_", "squat_")) and any(w in words for w in ("correct", "good", "demonstration"))


def _reps(rows: list[dict], keep: Callable[[dict], bool], value: Callable[[dict], float | None],
          rep_filter: Callable[[dict], bool] = lambda rep: True) -> list[Example]:
    out = []
    for row in rows:
        if keep(row):
            for rep in row["reps"]:
                v = value(rep)
                if rep_filter(rep) and v is not None and math.isfinite(v):
                    out.append((row["source"], float(v)))
    return out


@dataclass(frozen=True)
class Spec:
    name: str
    value: float
    unit: str
    fires_above: bool  # the rule fires when the measure exceeds the value (else below it)
    negatives: Callable[[list[dict]], list[Example]]
    positives: Callable[[list[dict]], list[Example]]
    measure: str


def _clips(rows: list[dict], view_is: Callable[[str], bool], key: str) -> list[Example]:
    """One value per clip whose labelled view (a single word) passes `view_is`."""
    return [(r["source"], float(r[key])) for r in rows
            if view_is(r["view_label"]) and r.get(key) is not None and r[key] > 0]


def _lean_back(rep: dict) -> float | None:
    return None if rep["top_lean_deg"] is None else -rep["top_lean_deg"]


def _gap(rep: dict) -> float | None:
    """Knee flexion minus trunk inclination, where both are reported."""
    if rep["knee_deg"] is None or rep["hinge_deg"] is None:
        return None
    return rep["knee_deg"] - rep["hinge_deg"]


def _squat_label(row: dict) -> bool:
    return "knees_bent_too_much" in row["label_faults"]


def _hinge(row: dict) -> bool:
    """Every hinge clip not labelled as squatting (the rule must stay quiet on them)."""
    return row["labelled"] > 0 and not _squat_label(row) and not row["clip"].startswith("neg_")


def specs() -> list[Spec]:
    p = CoachParams()
    return [
        Spec("faults.LOCKOUT_MAX_DEG", faults.LOCKOUT_MAX_DEG, "deg", True,
             lambda rows: _reps(rows, _clean, lambda r: r["top_hip_deg"]),
             lambda rows: _reps(rows, lambda row: "incomplete_lockout" in row["label_faults"],
                                lambda r: r["top_hip_deg"]),
             "straightest hip flexion at the top of a counted rep"),
        Spec("faults.LEAN_BACK_DEG", faults.LEAN_BACK_DEG, "deg", True,
             lambda rows: _reps(rows, _clean, _lean_back, lambda r: r["view"] == "side"),
             lambda rows: _reps(rows, lambda row: "back_overarching" in row["label_faults"],
                                _lean_back),
             "backward trunk lean at the top, side-view reps"),
        Spec("faults.KNEE_OVER_HINGE_DEG", faults.KNEE_OVER_HINGE_DEG, "deg", True,
             lambda rows: _reps(rows, lambda row: "knees_bent_too_much" in row["label_clean"],
                                _gap),
             lambda rows: _reps(rows, _squat_label, _gap,
                                lambda r: (r["knee_deg"] or 0) >= faults.KNEE_MIN_DEG),
             "knee flexion minus trunk inclination at the deepest point"),
        Spec("faults.HIP_DROP_SQUAT", faults.HIP_DROP_SQUAT, "leg", True,
             lambda rows: _reps(rows, _hinge, lambda r: r["hip_drop"],
                                lambda r: r["view"] != "side"),
             lambda rows: _reps(rows, _squat_label, lambda r: r["hip_drop"],
                                lambda r: r["view"] != "side"),
             "the hips' lowest point below standing, leg lengths, front and oblique reps"),
        Spec("CoachParams.rise_frac", 1.0 + p.rise_frac, "x", True,
             lambda rows: [],
             lambda rows: _reps(rows, lambda row: row["labelled"] > 0, lambda r: r["rise"]),
             "shoulder height at the top over its lowest in the rep, every counted rep"),
        Spec("CoachParams.depth_rise_frac", 1.0 + p.depth_rise_frac, "x", True,
             lambda rows: [],
             lambda rows: _reps(rows, lambda row: row["labelled"] > 0, lambda r: r["rise"],
                                lambda r: r["depth_by"] == "rise"),
             "the same, reps whose depth only the rise showed (sets at depth, front)"),
        Spec("faults.HEEL_RISE_SHIN", faults.HEEL_RISE_SHIN, "shin", True,
             lambda rows: _reps(rows, _clean, lambda r: r["heel_rise"],
                                lambda r: r["view"] == "side"),
             lambda rows: _reps(rows, lambda row: "weight_on_toes" in row["label_faults"],
                                lambda r: r["heel_rise"]),
             "most the ankles rose over standing, side-view reps"),
        Spec("classify_view front (> 0.65)", 0.65, "", True,
             lambda rows: _clips(rows, lambda v: v in ("side", "oblique"), "view_ratio"),
             lambda rows: _clips(rows, lambda v: v == "front", "view_ratio"),
             "shoulder width over torso length, averaged standing, per clip"),
        Spec("classify_view side (< 0.3)", 0.3, "", False,
             lambda rows: _clips(rows, lambda v: v in ("front", "oblique"), "view_ratio"),
             lambda rows: _clips(rows, lambda v: v == "side", "view_ratio"),
             "the same"),
        Spec("CoachParams.switch_s (with jump_torso 0.2)", p.switch_s, "s", True,
             lambda rows: [(r["source"], r["other_max_s"]) for r in rows
                           if r["labelled"] > 0],
             lambda rows: [],
             "longest run of frames judged someone else, clips of one lifter"),
        Spec("CoachParams.supported_s", p.supported_s, "s", True,
             lambda rows: [(r["source"], r["seat_max_s"]) for r in rows
                           if r["labelled"] > 0],
             lambda rows: [(r["source"], r["seat_max_s"]) for r in rows
                           if "chair" in r.get("exercise", "")],
             "longest time the centre of mass stayed behind the seat line, per clip"),
    ]


def _edge(values: list[float], fires_above: bool, positive: bool) -> float:
    """The example nearest the threshold on its side."""
    return (min if positive == fires_above else max)(values)


def _derived(neg: list[float], pos: list[float], fires_above: bool) -> float | None:
    if neg and pos:
        return (_edge(neg, fires_above, False) + _edge(pos, fires_above, True)) / 2
    if neg:
        return _edge(neg, fires_above, False)
    if pos:
        return _edge(pos, fires_above, True)
    return None


def _wrong(examples: list[float], threshold: float, fires_above: bool, positive: bool) -> int:
    fires = [(v > threshold) if fires_above else (v < threshold) for v in examples]
    return sum((not f) if positive else f for f in fires)


def margins(rows: list[dict]) -> list[dict]:
    out = []
    for spec in specs():
        neg, pos = spec.negatives(rows), spec.positives(rows)
        entry = {"threshold": spec.name, "value": spec.value, "unit": spec.unit,
                 "measure": spec.measure, "negatives": len(neg), "positives": len(pos),
                 "negative_edge": None, "positive_edge": None, "margin_negative": None,
                 "margin_positive": None, "loso_misjudged": {}}
        sign = 1.0 if spec.fires_above else -1.0
        if neg:
            edge = _edge([v for _, v in neg], spec.fires_above, False)
            entry["negative_edge"] = round(edge, 3)
            entry["margin_negative"] = round(sign * (spec.value - edge), 3)
        if pos:
            edge = _edge([v for _, v in pos], spec.fires_above, True)
            entry["positive_edge"] = round(edge, 3)
            entry["margin_positive"] = round(sign * (edge - spec.value), 3)
        for source in sorted({s for s, _ in neg + pos}):
            thr = _derived([v for s, v in neg if s != source], [v for s, v in pos if s != source],
                           spec.fires_above)
            if thr is None:
                continue
            bad = (_wrong([v for s, v in neg if s == source], thr, spec.fires_above, False)
                   + _wrong([v for s, v in pos if s == source], thr, spec.fires_above, True))
            if bad:
                entry["loso_misjudged"][source] = bad
        out.append(entry)
    return out


def format_margins(entries: list[dict]) -> str:
    out = ["| threshold | value | measure | quiet side (n, nearest) | firing side (n, nearest) "
           "| margin quiet / firing | misjudged when its source is left out |",
           "|---|---:|---|---|---|---|---|"]
    for e in entries:
        def side(n, edge):
            return f"{n}, {edge}" if n else "none"
        loso = ", ".join(f"{s.split('/')[0]} ({n})" for s, n in e["loso_misjudged"].items())
        out.append(f"| {e['threshold']} | {e['value']} {e['unit']} | {e['measure']} | "
                   f"{side(e['negatives'], e['negative_edge'])} | "
                   f"{side(e['positives'], e['positive_edge'])} | "
                   f"{e['margin_negative']} / {e['margin_positive']} | {loso or 'none'} |")
    return "\n".join(out)
