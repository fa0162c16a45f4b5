"""Upgrading a store in place, as the installer does it: tried first on a copy
while the old version still runs, then done for real behind a backup.

`check_upgrade` copies the live file with SQLite's online backup API (a
consistent moment, safe while the device writes), migrates the copy and checks
it, and deletes it: the real file is never opened for writing. `upgrade` makes
a backup of the real file, then migrates it; the migration is one transaction,
so one that fails leaves the file at its old version, and the backup is there
besides.
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


def _check(conn: sqlite3.Connection, path: Path) -> None:
    problems = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    if problems != ["ok"]:
        raise HingeMirrorError(f"store {path}: fails its integrity check after migrating "
                               f"({problems[0]}); the store is unchanged, restore a backup")
    if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
        raise HingeMirrorError(f"store {path}: rows without their session after migrating; "
                               "the store is unchanged, restore a backup")


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
                before = _counts(copy)
                try:
                    migrate(copy)
                except MigrationError as exc:
                    raise HingeMirrorError(
                        f"store {path}: the upgrade to schema {VERSION} would fail at migration "
                        f"{exc.number} ({exc.why}); nothing was changed, the store stays at "
                        f"schema {have}") from None
                _check(copy, path)
                after = _counts(copy)
                if after != before:
                    raise HingeMirrorError(f"store {path}: migrating changed the rows "
                                           f"({before} -> {after}); nothing was changed")
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
    from device.store import connect
    from device.store.backup import make_backup

    path = Path(path)
    done = check_upgrade(path)  # refuses before the backup and the real migration
    if done["from"] is None or done["from"] == VERSION:
        return {**done, "backup": None}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(backup_dir) / f"pre-upgrade-schema{done['from']}-{stamp}.tar.gz"
    make_backup(path, out)
    conn = connect(path)  # migrates in one transaction, or a one-line error
    try:
        _check(conn, path)
        counts = _counts(conn)
    finally:
        conn.close()
    return {**done, **counts, "backup": str(out)}
