"""The coach's analysis reports, kept to show that a change of structure changes nothing.

Synthetic sessions (this project's own generator, so the file is ours to keep):
``python -m tests.golden.reports synthetic`` prints them; tests/golden/synthetic.json
holds them and tests/test_golden.py keeps the coach equal to it. A change that
means to change what the coach says rewrites the file (``--write``) in the same
commit, and says why.

The development clips' tracks are derived from the clips and never committed:
``python -m tests.golden.reports tracks DIR > before.json`` on a folder of tracks
(``hinge-mirror eval ../shared/clips --tracks DIR`` makes them), the same after
the change, then ``python -m tests.golden.reports compare before.json after.json``.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict
from pathlib import Path

from device.core.coach import analyze
from device.core.synth import Session, session_track

GOLDEN = Path(__file__).with_name("synthetic.json")

# Every view, both styles, each scripted fault, and the hard cases of the
# input: noise, dropouts, walking in and out, a passer-by, a start from depth,
# holds, shallow reps, a seat-like rise, a lockout short or leaning back.
SESSIONS = {
    "side_hinge": Session(),
    "front_hinge": Session(view="front"),
    "oblique_hinge": Session(view="oblique"),
    "side_squat": Session(style="squat"),
    "front_squat": Session(view="front", style="squat"),
    "oblique_squat": Session(view="oblique", style="squat", reps=4),
    "side_rounded_back": Session(neck_deg=35.0),
    "front_knees_in": Session(view="front", style="squat", knees_in=0.5),
    "front_hips_shift": Session(view="front", hip_shift=0.3),
    "front_heels_up": Session(view="front", heel_rise=0.4),
    "side_heels_up": Session(heel_rise=0.4),
    "side_short_lockout": Session(lockout_depth=0.35),
    "side_leaning_back": Session(neck_deg=40.0, lockout_lean_deg=-45.0),
    "side_fast": Session(down_s=0.35, up_s=0.35, reps=6),
    "side_shallow": Session(depth=0.35),
    "side_held_bottom": Session(hold_s=1.5, reps=3),
    "side_noisy": Session(noise=0.01, dropout_rate=0.05, seed=3),
    "side_walk_in_out": Session(walk_in_s=2.0, walk_out_s=2.0),
    "side_passerby": Session(passerby_at_s=5.0),
    "side_from_depth": Session(start_at_depth=True),
    "side_sit_to_stand": Session(style="squat", rise_lean_deg=30.0),
    "front_15fps": Session(view="front", fps=15.0, reps=4),
    "oblique_long": Session(view="oblique", reps=12, pause_s=0.4, seed=7),
}


def synthetic() -> dict[str, dict]:
    out = {}
    for name, session in SESSIONS.items():
        kp, t, size = session_track(session)
        out[name] = {"session": asdict(session), "report": analyze(kp, t, size)}
    return json.loads(json.dumps(out, sort_keys=True))  # as the file holds it


def tracks(folder: Path) -> dict[str, dict]:
    from device.vision.tracks import load_track

    out = {}
    for path in sorted(Path(folder).glob("*.npz")):
        tr = load_track(path)
        out[path.name] = analyze(tr.keypoints, tr.t, tr.frame_size)
    return json.loads(json.dumps(out, sort_keys=True))


def differences(a: dict, b: dict, where: str = "") -> list[str]:
    """Where two reports differ, as paths (the first 20)."""
    out: list[str] = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{where}/{k}: only in {'the second' if k in b else 'the first'}")
            else:
                out += differences(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += differences(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        # numpy's vector kernels may sum in another order on another CPU: the last bits only.
        if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
            out.append(f"{where}: {a!r} != {b!r}")
    elif a != b:
        out.append(f"{where}: {a!r} != {b!r}")
    return out[:20]


def main(argv: list[str]) -> int:
    if argv[:1] == ["synthetic"]:
        text = json.dumps(synthetic(), indent=1, sort_keys=True) + "\n"
        if "--write" in argv:
            GOLDEN.write_text(text)
        else:
            sys.stdout.write(text)
        return 0
    if argv[:1] == ["tracks"] and len(argv) == 2:
        json.dump(tracks(Path(argv[1])), sys.stdout, indent=1, sort_keys=True)
        return 0
    if argv[:1] == ["compare"] and len(argv) == 3:
        a, b = (json.loads(Path(p).read_text()) for p in argv[1:])
        diff = differences(a, b)
        print("\n".join(diff) if diff else f"identical: {len(a)} reports")
        return 1 if diff else 0
    print("usage: python -m tests.golden.reports synthetic [--write] | tracks DIR | "
          "compare A.json B.json", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
