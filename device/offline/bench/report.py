"""The bench's reports as text: `hinge-mirror bench` and `bench --camera`."""

from __future__ import annotations

from device.offline.bench.frames import DECODED_BUFFER, SYNTHETIC


def format_bench(r: dict) -> str:
    """The default report's lines, and the experiments' where their keys are."""
    h, w = r["frame_size"]
    if r["clip"] == SYNTHETIC:
        source = (f"no clip given (--clip VIDEO, or `make bench`): synthetic noise frames "
                  f"{w}x{h}, nothing measured from a file")
    else:
        source = f"clip {r['clip']} {w}x{h}"
    file_fps = (f"{r['pipeline_fps_file']:.0f} fps from the file"
                if r["pipeline_fps_file"] is not None else "none from a file (no clip)")
    if r.get("pipeline_fps_file_threaded") is not None:
        file_fps += f" ({r['pipeline_fps_file_threaded']:.0f} through the device's threads)"
    threads = "threads       CPU per frame: " + ", ".join(
        f"{t} {q['median']:.0f} us" for t, q in r["threads_cpu_us_per_frame"].items())
    if "pose_thread_beside_invoke_us_per_frame" in r:
        threads += (" (the pose thread's less invoke-only's: "
                    f"{r['pose_thread_beside_invoke_us_per_frame']['median']:.0f} us)")
    return "\n".join([
        f"runtime {r['runtime']}, {r['threads']} thread(s), pose mode {r['pose_mode']}, {source}",
        f"invoke        {r['invoke_ms']['median']:.2f} ms median, {r['invoke_ms']['p90']:.2f} p90",
        f"preprocess    {r['preprocess_ms']['median']:.2f} ms median, "
        f"{r['preprocess_ms']['p90']:.2f} p90",
        f"core          {r['core_us_per_frame']['median']:.1f} us/frame median, "
        f"{r['core_us_per_frame']['p90']:.1f} p90",
        *_after_pause(r),
        f"pipeline      {r['pipeline_fps_threaded']:.0f} fps through the device's threads, "
        f"{r['pipeline_fps_decoded']:.0f} fps decoded in one loop, {file_fps}; "
        f"invoke-only {r['invoke_only_fps']:.0f} fps",
        *[f"ratio         {name}: {q['median']:.3f} median (IQR {q['p25']:.3f}-{q['p75']:.3f}), "
          f"{r['rounds']} interleaved rounds of {r['frames_per_round']} frames"
          for name, q in r["ratios"].items()],
        *[f"cpu / frame   {name}: {q['median']:.2f} ms "
          f"(wall {r['wall_ms_per_frame'][name]['median']:.2f})"
          for name, q in r["cpu_ms_per_frame"].items()],
        *_overhead(r),
        threads,
        *[f"model's share {name}: {q['median']:.3f} of the wall (IQR {q['p25']:.3f}-"
          f"{q['p75']:.3f}), {r['between_invokes_us'][name]['median']:.0f} us from one "
          "invoke's end to the next one's start"
          for name, q in r.get("invoke_wall_share", {}).items()],
        f"snapshots     {r['snapshots']} reached the hub, dropped {r['dropped']}",
        *_supervised(r),
        *([f"memory        the device as it runs (hinge-mirror run, {m.get('streams')} pages "
           "streaming): "
           f"pipeline {m['pipeline_pss']} MB + web server {m['server_pss']} MB = "
           f"{m['total']} MB PSS" if "error" not in m else f"memory        {m['error']}"]
          if (m := r.get("memory_mb")) else []),
        f"peak RSS      {r['peak_rss_mb']:.0f} MB (device path)" + (
            f", {r['peak_rss_mb_with_decoded_buffer']:.0f} MB with {DECODED_BUFFER} decoded "
            "frames held" if "peak_rss_mb_with_decoded_buffer" in r else ""),
        *([] if r.get("experiments") else
          ["(more variants and figures: hinge-mirror bench --experiments)"]),
    ])


def _after_pause(r: dict) -> list[str]:
    if "core_after_pause_us_per_frame" not in r:
        return []
    p = r["core_after_pause_us_per_frame"]
    return [f"after a pause the core {p['median']:.1f} us/frame median with a "
            f"{p['pause_ms']:.1f} ms busy wait (no work) before each frame, as long as an "
            f"invoke, against {p['back_to_back']['median']:.1f} back to back on the same "
            f"{p['frames']} frames; preprocessing {r['preprocess_back_to_back_ms']['median']:.2f} "
            f"ms back to back against {r['preprocess_ms']['median']:.2f} between invokes: what "
            "this machine charges for a pause"]


def _overhead(r: dict) -> list[str]:
    lines = []
    if "overhead_own_us_per_frame" in r:
        own, inv = r["overhead_own_us_per_frame"], r["invoke_cpu_us_per_frame"]
        lines.append(
            f"overhead      {own['median']:.0f} us CPU per frame beside the invoke's own (IQR "
            f"{own['p25']:.0f}-{own['p75']:.0f}), the pose thread's "
            f"{r['pose_thread_beside_own_invoke_us_per_frame']['median']:.0f} us of it; the "
            f"invoke {inv['in_device_threads']['median']:.0f} us CPU there, "
            f"{inv['invoke_only']['median']:.0f} us alone")
    if "overhead_us_per_frame" in r:
        q = r["overhead_us_per_frame"]
        lines.append(
            f"by difference {q['median']:.0f} us CPU per frame: the threads' less invoke-only's, "
            f"round by round (IQR {q['p25']:.0f} to {q['p75']:.0f}: another variant's invoke "
            "and the machine's drift are in it, so it can fall below 0); "
            f"{r['alloc_bytes_per_frame']} bytes held at most per frame")
    return lines


def _supervised(r: dict) -> list[str]:
    if "pipeline_fps_supervised" not in r:
        return []
    lat, mem = r["latency_ms"] or {"median": float("nan"), "p95": float("nan")}, \
        r["bench_memory_mb"]
    return [f"supervised    {r['pipeline_fps_supervised']:.0f} fps across the process boundary "
            f"({r['supervised_over_decoded']:.3f} of in-process, paired in the rounds), crossing "
            f"{r['crossing_us_per_snapshot']:.0f} us per snapshot, capture-to-parent latency "
            f"{lat['median']:.1f} ms median, {lat['p95']:.1f} p95; PSS of the bench's pipeline "
            f"{mem['pipeline_pss']} MB and parent {mem['parent_pss']} MB ({DECODED_BUFFER} "
            "decoded frames each)"]


def format_camera_bench(r: dict) -> str:
    lines = [
        f"camera        {r['source']} {r['frame_size'][1]}x{r['frame_size'][0]}: "
        f"{r['camera_frames']} frames in {r['seconds']} s ({r['camera_fps']} fps), "
        f"{r['dropped']} dropped (newest wins)"
        + ("" if r["complete"] else "; the source ended or the time ran out before --frames"),
        f"pipeline      {r['pipeline_fps']} snapshots per second into the hub ({r['frames']}); "
        f"runtime {r['runtime']}, {r['threads']} model thread(s), pose mode {r['pose_mode']}",
    ]
    if "invoke_ms" in r:
        lines.append(f"invoke        {r['invoke_ms']['median']:.1f} ms median, "
                     f"{r['invoke_ms']['p90']:.1f} p90; the model ran {r['invoke_wall_share']:.3f} "
                     f"of the wall, {r['between_invokes_us']['median']:.0f} us from one invoke's "
                     "end to the next one's start (waiting for the camera included)")
    if r["latency_ms"]:
        lines.append(f"latency       {r['latency_ms']['median']} ms median, "
                     f"{r['latency_ms']['p95']} p95, from the frame reaching Python to its "
                     "snapshot in the hub")
    lines.append("threads       CPU per frame: " + ", ".join(
        f"{t} {v} us" for t, v in r["threads_cpu_us_per_frame"].items()))
    return "\n".join(lines)
