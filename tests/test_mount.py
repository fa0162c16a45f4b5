"""Camera mounting: flips and rotation, in the camera's transform where it can
and in software otherwise, so that the pose model always sees an upright person."""

from __future__ import annotations

import itertools
import sys
import types

import numpy as np
import pytest

from device.config import load_config
from device.errors import HingeMirrorError
from device.vision.mount import Mount, apply

IMAGE = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)  # 4 rows, 6 columns


def test_clockwise_means_the_top_left_corner_goes_to_the_top_right():
    out = apply(IMAGE, False, False, 90)
    assert out.shape == (6, 4, 3) and out.flags.c_contiguous
    assert (out[0, -1] == IMAGE[0, 0]).all() and (out[-1, -1] == IMAGE[0, -1]).all()
    assert apply(IMAGE, False, False, 0) is IMAGE  # nothing to do: no copy


def test_where_the_corners_go_written_out_by_hand():
    # A 2x3 picture, corners named; each turn's result written out, not computed.
    img = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8)[:, :, None]
    expect = {
        (90, False, False): [[4, 1], [5, 2], [6, 3]],
        (270, False, False): [[3, 6], [2, 5], [1, 4]],
        (180, False, False): [[6, 5, 4], [3, 2, 1]],
        (0, True, False): [[3, 2, 1], [6, 5, 4]],
        (0, False, True): [[4, 5, 6], [1, 2, 3]],
        (90, True, False): [[6, 3], [5, 2], [4, 1]],  # mirrored, then a quarter turn
    }
    for (rotation, hflip, vflip), want in expect.items():
        got = apply(img, hflip, vflip, rotation)[:, :, 0].tolist()
        assert got == want, (rotation, hflip, vflip)


@pytest.mark.parametrize("rotation, hflip, vflip",
                         list(itertools.product((0, 90, 180, 270), (False, True),
                                                (False, True))))
def test_the_camera_transform_plus_software_equals_the_whole_turn(rotation, hflip, vflip):
    m = Mount(rotation, hflip, vflip)
    hw_h, hw_v, sw_rot = m.hardware()
    assert sw_rot in (0, 90, 270) and (sw_rot == 0) == (rotation in (0, 180))
    split = apply(apply(IMAGE, hw_h, hw_v, 0), False, False, sw_rot)
    whole = apply(IMAGE, hflip, vflip, rotation)
    assert np.array_equal(split, whole)
    assert whole.shape[:2] == m.size(4, 6)


@pytest.mark.parametrize("channels", (1, 3, 4))
def test_opencvs_flip_and_rotate_move_the_pixels_numpys_views_did(channels):
    """apply uses OpenCV's flip and rotate (several times faster on a 640x480
    frame); every mount must give what numpy's reversed views and rot90 gave,
    on frames of one, three and four channels."""
    full = np.random.default_rng(channels).integers(0, 255, (48, 70, channels), dtype=np.uint8)
    for (rotation, hflip, vflip), img in itertools.product(
            itertools.product((0, 90, 180, 270), (False, True), (False, True)),
            (np.ascontiguousarray(full[:, 3:-3]), full[:, 3:-3])):  # and rows with padding
        want = img[:, ::-1] if hflip else img
        want = want[::-1] if vflip else want
        want = np.ascontiguousarray(np.rot90(want, k=-rotation // 90))
        got = apply(img, hflip, vflip, rotation)
        assert got.shape == want.shape and np.array_equal(got, want), (rotation, hflip, vflip)
        if rotation or hflip or vflip:
            assert got.flags.c_contiguous  # a new frame
        else:
            assert got is img  # nothing to do: the frame itself


def test_a_rotation_that_is_not_a_right_angle_is_refused(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[camera]\nrotation = 45\n")
    with pytest.raises(HingeMirrorError, match="camera.rotation = 45 must be 0, 90, 180 or 270"):
        load_config(cfg)
    cfg.write_text("[camera]\nrotation = 270\nhflip = true\n")
    assert load_config(cfg).camera.mount() == Mount(270, True, False)


def test_picamera2_gets_the_flips_as_its_transform_and_rotates_the_rest(monkeypatch):
    """picamera2 and libcamera exist only on a Pi: stand-ins that record what they get."""
    seen = {}

    class Transform:
        def __init__(self, hflip=0, vflip=0):
            seen["transform"] = (hflip, vflip)

    sensor = np.zeros((480, 640, 3), np.uint8)  # BGR888: R, G, B
    sensor[:10, :20] = 255  # a white corner, top left of what the sensor gives

    class Request:
        def make_array(self, name):
            return sensor.copy()

        def get_metadata(self):
            return {"SensorTimestamp": 5_000_000_000}

        def release(self):
            pass

    class Picamera2:
        def create_video_configuration(self, **kw):
            seen["config"] = kw
            return kw

        def configure(self, config):
            pass

        def start(self):
            pass

        def capture_request(self):
            return Request()

    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=Picamera2))
    monkeypatch.setitem(sys.modules, "libcamera", types.SimpleNamespace(Transform=Transform))
    from device.vision.sources import Picamera2Source

    cam = Picamera2Source((480, 640), 30, Mount(180, False, False))  # upside down
    assert seen["transform"] == (1, 1)  # both flips in the ISP: nothing in software
    assert seen["config"]["main"]["format"] == "BGR888"  # R, G, B in memory
    frame = next(cam.frames())
    assert frame.size == (480, 640) and frame.t_s == 5.0
    cam = Picamera2Source((480, 640), 30, Mount(90, True, False))  # on its side, mirrored
    assert seen["transform"] == (1, 0)  # the mirroring in the ISP (the stand-in does not)
    frame = next(cam.frames())
    assert frame.size == (640, 480)  # portrait after the software quarter turn
    # Clockwise: the sensor's top-left corner is now top right, 20 rows x 10 columns.
    assert frame.image[:20, -10:].mean() == 255 and frame.image[-20:, :10].mean() == 0


def test_a_webcam_frame_is_turned_in_software(tmp_path):
    cv2 = pytest.importorskip("cv2")
    from device.vision.sources import OpenCVSource

    path = tmp_path / "wide.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for _ in range(3):
        img = np.zeros((120, 160, 3), np.uint8)
        img[:10, :20] = 255  # a white corner, top left
        writer.write(img)
    writer.release()
    frame = next(OpenCVSource(str(path), mount=Mount(90)).frames())
    assert frame.size == (160, 120)
    # The corner block (10 rows x 20 columns) is now 20 rows x 10 columns, top right.
    assert frame.image[:20, -10:].mean() > 200 and frame.image[-20:, :10].mean() < 50
