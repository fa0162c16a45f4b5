"""The device's log files: rotating, bounded, and read back only by safe names.

`install` adds a `RotatingFileHandler` (the standard library's, each file made
0600) to the root logger: `hinge-mirror.log`, rotated to `.1` ... `.N`, so the
folder holds at most (files + 1) * max_kb. The staff pages read them back by these names alone
(web_ui/logfiles.py).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
from pathlib import Path

from device.config import LogConfig

BASE = "hinge-mirror.log"
NAME = re.compile(r"^hinge-mirror\.log(\.[1-9][0-9]{0,2})?$")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger(__name__)


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """The standard library's rotating file, each file (the current one and,
    since a rotation renames it and opens a new one here, every rotated one)
    created mode 0600 whatever the umask: a log names accounts, addresses and
    sessions. A file an older version left readable by others loses that."""

    def _open(self):
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(fd, os.fstat(fd).st_mode & 0o770)  # nothing for others
        return self._builtin_open(fd, self.mode, encoding=self.encoding, errors=self.errors)


def install(config: LogConfig) -> logging.Handler | None:
    """Log to the folder of `config` as well as to stderr; None (and a warning)
    if the folder cannot be written: the mirror runs on without log files."""
    if not config.dir:
        return None
    folder = Path(config.dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = PrivateRotatingFileHandler(
            folder / BASE, maxBytes=config.max_kb * 1024, backupCount=config.files,
            encoding="utf-8")
    except OSError as exc:
        log.warning("log folder %s: cannot be written (%s); logging to stderr only",
                    folder, exc.strerror)
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    logging.getLogger().addHandler(handler)
    return handler
