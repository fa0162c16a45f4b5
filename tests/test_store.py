"""The SQLite store: migrations, what a session leaves behind, a crash, a full disk, retention."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from device.errors import HingeMirrorError
from device.store import Recorder, connect, version
from device.store.schema import MIGRATIONS, VERSION
from tests.helpers import coach_events

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_new_file_gets_every_migration(tmp_path):
    conn = connect(tmp_path / "new.db")
    assert version(conn) == VERSION == 8
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sessions", "sets", "reps", "events", "accounts", "audit", "programs"} <= tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert (tmp_path / "new.db").stat().st_mode & 0o077 == 0  # health data: owner only


def v1_file(tmp_path):
    """A store as version 1 left it, with one session of 7 reps."""
    path = tmp_path / "v1.db"
    old = sqlite3.connect(path)
    old.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    old.execute("INSERT INTO sessions (started_at, reps) VALUES (1700000000.0, 7)")
    old.commit()
    old.close()
    return path


def test_a_version_1_file_is_brought_forward_and_keeps_its_rows(tmp_path):
    path = v1_file(tmp_path)
    conn = connect(path)
    assert version(conn) == VERSION
    assert conn.execute("SELECT reps, client_code FROM sessions").fetchall() == [(7, None)]
    assert conn.execute("SELECT COUNT(*) FROM accounts").fetchone() == (0,)


def test_a_version_4_file_keeps_its_accounts_and_their_logins_start_at_0(tmp_path):
    """Migration 5: each account's login generation (a logout or a new password
    ends the logins made before it)."""
    path = tmp_path / "v4.db"
    old = sqlite3.connect(path)
    old.executescript(";".join(MIGRATIONS[:4]) + "; PRAGMA user_version = 4;")
    old.execute("INSERT INTO accounts (name, role, password_hash, created_at) "
                "VALUES ('ana', 'admin', 'scrypt:kept', 1700000000.0)")
    old.commit()
    old.close()
    conn = connect(path)
    assert version(conn) == VERSION
    assert conn.execute("SELECT name, role, password_hash, logins FROM accounts").fetchall() \
        == [("ana", "admin", "scrypt:kept", 0)]


def test_client_codes_are_one_client_whatever_their_case_and_old_ones_are_migrated(tmp_path):
    """Issue 26, item 6: K-017 and k-017 were two clients with their own charts.
    Migration 6 writes the stored codes upper-case; a code typed now is too."""
    from device.store import queries

    path = tmp_path / "v5.db"
    old = sqlite3.connect(path)
    old.executescript(";".join(MIGRATIONS[:5]) + "; PRAGMA user_version = 5;")
    for at, code in ((1.0, "K-017"), (2.0, " k-017"), (3.0, "b-2")):
        old.execute("INSERT INTO sessions (started_at, reps, client_code) VALUES (?, 3, ?)",
                    (at, code))
    old.commit()
    old.close()
    conn = connect(path)
    assert [(c["code"], c["sessions"]) for c in queries.clients(conn)] == [("B-2", 1),
                                                                           ("K-017", 2)]
    assert queries.set_client(conn, 3, "k-017")
    assert [(c["code"], c["sessions"]) for c in queries.clients(conn)] == [("K-017", 3)]
    assert len(queries.sessions(conn, since=0.0, client="k-017")) == 3
    assert len(queries.trend(conn, "k-017")) == 3


def test_a_version_6_file_gets_programs_and_keeps_its_sessions(tmp_path):
    """Migration 7 (issue 26, item 1): a program per client code, beside the
    sessions a schema-6 file already holds."""
    from device.store import programs

    path = tmp_path / "v6.db"
    old = sqlite3.connect(path)
    old.executescript(";".join(MIGRATIONS[:6]) + "; PRAGMA user_version = 6;")
    old.execute("INSERT INTO sessions (started_at, reps, client_code) VALUES (1.0, 3, 'K-017')")
    old.commit()
    tables = {r[0] for r in old.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "programs" not in tables
    old.close()
    conn = connect(path)
    assert version(conn) == VERSION == 8
    assert conn.execute("SELECT reps, client_code FROM sessions").fetchall() == [(3, "K-017")]
    # 8: a session stored before programs followed none.
    assert conn.execute("SELECT program FROM sessions").fetchall() == [(None,)]
    assert programs.get(conn, "K-017") is None and programs.listing(conn) == []
    program = programs.parse({"blocks": [{"exercise": "deadlift", "sets": 3, "reps": 8,
                                          "max_hip_deg": 60}]})
    programs.save(conn, "K-017", program, "ana", at=5.0)
    assert programs.get(conn, "K-017") == {"program": program, "updated_at": 5.0,
                                           "updated_by": "ana"}
    programs.save(conn, "K-017", programs.parse({"blocks": [{"exercise": "deadlift",
                                                             "sets": 1, "reps": 5}]}), "bo")
    assert [(p["code"], p["blocks"], p["updated_by"]) for p in programs.listing(conn)] == \
        [("K-017", 1, "bo")]  # one program per client: replaced, not added
    with pytest.raises(sqlite3.IntegrityError):  # a program has its JSON
        conn.execute("INSERT INTO programs (client_code, program, updated_at) "
                     "VALUES ('K-018', NULL, 1.0)")


def test_a_migration_that_fails_leaves_the_file_at_its_old_version(tmp_path, monkeypatch):
    # Migrations 2..VERSION run, then a bad one: all of them roll back together.
    import device.store as store

    path = v1_file(tmp_path)
    monkeypatch.setattr(store, "MIGRATIONS", (*MIGRATIONS, "CREATE TABLE sessions (x);"))
    monkeypatch.setattr(store, "VERSION", VERSION + 1)
    with pytest.raises(HingeMirrorError) as caught:
        connect(path)
    assert f"migration {VERSION + 1} failed" in str(caught.value)
    assert "still at schema version 1" in str(caught.value) and "\n" not in str(caught.value)
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone() == (1,)
    tables = {r[0] for r in check.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "accounts" not in tables and "audit" not in tables  # 3 and 4 rolled back too
    assert check.execute("SELECT reps FROM sessions").fetchall() == [(7,)]
    check.close()
    # Its positive twin: without the bad migration the same file goes forward.
    monkeypatch.setattr(store, "MIGRATIONS", MIGRATIONS)
    monkeypatch.setattr(store, "VERSION", VERSION)
    assert version(connect(path)) == VERSION


def test_a_backup_never_migrates_the_store(tmp_path):
    from device.store.backup import make_backup

    path = tmp_path / "v2.db"
    old = sqlite3.connect(path)
    old.executescript(MIGRATIONS[0] + ";" + MIGRATIONS[1] + "; PRAGMA user_version = 2;")
    old.close()
    assert make_backup(path, tmp_path / "b.tar.gz")["schema"] == 2
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone() == (2,)
    check.close()


def test_a_file_from_a_newer_program_is_refused(tmp_path):
    path = tmp_path / "future.db"
    future = sqlite3.connect(path)
    future.execute(f"PRAGMA user_version = {VERSION + 1}")
    future.close()
    with pytest.raises(HingeMirrorError, match="newer than this program"):
        connect(path)


def test_a_session_is_stored_with_every_per_rep_figure(tmp_path):
    events, report = coach_events(reps=4, tail_s=1.0)
    rec = Recorder(tmp_path / "s.db", clock=iter(range(10**6)).__next__)
    rec.on_events(events)
    c = rec.conn
    assert c.execute("SELECT reps, sets, end_reason FROM sessions").fetchall() == [
        (4, 1, "left")]
    assert c.execute("SELECT number, reps, end_reason FROM sets").fetchall() == [(1, 4, "left")]
    rows = c.execute("SELECT number, hinge_deg, knee_deg, down_s, up_s, score, faults, "
                     "unjudged, view, data FROM reps ORDER BY id").fetchall()
    assert len(rows) == report["rep_count"] == 4
    for row, rep in zip(rows, report["reps"], strict=True):
        assert row[:6] == (rep["index"], rep["hinge_deg"], rep["knee_deg"], rep["down_s"],
                           rep["up_s"], rep["score"])
        assert (json.loads(row[6]), json.loads(row[7]), row[8]) == (
            rep["faults"], rep["unjudged"], rep["view"])
        assert json.loads(row[9]) == rep  # every figure of the analysis report


WRITER = textwrap.dedent("""
    import sys, itertools
    sys.path.insert(0, {repo!r})
    {setup}
    from device.store import Recorder
    rec = Recorder({path!r})
    rec.on_events([{{"type": "session_started", "session": 1, "t_s": 0.0}}])
    rep = {{"index": 1, "start_s": 0.0, "bottom_s": 1.0, "end_s": 2.0, "hinge_deg": 80.0,
            "knee_deg": 20.0, "hip_deg": 110.0, "down_s": 1.0, "up_s": 1.0,
            "faults": [], "unjudged": ["knees_caving"], "view": "side",
            "confidence": 0.8, "score": 100, "pad": "x" * 2000}}
    for n in itertools.count(1):
        rec.on_events([{{"type": "rep", **rep}}])
        if not rec.recording:
            print("refused", n - 1, rec.problem, flush=True)
            rec.on_events([{{"type": "rep", **rep}}])  # and goes on, without raising
            print("still coaching", flush=True)
            break
        print("stored", n, flush=True)
""")


def test_a_sigkill_mid_write_loses_at_most_the_rep_being_written(tmp_path):
    path = str(tmp_path / "crash.db")
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(repo=REPO, path=path, setup="")],
        stdout=subprocess.PIPE, text=True)
    stored = 0
    for line in child.stdout:
        stored = int(line.split()[1])
        if stored >= 300:
            break
    child.send_signal(signal.SIGKILL)  # mid-write, somewhere in the next rep
    child.wait()
    # The writer goes on while this reads: what it said last, before the kill. A line the
    # kill cut short (no newline) was never said.
    with child.stdout:
        for line in child.stdout:
            if line.endswith("\n") and line.startswith("stored "):
                stored = int(line.split()[1])
    conn = connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    kept = conn.execute("SELECT COUNT(*) FROM reps").fetchone()[0]
    assert stored <= kept <= stored + 1  # every rep it said was stored, and at most the one more
    # The session's own count was written in the same transaction as each rep.
    assert conn.execute("SELECT reps FROM sessions").fetchone()[0] == kept


def test_a_full_disk_stops_recording_not_coaching_and_keeps_what_is_stored(tmp_path):
    # A size-limited process (RLIMIT_FSIZE): writes past 2 MB fail with EFBIG.
    path = str(tmp_path / "full.db")
    setup = ("import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
             "resource.setrlimit(resource.RLIMIT_FSIZE, (2_000_000, 2_000_000))")
    out = subprocess.run([sys.executable, "-c", WRITER.format(repo=REPO, path=path,
                                                              setup=setup)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    refused = next(line for line in lines if line.startswith("refused"))
    assert "cannot record" in refused and lines[-1] == "still coaching"
    stored = int(refused.split()[1])
    assert stored > 50  # about 2 MB of reps, WAL included, before the limit
    conn = connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT COUNT(*) FROM reps").fetchone()[0] == stored


def test_sessions_past_the_retention_are_deleted_with_their_reps(tmp_path):
    now = [1_800_000_000.0]
    rec = Recorder(tmp_path / "r.db", clock=lambda: now[0])
    events, _ = coach_events(reps=2, tail_s=1.0)
    now[0] -= 40 * 86400  # a session 40 days ago
    rec.on_events(events)
    now[0] += 39 * 86400  # and one yesterday
    rec.on_events(events)
    now[0] += 86400
    assert rec.conn.execute("SELECT COUNT(*) FROM reps").fetchone()[0] == 4
    assert rec.prune(days=30) == 1
    assert rec.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1
    assert rec.conn.execute("SELECT COUNT(*) FROM reps").fetchone()[0] == 2  # its reps went too
    assert rec.prune(days=30) == 0  # its twin: nothing younger goes


def test_sessions_left_open_are_closed_at_stop_and_after_a_crash(tmp_path):
    rec = Recorder(tmp_path / "o.db", clock=lambda: 100.0)
    rec.on_events([{"type": "session_started", "session": 1, "t_s": 0.0},
                   {"type": "set_started", "set": 1, "session": 1, "t_s": 0.0}])
    assert rec.close_open("interrupted") == 1
    assert rec.conn.execute("SELECT end_reason FROM sessions").fetchall() == [("interrupted",)]
    assert rec.conn.execute("SELECT end_reason FROM sets").fetchall() == [("interrupted",)]
    assert rec.close_open("stopped") == 0  # its twin: nothing open, nothing changed


def test_a_set_open_when_the_device_stops_keeps_its_reps(tmp_path):
    """Issue 25, item 3: a set still open at a stop (or a crash) is closed with
    the reps stored in it, as the session is; and while it is open, its count
    is the reps so far."""
    events, _ = coach_events(reps=5, tail_s=1.0)
    last_rep = max(i for i, e in enumerate(events) if e["type"] == "rep")
    assert not any(e["type"] == "set_ended" for e in events[:last_rep])
    rec = Recorder(tmp_path / "s.db")
    rec.on_events(events[:last_rep + 1])  # five reps in, the set not over
    assert rec.conn.execute("SELECT reps, ended_at FROM sets").fetchall() == [(5, None)]
    rec.close_open("stopped")
    assert rec.conn.execute("SELECT reps, end_reason FROM sets").fetchall() == [(5, "stopped")]
    assert rec.conn.execute("SELECT reps, end_reason FROM sessions").fetchall() == [
        (5, "stopped")]
    rec.close()
