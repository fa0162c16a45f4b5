"""Frame sources: the hardware edge. Each yields `Frame`s with a time in seconds.

* `OpenCVSource`: a video file, a webcam index or a stream URL.
* `Picamera2Source`: the Pi camera; `picamera2` is imported inside it only.
* `ReplaySource`: a keypoint track (no pixels, keypoints precomputed), which
  also drives the built-in demo.

Time comes from the source: the sensor timestamp, the video position, the
track's `t`, never a frame count.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from device.errors import CameraError, HingeMirrorError
from device.files import not_a_file
from device.vision.mount import Mount, apply
from device.vision.tracks import Track, load_track

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frame:
    t_s: float
    # uint8 (H, W, 3), R, G, B (or B, G, R: `bgr`).
    image: np.ndarray | None = None
    keypoints: np.ndarray | None = None  # (17, 3) when the source already has them
    size: tuple[int, int] = (0, 0)  # (height, width) in pixels
    # OpenCV's own channel order, left as decoded: the pose model swaps the
    # channels on its 192x192 input, not on the whole frame (the warp is per
    # channel, so the model's input is the same bit for bit).
    bgr: bool = False


class FrameSource(Protocol):
    name: str
    live: bool  # a camera (True) or a recording (False)

    def frames(self) -> Iterator[Frame]:
        """Frames in time order until the source ends (or forever for a camera)."""

    def close(self) -> None: ...


class Pacer:
    """Sleeps so that recorded frames come out at their own pace (real-time replay)."""

    def __init__(self) -> None:
        self._origin: float | None = None

    def wait(self, t_s: float) -> None:
        now = time.monotonic()
        if self._origin is None:
            self._origin = now - t_s
        delay = self._origin + t_s - now
        if delay > 0:
            time.sleep(delay)


class OpenCVSource:
    """A video file, webcam index or stream URL through OpenCV, as frames in its
    own B, G, R order (`Frame.bgr`)."""

    def __init__(self, spec: str | int, *, realtime: bool = False, loop: bool = False,
                 size: tuple[int, int] | None = None, mount: Mount | None = None) -> None:
        import cv2

        self._cv2 = cv2
        m = mount or Mount()
        self._turn = (m.hflip, m.vflip, m.rotation)  # a webcam has no transform: all software
        self.spec = spec
        self.live = isinstance(spec, int) or "://" in str(spec)
        self.name = f"camera {spec}" if isinstance(spec, int) else str(spec)
        self.realtime = realtime and not self.live
        self.loop = loop and not self.live
        if not self.live and not Path(spec).is_file():
            raise not_a_file("video", spec)
        self._cap = cv2.VideoCapture(spec)
        if self.live and size:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[1])
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[0])
        ok, first = self._cap.read() if self._cap.isOpened() else (False, None)
        if not ok:
            self._cap.release()
            if self.live:
                # A webcam index with no /dev/videoN (on Linux) is not there at all.
                there = not isinstance(spec, int) or not sys.platform.startswith("linux") or (
                    Path(f"/dev/video{spec}").exists())
                raise CameraError(
                    f"camera {spec}: cannot be opened or gives no frames; check the cable, "
                    "that no other program uses it, or pick another camera",
                    "cannot_open" if there else "not_found")
            raise HingeMirrorError(
                f"video {spec}: not a video OpenCV can decode; give an .mp4/.avi/.mov file "
                "(run and analyze take a track .npz too)"
            )
        self._first = first
        self.fps = self._cap.get(cv2.CAP_PROP_FPS) or 0.0

    def frames(self) -> Iterator[Frame]:
        cv2 = self._cv2
        pacer = Pacer()
        offset = 0.0
        t0 = time.monotonic()
        index = 0
        bgr = self._first
        last_t = 0.0
        while True:
            if bgr is None:
                ok, bgr = self._cap.read()
                if not ok:
                    if not self.loop:
                        return
                    # Loop: restart the file, keeping time increasing.
                    offset = last_t + (1.0 / self.fps if self.fps else 0.033)
                    self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    index = 0
                    bgr = None
                    continue
            if self.live:
                t_s = time.monotonic() - t0
            else:
                # The decoder's position (ms) is the frame's presentation time; fall
                # back to the index over the nominal rate when the container lacks it.
                pos_ms = self._cap.get(cv2.CAP_PROP_POS_MSEC)
                t_s = offset + (pos_ms / 1000.0 if pos_ms > 0 or index == 0 else
                                index / (self.fps or 30.0))
            last_t = t_s
            index += 1
            if self.realtime:
                pacer.wait(t_s)
            image = apply(bgr, *self._turn)
            bgr = None
            yield Frame(t_s=t_s, image=image, size=image.shape[:2], bgr=True)

    def close(self) -> None:
        self._cap.release()


class Picamera2Source:
    """The Raspberry Pi camera through picamera2 (from apt: python3-picamera2).

    The ISP scales to a small stream, so Python never resizes big frames.
    picamera2's "BGR888" format is R, G, B in memory (DRM's names read the
    other way), so frames arrive as R, G, B with no conversion in Python.
    Time is the sensor timestamp.
    """

    live = True

    def __init__(self, size: tuple[int, int] = (480, 640), fps: float = 30.0,
                 mount: Mount | None = None) -> None:
        self.name = "picamera2"
        hflip, vflip, self._rotation = (mount or Mount()).hardware()
        try:
            from libcamera import Transform  # both only exist on a Pi: imported lazily
            from picamera2 import Picamera2
        except ImportError:
            raise CameraError(
                "camera picamera2: the picamera2 module is not installed (it comes from apt "
                "on Raspberry Pi OS: `sudo apt install python3-picamera2`, venv made with "
                "--system-site-packages); or pick --source INDEX|PATH",
                "no_module") from None
        self._cam = None
        try:
            self._cam = Picamera2()
            config = self._cam.create_video_configuration(
                main={"size": (size[1], size[0]), "format": "BGR888"},
                controls={"FrameRate": fps}, buffer_count=4,
                transform=Transform(hflip=int(hflip), vflip=int(vflip)),
            )
            self._cam.configure(config)
            self._cam.start()
        except (RuntimeError, IndexError, OSError) as exc:
            if self._cam is not None:  # opened, not configured: let it go for the next try
                try:
                    self._cam.close()
                except Exception:  # noqa: BLE001 - it failed already; the error says how
                    pass
            raise CameraError(
                f"camera picamera2: cannot be opened ({exc}); check the ribbon cable and "
                "that no other program holds the camera",
                "not_found" if isinstance(exc, IndexError) else "cannot_open") from None

    def frames(self) -> Iterator[Frame]:
        while True:
            request = self._cam.capture_request()
            try:
                rgb = apply(request.make_array("main"), False, False, self._rotation)
                t_ns = request.get_metadata().get("SensorTimestamp", time.monotonic_ns())
            finally:
                request.release()
            yield Frame(t_s=t_ns / 1e9, image=rgb, size=rgb.shape[:2])

    def close(self) -> None:
        self._cam.stop()
        self._cam.close()


class ReplaySource:
    """Replays a keypoint track: frames with keypoints and no pixels."""

    live = False

    def __init__(self, track: Track | Path, *, realtime: bool = False, loop: bool = False,
                 name: str | None = None) -> None:
        self.track = track if isinstance(track, Track) else load_track(Path(track))
        self.name = name or (str(track) if not isinstance(track, Track) else "replay")
        self.realtime = realtime
        self.loop = loop

    def frames(self) -> Iterator[Frame]:
        pacer = Pacer()
        tr = self.track
        step = float(np.median(np.diff(tr.t))) if len(tr) > 1 else 0.033
        offset = 0.0
        while True:
            for kp, t in zip(tr.keypoints, tr.t, strict=True):
                t_s = offset + float(t)
                if self.realtime:
                    pacer.wait(t_s)
                yield Frame(t_s=t_s, keypoints=kp, size=tr.frame_size)
            if not self.loop:
                return
            offset += float(tr.t[-1]) + step

    def close(self) -> None:
        pass
