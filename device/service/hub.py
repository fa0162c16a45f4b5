"""StateHub: the latest snapshot, a sequence number and a condition variable.

Readers wait for a sequence newer than the one they have; there are no
per-client queues, so a slow or stalled reader costs nothing and memory
stays constant however many readers there are.
"""

from __future__ import annotations

import threading
from typing import Any


class StateHub:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seq = 0
        self._value: dict[str, Any] | None = None
        self.closed = False  # the device is stopping: readers stop waiting

    def publish(self, value: dict[str, Any]) -> int:
        with self._cond:
            self._seq += 1
            self._value = value
            self._cond.notify_all()
            return self._seq

    def latest(self) -> tuple[int, dict[str, Any] | None]:
        with self._cond:
            return self._seq, self._value

    def close(self) -> None:
        """The device is stopping: every reader's wait ends now, and no later
        one waits (a stream then ends, rather than holding the web server's
        stop for its keep-alive)."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def wait(self, after_seq: int, timeout_s: float) -> tuple[int, dict[str, Any] | None]:
        """Block until a snapshot newer than `after_seq` exists, or the timeout,
        or the hub is closed.

        Returns (seq, value); value is None when the wait timed out or the hub closed.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: self._seq > after_seq or self.closed,
                                       timeout=timeout_s) or self._seq <= after_seq:
                return self._seq, None
            return self._seq, self._value
