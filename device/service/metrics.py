"""`/metrics`: the device in the Prometheus text format, with the official client.

One registry per app (no module globals): frames processed, reps and faults
by id, the pose model's invoke latency, camera losses and open live streams.
Counts only: no session, client or person appears here.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Invoke times, from a laptop's to a Pi 4's and past them (docs/measured.md, "Speed").
INVOKE_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.25, 0.5, 1.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.frames = Counter("hinge_mirror_frames", "Frames through pose and coach", registry=r)
        self.reps = Counter("hinge_mirror_reps", "Reps counted", registry=r)
        self.faults = Counter("hinge_mirror_faults", "Faults found on counted reps", ["fault"],
                              registry=r)
        self.partials = Counter("hinge_mirror_partial_reps", "Hinges that were not reps",
                                registry=r)
        self.invoke = Histogram("hinge_mirror_invoke_seconds", "Pose model invoke time",
                                buckets=INVOKE_BUCKETS, registry=r)
        self.camera_lost = Counter("hinge_mirror_camera_lost", "Times the camera stopped",
                                   registry=r)
        self.restarts = Counter("hinge_mirror_pipeline_restarts",
                                "Times the pipeline process was restarted", registry=r)
        self.streams = Gauge("hinge_mirror_stream_clients", "Open /api/stream pages",
                             registry=r)

    def count_events(self, events: list[dict]) -> None:
        for e in events:
            if e["type"] == "rep":
                self.reps.inc()
                for fault in e["faults"]:
                    self.faults.labels(fault=fault).inc()
            elif e["type"] == "partial":
                self.partials.inc()

    def device_event(self, kind: str, detail: str | None = None) -> None:
        if kind == "camera_lost":
            self.camera_lost.inc()
        elif kind == "pipeline_restart":
            self.restarts.inc()

    def streams_from(self, count: Callable[[], int]) -> None:
        self.streams.set_function(count)

    def text(self) -> bytes:
        return generate_latest(self.registry)
