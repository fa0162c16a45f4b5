"""Reads for the staff console: sessions with their sets and reps, exports.

Readers open their own connection (WAL: they never wait for the writer).
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections import Counter

from device.codes import CLIENT_CODE, client_code

REP_COLUMNS = ("session_id", "set_number", "number", "at", "start_s", "bottom_s", "end_s",
               "hinge_deg", "knee_deg", "hip_deg", "down_s", "up_s", "view", "confidence",
               "score", "faults", "unjudged")
# A client code's shape (CLIENT_CODE) and stored form (client_code): device/codes.py.


def sessions(conn: sqlite3.Connection, since: float | None = None,
             until: float | None = None, client: str | None = None) -> list[dict]:
    """Sessions started in [since, until) (of one client, if given), newest
    first, with their main fault."""
    rows = conn.execute(
        "SELECT id, started_at, ended_at, end_reason, reps, sets, client_code FROM sessions "
        "WHERE started_at >= ? AND started_at < ? AND (? IS NULL OR client_code = ?) "
        "ORDER BY started_at DESC",
        (since if since is not None else float("-inf"),
         until if until is not None else float("inf"),
         *[client_code(client) if client is not None else None] * 2)).fetchall()
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
    row = conn.execute("SELECT started_at, program FROM sessions WHERE id = ?",
                       (session_id,)).fetchone()
    if row is None:
        return None
    s = next(s for s in sessions(conn, row[0], row[0] + 1e-3) if s["id"] == session_id)
    # The program it followed, as it was that day: {"program": ..., "first_set": n}.
    s["program"] = json.loads(row[1]) if row[1] else None
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
        f"r.score, r.faults, r.unjudged, r.data FROM reps r LEFT JOIN sets s ON s.id = r.set_id "
        f"WHERE r.session_id IN ({marks}) ORDER BY r.session_id, r.id", session_ids).fetchall()
    out = []
    for *row, data in rows:
        d = dict(zip(REP_COLUMNS, row, strict=True))
        d["faults"], d["unjudged"] = json.loads(d["faults"]), json.loads(d["unjudged"])
        # The side the hips went, where the coach saw one (the rep as reported).
        extra = json.loads(data) if data else {}
        d["hips_to"] = extra.get("hips_to")
        # Whether it kept its program's range limit, where one was set (the coach's word).
        d["past_range"] = extra.get("past_range")
        out.append(d)
    return out


# The CSV's columns: the rows' own, with `at` as a time a person and a
# spreadsheet read (ISO 8601, the device's local time with its offset) and the
# Unix time beside it for programs (`at_unix_s`).
CSV_COLUMNS = (*REP_COLUMNS[:4], "at_unix_s", *REP_COLUMNS[4:])


def local_iso(t_s: float | None) -> str:
    """Unix time `t_s` as ISO 8601 in the device's local time zone, to the
    second, with its UTC offset ("2026-12-07T17:03:12+01:00"); "" for None."""
    import datetime as dt

    if t_s is None:
        return ""
    return dt.datetime.fromtimestamp(t_s, dt.UTC).astimezone().isoformat(
        timespec="seconds")


def reps_csv(rep_rows: list[dict]) -> str:
    """One line per rep; fault lists joined with ';'; `at` as `local_iso`."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rep_rows:
        cells = {**r, "at": local_iso(r["at"]), "at_unix_s": r["at"],
                 "faults": ";".join(r["faults"]), "unjudged": ";".join(r["unjudged"])}
        w.writerow([cells[c] for c in CSV_COLUMNS])
    return buf.getvalue()


def today(conn: sqlite3.Connection, since: float) -> dict[str, int]:
    """Sessions and reps since `since` (the dashboard passes local midnight)."""
    n, reps_ = conn.execute("SELECT COUNT(*), COALESCE(SUM(reps), 0) FROM sessions "
                            "WHERE started_at >= ?", (since,)).fetchone()
    return {"sessions": n, "reps": reps_}


def events(conn: sqlite3.Connection, limit: int = 10) -> list[dict]:
    """The last device events, newest first."""
    return [{"at": at, "kind": kind, "detail": detail} for at, kind, detail in conn.execute(
        "SELECT at, kind, detail FROM events ORDER BY id DESC LIMIT ?", (limit,))]


def set_client(conn: sqlite3.Connection, session_id: int, code: str) -> bool:
    """Tag a session with a client code ("" removes it). False if no such
    session; ValueError if the code is not a pseudonym's shape."""
    code = client_code(code)
    if code and not CLIENT_CODE.match(code):
        raise ValueError("a client code is 1-24 letters, digits, '-' or '_' (a pseudonym, "
                         "never a name)")
    with conn:
        cur = conn.execute("UPDATE sessions SET client_code = ? WHERE id = ?",
                           (code or None, session_id))
    return cur.rowcount == 1


def has_sessions(conn: sqlite3.Connection, code: str) -> bool:
    """Whether any session is tagged with the client code."""
    return conn.execute("SELECT 1 FROM sessions WHERE client_code = ? LIMIT 1",
                        (client_code(code),)).fetchone() is not None


def clients(conn: sqlite3.Connection) -> list[dict]:
    """Every client code with its number of sessions and reps, last seen first."""
    return [{"code": c, "sessions": n, "reps": r, "first": a, "last": b}
            for c, n, r, a, b in conn.execute(
                "SELECT client_code, COUNT(*), SUM(reps), MIN(started_at), MAX(started_at) "
                "FROM sessions WHERE client_code IS NOT NULL GROUP BY client_code "
                "ORDER BY MAX(started_at) DESC")]


def trend(conn: sqlite3.Connection, code: str) -> list[dict]:
    """A client's sessions, oldest first: reps, the mean depth (hip flexion at
    the bottom) and the share of clean reps (no fault found), in percent."""
    out = []
    for sid, start, n in conn.execute(
            "SELECT id, started_at, reps FROM sessions WHERE client_code = ? "
            "ORDER BY started_at", (client_code(code),)).fetchall():
        rows = conn.execute("SELECT hip_deg, faults FROM reps WHERE session_id = ?",
                            (sid,)).fetchall()
        depths = [h for h, _ in rows if h is not None]
        clean = sum(1 for _, f in rows if not json.loads(f))
        out.append({"session_id": sid, "started_at": start, "reps": n,
                    "depth_deg": round(sum(depths) / len(depths), 1) if depths else None,
                    "clean_pct": round(100 * clean / len(rows)) if rows else None})
    return out
