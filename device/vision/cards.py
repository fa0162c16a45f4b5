"""A client's card read at the glass: OpenCV's QR code detector on the camera's
own frames, in memory (nothing is kept).

Looked for on one frame in `every` (a card is held up for seconds; the
detector costs about as much as a pose estimate on a full frame, so every
frame would halve the rate), on the full frame. A code is reported once when it
is first read, and again only after it has been out of sight for `again_s`:
a card held up for two seconds is one start, not sixty.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from device.codes import card_code

log = logging.getLogger(__name__)


class CardReader:
    def __init__(self, every: int = 10, again_s: float = 5.0) -> None:
        self.every, self.again_s = every, again_s
        # The ArUco-based detector (OpenCV 4.8 and later) finds small and turned
        # codes that the classic one misses: on rendered cards turned 0-25°, with
        # noise, 53 of 60 against 32 (tests/test_cards.py measures its floor).
        make = getattr(cv2, "QRCodeDetectorAruco", cv2.QRCodeDetector)
        self._detector = make()
        self._n = 0
        self._last: tuple[str, float] | None = None  # the code last read, when last seen

    def read(self, image: np.ndarray, t_s: float) -> str | None:
        """The client code of a card newly in view on this frame, or None.
        `image`: the frame (H, W, 3), RGB or BGR (a QR code is black and white)."""
        self._n += 1
        if (self._n - 1) % self.every:
            return None
        code = self.decode(image)
        if code is None:
            return None
        seen_before = self._last is not None and self._last[0] == code and \
            t_s - self._last[1] < self.again_s
        self._last = (code, t_s)
        return None if seen_before else code

    def decode(self, image: np.ndarray) -> str | None:
        """The client code of a card anywhere in `image`, or None (no QR code, or
        one that is not a client's card)."""
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
        try:
            text, _, _ = self._detector.detectAndDecode(gray)
        except cv2.error as exc:  # a degenerate frame: no card on it
            log.debug("QR detector: %s", exc)
            return None
        return card_code(text) if text else None
