"""Which camera: `--source` (or `[camera] source`) to an open frame source.

`auto` takes the camera that is there, in this order, and falls through to
the next when one fails to open:

1. the cameras libcamera lists (`Picamera2.global_camera_info()`): the Pi's
   own camera, and on Raspberry Pi OS a USB webcam too;
2. the V4L2 capture nodes (`/dev/video*`), in number order, through OpenCV,
   skipping the nodes that only libcamera can drive (the Pi's raw sensor
   front ends and its ISP, codec and scaler nodes).

Each call probes again, so a camera plugged in after boot is found by the
next retry. The built-in demo is never a fallback unless the caller asks
(`demo=True`: a laptop's `make run` with no config file).
"""

from __future__ import annotations

import fcntl
import glob
import logging
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device.errors import CameraError, HingeMirrorError
from device.vision.sources import OpenCVSource, Picamera2Source, ReplaySource
from device.vision.tracks import Track

log = logging.getLogger(__name__)

# V4L2's VIDIOC_QUERYCAP: _IOR('V', 0, struct v4l2_capability), 104 bytes:
# driver[16], card[32], bus_info[32], version, capabilities, device_caps, reserved[3].
_QUERYCAP = (2 << 30) | (104 << 16) | (ord("V") << 8)
_CAP_VIDEO_CAPTURE, _CAP_VIDEO_CAPTURE_MPLANE = 0x1, 0x1000
_CAP_DEVICE_CAPS = 0x80000000
# Capture nodes that give raw sensor data or belong to an ISP, which only
# libcamera can make pictures of (Pi 4: unicam; Pi 5: rp1-cfe, pispbe).
LIBCAMERA_ONLY = frozenset({"unicam", "rp1-cfe", "pispbe", "bcm2835-isp", "bcm2835-codec",
                            "rpi-hevc-dec", "bcm2835-v4l2-codec"})


@dataclass(frozen=True)
class V4L2Node:
    index: int  # N of /dev/videoN, as OpenCV's VideoCapture(N) takes it
    card: str  # the device's own name ("HD Pro Webcam C920"), "" if it could not be asked
    driver: str  # "uvcvideo" for a USB webcam; "" if it could not be asked

    @property
    def path(self) -> str:
        return f"/dev/video{self.index}"


def query_node(path: str) -> tuple[str, str, int] | None:
    """(driver, card, capabilities) of a V4L2 node, None if it cannot be asked."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        buf = fcntl.ioctl(fd, _QUERYCAP, bytes(104))
    except OSError:
        return None
    finally:
        os.close(fd)
    driver, card = (b.split(b"\0", 1)[0].decode(errors="replace") for b in (buf[:16],
                                                                            buf[16:48]))
    caps, device_caps = struct.unpack_from("<II", buf, 84)
    return driver, card, device_caps if caps & _CAP_DEVICE_CAPS else caps


def webcam_nodes(pattern: str = "/dev/video*") -> list[V4L2Node]:
    """The V4L2 nodes OpenCV may get pictures from, in number order: capture
    nodes, not the metadata node beside each UVC camera, not libcamera's."""
    nodes = []
    for path in glob.glob(pattern):
        m = re.fullmatch(r".*/video(\d+)", path)
        if not m:
            continue
        asked = query_node(path)
        if asked is None:  # not ours to ask (permissions): let OpenCV try it
            nodes.append(V4L2Node(int(m.group(1)), "", ""))
            continue
        driver, card, caps = asked
        if not caps & (_CAP_VIDEO_CAPTURE | _CAP_VIDEO_CAPTURE_MPLANE) or (
                driver in LIBCAMERA_ONLY):
            continue
        nodes.append(V4L2Node(int(m.group(1)), card, driver))
    return sorted(nodes, key=lambda n: n.index)


def libcamera_cameras() -> list[dict[str, Any]]:
    """What libcamera lists (each a dict: Model, Location, Id, Num), or [] when
    picamera2 is not installed (it comes from Raspberry Pi's apt repository)."""
    try:
        from picamera2 import Picamera2  # a Pi's only: imported lazily
    except ImportError:
        return []
    try:
        return list(Picamera2.global_camera_info())
    except Exception as exc:  # noqa: BLE001 - libcamera's own failure: no camera to take
        log.warning("camera auto: libcamera cannot list its cameras (%s)", exc)
        return []


def open_auto(camera) -> OpenCVSource | Picamera2Source:
    """The first camera that opens; CameraError when none is there or none opens."""
    size, mount = (camera.height, camera.width), camera.mount()
    tried: list[str] = []
    listed = libcamera_cameras()
    if listed:
        info = listed[0]
        what = f"libcamera's camera {info.get('Model', '?')} ({info.get('Id', '?')})"
        try:
            source = Picamera2Source(size, camera.fps, mount)
        except HingeMirrorError as exc:
            tried.append(f"{what}: {_first_clause(exc)}")
        else:
            log.info("camera auto: %s, the first of %d libcamera lists", what, len(listed))
            return source
    nodes = webcam_nodes()
    for node in nodes:
        what = node.path + (f" ({node.card}, {node.driver})" if node.driver else "")
        try:
            source = OpenCVSource(node.index, size=size, mount=mount)
        except HingeMirrorError as exc:
            tried.append(f"{what}: {_first_clause(exc)}")
            continue
        why = "libcamera lists no camera" if not listed else "libcamera's would not open"
        log.info("camera auto: %s, the first webcam that gives pictures (%s)", what, why)
        return source
    if not tried:
        raise CameraError("camera auto: no camera found (libcamera lists none, no webcam at "
                          "/dev/video*); plug one in, or set [camera] source", "not_found")
    raise CameraError(f"camera auto: no camera found opens ({'; '.join(tried)}); check the "
                      "cable and that no other program uses it", "cannot_open")


def _first_clause(exc: Exception) -> str:
    """"camera 0: cannot be opened ...; check the cable" -> "cannot be opened ..."."""
    return str(exc).split(";", 1)[0].split(": ", 1)[-1]


def demo_source() -> ReplaySource:
    from device.core.synth import demo_session

    kp, t, frame_size = demo_session()
    return ReplaySource(Track(kp, t, frame_size), realtime=True, loop=True,
                        name="demo (synthetic)")


def needs_model(spec: str) -> bool:
    """Whether the source's frames are pictures (the model runs) or keypoints."""
    return spec != "demo" and not spec.lower().endswith(".npz")


def open_source(spec: str, camera, *, loop: bool, demo: bool = False):
    """A frame source from `--source` (or `[camera] source`); `camera` is the
    `[camera]` section. Returns (source, is_demo). With `demo`, "auto" that
    finds no camera at all is the built-in demo (a laptop's `make run`); a
    camera that is there but will not open is still an error."""
    if spec == "auto":
        try:
            return open_auto(camera), False
        except CameraError as exc:
            if not demo or exc.reason != "not_found":
                raise
        log.warning("no camera found: starting the built-in demo (a synthetic session "
                    "replayed in a loop), since no config file is in use; a device with a "
                    "config never does this. Pass --source to pick a camera or a video")
        return demo_source(), True
    if spec == "demo":
        return demo_source(), True
    size, mount = (camera.height, camera.width), camera.mount()
    if spec == "picamera":
        return Picamera2Source(size, camera.fps, mount), False
    if spec.isdigit():
        return OpenCVSource(int(spec), size=size, mount=mount), False
    if spec.lower().endswith(".npz"):
        return ReplaySource(Path(spec), realtime=True, loop=loop), False
    return OpenCVSource(spec, realtime=True, loop=loop), False
