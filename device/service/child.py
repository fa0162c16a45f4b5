"""The pipeline's own process: camera, pose and coach, away from the web server.

`main` runs in a child process (multiprocessing, spawn) started by the
supervisor. It sends everything over one pipe, as tuples:

    ("ready", info)            the model is loaded: the device is ready (camera or not)
    ("source", info)           a source opened (its name, demo or not, live or not)
    ("fatal", message)         the model will not load, or the first open of an
                               explicit --source failed: stop
    ("snap", snapshot)         each published snapshot
    ("events", [event, ...])   the coach's events (the parent records them)
    ("device", kind, detail)   camera_lost, camera_back, camera_retry, error
    ("health", report)         twice a second: the supervisor's heartbeat
    ("log", level, name, msg)  a log line, for the parent's log files
    ("ended", None)            a recording ran out: nothing more will come

and reads ("params", CoachParams) and ("stop", None) from it. A live camera
that is away at start, or fails (an open error, "frontend timed out", a USB
camera unplugged), is closed and opened again with backoff for as long as
it takes, the mirror showing "camera unavailable" and why; a capture that
will not let go is left to the supervisor, which restarts this whole process.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from device.errors import HingeMirrorError

HEALTH_EVERY_S = 0.5
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


@dataclass(frozen=True)
class Job:
    """What the child needs, picklable (spawn): how to open the source and the model."""

    open_source: Callable[[], tuple[Any, bool]]  # -> (FrameSource, is_demo)
    load_pose: Callable[[], Any] | None  # None: the source carries keypoints
    params: Any  # CoachParams
    skeleton: bool = False
    cards: bool = False  # look for a client's card (device/vision/cards.py) on the frames
    menu: bool = False  # the arms' menu at the glass (device/core/gestures.py)
    fail_fast: bool = False  # an explicit --source: a first open failure ends `run`
    camera_stale_s: float = 2.0  # no frame this long: the camera is lost (the mirror says so)
    reopen_after_s: float = 3.0  # lost this long: closed and opened again
    failing_s: float = 10.0  # every frame failing this long: exit, a fresh process starts
    backoff_s: tuple[float, ...] = BACKOFF_S  # between tries to open a camera that is away
    # No config file (a laptop's `make run`): a model that will not load starts
    # the built-in demo, which needs none, instead of ending the start.
    demo_fallback: bool = False


class _Sender:
    def __init__(self, conn) -> None:
        self.conn, self.lock = conn, threading.Lock()
        self.broken = False

    def __call__(self, *msg) -> None:
        if self.broken:
            return
        try:
            with self.lock:
                self.conn.send(msg)
        except (OSError, EOFError, BrokenPipeError):
            self.broken = True  # the parent is gone: main() notices and stops


class _PipeHub:
    """The child's stand-in for the StateHub: snapshots go to the parent."""

    def __init__(self, send: _Sender) -> None:
        self.send = send

    def publish(self, snap: dict) -> int:
        self.send("snap", snap)
        return 0


class _PipeLog(logging.Handler):
    def __init__(self, send: _Sender) -> None:
        super().__init__()
        self.send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
            if record.exc_info:
                msg += "\n" + logging.Formatter().formatException(record.exc_info)
            self.send("log", record.levelno, record.name, msg)
        except Exception:  # a log line must never break the pipeline
            pass


def entry(conn, job: Job) -> None:
    """The child process's target: `main`'s code becomes the process's exit code."""
    import sys

    sys.exit(main(conn, job))


def main(conn, job: Job) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    send = _Sender(conn)
    root = logging.getLogger()
    root.handlers[:] = [_PipeLog(send)]
    root.setLevel(logging.INFO)
    log = logging.getLogger("device.service.child")
    stop = threading.Event()
    holder: dict[str, Any] = {}

    def control() -> None:
        while not stop.is_set():
            try:
                kind, value = conn.recv()
            except (EOFError, OSError):
                stop.set()  # the parent died: so do we
                return
            if kind == "stop":
                stop.set()
            elif kind == "params" and "processor" in holder:
                holder["processor"].coach.params = value

    def heartbeat() -> None:
        """Twice a second, whatever the main thread is doing (stopping a camera,
        say): the supervisor takes silence for a frozen process."""
        while not stop.wait(HEALTH_EVERY_S):
            pipeline, proc = holder.get("pipeline"), holder.get("processor")
            down = holder.get("camera_down")
            if pipeline is None or down is not None:
                send("health", dict(camera_down_health(
                    down or {"reason": "the model is loading", "reason_id": "loading",
                             "retry_at": 0.0}, proc), invokes=[]))
                continue
            log_, proc.invoke_log = proc.invoke_log, []
            # The framing check's skeleton (points only, never a picture): to the
            # supervisor, which keeps it for the staff page, off /healthz.
            snap = proc.coach.snapshot()
            framing = {"skeleton": proc._skeleton(), "aspect": proc.aspect,
                       "hint": snap.get("framing"), "present": snap.get("present"),
                       **{k: snap.get(k) for k in ("view", "camera_deg", "calibrated", "judged")}}
            send("health", dict(pipeline.health(), invokes=log_ or [], framing=framing))

    threading.Thread(target=control, name="control", daemon=True).start()
    threading.Thread(target=heartbeat, name="heartbeat", daemon=True).start()
    try:
        code = _run(job, send, stop, holder, log)
    except Exception as exc:  # noqa: BLE001 - reported, then the supervisor decides
        log.exception("pipeline process failed")
        send("device", "error", f"pipeline: {exc}")
        code = 1
    return code


def _run(job: Job, send: _Sender, stop: threading.Event, holder: dict, log) -> int:
    from device.core.coach import Coach
    from device.service.pipeline import Pipeline, Processor, model_health
    from device.vision.cards import CardReader

    # The model first: the device is ready once it is loaded (DESIGN.md,
    # Processes). From then on the camera is a state the snapshots carry,
    # retried for as long as it is away; only a model that will not load ends
    # the start.
    # An explicit --source (fail_fast: someone at a keyboard) is opened first,
    # so that one that cannot be is said in one line, before the model's own
    # messages.
    pose = None
    open_source = job.open_source
    pending = None
    if job.fail_fast:
        try:
            pending = open_source()
        except HingeMirrorError as exc:
            send("fatal", str(exc))
            return 2
    if job.load_pose is not None:
        try:
            pose = job.load_pose()
        except HingeMirrorError as exc:
            if pending is not None:
                pending[0].close()
            if not job.demo_fallback:
                send("fatal", str(exc))
                return 2
            log.warning("%s. A camera needs the model: starting the built-in demo, which "
                        "does not", exc)
            open_source = _demo
    processor = Processor(pose, Coach(job.params), _PipeHub(send),
                          extra={"source": None, "demo": False, "live": True},
                          skeleton=job.skeleton, cards=CardReader() if job.cards else None,
                          menu=job.menu)
    processor.invoke_log = []
    holder["processor"] = processor
    send("ready", {"pid": os.getpid(), "model": model_health(pose)})
    attempt = 0
    opened = False
    while not stop.is_set():
        try:
            source, demo = pending or open_source()
        except HingeMirrorError as exc:
            delay = _camera_down(send, processor, holder, str(exc),
                                 getattr(exc, "reason", "cannot_open"), attempt, job.backoff_s)
            if stop.wait(delay):
                break
            attempt += 1
            continue
        pending = None
        holder.pop("camera_down", None)
        processor.extra.update(source=source.name, demo=demo, live=source.live)
        if opened or attempt:
            send("device", "camera_back", f"{source.name} opened"
                 + (" again" if opened else f" after {attempt} failed tries"))
        opened = True
        send("source", {"source": source.name, "demo": demo, "live": source.live})
        pipeline = Pipeline(source, processor, camera_stale_s=job.camera_stale_s,
                            on_events=lambda events: send("events", events),
                            on_device_event=lambda kind, detail: send("device", kind, detail))
        holder["pipeline"] = pipeline
        pipeline.start()
        outcome = _watch(pipeline, send, stop, job)
        if outcome == "ended":  # a recording ran out: stay, say so, wait to be stopped
            pipeline.stop()
            send("ended", None)
            stop.wait()
            return 0
        if outcome == "stop":
            pipeline.stop()
            return 0
        if outcome == "failing":
            log.error("processing has failed on every frame for %.0f s; restarting the "
                      "pipeline", job.failing_s)
            return 4
        # The camera failed or stalled: close it and open it again.
        log.warning("camera %s: reopening (%s)", source.name, outcome)
        pipeline.stop(timeout_s=2.0)
        if pipeline._capture.is_alive():  # the capture is stuck in the driver
            log.error("camera %s: the capture will not let go; restarting the pipeline",
                      source.name)
            return 3
        attempt = 0 if pipeline.processor.frames else attempt + 1
        delay = _backoff(attempt, job.backoff_s)
        holder["camera_down"] = {"reason": f"camera {source.name}: {outcome}",
                                 "reason_id": "lost", "retry_at": time.monotonic() + delay}
        if stop.wait(delay):
            break
    return 0


def _demo():
    from device.vision.cameras import demo_source

    return demo_source(), True


def _backoff(attempt: int, backoff_s: tuple[float, ...] = BACKOFF_S) -> float:
    return backoff_s[min(attempt, len(backoff_s) - 1)]


def _camera_down(send: _Sender, processor, holder: dict, why: str, reason: str, attempt: int,
                 backoff_s: tuple[float, ...]) -> float:
    """The camera could not be opened: say so (the log, once a device event, the
    glass, /healthz through the heartbeat); returns the wait before the next try."""
    from device.words import camera_words

    delay = _backoff(attempt, backoff_s)
    logging.getLogger("device.service.child").warning(
        "%s; trying again in %.0f s", why, delay)
    if attempt == 0:
        send("device", "camera_retry", why)
    holder["camera_down"] = {"reason": why, "reason_id": reason,
                             "retry_at": time.monotonic() + delay}
    processor.publish(camera="unavailable", camera_reason=reason,
                      camera_text=camera_words(reason), camera_retry_s=round(delay, 1))
    return delay


def camera_down_health(down: dict, processor) -> dict[str, Any]:
    """The heartbeat's report while no camera is open: the model loaded, the
    process well, the camera away (why, and when it is tried again)."""
    from device.service.pipeline import model_health
    from device.words import camera_words

    return {"ok": False,
            "camera": {"ok": False, "source": None, "reason": down["reason"],
                       "reason_id": down["reason_id"], "words": camera_words(down["reason_id"]),
                       "retry_in_s": round(max(0.0, down["retry_at"] - time.monotonic()), 1)},
            "model": model_health(processor.pose if processor is not None else None,
                                  loading=processor is None),
            "pipeline": {"ok": processor is not None, "fps": 0.0,
                         "frames": processor.frames if processor is not None else 0},
            "error": None}


def _watch(pipeline, send: _Sender, stop: threading.Event, job: Job) -> str:
    """Heartbeats until the pipeline needs something: "stop", "ended" or a reason to reopen."""
    lost_since = None
    while not stop.wait(HEALTH_EVERY_S / 2):
        if send.broken:
            return "stop"
        if pipeline.failing_since and time.monotonic() - pipeline.failing_since > job.failing_s:
            return "failing"
        if pipeline.source_ended and not pipeline.source.live and pipeline.error is None:
            if not (pipeline._process.is_alive() or pipeline._coach.is_alive()):
                return "ended"
            continue
        if pipeline.camera_lost:
            lost_since = lost_since or time.monotonic()
            if pipeline.source_ended or time.monotonic() - lost_since > job.reopen_after_s:
                return pipeline.error or "no frames"
        else:
            lost_since = None
    return "stop"
