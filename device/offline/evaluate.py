"""`hinge-mirror eval DIR`: labelled against counted reps for every labelled clip in DIR.

DIR holds videos (or track .npz files named like them) and a `labels.json` in
the format of `../shared/clips/labels.json`: ``{"clip.mp4": {"reps": N, ...}}``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from device.core.coach import CoachParams, analyze
from device.core.exercises import DEFAULT, EXERCISES
from device.core.filters import MIN_SCORE
from device.core.skeleton import FAULTS
from device.errors import HingeMirrorError
from device.offline.analysis import load_or_track
from device.vision.tracks import save_track

# Where each development clip comes from (../shared/clips/README.md, beside the repository), for
# leave-one-source-out checks: clips of one source share a camera, a lifter and
# a way of filming, so leaving out one clip of a source would flatter a threshold.
DEV_SOURCES = {
    "TBY66/Intelligent-Deadlift-Diagnosis-System": (
        "kbdl_correct_", "kbdl_kneedominant_", "kbdl_roundedback_", "kbdl_hipsfirst_"),
    "Ulisses-coach/kbtrainer": (
        "dowel_deadlift_multiview", "kbdl_oblique_b", "squat_goblet_oblique",
        "squat_air_oblique_front"),
    "Harshraj4423/DeadLift_BOT": ("bbdl_front_studio",),
    "mattiolato98/deadlift-visual-analyzer": ("bbdl_side_good_", "bbdl_side_bad_"),
    "BichraiX/AI-Deadlift-Analysis": ("bbdl_squatting", "bbdl_roundedback", "bbdl_hyperextension"),
    "jrplatin/FormFit": ("bbdl_side_two",),
    "khaled739/html_WS": ("bbdl_front_competition_drop",),
    "trutadan/bachelors-thesis": ("squat_front_valgus_then_knees_out",),
    "Service-Design-Studio/1d-final-project-summer-2024-sds-2024-team-05": (
        "neg_sit_to_stand_walk_off", "neg_walk_toward_camera_corridor"),
}


def source_of(name: str, label: dict) -> str:
    """The label's own "source" when it has one, else DEV_SOURCES, else the clip itself."""
    if isinstance(label.get("source"), str):
        return label["source"]
    for source, prefixes in DEV_SOURCES.items():
        if name.startswith(prefixes):
            return source
    return name


def jitter(track) -> tuple[float, float]:
    """Keypoint steadiness of a track: (median |second difference| in 1/1000 frame
    heights over keypoints confidently seen in three consecutive frames, mean score).

    On a still or smoothly moving body the second difference is mostly noise,
    so lower is steadier; it needs no ground truth.
    """
    kp = track.keypoints
    if len(kp) < 3:
        return float("nan"), float("nan")
    h, w = track.frame_size
    xy = np.stack([kp[:, :, 1] * (w / h), kp[:, :, 0]], axis=-1)
    ok = kp[:, :, 2] >= MIN_SCORE
    both = ok[2:] & ok[1:-1] & ok[:-2]
    acc = np.linalg.norm(xy[2:] - 2 * xy[1:-1] + xy[:-2], axis=-1)[both]
    return (round(float(np.median(acc)) * 1000, 2) if acc.size else float("nan"),
            round(float(kp[:, 5:, 2].mean()), 3))


def thin(t: np.ndarray, max_fps: float) -> np.ndarray:
    """Indices of the frames a device running at most max_fps would process: each
    kept frame at least 1/max_fps after the previous one (to within a millisecond)."""
    keep, last = [], -np.inf
    for i, ts in enumerate(t.tolist()):
        if ts - last >= 1.0 / max_fps - 1e-3:
            keep.append(i)
            last = ts
    return np.asarray(keep, dtype=int)


class MissingClips(HingeMirrorError):
    """Labelled clips that are not in the folder; `rows` holds what was evaluated."""

    def __init__(self, names: list[str], rows: list[dict], folder: Path) -> None:
        self.rows = rows
        super().__init__(f"eval {folder}: {len(names)} labelled clip(s) missing: "
                         f"{', '.join(names)}; add them or remove their labels")


def _count_label(name: str, label, where: Path) -> tuple[int, int]:
    """(fewest, most) reps a label allows: `reps`, or `reps_min`/`reps_max` (a clip
    cut mid-rep). A malformed label is one line that names the clip and the key."""
    def bad(why: str) -> HingeMirrorError:
        return HingeMirrorError(f"labels {where}: {name!r} {why}; fix the label")

    if not isinstance(label, dict):
        raise bad(f"must be an object with \"reps\", not {type(label).__name__}")
    if "reps" in label:
        lo = hi = label["reps"]
    elif "reps_min" in label and "reps_max" in label:
        lo, hi = label["reps_min"], label["reps_max"]
    else:
        raise bad("has neither \"reps\" nor \"reps_min\" and \"reps_max\"")
    if not all(type(v) is int and v >= 0 for v in (lo, hi)) or lo > hi:
        raise bad(f"reps {lo!r}..{hi!r} must be whole numbers >= 0, the least first")
    return lo, hi


def exercise_params(label: dict, labels_path: Path) -> CoachParams:
    """The coach's parameters for a clip: its label's program_exercise, else the default."""
    name = label.get("program_exercise", DEFAULT)
    if name not in EXERCISES:
        raise HingeMirrorError(f"labels {labels_path}: program_exercise {name!r} is not one of "
                               f"{', '.join(EXERCISES)}; fix the label")
    return CoachParams(exercise=name)


def miss(row: dict) -> int:
    """How far the count is outside the labelled range (0: right)."""
    lo, hi = row["labelled"], row.get("labelled_max", row["labelled"])
    return max(lo - row["counted"], row["counted"] - hi, 0)


def read_labels(folder: Path) -> dict[str, dict]:
    """DIR/labels.json as {clip: label}, each checked; entries starting with "_" are notes."""
    labels_path = Path(folder) / "labels.json"
    try:
        labels = json.loads(labels_path.read_text())
    except (OSError, ValueError) as exc:
        raise HingeMirrorError(
            f"labels {labels_path}: cannot be read ({exc}); eval needs DIR/labels.json") from None
    if not isinstance(labels, dict):
        raise HingeMirrorError(
            f"labels {labels_path}: must be an object of {{\"clip.mp4\": {{\"reps\": N}}}}, "
            f"not a {type(labels).__name__}; fix the file")
    out = {}
    for name, label in labels.items():
        if name.startswith("_"):
            continue
        _count_label(name, label, labels_path)
        out[name] = label
    return out


def evaluate_dir(folder: Path, load_pose, cache: Path | None = None,
                 max_fps: float | None = None, only: set[str] | None = None) -> list[dict]:
    """One row per labelled clip (or those named in `only`). max_fps: the coach sees
    only the frames a device running that fast would (the pose model still tracks
    every frame). Labelled clips that are missing raise MissingClips after the
    others are evaluated."""
    labels = read_labels(folder)
    if only is not None:
        labels = {k: v for k, v in labels.items() if k in only}
    labels_path = Path(folder) / "labels.json"
    missing: list[str] = []
    pose = None

    def shared_pose():
        nonlocal pose  # one model load for the whole folder
        if pose is None:
            pose = load_pose()
        pose.reset()
        return pose

    rows = []
    for name, label in sorted(labels.items()):
        lo, hi = _count_label(name, label, labels_path)
        clip = Path(folder) / name
        cached = Path(cache) / (clip.stem + ".npz") if cache else None
        if cached is not None and cached.is_file():
            track = load_or_track(cached, shared_pose)
        elif clip.is_file() or clip.with_suffix(".npz").is_file():
            track = load_or_track(clip if clip.is_file() else clip.with_suffix(".npz"),
                                  shared_pose)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                save_track(cached, track, option="--tracks")
        else:
            missing.append(name)
            continue
        kp, t = track.keypoints, track.t
        if max_fps is not None:
            idx = thin(t, max_fps)
            kp, t = kp[idx], t[idx]
        # The exercise a program would set for the clip (labels.json's program_exercise).
        r = analyze(kp, t, track.frame_size, exercise_params(label, labels_path))
        jit, score = jitter(track)
        unjudged: dict[str, int] = {}
        for rep in r["reps"]:
            for fault in rep["unjudged"]:
                unjudged[fault] = unjudged.get(fault, 0) + 1
        rows.append({"clip": name, "view_label": label.get("view", ""), "view": r["view"],
                     "jitter": jit, "mean_score": score, "unjudged": unjudged,
                     "label_clean": label.get("clean", []),
                     "labelled": lo, "labelled_max": hi, "counted": r["rep_count"],
                     "rep_faults": label.get("rep_faults", {}),
                     "rep_clean": label.get("rep_clean", {}),
                     "partial": r["partial_reps"], "faults": r["faults"],
                     "label_faults": label.get("faults", []), "reps": r["reps"],
                     "seat_max_s": r["seat_max_s"], "source_label": label.get("source_label", ""),
                     "exercise": label.get("exercise", ""), "view_ratio": r["view_ratio"],
                     "other_max_s": r["other_max_s"], "person_changes": r["person_changes"],
                     "source": source_of(name, label), "warp": label.get("warp")})
    if missing:
        raise MissingClips(missing, rows, Path(folder))
    return rows


PERTURB_KINDS = ("keypoints", "pixels")


class Perturbed:
    """A pose estimator with its pose path nudged, as another CPU's int8 kernels
    nudge it (their last bits differ).

    ``keypoints``: what the next frame's crop follows gets Gaussian noise of
    `size` (frame heights and widths) on y and x; the keypoints returned are the
    model's own, so only the crop loop sees the nudge. ``pixels``: a fraction
    `size` of the frame's bytes is moved by one level, up or down, before the
    model sees it. Seeded, and re-seeded for every clip (`reset`)."""

    def __init__(self, pose, kind: str, size: float, seed: int = 0) -> None:
        if kind not in PERTURB_KINDS:
            raise ValueError(f"perturbation must be one of {PERTURB_KINDS}, got {kind!r}")
        self.pose, self.kind, self.size, self.seed = pose, kind, size, seed
        self.rng = np.random.default_rng(seed)

    def reset(self) -> None:
        self.pose.reset()
        self.rng = np.random.default_rng(self.seed)

    def estimate(self, frame: np.ndarray, bgr: bool = False) -> np.ndarray:
        if self.kind == "pixels":
            step = (self.rng.random(frame.shape) < self.size) * \
                self.rng.choice(np.array([-1, 1], np.int16), frame.shape)
            frame = np.clip(frame.astype(np.int16) + step, 0, 255).astype(np.uint8)
        keypoints = self.pose.estimate(frame, bgr)
        if self.kind == "keypoints":
            nudged = np.array(keypoints, dtype=np.float32)
            nudged[:, :2] += self.rng.normal(0.0, self.size, (len(nudged), 2))
            self.pose.follow(nudged)
        return keypoints


def perturbation(folder: Path, rows: list[dict], load_pose, kind: str, size: float,
                 seed: int = 0) -> dict:
    """The clips of `rows` run again through the pose path nudged (`Perturbed`):
    how many change their count. Nothing cached: every clip is tracked anew."""
    nudged = evaluate_dir(folder, lambda: Perturbed(load_pose(), kind, size, seed),
                          only={r["clip"] for r in rows})
    was = {r["clip"]: r for r in rows}
    changed = [{"clip": r["clip"], "counted": was[r["clip"]]["counted"],
                "perturbed": r["counted"], "labelled": r["labelled"]}
               for r in nudged if r["counted"] != was[r["clip"]]["counted"]]
    return {"kind": kind, "size": size, "seed": seed, "clips": len(nudged),
            "changed": changed, "exact": summary(nudged)["exact"]}


def format_perturbation(p: dict) -> str:
    lines = [f"perturbed ({p['kind']}, {p['size']:g}, seed {p['seed']}): the count changed on "
             f"{len(p['changed'])} of {p['clips']} clips; exact count {p['exact']}/{p['clips']}"]
    lines += [f"- {c['clip']}: {c['counted']} -> {c['perturbed']} (labelled {c['labelled']})"
              for c in p["changed"]]
    return "\n".join(lines)


# What each mode of ../shared/tools/fault_warp.py shows (warps/labels.json).
WARP_FAULTS = {"knees": "knees_caving", "hips": "hips_shifting"}


def originals(folder: Path, rows: list[dict], load_pose, cache: Path | None = None,
              max_fps: float | None = None) -> list[dict]:
    """The unwarped clips that the warps among `rows` came from (`warp.source`, in
    the folder above), each as a row at amount 0 of every mode it was warped in:
    the dose-response's zero."""
    modes: dict[str, set[str]] = {}
    for r in rows:
        if r.get("warp"):
            modes.setdefault(r["warp"]["source"], set()).add(r["warp"]["mode"])
    parent = Path(folder).resolve().parent
    if not modes or not (parent / "labels.json").is_file():
        return []  # no originals beside: the table has no zero
    out = []
    for row in evaluate_dir(parent, load_pose, cache, max_fps,
                            only=set(modes)):
        for mode in sorted(modes[row["clip"]]):
            out.append({**row, "warp": {"mode": mode, "amount_hip_widths": 0.0,
                                        "source": row["clip"]}})
    return out


def dose_response(rows: list[dict]) -> dict[str, dict]:
    """Per warped fault, per view the coach saw each rep in, per amount (hip widths,
    0 for the originals): [reps, judged, flagged]."""
    out: dict[str, dict] = {}
    for row in rows:
        w = row.get("warp")
        if not w:
            continue
        fault = WARP_FAULTS[w["mode"]]
        for rep in row["reps"]:
            by_amount = out.setdefault(fault, {}).setdefault(rep["view"], {})
            e = by_amount.setdefault(f"{w['amount_hip_widths']:.2f}", [0, 0, 0])
            e[0] += 1
            e[1] += fault not in rep["unjudged"]
            e[2] += fault in rep["faults"]
    return {f: {v: dict(sorted(a.items())) for v, a in sorted(views.items())}
            for f, views in sorted(out.items())}


def format_dose(rows: list[dict]) -> str:
    """The dose-response table: how often each warped fault is flagged, by amount."""
    out = ["| fault | view (seen) | amount (hip widths) | reps | judged | flagged |",
           "|---|---|---:|---:|---:|---|"]
    for fault, views in dose_response(rows).items():
        for view, amounts in views.items():
            for amount, (n, judged, flagged) in amounts.items():
                rate = f"{flagged}/{n} = {flagged / n:.0%}" if n else "-"
                out.append(f"| {fault} | {view} | {amount} | {n} | {judged} | {rate} |")
    return "\n".join(out)


def faults_by_view(rows: list[dict]) -> dict[str, dict]:
    """Per fault, per view the coach saw each rep in, over every rep of the
    hinge clips: on reps labelled with the fault (the clip's label or the
    rep's), on reps labelled clean of it, and on reps labelled neither way,
    each [reps, judged, flagged]. Flagged over judged is the recall on the
    first, the false-alarm rate on the second; the third says how often the
    fault is called where nobody has said. Warped clips count by their own
    labels."""
    out: dict[str, dict] = {}
    for row in rows:
        if row.get("labelled_max", row["labelled"]) == 0:
            continue  # no hinge: nothing to judge
        for i, rep in enumerate(row["reps"], 1):
            key = str(i)
            for fault in FAULTS:
                label = ("present" if fault in row["label_faults"]
                         or fault in row.get("rep_faults", {}).get(key, []) else
                         "absent" if fault in row["label_clean"]
                         or fault in row.get("rep_clean", {}).get(key, []) else "unlabelled")
                e = out.setdefault(fault, {}).setdefault(
                    rep["view"], {k: [0, 0, 0] for k in ("present", "absent", "unlabelled")})
                cell = e[label]
                cell[0] += 1
                cell[1] += fault not in rep["unjudged"]
                cell[2] += fault in rep["faults"]
    return {f: dict(sorted(out[f].items())) for f in FAULTS if f in out}


def format_faults_by_view(rows: list[dict]) -> str:
    """Every fault in every view: recall, false alarms and unlabelled flags."""
    def cell(e: list[int]) -> str:
        n, judged, flagged = e
        if not n:
            return "-"
        rate = f" = {flagged / judged:.0%}" if judged else ""
        return f"{n} / {judged} / {flagged}{rate}"

    out = ["| fault | view (seen) | labelled present: reps / judged / flagged (recall) | "
           "labelled absent: reps / judged / flagged (false alarms) | unlabelled: reps / "
           "judged / flagged |", "|---|---|---|---|---|"]
    for fault, views in faults_by_view(rows).items():
        for view, e in views.items():
            out.append(f"| {fault} | {view} | {cell(e['present'])} | {cell(e['absent'])} | "
                       f"{cell(e['unlabelled'])} |")
    return "\n".join(out)


def fault_rates(rows: list[dict]) -> dict[str, dict]:
    """Per fault: recall on reps of clips labelled with it, false alarms on reps of
    clips labelled clean of it (counted reps as the denominator)."""
    out = {}
    for fault in FAULTS:
        pos = [r for r in rows if fault in r["label_faults"]]
        neg = [r for r in rows if fault in r["label_clean"]]
        if not pos and not neg:
            continue
        entry = {}
        if pos:
            n = sum(r["counted"] for r in pos)
            entry["recall"] = [sum(r["faults"].get(fault, 0) for r in pos), n]
            entry["unjudged_on_labelled"] = sum(r["unjudged"].get(fault, 0) for r in pos)
        if neg:
            n = sum(r["counted"] for r in neg)
            entry["false_alarms"] = [sum(r["faults"].get(fault, 0) for r in neg), n]
        out[fault] = entry
    return out


def summary(rows: list[dict]) -> dict:
    n = len(rows)
    exact = sum(miss(r) == 0 for r in rows)
    off1 = sum(miss(r) == 1 for r in rows)
    negatives = [r for r in rows if r["labelled"] == 0]
    return {"clips": n, "exact": exact, "off_by_one": off1,
            "worse": n - exact - off1,
            "false_reps_on_negatives": sum(r["counted"] for r in negatives),
            "median_jitter": round(float(np.nanmedian([r["jitter"] for r in rows])), 2)
            if rows else None,
            "labelled_total": sum(r["labelled"] for r in rows),
            "counted_total": sum(r["counted"] for r in rows),
            "faults": fault_rates(rows), "knee_by_view": knee_by_view(rows),
            "faults_by_view": faults_by_view(rows)}


def knee_by_view(rows: list[dict]) -> dict[str, dict]:
    """knees_bent_too_much per view the coach saw the rep in: recall on reps of
    clips labelled with it (or that rep labelled with it), false alarms on every
    other rep of a hinge clip (not the no-hinge clips)."""
    fault = "knees_bent_too_much"
    out: dict[str, dict] = {}
    for row in rows:
        if row["labelled_max"] == 0:
            continue
        for i, rep in enumerate(row["reps"], 1):
            positive = fault in row["label_faults"] or fault in row.get(
                "rep_faults", {}).get(str(i), [])
            e = out.setdefault(rep["view"], {"recall": [0, 0], "false_alarms": [0, 0]})
            key = "recall" if positive else "false_alarms"
            e[key][0] += fault in rep["faults"]
            e[key][1] += 1
    return dict(sorted(out.items()))


def format_table(rows: list[dict]) -> str:
    out = ["| clip | view (label) | view (seen) | labelled | counted | partial | labelled faults "
           "| faults found | jitter | score |", "|---|---|---|---:|---:|---:|---|---|---:|---:|"]
    for r in rows:
        faults = ", ".join(f"{k} x{v}" for k, v in sorted(r["faults"].items())) or "-"
        mark = "" if miss(r) == 0 else " ✗"
        want = (f"{r['labelled']}" if r["labelled"] == r.get("labelled_max", r["labelled"])
                else f"{r['labelled']}–{r['labelled_max']}")
        out.append(f"| {r['clip']} | {r['view_label']} | {r['view']} | {want} | "
                   f"{r['counted']}{mark} | {r['partial']} | {', '.join(r['label_faults']) or '-'} "
                   f"| {faults} | {r['jitter']} | "
                   f"{r['mean_score']} |")
    s = summary(rows)
    out.append("")
    out.append(f"exact count {s['exact']}/{s['clips']}, off by one {s['off_by_one']}, "
               f"off by more {s['worse']}; reps labelled {s['labelled_total']}, counted "
               f"{s['counted_total']}; reps counted on no-hinge clips "
               f"{s['false_reps_on_negatives']}; median keypoint jitter {s['median_jitter']} "
               "(1/1000 frame heights)")
    out.append("")
    out.append("| fault | recall (flagged / reps labelled) | unjudged on labelled | "
               "false alarms (flagged / reps labelled clean) |")
    out.append("|---|---|---:|---|")
    for fault, e in s["faults"].items():
        rec = "{}/{} = {:.0%}".format(*e["recall"], e["recall"][0] / max(e["recall"][1], 1)) \
            if "recall" in e else "-"
        fa = "{}/{} = {:.0%}".format(*e["false_alarms"],
                                     e["false_alarms"][0] / max(e["false_alarms"][1], 1)) \
            if "false_alarms" in e else "-"
        out.append(f"| {fault} | {rec} | {e.get('unjudged_on_labelled', '-')} | {fa} |")
    out.append("")
    out.append("| view (as the coach saw it) | squatting flagged / squat reps | "
               "flagged / other hinge reps |")
    out.append("|---|---|---|")
    for view, e in s["knee_by_view"].items():
        cells = [f"{a}/{n} = {a / n:.0%}" if n else "-"
                 for a, n in (e["recall"], e["false_alarms"])]
        out.append(f"| {view} | {cells[0]} | {cells[1]} |")
    out.append("")
    out.append(format_faults_by_view(rows))
    return "\n".join(out)
