"""Where and with what a figure was measured: date, machine, Python and package versions."""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

#: The packages every report names.
PACKAGES = ("flask-friendcb", "Flask", "Werkzeug", "marshmallow", "gunicorn")


def environment(packages: Sequence[str] = PACKAGES) -> dict[str, Any]:
    """Today's date, the CPU model, core count and kernel, Python's and ``packages``'
    versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "date": datetime.date.today().isoformat(),
        "machine": f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": {name: version(name) for name in packages},
    }
