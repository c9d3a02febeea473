"""What a process costs: CPU time, wall time and resident memory, read from the kernel.

Each backend and peer is measured in its own child process, so its peak RSS and cold start are its own and not those
of whatever ran before it in the parent.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import sys
import time


def _status_kb(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status (Linux); None elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (10^6 bytes)."""
    kb = _status_kb("VmHWM")
    if kb is not None:
        return kb * 1024 / 1e6
    # ru_maxrss is kB on Linux and bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1e6 if sys.platform == "darwin" else rss * 1024 / 1e6


def current_rss_mb() -> float:
    """Resident set size now, in MB; falls back to the peak where /proc is absent."""
    kb = _status_kb("VmRSS")
    return kb * 1024 / 1e6 if kb is not None else peak_rss_mb()


def process_start_epoch() -> float | None:
    """When this process started (seconds since the epoch), from /proc; None where that cannot be read.

    Cold start is measured from here, so it includes the interpreter's own start and every import.
    """
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            stat = f.read()
        # Field 22 (starttime, clock ticks since boot) follows the ")" that ends the command name.
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return time.time() - uptime + start_ticks / ticks


@dataclasses.dataclass(frozen=True)
class Usage:
    """CPU and wall time spent between `Meter.start` and `Meter.stop`."""

    wall_s: float
    cpu_s: float

    @property
    def cpu_percent(self) -> float:
        """CPU time as a percentage of one core over the wall time."""
        return 100.0 * self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0


class Meter:
    """Wall clock and process CPU clock (all threads) around a block of work."""

    def __init__(self) -> None:
        self._wall0 = 0.0
        self._cpu0 = 0.0

    def start(self) -> Meter:
        self._wall0 = time.perf_counter()
        self._cpu0 = time.process_time()
        return self

    def stop(self) -> Usage:
        return Usage(wall_s=time.perf_counter() - self._wall0, cpu_s=time.process_time() - self._cpu0)

    def __enter__(self) -> Meter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.usage = self.stop()
