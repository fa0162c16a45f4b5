"""The soak's verdict (the soak itself is `make soak`, ten minutes, not in `make test`)."""

from __future__ import annotations

from pathlib import Path

from device.offline.soak import _verdict


def samples(rss_end: int, threads_end: int = 10, fds_end: int = 12) -> list[dict]:
    def at(t, rss, threads, fds):
        proc = {"rss_kib": rss, "threads": threads, "fds": fds}
        return {"t_s": t, "server": dict(proc), "pipeline": dict(proc), "frames": t * 30,
                "restarts": 0, "snapshots_received": t * 40}

    # Warm-up, then nine samples; in the last third one has a connection open
    # (noise of one descriptor), the others do not, unless the run leaks.
    steady = [at(120 + 60 * i, 100_000, 10, 12) for i in range(6)]
    end = [at(480, rss_end, threads_end, fds_end), at(540, rss_end, threads_end,
                                                      max(fds_end, 13)),
           at(600, rss_end, threads_end, fds_end)]
    return [at(0, 50_000, 14, 30), *steady, *end]


def test_steady_memory_threads_and_descriptors_pass():
    report = _verdict(samples(104_000), 120, 60, 60, None, 3, Path("/tmp"))
    assert report["failures"] == [] and report["server"]["rss_growth_pct"] == 4.0
    assert report["server"]["fds"] == [12, 13]  # seen, but one sample's 13 is not a leak


def test_growth_past_five_percent_or_a_leaked_thread_or_descriptor_fails():
    assert "grew 6.0%" in _verdict(samples(106_000), 120, 60, 60, None, 3,
                                   Path("/tmp"))["failures"][0]
    failures = _verdict(samples(100_000, threads_end=11, fds_end=14), 120, 60, 60, None, 3,
                        Path("/tmp"))["failures"]
    assert any("threads 10 -> 11" in f for f in failures)
    assert any("file descriptors 12 -> 14" in f for f in failures)
