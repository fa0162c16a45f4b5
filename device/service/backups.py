"""Scheduled backups: one file every `every_s` into a folder (the data folder's
`backups/` by default; better a USB stick or a network share), the newest
`keep` of them kept.

Each backup is `device.store.backup.make_backup` (SQLite's online backup API:
safe while reps are being written), named `hinge-mirror-YYYYmmdd-HHMMSS.tar.gz`,
and written to the audit trail. Only files with that name are ever deleted,
so whatever else is in the folder (a pre-upgrade backup, someone's notes) is
left alone. A backup that cannot be made is logged, shown on the staff
dashboard and recorded as a device event, and tried again within the hour;
coaching is never touched. A folder set in the config (`external`: a USB
stick, a network share) is never created, and is refused while it lies on the
store's own disk: that is a stick or share that is not mounted, and a backup
written there would sit on the card it is meant to outlive.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from device.errors import HingeMirrorError
from device.store.backup import audit_backup, make_backup

log = logging.getLogger(__name__)

NAME = re.compile(r"^hinge-mirror-\d{8}-\d{6}\.tar\.gz$")
RETRY_S = 3600.0  # after a failure, at most this long before the next try


def folder_problem(folder: Path | str, store: Path | str) -> str | None:
    """Why a folder the config names for backups (a stick, a share) cannot take
    one now, or None: not there (never created here), or on the store's own
    disk (the stick or share is not mounted over its mount point). The second
    is told only where the store's folder is there to compare with."""
    folder, store = Path(folder), Path(store)
    if not folder.is_dir():
        return (f"backup folder {folder}: not there; plug the stick in or mount the share "
                "(it is never created here)")
    if not store.parent.is_dir():
        return None
    try:
        same = os.stat(folder).st_dev == os.stat(store.parent).st_dev
    except OSError as exc:
        return f"backup folder {folder}: cannot be read ({exc.strerror})"
    if same:
        return (f"backup folder {folder}: on the store's own disk, so the stick or share is "
                "not mounted there; mount it (or set [backup] dir = \"\" for backups beside "
                "the store)")
    return None


class BackupSchedule:
    """`run_once` makes one backup now; `start` runs them on the schedule in a thread."""

    def __init__(self, store: Path | str, folder: Path | str, every_s: float, keep: int, *,
                 external: bool = False, on_failure: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.folder = Path(store), Path(folder)
        self.external = external  # the config names it: a stick or a share, never made here
        self.every_s, self.keep = every_s, keep
        self.on_failure = on_failure
        self.clock = clock
        self.last_at: float | None = None
        self.last_file: str | None = None
        self.last_error: str | None = None
        # What the folder held at the last look (the schedule's own thread, or a
        # backup): status() reads these and never the folder, so /healthz and the
        # dashboard cannot hang on a share that has gone away.
        self._kept_n: int | None = None
        self._newest: str | None = None
        self._lock = threading.Lock()  # one backup at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def kept(self) -> list[Path]:
        """The scheduled backups in the folder, oldest first (and remembered)."""
        try:
            files = sorted(p for p in self.folder.iterdir() if NAME.match(p.name))
        except OSError:
            files = []
        self._kept_n, self._newest = len(files), files[-1].name if files else None
        return files

    def due_in(self) -> float:
        """Seconds until the next backup is due (0: now); from the time in the
        newest one's name, so a restart neither skips one nor makes an extra one."""
        self.kept()
        return self._due_from(self._newest)

    def _due_from(self, newest: str | None) -> float:
        if newest is None:
            return 0.0
        try:
            made = time.mktime(time.strptime(newest[13:28], "%Y%m%d-%H%M%S"))
        except ValueError:  # a name like ours with no real date in it: make one now
            return 0.0
        return max(0.0, made + self.every_s - self.clock())

    def _refuse(self) -> str | None:
        """Why the folder cannot take a backup now, or None."""
        if not self.external:
            return None
        why = folder_problem(self.folder, self.store)
        return None if why is None else f"{why}; nothing written"

    def run_once(self, reason: str = "scheduled") -> Path | None:
        with self._lock:
            now = self.clock()
            out = self.folder / time.strftime("hinge-mirror-%Y%m%d-%H%M%S.tar.gz",
                                              time.localtime(now))
            try:
                why = self._refuse()
                if why is not None:
                    raise HingeMirrorError(why)
                manifest = make_backup(self.store, out)
            except (HingeMirrorError, OSError, sqlite3.Error) as exc:
                self.last_error = str(exc) if isinstance(exc, HingeMirrorError) else (
                    f"backup {out}: {exc}; nothing kept")
                log.error("scheduled backup: %s", self.last_error)
                if self.on_failure is not None:
                    self.on_failure(self.last_error)
                return None
            self.last_at, self.last_file, self.last_error = now, out.name, None
            gone = self._prune()
            if not audit_backup(self.store, str(out), f"{reason}; schema {manifest['schema']}"
                                + (f"; {gone} older deleted" if gone else "")):
                log.warning("backup %s: made, but not written to the audit trail", out)
            log.info("backup %s made (%d kept)", out, len(self.kept()))
            return out

    def _clear_leftovers(self) -> None:
        """Half-written files of a process that stopped mid-backup (never ours now)."""
        try:
            for p in self.folder.glob(".hinge-mirror-*.tar.gz.*.tmp"):
                if not p.name.endswith(f".{os.getpid()}.tmp"):
                    p.unlink(missing_ok=True)
        except OSError:
            pass

    def _prune(self) -> int:
        files = self.kept()
        gone = 0
        for old in files[:max(0, len(files) - self.keep)]:
            try:
                old.unlink()
                gone += 1
            except OSError as exc:
                log.warning("backup %s: cannot be deleted (%s)", old, exc.strerror)
        return gone

    def status(self) -> dict:
        """For /healthz and the dashboard: no I/O (see _kept_n)."""
        return {"folder": str(self.folder), "external": self.external,
                "every_h": self.every_s / 3600.0,
                "keep": self.keep, "kept": self._kept_n, "newest": self._newest,
                "last_at": self.last_at, "error": self.last_error,
                "next_in_s": round(self._due_from(self._newest)) if self.every_s else None}

    def start(self) -> None:
        if self.every_s <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="backups", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._clear_leftovers()
        while not self._stop.is_set():
            try:
                wait = self.due_in()
                if wait <= 0:
                    self.run_once()
                    wait = self.due_in()
                    if self.last_error is not None:
                        wait = min(self.every_s, RETRY_S)
            except Exception:  # the schedule must outlive any one backup
                log.exception("scheduled backup: unexpected failure; trying again later")
                wait = RETRY_S
            if self._stop.wait(min(wait, RETRY_S)):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30.0)
