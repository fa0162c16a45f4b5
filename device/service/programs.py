"""The mirror following a client's program (issue 26): staff start it from the
console ("next client: K-017"); each block's exercise, reps, sets and rest
become the coach's; the block moves on when its sets are done; the session is
tagged with the client's code in the store, and the code never reaches the glass.

What the glass shows of it goes into every snapshot as `program` (the block,
its exercise, how many blocks, the patient's note), merged by the supervisor.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from contextlib import closing

from device.core.coach import CoachParams
from device.errors import HingeMirrorError
from device.store import connect
from device.store import programs as schema


class ProgramRunner:
    def __init__(self, store_path, set_params: Callable[[CoachParams], None], shown: dict,
                 tag: Callable[[str], None]) -> None:
        self.store_path, self._set_params, self._shown, self._tag = (
            store_path, set_params, shown, tag)
        self.base = CoachParams()  # the settings' (settings_applier keeps it current)
        self.code: str | None = None
        self.program: schema.Program | None = None
        self.block = self.sets_done = self.sets_before = 0
        self.tagged = False
        self._lock = threading.Lock()
        shown["program"] = None

    def params(self) -> CoachParams:
        """The coach's parameters: the settings', with the current block's over them."""
        if self.program is None:
            return self.base
        b = self.program.blocks[self.block]
        # The session counts its sets across blocks: the target is the program's so far.
        return dataclasses.replace(self.base, exercise=b.exercise, set_target_reps=b.reps,
                                   set_target_sets=self.sets_before + b.sets,
                                   rest_s=max(float(b.rest_s), 1.0))

    def settings_changed(self, base: CoachParams) -> CoachParams:
        with self._lock:
            self.base = base
            return self.params()

    def start(self, code: str, session_active: bool = False) -> schema.Program:
        """Follow `code`'s program from its first block; a one-line error if it has none."""
        with closing(connect(self.store_path)) as conn:
            found = schema.get(conn, code)
        if found is None:
            raise HingeMirrorError(f"client {code}: has no program; make one on its program "
                                   "page first")
        with self._lock:
            self.code, self.program = code, found["program"]
            self.block = self.sets_done = self.sets_before = 0
            self.tagged = False
            if session_active:  # someone is already training: theirs
                self._tag(code)
                self.tagged = True
            self._apply()
        return self.program

    def stop(self) -> None:
        with self._lock:
            self._finish()

    def on_events(self, events: list[dict]) -> None:
        """After the store has the events: tag the session, move the blocks on."""
        with self._lock:
            if self.program is None:
                return
            for e in events:
                if e["type"] == "session_started" and not self.tagged:
                    self._tag(self.code)
                    self.tagged = True
                elif e["type"] == "set_ended" and self.tagged:
                    self.sets_done += 1
                    if self.sets_done >= self.program.blocks[self.block].sets:
                        self.sets_before += self.sets_done
                        self.block, self.sets_done = self.block + 1, 0
                        if self.block == len(self.program.blocks):
                            self._finish()
                            return
                        self._apply()
                elif e["type"] == "session_ended" and self.tagged:
                    self._finish()  # the client left: the program is over for today
                    return

    def _apply(self) -> None:
        b = self.program.blocks[self.block]
        self._set_params(self.params())
        # Never the client's code: what the glass may say of the block.
        self._shown["program"] = {"block": self.block + 1, "blocks": len(self.program.blocks),
                                  "exercise": b.exercise, "sets": b.sets, "reps": b.reps,
                                  "note": b.note}

    def _finish(self) -> None:
        self.code, self.program = None, None
        self._shown["program"] = None
        self._set_params(self.base)
