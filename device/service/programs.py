"""The mirror following a client's program (issue 26): staff start it from the
console ("next client: K-017", or the client's QR card at the glass); each
block's exercise, reps, sets, rest, tempo, range limit and per-fault
sensitivity become the coach's; the block moves on when its sets are done; the
session is tagged with the client's code and the program as it was followed,
and the code never reaches the glass.

What the glass shows of it goes into every snapshot (merged by the supervisor):
`program`, the block under way (its exercise, sets x reps, tempo, range limit,
the set within the block, the patient's note), and `program_summary`, the
program's adherence (device/store/programs.adherence) once its last set is
done, until the person leaves.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from contextlib import closing

from device.core.coach import CoachParams
from device.errors import HingeMirrorError
from device.store import audit, connect
from device.store import programs as schema

log = logging.getLogger(__name__)


class ProgramRunner:
    def __init__(self, store_path, set_params: Callable[[CoachParams], None], shown: dict,
                 tag: Callable[[str, dict], None],
                 latest: Callable[[], dict] | None = None) -> None:
        """`latest`: the mirror's newest snapshot, for a program started by a card."""
        self.store_path, self._set_params, self._shown, self._tag = (
            store_path, set_params, shown, tag)
        self._latest = latest or dict
        self.base = CoachParams()  # the settings' (settings_applier keeps it current)
        self.code: str | None = None
        self.program: schema.Program | None = None
        self.block = self.sets_done = self.sets_before = self.first_set = 0
        self.tagged = self.skip_open = False
        self.holding = False  # a program done: its targets held until the person leaves
        self.done: list[list[dict]] = []  # the program's sets so far, each its reps
        self.open: list[dict] = []  # the reps of its set under way
        self._lock = threading.Lock()
        shown["program"] = shown["program_summary"] = None

    def params(self) -> CoachParams:
        """The coach's parameters: the settings', with the current block's over them."""
        if self.program is None:
            return self.base
        b = self.program.blocks[self.block]
        # The session counts its sets across blocks: the target is the program's so far.
        return dataclasses.replace(self.base, **schema.block_params(b),
                                   set_target_reps=b.reps,
                                   set_target_sets=self.sets_before + b.sets,
                                   rest_s=max(float(b.rest_s), 1.0))

    def settings_changed(self, base: CoachParams) -> CoachParams:
        with self._lock:
            self.base = base
            self.holding = False  # the settings' from now on
            return self.params()

    def start(self, code: str, snapshot: dict | None = None,
              program: schema.Program | None = None) -> schema.Program:
        """Follow `code`'s program (or `program`, not looked up: `analyze
        --program`) from its first block; a one-line error if it has none.
        `snapshot`: the mirror's latest; a session under way becomes the
        client's, and a set already open in it is not the program's."""
        if program is None:
            with closing(connect(self.store_path)) as conn:
                found = schema.get(conn, code)
            if found is None:
                raise HingeMirrorError(f"client {code}: has no program; make one on its "
                                       "program page first")
            program = found["program"]
        snap = snapshot or {}
        with self._lock:
            self.code, self.program = code, program
            self.block = self.sets_done = 0
            # The session's sets so far (ended, and one open) come before the program's.
            self.skip_open = bool(snap.get("set_reps"))
            self.sets_before = len(snap.get("sets_done") or ()) + int(self.skip_open)
            self.first_set = self.sets_before + 1
            self.done, self.open = [], []
            self.tagged = False
            self._shown["program_summary"] = None
            if snap.get("session") is not None:  # someone is already training: theirs
                self._tag_session()
            self._apply()
        return self.program

    def stop(self) -> None:
        with self._lock:
            self._finish()

    def followed(self, program: schema.Program) -> dict:
        """`program`'s adherence from what this runner has seen of it so far: the
        sets done, and the one open (a recording that ended in it)."""
        with self._lock:
            return schema.adherence(program, self.done + ([self.open] if self.open else []))

    def on_events(self, events: list[dict]) -> None:
        """After the store has the events: tag the session, follow its reps and
        sets, move the blocks on; the summary at the end."""
        cards = [e["code"] for e in events if e["type"] == "card"]
        with self._lock:
            for e in events:
                kind = e["type"]
                if kind == "session_ended":
                    # The person left: the program is over for today, and what
                    # the glass said of it goes with them.
                    self._shown["program_summary"] = None
                    if self.tagged or self.holding:
                        self._finish()
                if self.program is None:
                    continue
                if kind == "session_started" and not self.tagged:
                    self._tag_session()
                elif kind == "rep" and self.tagged and not self.skip_open:
                    self.open.append(e)
                elif kind == "set_ended" and self.tagged:
                    if self.skip_open:  # the set that was open when the program began
                        self.skip_open = False
                        continue
                    self._set_ended()
        for code in cards:
            self._card(code)

    def _card(self, code: str) -> None:
        """A client's card held up at the glass (device/vision/cards.py): their
        program, unless one is under way (staff stop or change it on the console)."""
        with self._lock:
            if self.program is not None:
                if code != self.code:
                    log.info("a client's card was read while another program runs: ignored")
                return
        try:
            program = self.start(code, self._latest())
        except HingeMirrorError as exc:
            log.info("a client's card was read: %s", exc)  # the glass stays as it was
            return
        with closing(connect(self.store_path)) as conn:
            audit.record(conn, None, "glass", "program_started", f"client {code}",
                         "by the client's card: " + schema.summary(program))

    def _tag_session(self) -> None:
        self._tag(self.code, {"program": schema.to_dict(self.program),
                              "first_set": self.first_set})
        self.tagged = True

    def _set_ended(self) -> None:
        self.done.append(self.open)
        self.open = []
        self.sets_done += 1
        if self.sets_done < self.program.blocks[self.block].sets:
            self._apply()
            return
        self.sets_before += self.sets_done
        self.block, self.sets_done = self.block + 1, 0
        if self.block < len(self.program.blocks):
            self._apply()
            return
        # The last set of the last block: what was done against what was prescribed;
        # the glass says all sets are done (not a rest) until the person leaves.
        self._shown["program_summary"] = schema.adherence(self.program, self.done)
        done = dataclasses.replace(self.base, set_target_sets=self.sets_before,
                                   set_target_reps=self.program.blocks[-1].reps)
        self._finish()
        self._set_params(done)
        self.holding = True

    def _apply(self) -> None:
        b = self.program.blocks[self.block]
        self._set_params(self.params())
        # Never the client's code: what the glass may say of the block.
        self._shown["program"] = {
            "block": self.block + 1, "blocks": len(self.program.blocks),
            "exercise": b.exercise, "sets": b.sets, "reps": b.reps,
            "set": self.sets_done + 1,  # the set within the block under way or next
            "tempo": None if b.tempo is None else dataclasses.asdict(b.tempo),
            "max_hip_deg": b.max_hip_deg, "note": b.note}

    def _finish(self) -> None:
        self.code, self.program = None, None
        self.tagged = self.skip_open = self.holding = False
        self._shown["program"] = None
        self._set_params(self.base)
