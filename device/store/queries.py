"""Reads for the staff console: sessions with their sets and reps, exports.

Readers open their own connection (WAL: they never wait for the writer).
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections import Counter

REP_COLUMNS = ("session_id", "set_number", "number", "at", "start_s", "bottom_s", "end_s",
               "hinge_deg", "knee_deg", "hip_deg", "down_s", "up_s", "view", "confidence",
               "score", "faults", "unjudged")


def sessions(conn: sqlite3.Connection, since: float | None = None,
             until: float | None = None) -> list[dict]:
    """Sessions started in [since, until), newest first, with their main fault."""
    rows = conn.execute(
        "SELECT id, started_at, ended_at, end_reason, reps, sets, client_code FROM sessions "
        "WHERE started_at >= ? AND started_at < ? ORDER BY started_at DESC",
        (since if since is not None else float("-inf"),
         until if until is not None else float("inf"))).fetchall()
    out = []
    for sid, start, end, reason, reps, sets, client in rows:
        faults = Counter(f for (fs,) in conn.execute(
            "SELECT faults FROM reps WHERE session_id = ?", (sid,)) for f in json.loads(fs))
        out.append({"id": sid, "started_at": start, "ended_at": end, "end_reason": reason,
                    "duration_s": None if end is None else round(end - start, 1),
                    "reps": reps, "sets": sets, "client_code": client,
                    "main_fault": faults.most_common(1)[0][0] if faults else None})
    return out


def session(conn: sqlite3.Connection, session_id: int) -> dict | None:
    """One session with its sets and reps (every stored figure), or None."""
    found = [s for s in sessions(conn) if s["id"] == session_id]
    if not found:
        return None
    s = found[0]
    s["sets_detail"] = [
        {"id": i, "number": n, "reps": r, "end_reason": why,
         "summary": json.loads(summary) if summary else None}
        for i, n, r, why, summary in conn.execute(
            "SELECT id, number, reps, end_reason, summary FROM sets WHERE session_id = ? "
            "ORDER BY number", (session_id,))]
    s["reps_detail"] = reps(conn, [session_id])
    return s


def reps(conn: sqlite3.Connection, session_ids: list[int]) -> list[dict]:
    if not session_ids:
        return []
    marks = ",".join("?" * len(session_ids))
    rows = conn.execute(
        f"SELECT r.session_id, s.number, r.number, r.at, r.start_s, r.bottom_s, r.end_s, "
        f"r.hinge_deg, r.knee_deg, r.hip_deg, r.down_s, r.up_s, r.view, r.confidence, "
        f"r.score, r.faults, r.unjudged FROM reps r LEFT JOIN sets s ON s.id = r.set_id "
        f"WHERE r.session_id IN ({marks}) ORDER BY r.session_id, r.id", session_ids).fetchall()
    out = []
    for row in rows:
        d = dict(zip(REP_COLUMNS, row, strict=True))
        d["faults"], d["unjudged"] = json.loads(d["faults"]), json.loads(d["unjudged"])
        out.append(d)
    return out


def reps_csv(rep_rows: list[dict]) -> str:
    """One line per rep; fault lists joined with ';'."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(REP_COLUMNS)
    for r in rep_rows:
        w.writerow([";".join(r[c]) if c in ("faults", "unjudged") else r[c]
                    for c in REP_COLUMNS])
    return buf.getvalue()
