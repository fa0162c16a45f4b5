"""The analysis report for a clinician: words, not ids; what could not be judged;
consistent times; the sets; what each figure means. Text for the terminal, and
one printable HTML page (`analyze --html OUT`) with the hip angle over time.

Both read the analysis report of DESIGN.md (the dict `analyze` returns) and
speak with the mirror's own words (device/words.py).
"""

from __future__ import annotations

import datetime as dt
import html

from device.core.faults import JUDGED_IN
from device.core.skeleton import FAULTS
from device.words import (
    adherence_lines,
    angle_blanks,
    cue_text,
    fault_words,
    rep_faults_words,
    score_words,
)

MEANING = (
    "What the figures mean: hip flexion is how far the hips bent at the bottom of the "
    "rep (the angle between trunk and thigh; a rep needs 70°); knee is the knee's bend "
    "at that moment; trunk is the trunk's lean from upright; score is 100 less the "
    "cost of each fault found (the spine's first), over the checks the view could "
    "make: '100 (3 of 9 checks)' is clean on three checks, not on all nine. Times are "
    "seconds from the start of the recording. From the side the angles are measured; "
    "from the front or at an angle they are estimates, and a figure the view cannot "
    "give is left blank, with the reason.")


def _span(a: float | None, b: float) -> str:
    return f"{a:.2f}–{b:.2f} s" if a is not None else f"(from depth)–{b:.2f} s"


def _deg(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}°"


def not_checked(report: dict) -> list[str]:
    """One line per view the reps were seen in: the faults it could not judge."""
    by_view: dict[str, set[str]] = {}
    for rep in report["reps"]:
        by_view.setdefault(rep["view"], set()).update(rep["unjudged"])
    out = []
    for view, faults in sorted(by_view.items()):
        never = [f for f in FAULTS if f in faults and f not in JUDGED_IN.get(view, ())]
        missed = [f for f in FAULTS if f in faults and f not in never]
        where = {"front": "from the front", "side": "from the side",
                 "oblique": "at an angle"}.get(view, "in this view")
        if never:
            out.append(f"Not checked {where}: {', '.join(fault_words(f).lower() for f in never)}.")
        if missed:
            out.append(f"Not judged on some reps {where} (keypoints not seen well enough): "
                       f"{', '.join(fault_words(f).lower() for f in missed)}.")
    return out


def _set_line(st: dict, reps: list[dict]) -> str:
    trend = st.get("depth_trend_deg_per_rep") or 0.0
    depth = ("depth steady" if abs(trend) < 2 else
             f"depth {'deeper' if trend > 0 else 'shallower'} by {abs(trend):.0f}° a rep")
    faulty = sum(1 for f in st.get("faults_per_rep", []) if f)
    tempo = (f"down {st['down_s_mean']:.1f} s, up {st['up_s_mean']:.1f} s on average"
             if st.get("down_s_mean") is not None else f"up {st['up_s_mean']:.1f} s on average")
    return (f"Set {st['set']}: {st['reps']} rep{'s' if st['reps'] != 1 else ''}, "
            f"{_span(st['start_s'], st['end_s'])}; {tempo}; {depth}; "
            f"{faulty} with a fault.")


def format_report(r: dict) -> str:
    view = {"front": "from the front", "side": "from the side",
            "oblique": "at an angle"}.get(r["view"], "from an unclear angle")
    partial = f" ({r['partial_reps']} partial, not counted)" if r["partial_reps"] else ""
    lines = [f"Hinge analysis of {r['source']}",
             f"{r['rep_count']} rep{'s' if r['rep_count'] != 1 else ''} counted{partial}, "
             f"seen {view}; {r['frames']} frames over {r['duration_s']:.1f} s.", ""]
    if r.get("program"):
        lines += ["Program followed:", *(f"  {line}" for line in adherence_lines(r["program"])),
                  ""]
    sets = r.get("sets") or []
    for st in sets:
        lines.append(_set_line(st, r["reps"]))
    if sets:
        lines.append("")
    for rep in r["reps"]:
        lines.append(f"  Rep {rep['index']}  {_span(rep['start_s'], rep['end_s'])}  "
                     f"hip flexion {_deg(rep['hip_deg'])}  knee {_deg(rep['knee_deg'])}  "
                     f"trunk {_deg(rep['hinge_deg'])}  score {score_words(rep)}  "
                     f"{rep_faults_words(rep)}")
        if rep["faults"]:
            lines.append(f"         cue: \"{cue_text(rep['faults'][0])}\"")
        for note in angle_blanks(rep):
            lines.append(f"         {note}")
    if not r["reps"]:
        lines.append("  No rep reached depth and stood up again.")
    lines.append("")
    lines += not_checked(r)
    lines += ["", MEANING]
    return "\n".join(lines)


# -- HTML ------------------------------------------------------------------------

W, H, PAD, RIGHT = 900, 280, 44, 90


def hip_chart(r: dict) -> str:
    """Hip flexion over time (SVG), each rep shaded and numbered, its faults above it."""
    series = r.get("series") or {}
    t, hip = series.get("t_s") or [], series.get("hip_deg") or []
    if not t:
        return '<p class="chart-empty">No frames.</p>'
    t0, t1 = t[0], max(t[-1], t[0] + 1e-3)
    top = 150.0
    x = (lambda s: PAD + (W - PAD - RIGHT) * (s - t0) / (t1 - t0))  # noqa: E731
    y = (lambda v: H - PAD - (H - 2 * PAD) * min(max(v, 0.0), top) / top)  # noqa: E731
    e = html.escape
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
             'xmlns="http://www.w3.org/2000/svg"><title>Hip flexion over time</title>']
    for rep in r["reps"]:
        a = rep["start_s"] if rep["start_s"] is not None else rep["bottom_s"]
        parts.append(f'<rect class="rep" x="{x(a):.1f}" y="{PAD}" '
                     f'width="{max(x(rep["end_s"]) - x(a), 1):.1f}" height="{H - 2 * PAD}" '
                     f'fill="{"#ddd" if rep["faults"] else "#f0f0f0"}"/>')
        mid = (x(a) + x(rep["end_s"])) / 2
        parts.append(f'<text x="{mid:.1f}" y="{PAD - 6}" font-size="12" text-anchor="middle">'
                     f'{rep["index"]}</text>')
        # Up the rep's band, so that narrow reps side by side stay readable.
        for k, fault in enumerate(rep["faults"][:2]):
            fx, fy = mid - 4 + 12 * k, H - PAD - 6
            parts.append(f'<text class="fault" x="{fx:.1f}" y="{fy:.1f}" font-size="10" '
                         f'transform="rotate(-90 {fx:.1f} {fy:.1f})">'
                         f'{e(fault_words(fault))}</text>')
    for level, label in ((70.0, "depth 70°"), (40.0, "standing 40°")):
        parts.append(f'<line x1="{PAD}" y1="{y(level):.1f}" x2="{W - RIGHT}" y2="{y(level):.1f}" '
                     'stroke="#888" stroke-dasharray="5 4"/>'
                     f'<text x="{W - RIGHT + 4}" y="{y(level) + 4:.1f}" font-size="10">{label}'
                     '</text>')
    path, pen = [], "M"
    for ts, v in zip(t, hip, strict=True):
        if v is None:
            pen = "M"
            continue
        path.append(f"{pen}{x(ts):.1f},{y(v):.1f}")
        pen = "L"
    parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="#000" stroke-width="1.6"/>')
    parts.append(f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - RIGHT}" y2="{H - PAD}" '
                 'stroke="#000"/>')
    for v in (0, 50, 100, 150):
        parts.append(f'<text x="{PAD - 6}" y="{y(v) + 4:.1f}" font-size="10" '
                     f'text-anchor="end">{v}°</text>')
    step = max(1, round((t1 - t0) / 10))
    s = float(round(t0))
    while s <= t1:
        parts.append(f'<text x="{x(s):.1f}" y="{H - PAD + 16}" font-size="10" '
                     f'text-anchor="middle">{s:.0f} s</text>')
        s += step
    parts.append("</svg>")
    return "".join(parts)


def html_report(r: dict, made: dt.datetime | None = None) -> str:
    """One printable page: summary, the hip angle over time, the reps, what was not checked."""
    e = html.escape
    made = made or dt.datetime.now()
    text = format_report(r).split("\n")
    head, summary = text[0], text[1]
    rows = []
    for rep in r["reps"]:
        blank = "; ".join(angle_blanks(rep))
        cue = cue_text(rep["faults"][0]) if rep["faults"] else ""
        rows.append(
            f"<tr><td>{rep['index']}</td><td>{e(_span(rep['start_s'], rep['end_s']))}</td>"
            f"<td>{_deg(rep['hip_deg'])}</td><td>{_deg(rep['knee_deg'])}</td>"
            f"<td>{_deg(rep['hinge_deg'])}</td><td>{e(score_words(rep))}</td>"
            f"<td>{e(rep_faults_words(rep))}"
            f"{f'<br><small>{e(blank)}</small>' if blank else ''}</td>"
            f"<td>{e(cue)}</td></tr>")
    sets = "".join(f"<li>{e(_set_line(st, r['reps']))}</li>" for st in r.get("sets") or [])
    checks = "".join(f"<li>{e(line)}</li>" for line in not_checked(r))
    program = "" if not r.get("program") else (
        '<section data-testid="program"><p><strong>Program followed.</strong></p><ul>'
        + "".join(f"<li>{e(line)}</li>" for line in adherence_lines(r["program"]))
        + "</ul></section>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(head)}</title>
<style>
 body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem;
        color: #000; line-height: 1.35; }}
 h1 {{ font-size: 1.4rem; margin-bottom: .2rem; }} .meta {{ color: #444; margin-top: 0; }}
 table {{ border-collapse: collapse; width: 100%; font-size: .9rem; }}
 td, th {{ border-bottom: 1px solid #bbb; padding: .25rem .4rem; text-align: left;
          vertical-align: top; }}
 .chart {{ max-width: 100%; height: auto; }} small {{ color: #555; }}
 td:nth-child(2) {{ white-space: nowrap; }}
 .meaning {{ font-size: .85rem; color: #333; }}
 @page {{ size: A4; margin: 12mm; }}
 @media print {{ body {{ margin: 0; max-width: none; }} }}
</style></head>
<body>
<h1>{e(head)}</h1>
<p class="meta">{e(summary)} Report made {made:%Y-%m-%d %H:%M} by Hinge Mirror.</p>
{program}<ul class="sets">{sets}</ul>
<p><strong>Hip flexion over time.</strong> Each band is a counted rep, numbered as in the table;
darker bands had a fault, named up the band.</p>
{hip_chart(r)}
<table data-testid="reps"><tr><th>Rep</th><th>Time</th><th>Hip flexion</th><th>Knee</th>
<th>Trunk</th><th>Score</th><th>Faults</th><th>Cue given</th></tr>
{"".join(rows) or '<tr><td colspan="8">No rep reached depth and stood up again.</td></tr>'}
</table>
<ul class="checks">{checks}</ul>
<p class="meaning">{e(MEANING)}</p>
</body></html>
"""
