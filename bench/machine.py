"""One line naming the machine a benchmark ran on, printed at the top of every benchmark's output."""

import os
import platform
import sys
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> str:
    return (
        f"machine: {cpu_model()}, {os.cpu_count()} CPUs, {platform.system()} {platform.machine()},"
        f" Python {sys.version.split()[0]}"
    )
