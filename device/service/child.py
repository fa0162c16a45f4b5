"""The pipeline's own process: camera, pose and coach, away from the web server.

`main` runs in a child process (multiprocessing, spawn) started by the
supervisor. It sends everything over one pipe, as tuples:

    ("ready", info)            the source is open (and the model loaded)
    ("fatal", message)         the first open failed on an explicit source: stop
    ("snap", snapshot)         each published snapshot
    ("events", [event, ...])   the coach's events (the parent records them)
    ("device", kind, detail)   camera_lost, camera_back, camera_retry, error
    ("health", report)         twice a second: the supervisor's heartbeat
    ("log", level, name, msg)  a log line, for the parent's log files
    ("ended", None)            a recording ran out: nothing more will come

and reads ("params", CoachParams) and ("stop", None) from it. A live camera
that fails (an open error, "frontend timed out", a USB camera unplugged) is
closed and opened again with backoff, the mirror showing "camera
unavailable"; a capture that will not let go is left to the supervisor,
which restarts this whole process.
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
    fail_fast: bool = False  # an explicit --source: a first open failure ends `run`
    camera_stale_s: float = 2.0  # no frame this long: the camera is lost (the mirror says so)
    reopen_after_s: float = 3.0  # lost this long: closed and opened again
    failing_s: float = 10.0  # every frame failing this long: exit, a fresh process starts


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
            pipeline = holder.get("pipeline")
            if pipeline is None:
                send("health", {"ok": False, "camera": {"ok": False}, "invokes": []})
                continue
            proc = pipeline.processor
            log_, proc.invoke_log = proc.invoke_log, []
            # The framing check's skeleton (points only, never a picture): to the
            # supervisor, which keeps it for the staff page, off /healthz.
            framing = {"skeleton": proc._skeleton(), "aspect": proc.aspect,
                       "hint": proc.coach.snapshot().get("framing")}
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
    from device.service.pipeline import Pipeline, Processor

    processor = None
    attempt = 0
    first = True
    while not stop.is_set():
        try:
            source, demo = job.open_source()
        except HingeMirrorError as exc:
            if first and job.fail_fast:
                send("fatal", str(exc))
                return 2
            _camera_down(send, processor, str(exc), attempt)
            if stop.wait(_backoff(attempt)):
                break
            attempt += 1
            continue
        if processor is None:
            from device.vision.sources import ReplaySource

            pose = None
            if job.load_pose is not None and not isinstance(source, ReplaySource):
                try:
                    pose = job.load_pose()
                except HingeMirrorError as exc:
                    source.close()
                    send("fatal", str(exc))
                    return 2
            processor = Processor(pose, Coach(job.params), _PipeHub(send),
                                  extra={"source": source.name, "demo": demo,
                                         "live": source.live},
                                  skeleton=job.skeleton)
            processor.invoke_log = []
            holder["processor"] = processor
        else:
            processor.extra.update(source=source.name, live=source.live)
        if not first:
            send("device", "camera_back", f"{source.name} opened again")
        first = False
        send("ready", {"source": source.name, "demo": demo, "live": source.live,
                       "pid": os.getpid()})
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
        if stop.wait(_backoff(attempt)):
            break
    return 0


def _backoff(attempt: int) -> float:
    return BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]


def _camera_down(send: _Sender, processor, why: str, attempt: int) -> None:
    delay = _backoff(attempt)
    logging.getLogger("device.service.child").warning(
        "camera: %s; trying again in %.0f s", why, delay)
    if attempt == 0:
        send("device", "camera_retry", why)
    if processor is not None:
        processor.publish(camera="unavailable")
    else:
        send("snap", {"camera": "unavailable", "present": False, "phase": "absent"})


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
