"""`hinge-mirror run`: choose the source, start the pipeline, serve the page."""

from __future__ import annotations

import glob
import logging
from pathlib import Path

from device.config import Config
from device.core.coach import Coach
from device.core.synth import demo_session
from device.errors import HingeMirrorError
from device.service.hub import StateHub
from device.service.pipeline import Pipeline, Processor
from device.service.server import make_server
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
    processor = Processor(pose, Coach(config.coach.params()), hub,
                          extra={"source": frame_source.name, "demo": demo},
                          skeleton=config.display.skeleton)
    pipeline = Pipeline(frame_source, processor)
    # Streams take at most threads - 3 of waitress's threads: three always answer.
    d = config.display
    app = create_app({"DEMO": demo, "SSE_SLOTS": max(1, config.server.threads - 3),
                      "SLEEP_S": d.sleep_s, "CHIME": d.chime, "SPEECH": d.speech},
                     hub=hub, health=pipeline.health)
    server = make_server(app, host, port, config.server.threads)  # fails fast if port is taken
    pipeline.start()
    log.info("mirror on http://%s:%d/ (source: %s)", host, port, frame_source.name)
    try:
        server.run()
    finally:
        server.close()
        pipeline.stop()
    return 0


