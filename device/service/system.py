"""The machine's own health for the staff dashboard: CPU temperature, disk, load."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")  # the SoC's sensor on a Pi


def cpu_temp_c(path: Path | None = None) -> float | None:
    """The CPU temperature in degrees C, or None where the machine has no such sensor."""
    try:
        return round(int((path or THERMAL).read_text().strip()) / 1000, 1)
    except (OSError, ValueError):
        return None


def disk(folder: Path | str) -> dict[str, float] | None:
    """Free and total space of the file system holding `folder`, in MiB."""
    try:
        u = shutil.disk_usage(folder)
    except OSError:
        return None
    return {"free_mib": round(u.free / 2**20, 1), "total_mib": round(u.total / 2**20, 1),
            "free_pct": round(100 * u.free / u.total, 1) if u.total else 0.0}


def machine(store_folder: Path | str) -> dict:
    return {"cpu_temp_c": cpu_temp_c(), "disk": disk(store_folder),
            "load_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}
