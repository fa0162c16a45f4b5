"""The machine's own health for the staff dashboard: CPU temperature, disk, load."""

from __future__ import annotations

import fcntl
import ipaddress
import os
import shutil
import socket
import struct
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


SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address


def addresses() -> list[str]:
    """This machine's IPv4 addresses on its networks (not loopback), by
    interface: where staff reach the console when NAME.local does not resolve
    (a network without mDNS)."""
    found = []
    try:
        interfaces = socket.if_nameindex()
    except OSError:
        return []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in interfaces:
            try:
                packed = fcntl.ioctl(s.fileno(), SIOCGIFADDR,
                                     struct.pack("256s", name.encode()[:15]))
            except OSError:  # no IPv4 address on it (down, or IPv6 only)
                continue
            ip = socket.inet_ntoa(packed[20:24])
            if not ipaddress.ip_address(ip).is_loopback and ip not in found:
                found.append(ip)
    return found
