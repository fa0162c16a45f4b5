"""`hinge-mirror bench`: measured speed and memory on this machine.

Reports medians and 90th percentiles (or interquartile ranges over the rounds),
never a single timing. The pipeline figures run the same `Processor` and
threads as the device (pose + coach + publish). The parts:

- variants.py   the variants of the rounds, behind one small protocol
- rounds.py     the interleaved rounds and their paired ratios
- clock.py      the invoke clock (the model's own time, through `clock_invokes`)
- timings.py    the pieces timed on their own: preprocessing, invoke, the coach
- memory.py     peak memory, PSS, the device's memory as it runs, bytes per frame
- camera.py     `bench --camera`: the device's threads on a live camera
- frames.py     the clip's frames in memory, or synthetic ones
- example.py, supervised.py   two experiments' own machinery
- run.py        which variants run (default or `--experiments`) and the report
- report.py     the reports as text

The clip comes from the caller (`--clip`; `make bench` names one): the package
looks in no folder of its own.
"""

from device.offline.bench.camera import camera_bench, check_camera_frames
from device.offline.bench.frames import check_clip
from device.offline.bench.memory import device_memory
from device.offline.bench.report import format_bench, format_camera_bench
from device.offline.bench.run import check_rounds, run_bench
from device.offline.bench.timings import core_us_per_frame

__all__ = ["camera_bench", "check_camera_frames", "check_clip", "core_us_per_frame",
           "device_memory", "format_bench", "format_camera_bench", "check_rounds", "run_bench"]
