"""Camera -> pose -> coach -> hub, on two threads.

The capture thread reads the source as fast as it delivers and keeps only the
newest frame in a one-slot mailbox; the processing thread takes whatever is
newest, runs pose and the coach and publishes a snapshot. When processing is
slower than the camera, frames are dropped, never queued: memory is bounded
whatever the frame rate.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from device.core import gestures
from device.core.coach import Coach, Phase
from device.service.hub import StateHub
from device.service.metrics import Metrics
from device.vision.cards import CardReader
from device.vision.pose import PoseEstimator
from device.vision.sources import Frame, FrameSource
from device.words import camera_words, dress

log = logging.getLogger(__name__)


class Mailbox:
    """One slot: `put` replaces, `take` waits for something newer than last time.

    Each side wakes the other only when it is waiting, and the taking thread,
    whose side runs between the model's invokes, wakes a `wait_taken` by a token
    on a SimpleQueue (C) rather than a Condition's notify (Python under the
    lock)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._seq = 0
        self._takers = 0  # threads waiting in take
        self._watchers = 0  # threads waiting in wait_taken
        self._taken: queue.SimpleQueue = queue.SimpleQueue()  # a token per take watched
        self.dropped = 0
        self.closed = False

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._seq += 1
            if self._takers:
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()
            for _ in range(self._watchers):
                self._taken.put(None)

    def wait_taken(self, timeout_s: float) -> bool:
        """Wait until the slot is empty (a source that must not be dropped from: bench)."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._cond:
                if self._frame is None or self.closed:
                    return True
                self._watchers += 1
            try:
                self._taken.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                return self._frame is None or self.closed
            finally:
                with self._cond:
                    self._watchers -= 1

    def take(self, timeout_s: float) -> Frame | None:
        with self._cond:
            if self._frame is None and not self.closed:
                self._takers += 1
                try:
                    self._cond.wait_for(lambda: self._frame is not None or self.closed,
                                        timeout_s)
                finally:
                    self._takers -= 1
            frame, self._frame = self._frame, None
            if frame is not None:  # a token for each watcher; each one checks the slot again
                for _ in range(self._watchers):
                    self._taken.put(None)
            return frame


def model_health(pose, loading: bool = False) -> dict[str, Any]:
    """/healthz's model: loaded (its runtime, threads, mode), or None for a
    source that carries keypoints (a replayed track, the demo)."""
    return {"ok": not loading, "loaded": pose is not None,
            "runtime": getattr(pose, "runtime", None), "threads": getattr(pose, "threads", None),
            "mode": getattr(pose, "mode", None)}


def _latency_ms(times_s) -> dict[str, float] | None:
    """Median and 95th percentile of the recent pose invokes, in ms."""
    recent = sorted(list(times_s))
    if not recent:
        return None
    return {"median": round(1000 * recent[len(recent) // 2], 1),
            "p95": round(1000 * recent[min(len(recent) - 1, int(0.95 * len(recent)))], 1)}


def _busy(fps: float, times_s) -> float | None:
    """The share of the time the pose model works (its recent frames per second
    by the mean time of the same last 60 frames' pose): near 1, the model is the
    bottleneck, as it should be; well below, the camera or the device's own work
    is. Read from figures kept anyway, nothing added per frame."""
    recent = list(times_s)[-60:]
    if not recent or fps <= 0:
        return None
    return round(min(1.0, fps * sum(recent) / len(recent)), 3)


class Processor:
    """One frame through pose and coach into a published snapshot.

    Shared by the live pipeline and the benchmark, so the benchmark measures
    the code that runs on the device.
    """

    def __init__(self, pose: PoseEstimator | None, coach: Coach, hub: StateHub,
                 extra: dict[str, Any] | None = None, skeleton: bool = False,
                 metrics: Metrics | None = None, cards: CardReader | None = None,
                 menu: bool = False) -> None:
        self.pose = pose
        # The home user's menu, worked by the arms (device/core/gestures.py);
        # None: off (a clinic's default).
        self.menu = gestures.MenuState() if menu else None
        # A client's card held up to the camera: its code becomes a "card"
        # event (only the program runner reads it; never stored or published).
        self.cards = cards
        self.metrics = metrics
        # The optional overlay: the filtered keypoints (never a picture) in the
        # snapshot, for the page to draw. Off by default.
        self.skeleton = skeleton
        self.aspect = 4 / 3
        self.coach = coach
        self.hub = hub
        self.extra = extra or {}
        self.frames = 0
        self.rejected: dict[str, int] = {}  # frames the coach refused, by reason
        self.invoke_s: collections.deque[float] = collections.deque(maxlen=120)
        self.invoke_log: list[float] | None = None  # the child's, for the parent's histogram

    def recording_ended(self) -> list[dict]:
        """A recording ran out: the set and the session close, and the glass says so."""
        events = self.coach.recording_ended()
        self.publish(camera="ended", camera_reason="ended", camera_text=camera_words("ended"))
        return events

    def camera_lost(self) -> list[dict]:
        """No frames for a while: clear the person and say so on the glass."""
        events = self.coach.lose_sight("camera_lost")
        self.publish(camera="unavailable", camera_reason="lost",
                     camera_text=camera_words("lost"))
        return events

    def publish(self, camera: str = "ok", **more: Any) -> None:
        """`more`: what the camera's state adds (camera_reason, camera_text,
        camera_retry_s while it is away)."""
        snap = dress(self.coach.snapshot())
        snap.update(self.extra)
        snap["camera"] = camera
        snap.update(more)
        if self.menu is not None:
            snap["menu"] = gestures.view(self.menu, self.coach.state.t_s)
        if self.skeleton:
            snap["skeleton"] = self._skeleton()
            snap["skeleton_aspect"] = round(self.aspect, 4)  # the frame's width / height
        self.hub.publish(snap)

    def _menu_step(self, keypoints: np.ndarray, t_s: float) -> list[dict]:
        """The menu on this frame: a gesture counts only standing, with no set
        under way (a set's reps so far, not resting)."""
        st, p = self.coach.state, self.coach.params
        in_set = bool(st.sets.set_reps) and st.sets.resting_since_s is None
        allowed = st.phase in (Phase.READY, Phase.STANDING) and not in_set
        current = {"exercise": p.exercise, "set_reps": p.set_target_reps,
                   "sets": p.set_target_sets, "rest_s": p.rest_s}
        self.menu, events = gestures.step(self.menu, keypoints, t_s, allowed, current)
        return events

    def _skeleton(self) -> list[list[float] | None] | None:
        """17 (x, y) points normalized to the frame, None where not seen lately."""
        st = self.coach.state
        if st.filt is None or st.seen_s is None or st.phase == Phase.ABSENT:
            return None
        bridge_s, x = self.coach.params.bridge_s, st.filt.x
        return [[round(x[2 * i] / self.aspect, 4), round(x[2 * i + 1], 4)]
                if st.t_s - seen <= bridge_s else None for i, seen in enumerate(st.seen_s)]

    def process(self, frame: Frame) -> list[dict]:
        """Pose, then coach and publish: one frame, synchronously."""
        return self.coach_step(frame, self.estimate(frame))

    def estimate(self, frame: Frame) -> np.ndarray:
        """The frame's keypoints: the pose model's (timed), or the frame's own."""
        if frame.keypoints is not None:
            return frame.keypoints
        if self.pose is None:
            raise RuntimeError("a frame without keypoints needs a pose estimator")
        t0 = time.perf_counter()
        extra = {"bgr": True} if frame.bgr else {}
        keypoints = self.pose.estimate(frame.image, **extra)
        took = time.perf_counter() - t0
        self.invoke_s.append(took)
        if self.invoke_log is not None:
            self.invoke_log.append(took)
        if self.metrics:
            self.metrics.invoke.observe(took)
        return keypoints

    def coach_step(self, frame: Frame, keypoints: np.ndarray) -> list[dict]:
        """The coach on the frame's keypoints, then the snapshot published."""
        h, w = frame.size
        self.aspect = w / h
        events = self.coach.update(keypoints, frame.t_s, w / h)
        if self.cards is not None and frame.image is not None:
            code = self.cards.read(frame.image, frame.t_s)
            if code is not None:
                events = [*events, {"type": "card", "code": code, "t_s": frame.t_s}]
        if self.menu is not None:
            events = [*events, *self._menu_step(keypoints, frame.t_s)]
        for e in events:
            if e["type"] == "rejected":
                n = self.rejected[e["reason"]] = self.rejected.get(e["reason"], 0) + 1
                if n == 1 or n % 1000 == 0:  # one line, not one per frame of a bad camera
                    log.warning("frame at %s s skipped by the coach: %s (%d so far)",
                                e["t_s"], e["reason"], n)
        self.publish()
        self.frames += 1
        if self.metrics:
            self.metrics.frames.inc()
            self.metrics.count_events(events)
        return events


class Pipeline:
    """`clock`: the seconds the pipeline's ages and staleness are read on
    (monotonic; a test gives its own, so that a stall is a step of the clock,
    not seconds of waiting). The waits themselves stay real."""

    def __init__(self, source: FrameSource, processor: Processor, *,
                 on_events=None, on_device_event=None, camera_stale_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.source = source
        self.processor = processor
        self.on_events = on_events
        self.on_device_event = on_device_event  # (kind, detail): camera_lost, camera_back, error
        # A live camera with no frame for this long is unavailable: the mirror
        # says so (within 3 s with the mailbox's 0.5 s wait) and forgets the person.
        self.camera_stale_s = camera_stale_s
        self.camera_lost = False
        self.mailbox = Mailbox()
        self._stop = threading.Event()
        self.started_s = self.clock()
        self.last_frame_s: float | None = None
        self.first_frame_s: float | None = None
        self.last_processed_s: float | None = None
        self.source_ended = False
        self.error: str | None = None
        self.failing = 0  # frames in a row that processing failed on
        self.failing_since: float | None = None
        self._fps_t: list[float] = []
        # Each thread's own CPU seconds when its loop ended (time.thread_time):
        # where the CPU beside the model goes, for the bench.
        self.thread_cpu_s: dict[str, float] = {}
        # Two stages: the pose thread runs the model; the coach thread runs the
        # coach, the snapshot and the events on the keypoints it hands over, while
        # the model (which releases the GIL) works on the next frame. In order,
        # nothing dropped between them: the hand-off holds two frames at most, a
        # frame going over only with one of two slots, which the coach thread
        # gives back as it takes one. SimpleQueues: C all through, no Python
        # locking on the model's thread between invokes.
        self._handoff: queue.SimpleQueue = queue.SimpleQueue()
        self._slots: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(2):
            self._slots.put(None)
        self._capture = self._thread("capture", self._capture_loop)
        self._process = self._thread("pose", self._process_loop, name="process")
        self._coach = self._thread("coach", self._coach_loop)

    def start(self) -> None:
        self._capture.start()
        self._coach.start()
        self._process.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        self.mailbox.close()
        self._process.join(timeout_s)
        self._hand(("end", None, None))
        self._coach.join(timeout_s)
        self._capture.join(min(timeout_s, 0.5))
        # A capture still waiting for a frame (a stalled camera) is freed by
        # closing the source under it; then it gets the rest of the time.
        try:
            self.source.close()
        except Exception:  # closing a broken camera must not hide the real error
            log.exception("closing %s failed", self.source.name)
        self._capture.join(timeout_s)

    def _thread(self, key: str, loop, name: str | None = None) -> threading.Thread:
        """A daemon thread running `loop`; its CPU time goes in thread_cpu_s[key]."""
        def run() -> None:
            try:
                loop()
            finally:
                self.thread_cpu_s[key] = time.thread_time()
        return threading.Thread(target=run, name=name or key, daemon=True)

    def _capture_loop(self) -> None:
        try:
            for frame in self.source.frames():
                if self._stop.is_set():
                    break
                self.last_frame_s = self.clock()
                if self.first_frame_s is None:
                    self.first_frame_s = self.last_frame_s
                self.mailbox.put(frame)
        except Exception as exc:  # a camera failing mid-run is reported, not fatal
            self.error = f"{self.source.name}: {exc}"
            log.exception("frame source %s failed", self.source.name)
        finally:
            self.source_ended = True
            self.mailbox.close()
            log.info("frame source %s ended", self.source.name)

    def _hand(self, item: tuple) -> None:
        """To the coach thread; waits while it is two frames behind (never drops)."""
        while True:
            try:
                self._slots.get(timeout=0.5)
                break
            except queue.Empty:
                if not self._coach.is_alive():
                    return
        self._handoff.put(item)

    def _process_loop(self) -> None:
        try:
            self._pose_loop()
        finally:
            self._hand(("end", None, None))

    def _pose_loop(self) -> None:
        while not self._stop.is_set():
            frame = self.mailbox.take(timeout_s=0.5)
            if frame is None:
                if self._stop.is_set():  # stopping on purpose: no camera was lost
                    return
                # A live camera that stalled, or whose source ended (unplugged).
                gone = self.mailbox.closed and self.source.live
                if (gone or self._stale()) and not self.camera_lost:
                    self.camera_lost = True
                    log.warning("camera %s: no frame for %.1f s; showing it as unavailable",
                                self.source.name, self.camera_stale_s)
                    self._hand(("lost", None, None))
                if self.mailbox.closed:
                    return
                continue
            if self.camera_lost:
                self.camera_lost = False
                log.info("camera %s: frames again", self.source.name)
                # Through the coach thread, as "lost" went: the store gets them in order.
                self._hand(("back", None, None))
            try:
                keypoints = self.processor.estimate(frame)
            except Exception as exc:
                self._failed(exc)
                continue
            self._hand(("frame", frame, keypoints))

    def _coach_loop(self) -> None:
        while True:
            kind, frame, keypoints = self._handoff.get()
            self._slots.put(None)
            if kind == "end":
                if (self.source_ended and not self.source.live and self.error is None
                        and not self._stop.is_set()):  # the file ran out (not a stop)
                    self._events(self.processor.recording_ended())
                return
            if kind == "lost":
                self._events(self.processor.camera_lost())
                self._device_event("camera_lost", self.error or
                                   f"no frame for {self.camera_stale_s:.0f} s")
                continue
            if kind == "back":
                self._device_event("camera_back", None)
                continue
            try:
                events = self.processor.coach_step(frame, keypoints)
            except Exception as exc:
                self._failed(exc)
                continue
            if self.failing:
                log.info("processing: frames go through again after %d failed", self.failing)
                self.failing, self.failing_since, self.error = 0, None, None
            now = self.clock()
            self.last_processed_s = now
            self._fps_t.append(now)
            if len(self._fps_t) > 60:
                del self._fps_t[0]
            self._events(events)

    def _failed(self, exc: Exception) -> None:
        """One line and one event for a run of failures, not one per frame."""
        self.failing += 1
        self.failing_since = self.failing_since or self.clock()
        if self.failing == 1:
            self.error = f"processing: {exc}"
            log.exception("processing a frame failed")
            self._device_event("error", self.error)
        elif self.failing % 1000 == 0:
            log.error("processing: %d frames in a row failed (%s)", self.failing, exc)

    def _stale(self) -> bool:
        """A live camera that has sent nothing for camera_stale_s (or never, for as long)."""
        if not self.source.live:
            return False
        last = self.last_frame_s if self.last_frame_s is not None else self.started_s
        return self.clock() - last > self.camera_stale_s

    def _events(self, events: list[dict]) -> None:
        if events and self.on_events:
            self.on_events(events)

    def _device_event(self, kind: str, detail: str | None) -> None:
        if self.on_device_event:
            self.on_device_event(kind, detail)

    def fps(self) -> float:
        ts = self._fps_t
        if len(ts) < 2 or ts[-1] == ts[0]:
            return 0.0
        return (len(ts) - 1) / (ts[-1] - ts[0])

    def health(self, stale_s: float = 3.0) -> dict[str, Any]:
        """Liveness of camera, model and pipeline, for /healthz."""
        now = self.clock()
        camera_ok = (self.last_frame_s is not None and now - self.last_frame_s < stale_s) or (
            self.source_ended and not self.source.live and self.error is None)
        pipeline_ok = (self._process.is_alive() and self._coach.is_alive()) or (
            self.source_ended and self.error is None)
        ended = self.source_ended and not self.source.live  # a recording that ran out
        pose = self.processor.pose
        busy_since = self.last_processed_s if self.last_processed_s is not None else (
            self.first_frame_s)
        return {
            "ok": bool(camera_ok and pipeline_ok and self.error is None),
            "camera": {"ok": bool(camera_ok), "source": self.source.name,
                       "live": self.source.live, "ended": self.source_ended,
                       "last_frame_age_s": None if self.last_frame_s is None
                       else round(now - self.last_frame_s, 2),
                       **({"reason_id": "ended", "words": camera_words("ended")}
                          if camera_ok and ended else {} if camera_ok else {
                           "reason": f"camera {self.source.name}: {self.error or 'no frames'}",
                           "reason_id": "lost", "words": camera_words("lost")})},
            "model": model_health(pose),
            "pipeline": {"ok": bool(pipeline_ok),
                         "fps": 0.0 if ended else round(self.fps(), 1),
                         "frames": self.processor.frames, "dropped": self.mailbox.dropped,
                         "invoke_ms": _latency_ms(self.processor.invoke_s),
                         "model_busy": _busy(self.fps(), self.processor.invoke_s),
                         # Since the last frame processed (or the first that came):
                         # growing while frames arrive, processing is stuck.
                         "last_processed_age_s": None if busy_since is None
                         else round(now - busy_since, 2)},
            "error": self.error,
            "uptime_s": round(now - self.started_s, 1),
        }
