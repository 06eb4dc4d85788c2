"""The CPU time a server on loopback has used, read from Linux's /proc."""

from __future__ import annotations

import os


def server_cpu_seconds(address: str) -> float:
    """CPU seconds used so far by the gunicorn serving ``address``: its master and workers,
    found by the ``--bind`` in their command line."""
    needle = f"--bind\0{address}\0".encode()
    ticks = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                if needle not in cmdline.read():
                    continue
            with open(f"/proc/{entry.name}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a process that ended meanwhile
        ticks += int(fields[11]) + int(fields[12])  # utime and stime
    return ticks / os.sysconf("SC_CLK_TCK")
