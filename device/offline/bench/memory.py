"""The bench's memory measures: the device as it runs (a real `hinge-mirror run`,
both its processes), this process's peak, and what one frame holds at most."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import numpy as np

from device.service.pipeline import Processor
from device.vision.sources import Frame


def peak_rss_mb() -> float:
    """This process's peak resident set so far, MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def pss_mb(pid: int) -> float | None:
    """Proportional set size (pages shared between processes counted once, split)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def alloc_bytes_per_frame(proc: Processor, frames: list[Frame]) -> int:
    """Median of the most memory one frame's processing holds at once beyond what
    was held before (tracemalloc): transient allocation per frame."""
    import tracemalloc

    tracemalloc.start()
    try:
        peaks = []
        for i, f in enumerate(frames):
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            proc.process(Frame(t_s=1000.0 + i / 30.0, image=f.image, size=f.size))
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
    return int(np.median(peaks))


STREAMS = 5  # mirror pages streaming while the device's memory is read


def device_memory(clip: Path | None, settle_frames: int = 300,
                  timeout_s: float = 120.0) -> dict:
    """PSS of the device as it runs: a real `hinge-mirror run` (the web server,
    its supervisor and the pipeline child, the model loaded once, in the child)
    on the clip looped, or on the demo, read once STREAMS mirror pages are
    streaming and the pipeline has processed `settle_frames` frames."""
    import json
    import socket
    import subprocess
    import sys
    import tempfile
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "bench.toml"
        cfg.write_text(f'[store]\npath = "{tmp}/store.db"\n[log]\ndir = ""\n'
                       '[server]\nhttps_port = 0\n[backup]\nevery_h = 0\n')
        source = str(clip) if clip is not None else "demo"
        proc = subprocess.Popen(
            [sys.executable, "-m", "device.cli", "run", "--source", source, "--loop",
             "--host", "127.0.0.1", "--port", str(port), "--config", str(cfg)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        streams = []
        try:
            deadline = time.monotonic() + timeout_s
            health: dict = {}
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    return {"error": f"hinge-mirror run exited ({proc.returncode})"}
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                                timeout=2) as r:
                        health = json.load(r)
                except OSError:
                    time.sleep(0.2)
                    continue
                if len(streams) < STREAMS:
                    streams.append(urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/api/stream", timeout=5))
                    streams[-1].readline()  # the stream has begun: its first line
                if (len(streams) == STREAMS and
                        (health.get("pipeline") or {}).get("frames", 0) >= settle_frames):
                    break
                time.sleep(0.2)
            else:
                return {"error": f"the pipeline did not reach {settle_frames} frames"}
            child = (health.get("supervisor") or {}).get("pid")
            server_mb, pipeline_mb = pss_mb(proc.pid), pss_mb(child) if child else None
        finally:
            for s in streams:
                s.close()
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    total = round(server_mb + pipeline_mb, 1) if server_mb and pipeline_mb else None
    return {"pipeline_pss": pipeline_mb, "server_pss": server_mb, "total": total,
            "frames": health["pipeline"]["frames"], "source": source, "streams": len(streams)}
