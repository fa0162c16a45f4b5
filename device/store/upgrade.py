"""Upgrading a store in place, as the installer does it: tried first on a copy
while the old version still runs, then done for real behind a backup.

`check_upgrade` copies the live file with SQLite's online backup API (a
consistent moment, safe while the device writes), migrates the copy and checks
it, and deletes it: the real file is never opened for writing. `upgrade` makes
a backup of the real file, then migrates it; the migration and its checks
(integrity, foreign keys, the same rows) are one transaction, so one that
fails leaves the file at its old version, and the backup is there besides.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from pathlib import Path

from device.errors import HingeMirrorError
from device.store import MigrationError, migrate, open_read_only, version
from device.store.schema import VERSION


def _counts(conn: sqlite3.Connection) -> dict:
    return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("sessions", "sets", "reps")}


def _verifier(path: Path, before: dict):
    """The checks a migrated store must pass (inside the migration's transaction)."""
    def verify(conn: sqlite3.Connection) -> None:
        problems = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise HingeMirrorError(f"store {path}: fails its integrity check after "
                                   f"migrating ({problems[0]}); nothing was changed")
        if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
            raise HingeMirrorError(f"store {path}: rows without their session after "
                                   "migrating; nothing was changed")
        after = _counts(conn)
        if after != before:
            raise HingeMirrorError(f"store {path}: migrating changed the rows ({before} -> "
                                   f"{after}); nothing was changed")
    return verify


def _migrate_verified(conn: sqlite3.Connection, path: Path, have: int) -> dict:
    try:
        before = _counts(conn) if have >= 1 else {"sessions": 0, "sets": 0, "reps": 0}
        migrate(conn, verify=_verifier(path, before))
        return _counts(conn)
    except MigrationError as exc:
        raise HingeMirrorError(
            f"store {path}: the upgrade to schema {VERSION} fails at migration "
            f"{exc.number} ({exc.why}); nothing was changed, the store stays at schema "
            f"{have}") from None
    except sqlite3.Error as exc:
        raise HingeMirrorError(f"store {path}: cannot be upgraded ({exc}); nothing was "
                               "changed") from None


def check_upgrade(path: Path | str) -> dict:
    """Migrate a copy of the store: {"from", "to", "sessions", ...} or a one-line error.
    A missing file is nothing to upgrade."""
    path = Path(path)
    if not path.exists():
        return {"from": None, "to": VERSION}
    src = open_read_only(path)
    try:
        have = version(src)
        if have > VERSION:
            raise HingeMirrorError(f"store {path}: schema {have} is newer than this version's "
                                   f"{VERSION}; install a newer hinge-mirror (nothing changed)")
        fd, tmp = tempfile.mkstemp(prefix=".upgrade-check-", dir=path.parent)
        os.close(fd)
        try:
            copy = sqlite3.connect(tmp, isolation_level=None)
            try:
                src.backup(copy)
                copy.execute("PRAGMA foreign_keys=ON")
                after = _migrate_verified(copy, path, have)
            finally:
                copy.close()
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(tmp + suffix).unlink(missing_ok=True)
    finally:
        src.close()
    return {"from": have, "to": VERSION, **after}


def upgrade(path: Path | str, backup_dir: Path | str) -> dict:
    """Back the store up into `backup_dir`, then migrate it. Nothing to do for a
    missing or current file (no backup is made then)."""
    from device.store.backup import make_backup

    path = Path(path)
    done = check_upgrade(path)  # refuses before the backup and the real migration
    if done["from"] is None or done["from"] == VERSION:
        return {**done, "backup": None}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(backup_dir) / f"pre-upgrade-schema{done['from']}-{stamp}.tar.gz"
    make_backup(path, out)
    try:
        conn = sqlite3.connect(path, timeout=5.0, isolation_level=None)
    except sqlite3.Error as exc:
        raise HingeMirrorError(f"store {path}: cannot be opened ({exc}); nothing was "
                               "changed") from None
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        counts = _migrate_verified(conn, path, done["from"])  # one transaction, checked
    finally:
        conn.close()
    return {**done, **counts, "backup": str(out)}
