"""Scheduled backups: one file every `every_s` into a folder (the data folder's
`backups/` by default; better a USB stick or a network share), the newest
`keep` of them kept.

Each backup is `device.store.backup.make_backup` (SQLite's online backup API:
safe while reps are being written), named `hinge-mirror-YYYYmmdd-HHMMSS.tar.gz`,
and written to the audit trail. Only files with that name are ever deleted,
so whatever else is in the folder (a pre-upgrade backup, someone's notes) is
left alone. A backup that cannot be made (the stick pulled out, the share
full) is logged, shown on the staff dashboard and recorded as a device event,
and tried again within the hour; coaching is never touched.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from device.errors import HingeMirrorError
from device.store import audit, connect
from device.store.backup import make_backup

log = logging.getLogger(__name__)

NAME = re.compile(r"^hinge-mirror-\d{8}-\d{6}\.tar\.gz$")
RETRY_S = 3600.0  # after a failure, at most this long before the next try


class BackupSchedule:
    """`run_once` makes one backup now; `start` runs them on the schedule in a thread."""

    def __init__(self, store: Path | str, folder: Path | str, every_s: float, keep: int, *,
                 on_failure: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.folder = Path(store), Path(folder)
        self.every_s, self.keep = every_s, keep
        self.on_failure = on_failure
        self.clock = clock
        self.last_at: float | None = None
        self.last_file: str | None = None
        self.last_error: str | None = None
        self._lock = threading.Lock()  # one backup at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def kept(self) -> list[Path]:
        """The scheduled backups in the folder, oldest first."""
        try:
            return sorted(p for p in self.folder.iterdir() if NAME.match(p.name))
        except OSError:
            return []

    def due_in(self) -> float:
        """Seconds until the next backup is due (0: now); from the time in the
        newest one's name, so a restart neither skips one nor makes an extra one."""
        files = self.kept()
        if not files:
            return 0.0
        newest = time.mktime(time.strptime(files[-1].name[13:28], "%Y%m%d-%H%M%S"))
        return max(0.0, newest + self.every_s - self.clock())

    def run_once(self, reason: str = "scheduled") -> Path | None:
        with self._lock:
            now = self.clock()
            out = self.folder / time.strftime("hinge-mirror-%Y%m%d-%H%M%S.tar.gz",
                                              time.localtime(now))
            try:
                manifest = make_backup(self.store, out)
            except HingeMirrorError as exc:
                self.last_error = str(exc)
                log.error("scheduled backup: %s", exc)
                if self.on_failure is not None:
                    self.on_failure(str(exc))
                return None
            self.last_at, self.last_file, self.last_error = now, out.name, None
            gone = self._prune()
            with closing(connect(self.store)) as conn:
                audit.record(conn, None, None, "backup", str(out),
                             f"{reason}; schema {manifest['schema']}"
                             + (f"; {gone} older deleted" if gone else ""))
            log.info("backup %s made (%d kept)", out, min(len(self.kept()), self.keep))
            return out

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
        files = self.kept()
        return {"folder": str(self.folder), "every_h": self.every_s / 3600.0,
                "keep": self.keep, "kept": len(files),
                "newest": files[-1].name if files else None,
                "last_at": self.last_at, "error": self.last_error,
                "next_in_s": round(self.due_in()) if self.every_s else None}

    def start(self) -> None:
        if self.every_s <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="backups", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.due_in()
            if wait <= 0:
                self.run_once()
                wait = self.due_in()
                if self.last_error is not None:
                    wait = min(self.every_s, RETRY_S)
            if self._stop.wait(min(wait, RETRY_S)):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30.0)
