"""`make soak`: the whole device for a while, watched for leaks.

Runs `hinge-mirror run` on a looping clip (the pose model on every frame) or,
without a clip, on the built-in demo, with a few live-stream clients attached
that reconnect as the mirror page does, and a staff-like poller of /healthz.
Every `--every` seconds it samples, for the server and the pipeline process,
resident memory (VmRSS), threads and open file descriptors from /proc. After
the warm-up it fails (exit 1) if resident memory grew by more than 5% or if
threads or descriptors grew, and prints the figures either way.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc(pid: int) -> dict[str, int] | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {"rss_kib": int(fields["VmRSS"].split()[0]), "threads": int(fields["Threads"]),
            "fds": fds}


def _stream_client(url: str, stop: threading.Event, counts: list[int]) -> None:
    """Read the event stream as a page would; reconnect when it ends."""
    while not stop.is_set():
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                for line in resp:
                    if line.startswith(b"data:"):
                        counts[0] += 1
                    if stop.is_set():
                        return
        except OSError:
            time.sleep(1.0)


def soak(minutes: float, clip: Path | None, clients: int, every_s: float,
         warmup_s: float) -> dict:
    port = _free_port()
    tmp = Path(tempfile.mkdtemp(prefix="hinge-mirror-soak-"))
    cfg = tmp / "config.toml"
    cfg.write_text(f'[store]\npath = "{tmp}/hinge-mirror.db"\n[log]\ndir = "{tmp}/log"\n')
    source = ["--source", str(clip), "--loop"] if clip else ["--source", "demo"]
    server = subprocess.Popen([sys.executable, "-m", "device.cli", "run", *source, "--host",
                               "127.0.0.1", "--port", str(port), "--config", str(cfg)],
                              stdout=open(tmp / "run.out", "wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2).close()
            break
        except urllib.error.HTTPError:
            break  # it answers (503 while warming up is an answer)
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"soak: the device did not start; see {tmp}/run.out") from None
            time.sleep(0.5)
    stop = threading.Event()
    received = [0]
    threads = [threading.Thread(target=_stream_client, args=(f"{base}/api/stream", stop,
                                                             received), daemon=True)
               for _ in range(clients)]
    for t in threads:
        t.start()
    samples = []
    started = time.monotonic()
    end = started + minutes * 60
    healthz_ok = healthz_all = 0
    try:
        while time.monotonic() < end:
            time.sleep(every_s)
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=5) as r:
                    health = json.load(r)
            except urllib.error.HTTPError as exc:
                health = json.load(exc)
            healthz_all += 1
            healthz_ok += bool(health.get("ok"))
            child = (health.get("supervisor") or {}).get("pid")
            sample = {"t_s": round(time.monotonic() - started), "server": _proc(server.pid),
                      "pipeline": _proc(child) if child else None,
                      "frames": (health.get("pipeline") or {}).get("frames"),
                      "restarts": (health.get("supervisor") or {}).get("restarts"),
                      "snapshots_received": received[0]}
            samples.append(sample)
            print(json.dumps(sample), flush=True)
    finally:
        stop.set()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    return _verdict(samples, warmup_s, healthz_ok, healthz_all, clip, clients, tmp)


def _verdict(samples: list[dict], warmup_s: float, ok: int, total: int, clip, clients,
             folder: Path) -> dict:
    after = [s for s in samples if s["t_s"] >= warmup_s and s["server"] and s["pipeline"]]
    report = {"clip": str(clip) if clip else "demo", "stream_clients": clients,
              "samples": len(samples), "healthz_ok": f"{ok}/{total}", "folder": str(folder),
              "failures": []}
    if len(after) < 2:
        report["failures"].append("too few samples after the warm-up: run longer")
        return report
    first, last = after[0], after[-1]
    # Thirds of the run after the warm-up: a leak grows steadily, a connection
    # open at the moment of one sample is noise of one descriptor or thread.
    third = max(1, len(after) // 3)
    early, late = after[:third], after[-third:]
    for proc in ("server", "pipeline"):
        def median_rss(samples, proc=proc):
            values = sorted(s[proc]["rss_kib"] for s in samples)
            return values[len(values) // 2]

        a, b = median_rss(early), median_rss(late)
        grew = (b - a) / a
        peak = max(s[proc]["rss_kib"] for s in after)
        report[proc] = {"rss_mib_after_warmup": round(a / 1024, 1),
                        "rss_mib_end": round(b / 1024, 1),
                        "rss_mib_peak": round(peak / 1024, 1),
                        "rss_growth_pct": round(100 * grew, 2)}
        if grew > 0.05:
            report["failures"].append(f"{proc}: resident memory grew {100 * grew:.1f}% (> 5%)")
        for key, words in (("threads", "threads"), ("fds", "file descriptors")):
            lo = max(s[proc][key] for s in early)
            hi = min(s[proc][key] for s in late)
            report[proc][key] = [lo, max(s[proc][key] for s in late)]
            if hi > lo:
                report["failures"].append(f"{proc}: {words} {lo} -> {hi}")
    report["frames"] = [first["frames"], last["frames"]]
    report["restarts"] = last["restarts"]
    report["snapshots_received"] = last["snapshots_received"]
    if last["restarts"]:
        report["failures"].append(f"the pipeline restarted {last['restarts']} times")
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="soak", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--clip", type=Path, help="a video to loop (default: the demo)")
    p.add_argument("--clients", type=int, default=3, help="live-stream clients")
    p.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    p.add_argument("--warmup", type=float, default=120.0, help="seconds before the baseline")
    args = p.parse_args(argv)
    if args.clip and not args.clip.is_file():
        p.error(f"--clip {args.clip}: no such file")
    report = soak(args.minutes, args.clip, args.clients, args.every,
                  min(args.warmup, args.minutes * 60 / 3))
    print(json.dumps(report, indent=1))
    if report["failures"]:
        print("soak: FAILED: " + "; ".join(report["failures"]), file=sys.stderr)
        return 1
    print("soak: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
