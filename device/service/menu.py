"""What the arms' menu at the glass saves (device/core/gestures.py): the same
change the staff settings page makes, through the live settings, so that it
holds over a restart and shows on the settings page as set apart from the
file; audited with the address "glass" and no account."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from device.config import ConfigValueError
from device.errors import HingeMirrorError
from device.service.settings import LiveSettings
from device.store import audit, connect

log = logging.getLogger(__name__)

# The menu's items (gestures.ITEMS) and the settings they are.
SETTINGS = {"exercise": "coach.exercise", "set_reps": "coach.set_reps", "sets": "coach.sets",
            "rest_s": "coach.rest_s"}


class GlassMenu:
    """`running()`: a program is under way; its block's targets are the coach's,
    and the menu's save is not applied (the page shows no menu then)."""

    def __init__(self, settings: LiveSettings, store_path: Path | str,
                 running: Callable[[], bool] = lambda: False) -> None:
        self.settings = settings
        self.store_path = store_path
        self.running = running

    def on_events(self, events: list[dict]) -> None:
        for e in events:
            if e.get("type") == "menu" and e.get("action") == "saved":
                self._save(e.get("values") or {})

    def _save(self, values: dict) -> None:
        if self.running():
            log.info("the glass's menu was saved during a program: not applied")
            return
        before = self.settings.values()
        change = {SETTINGS[k]: v for k, v in values.items() if k in SETTINGS}
        if not change:
            return
        try:
            self.settings.change(change)
        except (ConfigValueError, HingeMirrorError) as exc:
            log.warning("the glass's menu could not be saved: %s", exc)
            return
        after = self.settings.values()
        changed = "; ".join(f"{k} {before[k]!r} -> {after[k]!r}" for k in change
                            if before[k] != after[k])
        log.info("settings changed at the glass: %s", changed or "nothing")
        try:
            with closing(connect(self.store_path)) as conn:
                audit.record(conn, None, "glass", "settings_changed", "settings",
                             "by the menu at the glass: " + (changed or "nothing"))
        except (sqlite3.Error, HingeMirrorError, OSError) as exc:
            log.warning("the glass's settings change is not in the audit trail: %s", exc)
