"""The device's log files: rotating, bounded, and read back only by safe names.

`install` adds a `RotatingFileHandler` (the standard library's) to the root
logger: `hinge-mirror.log`, rotated to `.1` ... `.N`, so the folder holds at
most (files + 1) * max_kb. The staff pages read them back by these names alone
(web_ui/logfiles.py).
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

from device.config import LogConfig

BASE = "hinge-mirror.log"
NAME = re.compile(r"^hinge-mirror\.log(\.[1-9][0-9]{0,2})?$")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger(__name__)


def install(config: LogConfig) -> logging.Handler | None:
    """Log to the folder of `config` as well as to stderr; None (and a warning)
    if the folder cannot be written: the mirror runs on without log files."""
    if not config.dir:
        return None
    folder = Path(config.dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            folder / BASE, maxBytes=config.max_kb * 1024, backupCount=config.files,
            encoding="utf-8")
    except OSError as exc:
        log.warning("log folder %s: cannot be written (%s); logging to stderr only",
                    folder, exc.strerror)
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    logging.getLogger().addHandler(handler)
    return handler
