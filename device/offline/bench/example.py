"""TensorFlow's Raspberry Pi pose example's detector loop, beside the device's
(an experiment: `bench --experiments`)."""

from __future__ import annotations

import numpy as np


class ExampleLoop:
    """What the detector of TensorFlow's `lite/examples/pose_estimation/raspberry_pi`
    does per frame (its ml/movenet.py `detect`), written here from reading it, on
    the device's own model (same model, runtime and threads, through the
    estimator's `infer`: set_tensor, invoke, get_tensor): the crop region from the
    last keypoints through per-joint Python loops and dicts; the crop cut by
    slicing, padded by copyMakeBorder and resized by cv2.resize; a dtype cast and
    a batch axis; the keypoints moved back to the frame joint by joint; a person
    record of 17 keypoints and a box. Differences from the example itself: it
    ships the float16 model and hard-codes 4 threads (here both loops use the
    device's model and threads); its main loop also flips and converts each
    camera frame and draws the skeleton, which are not the detector's work and
    are left out of both. Both get the same pixels, R, G, B, as the Pi camera
    hands them over (and the example's loop converts an OpenCV frame to)."""

    MIN_SCORE, TORSO, BODY = 0.2, 1.9, 1.2

    def __init__(self, pose) -> None:
        self.infer = pose.infer
        self.region: dict | None = None

    @staticmethod
    def _initial(h: int, w: int) -> dict:
        if w > h:
            y0, bh, x0, bw = (h / 2 - w / 2) / h, w / h, 0.0, 1.0
        else:
            y0, bh, x0, bw = 0.0, 1.0, (w / 2 - h / 2) / w, h / w
        return {"y_min": y0, "x_min": x0, "y_max": y0 + bh, "x_max": x0 + bw,
                "height": bh, "width": bw}

    def _next_region(self, kp: np.ndarray, h: int, w: int) -> dict:
        pts = {i: [kp[i, 0] * h, kp[i, 1] * w] for i in range(17)}
        ok = [kp[i, 2] > self.MIN_SCORE for i in (5, 6, 11, 12)]
        if not ((ok[2] or ok[3]) and (ok[0] or ok[1])):
            return self._initial(h, w)
        cy, cx = (pts[11][0] + pts[12][0]) / 2, (pts[11][1] + pts[12][1]) / 2
        ty = tx = by = bx = 0.0
        for j in (5, 6, 11, 12):
            ty, tx = max(ty, abs(cy - pts[j][0])), max(tx, abs(cx - pts[j][1]))
        for j in range(17):
            if kp[j, 2] >= self.MIN_SCORE:
                by, bx = max(by, abs(cy - pts[j][0])), max(bx, abs(cx - pts[j][1]))
        half = max(tx * self.TORSO, ty * self.TORSO, by * self.BODY, bx * self.BODY)
        half = min(half, max(cx, w - cx, cy, h - cy))
        if half > max(w, h) / 2:
            return self._initial(h, w)
        y0, x0, side = cy - half, cx - half, 2 * half
        return {"y_min": y0 / h, "x_min": x0 / w, "y_max": (y0 + side) / h,
                "x_max": (x0 + side) / w, "height": side / h, "width": side / w}

    def detect(self, image: np.ndarray) -> list:
        import cv2

        h, w = image.shape[:2]
        r = self.region or self._initial(h, w)
        top, bottom = int(max(r["y_min"], 0) * h), int(min(r["y_max"], 1) * h)
        left, right = int(max(r["x_min"], 0) * w), int(min(r["x_max"], 1) * w)
        pad = [int(-r["y_min"] * h) if r["y_min"] < 0 else 0,
               int((r["y_max"] - 1) * h) if r["y_max"] >= 1 else 0,
               int(-r["x_min"] * w) if r["x_min"] < 0 else 0,
               int((r["x_max"] - 1) * w) if r["x_max"] >= 1 else 0]
        crop = cv2.copyMakeBorder(image[top:bottom, left:right], *pad, cv2.BORDER_CONSTANT)
        model_input = cv2.resize(crop, (192, 192)).astype(np.uint8)
        kp = np.array(self.infer(model_input), dtype=np.float32).reshape(17, 3)  # a copy
        for i in range(17):
            kp[i, 0] = r["y_min"] + r["height"] * kp[i, 0]
            kp[i, 1] = r["x_min"] + r["width"] * kp[i, 1]
        self.region = self._next_region(kp, h, w)
        person = [(int(kp[i, 1] * w), int(kp[i, 0] * h), float(kp[i, 2])) for i in range(17)]
        xs, ys = [p[0] for p in person], [p[1] for p in person]
        return [person, (min(xs), min(ys), max(xs), max(ys))]
