"""The parent's half of the pipeline: start the child, relay it, restart it.

The child (`device.service.child`) runs camera, pose and coach; this process
keeps the web server, the store (its only writer) and this supervisor. A
thread reads the child's pipe: snapshots go to the hub (with the live
display settings), events to the recorder, metrics and MQTT, log lines to
this process's logs. A child that exits, is killed, or hangs (no heartbeat,
or frames arriving but none processed, for `hang_s`) is killed and started
again after a backoff (1, 2, 4 ... 30 s); each restart is a device event,
and the mirror shows "restarting". More than `max_restarts` within
`window_s` and it gives up: the state is "failed", /healthz says so, and the
systemd watchdog (fed only while `watchdog_ok`) lets systemd restart the
whole service.
"""

from __future__ import annotations

import collections
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from device.errors import HingeMirrorError
from device.service import child as child_mod
from device.service.hub import StateHub

log = logging.getLogger(__name__)

BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
STOP_GRACE_S = 1.0  # a child killed by SIGTERM: how long the device's own stop is awaited


class Supervisor:
    def __init__(self, job: child_mod.Job, hub: StateHub, *,
                 on_events: Callable[[list[dict]], None] = lambda events: None,
                 on_device_event: Callable[[str, str | None], None] = lambda k, d: None,
                 on_restart: Callable[[str], None] = lambda why: None,
                 on_source: Callable[[dict[str, Any]], None] = lambda info: None,
                 metrics=None, shown: dict[str, Any] | None = None,
                 hang_s: float = 5.0, ready_s: float = 120.0, max_restarts: int = 5,
                 window_s: float = 600.0, backoff_s: tuple[float, ...] = BACKOFF_S) -> None:
        self.job, self.hub, self.metrics = job, hub, metrics
        self.on_events, self.on_device_event, self.on_restart, self.on_source = (
            on_events, on_device_event, on_restart, on_source)
        self.shown = shown if shown is not None else {}  # merged into every snapshot
        self.hang_s, self.ready_s = hang_s, ready_s
        self.max_restarts, self.window_s, self.backoff_s = max_restarts, window_s, backoff_s
        self.state = "starting"  # starting | running | restarting | ended | failed | stopped
        self.restarts: collections.deque[float] = collections.deque()
        self.restart_count = 0
        self.last_restart: str | None = None
        self.child_health: dict[str, Any] | None = None
        self.framing: dict[str, Any] | None = None  # the live skeleton, for the staff
        self.ready_info: dict[str, Any] | None = None  # the model loaded: pid, model
        self.source_info: dict[str, Any] | None = None  # the source open: name, demo, live
        self.started_s = time.monotonic()
        self._ctx = multiprocessing.get_context("spawn")
        self._proc = None
        self._conn = None
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._fatal: str | None = None
        self._opened = threading.Event()  # a source has opened (since the last spawn)
        self._starting = False  # start() is waiting: a fatal message is its to raise
        self._beat_s = 0.0
        self._last_snap: dict[str, Any] | None = None
        self._frames_seen = 0
        self._thread: threading.Thread | None = None

    # -- the child --------------------------------------------------------------
    def _spawn(self) -> None:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=child_mod.entry, args=(child, self.job),
                                 name="hinge-mirror-pipeline", daemon=True)
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        self._beat_s = time.monotonic()
        self._frames_seen = 0
        self._ready.clear()
        self._opened.clear()

    def _kill(self) -> None:
        proc, conn = self._proc, self._conn
        if proc is None:
            return
        if proc.is_alive():
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.join(5.0)
        if conn is not None:
            conn.close()
        self._proc = self._conn = None

    def start(self) -> None:
        """Start the child and wait until its model is loaded (`ready_s` at
        most), not for the camera: a camera that is away is a state the mirror
        shows, retried for as long as it takes. A model that will not load, or
        a first open that fails on an explicit source, is a HingeMirrorError
        (one line), as before the pipeline had its own process."""
        self._starting = True
        try:
            self._spawn()
            self._thread = threading.Thread(target=self._loop, name="supervisor", daemon=True)
            self._thread.start()
            deadline = time.monotonic() + self.ready_s
            # An explicit --source (fail_fast) waits for its first open too: someone
            # at a keyboard hears at once that it cannot be opened.
            while not (self._ready.is_set() and (self._opened.is_set() or not self.job.fail_fast)):
                if self._fatal is not None:
                    self.stop()
                    raise HingeMirrorError(self._fatal)
                if self.state == "failed":
                    self.stop()
                    raise HingeMirrorError(f"pipeline process: {self.last_restart}; see the log")
                if time.monotonic() > deadline:
                    self.stop()
                    raise HingeMirrorError(
                        f"pipeline process: the model not loaded after {self.ready_s:.0f} s"
                        if not self._ready.is_set() else
                        f"source: not opened after {self.ready_s:.0f} s; see the log")
                time.sleep(0.05)
        finally:
            self._starting = False

    def set_params(self, params) -> None:
        """The coach's new parameters, to the running child (and to every later one)."""
        import dataclasses

        self.job = dataclasses.replace(self.job, params=params)
        self._send(("params", params))

    def _send(self, msg) -> None:
        with self._send_lock:
            try:
                if self._conn is not None:
                    self._conn.send(msg)
            except (OSError, EOFError, BrokenPipeError):
                pass  # the child is gone; the loop restarts it

    def stopping(self) -> None:
        """The device has begun to stop (its web server winds down first, which
        can take seconds with pages open): from now on a child that dies is not
        restarted. `stop` does the rest."""
        self._stop.set()

    def stop(self, timeout_s: float = 3.0) -> None:
        self._stop.set()
        self._send(("stop", None))
        if self._proc is not None:
            self._proc.join(timeout_s)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
        self._kill()
        if self.state not in ("failed",):
            self.state = "stopped"

    # -- the relay ----------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            conn, proc = self._conn, self._proc
            if conn is None:
                return
            try:
                while conn.poll(0.2):
                    self._handle(conn.recv())
            except (EOFError, OSError):
                pass  # the child closed its end: it is exiting or dead
            if self._stop.is_set():
                return
            why = self._trouble(proc)
            if why and self._stopping_with(proc):
                return  # the whole device is stopping: no restart, no restart event
            if why:
                self._restart(why)

    def _stopping_with(self, proc) -> bool:
        """A child killed by SIGTERM while the device itself stops: a stop sent
        to the whole process group (`kill -TERM -PGID`, a terminal's `timeout`)
        reaches the child first as often as not. The parent's own stop follows
        within milliseconds, so wait for it a moment before calling the death a
        crash; a SIGTERM to the child alone is still restarted, a second late.
        (`run_device` says so first thing, `stopping`, before its web server's
        own wind-down.)"""
        if proc is None or proc.is_alive() or proc.exitcode != -signal.SIGTERM:
            return False
        return self._stop.wait(STOP_GRACE_S)

    def _trouble(self, proc) -> str | None:
        if self.state == "ended":
            return None
        if self._fatal is not None and self._starting:
            return None  # start() reports it
        if not proc.is_alive():
            code = proc.exitcode
            if code is not None and code < 0:
                return f"killed by signal {signal.Signals(-code).name}"
            return f"exited with code {code}"
        now = time.monotonic()
        limit = self.hang_s if self._ready.is_set() else self.ready_s
        if now - self._beat_s > limit:
            return f"no heartbeat for {now - self._beat_s:.0f} s"
        h = self.child_health or {}
        cam, pipe = h.get("camera") or {}, h.get("pipeline") or {}
        age = pipe.get("last_processed_age_s")
        if (self._ready.is_set() and (cam.get("last_frame_age_s") or 99) < 1.0 and age is not None
                and age > self.hang_s):
            return f"frames arriving but none processed for {age:.0f} s"
        return None

    def _handle(self, msg: tuple) -> None:
        kind = msg[0]
        if kind == "snap":
            snap = dict(msg[1], **self.shown)
            self._last_snap = snap
            self.hub.publish(snap)
        elif kind == "events":
            if self.metrics:
                self.metrics.count_events(msg[1])
            self.on_events(msg[1])
        elif kind == "device":
            if self.metrics:
                self.metrics.device_event(msg[1], msg[2])
            self.on_device_event(msg[1], msg[2])
        elif kind == "health":
            self._beat_s = time.monotonic()
            report = msg[1]
            invokes = report.pop("invokes", [])
            self.framing = report.pop("framing", None)
            if self.metrics:
                frames = (report.get("pipeline") or {}).get("frames", 0)
                if frames > self._frames_seen:
                    self.metrics.frames.inc(frames - self._frames_seen)
                self._frames_seen = frames
                for took in invokes:
                    self.metrics.invoke.observe(took)
            self.child_health = report
        elif kind == "log":
            logging.getLogger(msg[2]).log(msg[1], "%s", msg[3])
        elif kind == "ready":
            self._beat_s = time.monotonic()
            self.ready_info = msg[1]
            if self.state in ("starting", "restarting"):
                self.state = "running"
            self._ready.set()
        elif kind == "fatal":
            self._fatal = msg[1]
            # At start, start() raises it and the command line prints it: kept in
            # the log file, not said twice on the terminal (`console`: cli's filter).
            log.error("pipeline: %s", msg[1], extra={"console": not self._starting})
        elif kind == "source":
            self.source_info = msg[1]
            self._opened.set()
            self.on_source(msg[1])
        elif kind == "ended":
            self.state = "ended"

    def _restart(self, why: str) -> None:
        log.warning("pipeline process %s; restarting it", why)
        self._kill()
        now = time.monotonic()
        while self.restarts and now - self.restarts[0] > self.window_s:
            self.restarts.popleft()
        self.last_restart = why
        self._fatal = None
        if len(self.restarts) >= self.max_restarts:
            self.state = "failed"
            log.error("pipeline: %d restarts within %.0f s; giving up (%s)",
                      len(self.restarts), self.window_s, why)
            self.on_device_event("pipeline_failed", why)
            self._show("failed")
            return
        self.restarts.append(now)
        self.restart_count += 1
        self.state = "restarting"
        self._show("restarting")  # the mirror first, then the bookkeeping
        self.on_restart(why)
        self.on_device_event("pipeline_restart", why)
        if self.metrics:
            self.metrics.device_event("pipeline_restart", why)
        # Back off by how many restarts are recent; a long healthy run starts over.
        recent = [t for t in self.restarts if now - t < 120.0]
        delay = self.backoff_s[min(len(recent) - 1, len(self.backoff_s) - 1)]
        if self._stop.wait(delay):
            return
        self._spawn()

    def _show(self, state: str) -> None:
        """The mirror says the pipeline is restarting (or has stopped); nobody is shown."""
        base = dict(self._last_snap or {})
        base.update(self.shown, camera=state, present=False, phase="absent", cue=None)
        self.hub.publish(base)

    # -- health -------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        h = dict(self.child_health or {})
        pid = self._proc.pid if self._proc is not None else None
        state = self.state
        child_ok = bool(h.get("ok"))
        ok = (state == "running" and child_ok) or (state == "ended" and child_ok)
        h.setdefault("camera", {"ok": False, "source": None})
        h.setdefault("pipeline", {"ok": False, "fps": 0.0, "frames": 0})
        h.setdefault("model", {"ok": False, "loaded": False})
        h["ok"] = ok
        h["supervisor"] = {"state": state, "pid": pid, "restarts": self.restart_count,
                           "last_restart": self.last_restart}
        h["uptime_s"] = round(time.monotonic() - self.started_s, 1)
        if state in ("restarting", "failed"):
            h["error"] = f"pipeline {state}: {self.last_restart}"
        return h

    def watchdog_ok(self) -> bool:
        """Feed systemd's watchdog? Yes while the child beats, or is being
        restarted within the limit; no once it has failed or stopped beating."""
        if self.state in ("failed", "stopped"):
            return False
        if self.state in ("restarting", "starting", "ended"):
            return True
        return time.monotonic() - self._beat_s < 2 * self.hang_s
