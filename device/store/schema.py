"""The store's schema, as forward migrations: version N is migration N applied to N-1.

`PRAGMA user_version` holds the version of a file. A new file runs every
migration; an older one runs the ones it lacks, all in one transaction (one
that fails leaves the file as it was); a file newer than this program is
refused (run a newer hinge-mirror, or restore).
Never edit a migration that has shipped: add the next one.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: sessions, sets, reps and device events.
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        started_at REAL NOT NULL,           -- Unix time, seconds
        ended_at REAL,
        end_reason TEXT,
        reps INTEGER NOT NULL DEFAULT 0,
        sets INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE sets (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,            -- 1, 2, ... within the session
        started_at REAL NOT NULL,
        ended_at REAL,
        end_reason TEXT,
        reps INTEGER NOT NULL DEFAULT 0,
        summary TEXT                        -- JSON: the coach's set summary
    );
    CREATE TABLE reps (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        set_id INTEGER REFERENCES sets(id) ON DELETE CASCADE,
        at REAL NOT NULL,
        number INTEGER NOT NULL,            -- within the set
        start_s REAL, bottom_s REAL, end_s REAL,   -- the source's clock
        hinge_deg REAL, knee_deg REAL, hip_deg REAL,
        down_s REAL, up_s REAL,
        view TEXT, confidence REAL, score INTEGER,
        faults TEXT NOT NULL,               -- JSON list of fault ids
        unjudged TEXT NOT NULL,             -- JSON list of fault ids
        data TEXT NOT NULL                  -- JSON: the whole rep as the coach reported it
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        kind TEXT NOT NULL,                 -- start, stop, camera_lost, camera_back, error, ...
        detail TEXT
    );
    CREATE INDEX sessions_started ON sessions(started_at);
    CREATE INDEX events_at ON events(at);
    """,
    # 2: a pseudonymous client code per session (staff may tag it; the mirror
    # never shows it), and the reps of a session found without a scan.
    """
    ALTER TABLE sessions ADD COLUMN client_code TEXT;
    CREATE INDEX reps_session ON reps(session_id);
    CREATE INDEX sets_session ON sets(session_id);
    """,
    # 3: staff accounts (a salted slow hash, never the password).
    """
    CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
        password_hash TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    """,
    # 4: the audit trail: who did what to which record, append-only. No row is
    # ever updated; only the retention deletes, and never a row under a day old.
    """
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        account TEXT,                       -- the staff account (for a failed login: as typed)
        address TEXT,                       -- the client's network address
        action TEXT NOT NULL,               -- login, login_failed, logout, session_viewed, ...
        target TEXT,                        -- what was touched: "session 12", "account vic"
        detail TEXT
    );
    CREATE INDEX audit_at ON audit(at);
    CREATE TRIGGER audit_append_only BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    CREATE TRIGGER audit_kept BEFORE DELETE ON audit
    WHEN old.at > CAST(strftime('%s', 'now') AS REAL) - 86400
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: only old rows are pruned'); END;
    """,
    # 5: each account's login generation: a login's cookie carries it, and a
    # logout or a new password adds one, which ends every login made before.
    """
    ALTER TABLE accounts ADD COLUMN logins INTEGER NOT NULL DEFAULT 0;
    """,
    # 6: client codes are not case-sensitive: K-017 and k-017 are one client.
    # Those stored before are written as the console now writes them.
    """
    UPDATE sessions SET client_code = UPPER(TRIM(client_code)) WHERE client_code IS NOT NULL;
    """,
    # 7: a program per client code (device/store/programs.py): blocks of exercise,
    # sets x reps, rest, tempo, range limit, per-fault sensitivity and a note.
    """
    CREATE TABLE programs (
        client_code TEXT PRIMARY KEY,       -- as queries.client_code: trimmed, upper-case
        program TEXT NOT NULL,              -- JSON: programs.to_dict, checked by programs.parse
        updated_at REAL NOT NULL,           -- Unix time, seconds
        updated_by TEXT                     -- the staff account
    );
    """,
    # 8: the program a session followed, as it was that day (the client's may
    # change later), and the session's set it began at: adherence reads it.
    """
    ALTER TABLE sessions ADD COLUMN program TEXT;  -- JSON: {"program": ..., "first_set": n}
    """,
)

VERSION = len(MIGRATIONS)
