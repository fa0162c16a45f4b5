"""SQLite storage of sessions, sets, reps and device events (the standard library's sqlite3).

One writer: the `Recorder` in the web server's process turns the coach's
events into rows, each event in its own transaction, so a crash (even a
SIGKILL) loses at most the row being written. WAL, so that the staff pages
read while it writes; foreign keys on, so that deleting a session deletes
its sets and reps. A full disk (or any write the file system refuses) stops
recording, never coaching: the recorder says so (`recording`, `problem`) and
what is already stored stays as it was.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from device.errors import HingeMirrorError
from device.store.schema import MIGRATIONS, VERSION

log = logging.getLogger(__name__)


def connect(path: Path | str) -> sqlite3.Connection:
    """Open (creating and migrating as needed) the store at `path`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():  # health data: for the device's own user only
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        conn = sqlite3.connect(path, timeout=5.0, isolation_level=None,
                               check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise HingeMirrorError(f"store {path}: cannot be opened ({exc}); check the "
                               "[store] path and its folder's permissions") from None
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL: a committed row survives a crash
        conn.execute("PRAGMA foreign_keys=ON")
        migrate(conn)
    except MigrationError as exc:
        conn.close()
        raise HingeMirrorError(f"store {path}: cannot be upgraded: {exc}; run the version "
                               "that wrote it, or restore a backup") from None
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise HingeMirrorError(f"store {path}: not a usable database ({exc}); move it "
                               "aside (it may be restored from a backup) and start again"
                               ) from None
    return conn


def version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _statements(script: str) -> list[str]:
    """A migration's statements, one by one (a trigger's body keeps its own ';'):
    inside the transaction, where executescript would commit on its own."""
    out, buf = [], ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                out.append(buf)
            buf = ""
    return out


def migrate(conn: sqlite3.Connection,
            verify: Callable[[sqlite3.Connection], None] | None = None) -> int:
    """Bring the file forward to VERSION: every missing migration in one
    transaction, so that a migration that fails leaves the file as it was
    (SQLite's DDL and `user_version` roll back with the rest). `verify`, if
    given, runs inside that transaction before it commits; whatever it raises
    rolls the migration back too."""
    have = version(conn)
    if have > VERSION:
        raise sqlite3.DatabaseError(
            f"schema version {have} is newer than this program's {VERSION}")
    if have == VERSION:
        return have
    conn.execute("BEGIN IMMEDIATE")
    number = have
    try:
        for number in range(have + 1, VERSION + 1):
            for statement in _statements(MIGRATIONS[number - 1]):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {VERSION}")
        if verify is not None:
            verify(conn)
    except BaseException as exc:
        conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise MigrationError(number, have, exc) from None
        raise
    conn.execute("COMMIT")
    log.info("store schema migrated from version %d to %d", have, VERSION)
    return VERSION


class MigrationError(sqlite3.DatabaseError):
    """Migration `number` failed; the file is still at version `have`."""

    def __init__(self, number: int, have: int, exc: sqlite3.Error) -> None:
        self.number, self.have, self.why = number, have, str(exc)
        super().__init__(f"migration {number} failed ({exc}); the file is unchanged, "
                         f"still at schema version {have}")


def open_read_only(path: Path | str) -> sqlite3.Connection:
    """The store as it is, never migrated nor created (for backups and checks)."""
    path = Path(path)
    if path.is_dir():
        raise HingeMirrorError(f"store {path}: is a folder, not a store file; name the "
                               "file (e.g. /var/lib/hinge-mirror/hinge-mirror.db)")
    if not path.is_file():
        raise HingeMirrorError(f"store {path}: no such file; check the [store] path")
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True,
                               timeout=5.0, check_same_thread=False)
        version(conn)
    except sqlite3.Error as exc:
        raise HingeMirrorError(f"store {path}: not a usable database ({exc}); check the "
                               "file (it may be restored from a backup)") from None
    return conn


class Recorder:
    """The coach's events in, rows out; the device's own events too.

    Thread-safe (one lock): the pipeline's thread records coach events, the
    supervisor device events. `clock` gives Unix time (a parameter for tests).
    """

    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.conn = connect(self.path)
        self.clock = clock
        self.lock = threading.Lock()
        self.recording = True
        self.problem: str | None = None
        self.session_id: int | None = None
        self.set_id: int | None = None
        self.set_reps = 0

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """One transaction; a refusal from the disk stops recording, not the caller."""
        with self.lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    out = fn(self.conn)
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self.recording:
                    log.error("store %s: cannot record (%s); coaching goes on", self.path, exc)
                self.recording, self.problem = False, f"cannot record: {exc}"
                return None
            if not self.recording:
                log.info("store %s: recording again", self.path)
            self.recording, self.problem = True, None
            return out

    def close_open(self, reason: str) -> int:
        """End sessions and sets left open: at stop ("stopped") and, for those a
        crash left behind, at start ("interrupted"). Returns the sessions closed."""
        at = self.clock()

        def write(c: sqlite3.Connection) -> int:
            # A set left open has the reps stored in it (each rep counts in as it comes).
            c.execute("UPDATE sets SET ended_at = ?, end_reason = ?, reps = (SELECT COUNT(*) "
                      "FROM reps WHERE reps.set_id = sets.id) WHERE ended_at IS NULL",
                      (at, reason))
            return c.execute("UPDATE sessions SET ended_at = ?, end_reason = ? "
                             "WHERE ended_at IS NULL", (at, reason)).rowcount

        self.session_id = self.set_id = None
        return self._write(write) or 0

    def device_event(self, kind: str, detail: str | None = None) -> None:
        at = self.clock()
        self._write(lambda c: c.execute("INSERT INTO events (at, kind, detail) VALUES (?, ?, ?)",
                                        (at, kind, detail)))

    def on_events(self, events: list[dict]) -> None:
        """The pipeline's hook: every coach event of a frame, in order."""
        for e in events:
            handler = getattr(self, "_" + e["type"], None)
            if handler is not None:
                handler(e)

    def tag(self, code: str, program: dict | None = None) -> None:
        """The session under way is this client's (a program started for them),
        with the program it follows (`{"program": programs.to_dict, "first_set": n}`)."""
        sid = self.session_id
        if sid is not None:
            text = None if program is None else json.dumps(program)
            self._write(lambda c: c.execute(
                "UPDATE sessions SET client_code = ?, program = COALESCE(?, program) "
                "WHERE id = ?", (code, text, sid)))

    def _session_started(self, e: dict) -> None:
        at = self.clock()
        self.session_id = self._write(lambda c: c.execute(
            "INSERT INTO sessions (started_at) VALUES (?)", (at,)).lastrowid)
        self.set_id = None

    def _session_ended(self, e: dict) -> None:
        if self.session_id is None:
            return
        at, sid = self.clock(), self.session_id
        self._write(lambda c: c.execute(
            "UPDATE sessions SET ended_at = ?, end_reason = ?, reps = ?, sets = ? WHERE id = ?",
            (at, e["reason"], e["reps"], len(e["sets"]), sid)))
        self.session_id = self.set_id = None

    def _set_started(self, e: dict) -> None:
        if self.session_id is None:
            return
        at, sid = self.clock(), self.session_id

        def write(c: sqlite3.Connection) -> int:
            number = c.execute("SELECT COUNT(*) FROM sets WHERE session_id = ?",
                               (sid,)).fetchone()[0] + 1
            c.execute("UPDATE sessions SET sets = ? WHERE id = ?", (number, sid))
            # Past the session's target of sets: kept, and marked extra as the glass says.
            return c.execute("INSERT INTO sets (session_id, number, started_at, summary) "
                             "VALUES (?, ?, ?, ?)", (sid, number, at, json.dumps(
                                 {"extra": bool(e.get("extra"))}))).lastrowid

        self.set_id = self._write(write)
        self.set_reps = 0

    def _set_ended(self, e: dict) -> None:
        if self.set_id is None:
            return
        at, set_id = self.clock(), self.set_id
        summary = {k: v for k, v in e.items() if k != "type"}
        self._write(lambda c: c.execute(
            "UPDATE sets SET ended_at = ?, end_reason = ?, reps = ?, summary = ? WHERE id = ?",
            (at, e["reason"], e["reps"], json.dumps(summary), set_id)))
        self.set_id = None

    def _rep(self, e: dict) -> None:
        if self.session_id is None:
            return
        self.set_reps += 1
        rep = {k: v for k, v in e.items() if k != "type"}
        row = (self.session_id, self.set_id, self.clock(), self.set_reps, rep["start_s"],
               rep["bottom_s"], rep["end_s"], rep["hinge_deg"], rep["knee_deg"], rep["hip_deg"],
               rep["down_s"], rep["up_s"], rep["view"], rep["confidence"], rep["score"],
               json.dumps(rep["faults"]), json.dumps(rep["unjudged"]), json.dumps(rep))
        sid = self.session_id

        def write(c: sqlite3.Connection) -> None:
            c.execute("INSERT INTO reps (session_id, set_id, at, number, start_s, bottom_s, "
                      "end_s, hinge_deg, knee_deg, hip_deg, down_s, up_s, view, confidence, "
                      "score, faults, unjudged, data) VALUES "
                      "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            c.execute("UPDATE sessions SET reps = reps + 1 WHERE id = ?", (sid,))
            c.execute("UPDATE sets SET reps = reps + 1 WHERE id = ?", (set_id,))

        set_id = self.set_id
        self._write(write)

    def prune(self, days: float) -> int:
        """Delete sessions that started more than `days` ago (their sets and reps
        go with them) and device events as old. Returns the sessions deleted."""
        cutoff = self.clock() - days * 86400.0

        def write(c: sqlite3.Connection) -> int:
            n = c.execute("DELETE FROM sessions WHERE started_at < ?", (cutoff,)).rowcount
            c.execute("DELETE FROM events WHERE at < ?", (cutoff,))
            # The audit trail lives as long as the sessions: rows past the same age.
            gone = c.execute("DELETE FROM audit WHERE at < ?", (cutoff,)).rowcount
            if n or gone:
                c.execute("INSERT INTO audit (at, account, address, action, target, detail) "
                          "VALUES (?, NULL, NULL, 'retention', ?, ?)",
                          (self.clock(), f"{n} sessions, {gone} audit rows",
                           f"older than {days:g} days"))
            return n

        return self._write(write) or 0
