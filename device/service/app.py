"""`hinge-mirror run`: choose the source, start the pipeline, serve the page."""

from __future__ import annotations

import glob
import logging
import os
import secrets
import threading
from pathlib import Path

from device.config import Config, settings_path
from device.core.coach import Coach
from device.core.synth import demo_session
from device.errors import HingeMirrorError
from device.service.hub import StateHub
from device.service.metrics import Metrics
from device.service.pipeline import Pipeline, Processor
from device.service.server import make_server
from device.service.settings import LiveSettings, display_of
from device.service.system import machine
from device.store import Recorder
from device.vision.sources import OpenCVSource, Picamera2Source, ReplaySource
from device.vision.tracks import Track

log = logging.getLogger(__name__)


def _picamera_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("picamera2") is not None


def open_source(spec: str, config: Config, *, loop: bool):
    """A frame source from `--source` (or the config). Returns (source, is_demo)."""
    cam = config.camera
    size = (cam.height, cam.width)
    if spec == "auto":
        if _picamera_available():
            return Picamera2Source(size, cam.fps), False
        if glob.glob("/dev/video*"):
            try:
                return OpenCVSource(0, size=size), False
            except HingeMirrorError as exc:
                log.warning("%s", exc)
        log.warning("no camera found: starting the built-in demo (a synthetic session "
                    "replayed in a loop); pass --source to pick a camera or a video")
        spec = "demo"
    if spec == "demo":
        kp, t, frame_size = demo_session()
        return ReplaySource(Track(kp, t, frame_size), realtime=True, loop=True,
                            name="demo (synthetic)"), True
    if spec == "picamera":
        return Picamera2Source(size, cam.fps), False
    if spec.isdigit():
        return OpenCVSource(int(spec), size=size), False
    if spec.lower().endswith(".npz"):
        return ReplaySource(Path(spec), realtime=True, loop=loop), False
    return OpenCVSource(spec, realtime=True, loop=loop), False


def run_device(config: Config, *, source: str | None, host: str | None, port: int | None,
               loop: bool, load_pose) -> int:
    from web_ui import create_app

    host = host or config.server.host
    port = port if port is not None else config.server.port
    frame_source, demo = open_source(source or config.camera.source, config, loop=loop)
    pose = None
    if not isinstance(frame_source, ReplaySource):
        pose = load_pose(config.pose.mode, config.pose.threads, config.pose.runtime)
    hub = StateHub()
    metrics = Metrics()
    processor = Processor(pose, Coach(config.coach.params()), hub,
                          extra={"source": frame_source.name, "demo": demo},
                          skeleton=config.display.skeleton, metrics=metrics)
    recorder: Recorder | None = None
    publisher = None
    if config.mqtt.enabled:
        from device.service.mqtt import Publisher

        publisher = Publisher(config.mqtt)

    def on_events(events: list[dict]) -> None:
        recorder.on_events(events)
        if publisher is not None:
            publisher.on_events(events)

    pipeline = Pipeline(frame_source, processor, on_events=on_events,
                        on_device_event=lambda kind, detail: (
                            recorder.device_event(kind, detail),
                            metrics.device_event(kind, detail)))
    store_dir = Path(config.store.path).parent

    def health() -> dict:
        report = pipeline.health()
        report["store"] = {"recording": recorder.recording, "problem": recorder.problem,
                           "path": str(recorder.path)}
        report["machine"] = machine(store_dir)
        report["mqtt"] = publisher.status() if publisher else None
        return report

    # Streams take at most threads - 3 of waitress's threads: three always answer.
    d = config.display
    app = create_app({"DEMO": demo, "SSE_SLOTS": max(1, config.server.threads - 3),
                      "SLEEP_S": d.sleep_s, "CHIME": d.chime, "SPEECH": d.speech,
                      "STORE_PATH": config.store.path, "LOG_DIR": config.log.dir,
                      "SECRET_KEY": secret_key(store_dir / "secret_key")},
                     hub=hub, health=health, metrics=metrics)
    app.extensions["hinge_mirror"]["settings"] = LiveSettings(
        config, settings_path(config), settings_applier(processor, app))
    server = make_server(app, host, port, config.server.threads)  # fails fast if port is taken
    try:
        recorder = Recorder(config.store.path)  # fails fast (one line) if it cannot be opened
    except BaseException:
        server.close()
        raise
    recorder.close_open("interrupted")  # what a crash or a power cut left open
    retention = _Retention(recorder, config.store.retention_days)
    recorder.device_event("start", frame_source.name)
    pipeline.start()
    log.info("mirror on http://%s:%d/ (source: %s; store %s)", host, port, frame_source.name,
             recorder.path)
    try:
        server.run()
    finally:
        server.close()
        pipeline.stop()
        if publisher is not None:
            publisher.close()
        retention.stop()
        recorder.close_open("stopped")
        recorder.device_event("stop", None)
        recorder.close()
    return 0


def settings_applier(processor: Processor, app):
    """What a settings change does on a running device: the coach's parameters
    change at the next frame, and every open mirror page reads the display's
    from the next snapshot."""
    speaker = app.extensions["hinge_mirror"]["speaker"]

    def apply(new: Config) -> None:
        processor.coach.params = new.coach.params()
        shown = display_of(new, speaker.available)
        processor.extra["display"] = shown
        app.config.update(SLEEP_S=shown["sleep_s"], CHIME=shown["chime"],
                          SPEECH=new.display.speech)

    return apply


def secret_key(path: Path) -> str:
    """The key that signs staff sessions, made once and kept beside the store
    (mode 0600), so that a restart does not log everyone out."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise HingeMirrorError(f"secret key {path}: cannot be written ({exc.strerror}); "
                               "check the [store] path's folder") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


class _Retention:
    """Delete sessions past the retention now, then once a day."""

    def __init__(self, recorder: Recorder, days: int) -> None:
        self.recorder, self.days = recorder, days
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        if days:
            self._thread.start()

    def _run(self) -> None:
        while True:
            n = self.recorder.prune(self.days)
            if n:
                log.info("store: %d sessions older than %d days deleted", n, self.days)
            if self._stop.wait(86400.0):
                return

    def stop(self) -> None:
        self._stop.set()


