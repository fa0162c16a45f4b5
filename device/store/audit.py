"""The audit trail: every staff login (or failed try), logout, session, client or
program viewed, export, settings change, account change, client tag and program
change, with the time, the account, the client's address and what was touched.

Append-only in the database itself (schema version 4's triggers): no update,
and no delete but the retention's, of rows past its age. A row is never older
than the session it mentions, so pruning rows by the sessions' retention keeps
each as long as its session at least.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import time

COLUMNS = ("at", "account", "address", "action", "target", "detail")


def record(conn: sqlite3.Connection, account: str | None, address: str | None, action: str,
           target: str | None = None, detail: str | None = None, *,
           at: float | None = None) -> None:
    with conn:
        conn.execute("INSERT INTO audit (at, account, address, action, target, detail) "
                     "VALUES (?, ?, ?, ?, ?, ?)",
                     (time.time() if at is None else at, account, address, action, target,
                      detail))


def rows(conn: sqlite3.Connection, limit: int | None = None) -> list[dict]:
    """Newest first."""
    sql = f"SELECT {', '.join(COLUMNS)} FROM audit ORDER BY id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [dict(zip(COLUMNS, r, strict=True)) for r in conn.execute(sql)]


# As the reps' CSV: `at` in ISO 8601 with the offset, the Unix time beside it.
CSV_COLUMNS = ("at", "at_unix_s", *COLUMNS[1:])


def to_csv(conn: sqlite3.Connection) -> str:
    from device.store.queries import local_iso

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in reversed(rows(conn)):  # oldest first, as a log reads
        cells = {**r, "at": local_iso(r["at"]), "at_unix_s": r["at"]}
        w.writerow([cells[c] for c in CSV_COLUMNS])
    return buf.getvalue()
