"""Pure latency statistics: percentiles, real-time factor, CPU share, and run-to-run comparison.

Numbers in, numbers out; no timing happens here, so every figure the bench prints can be checked by hand (the tests
compare the percentiles with numpy's on known data).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

PERCENTILES = (50.0, 95.0, 99.0)


def percentile(values: Sequence[float] | np.ndarray, q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks.

    This is the textbook definition (numpy's default "linear" method, Hyndman & Fan type 7): the value at rank
    ``q/100 * (n - 1)`` of the sorted data, interpolated between its two neighbours.
    """
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile q must be within [0, 100], got {q}")
    a = np.sort(np.asarray(values, dtype=np.float64).reshape(-1))
    if a.size == 0:
        raise ValueError("percentile of an empty sample is undefined")
    if not np.all(np.isfinite(a)):
        raise ValueError("latency samples contain NaN or inf")
    rank = q / 100.0 * (a.size - 1)
    lo = math.floor(rank)
    hi = min(lo + 1, a.size - 1)
    frac = rank - lo
    return float(a[lo] + (a[hi] - a[lo]) * frac)


@dataclasses.dataclass(frozen=True)
class LatencySummary:
    """Distribution of one measured quantity (milliseconds unless said otherwise)."""

    n: int
    mean: float
    p50: float
    p95: float
    p99: float
    max: float
    min: float

    def to_dict(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)


def summarize(values: Sequence[float] | np.ndarray) -> LatencySummary:
    """p50/p95/p99/max (and n, mean, min) of a sample."""
    a = np.asarray(values, dtype=np.float64).reshape(-1)
    if a.size == 0:
        raise ValueError("cannot summarise an empty sample: no hops were measured")
    return LatencySummary(
        n=int(a.size),
        mean=float(a.mean()),
        p50=percentile(a, 50.0),
        p95=percentile(a, 95.0),
        p99=percentile(a, 99.0),
        max=float(a.max()),
        min=float(a.min()),
    )


def real_time_factor(compute_s: float, audio_s: float) -> float:
    """Compute time over audio duration (sherpa-onnx's RTF): below 1 keeps up with real time."""
    if audio_s <= 0:
        raise ValueError(f"audio duration must be positive, got {audio_s} s")
    if compute_s < 0:
        raise ValueError(f"compute time cannot be negative, got {compute_s} s")
    return compute_s / audio_s


def cpu_percent(cpu_s: float, wall_s: float) -> float:
    """Process CPU time as a percentage of one core over ``wall_s`` (can exceed 100 with several threads)."""
    if wall_s <= 0:
        raise ValueError(f"wall time must be positive, got {wall_s} s")
    return 100.0 * cpu_s / wall_s


def cost_ms_per_audio_s(compute_ms: Iterable[float], audio_s: float) -> float:
    """Milliseconds of compute spent per second of audio: the common unit in which peers are compared."""
    total = float(np.sum(np.asarray(list(compute_ms), dtype=np.float64)))
    return 1000.0 * real_time_factor(total / 1000.0, audio_s)


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; inf when the denominator is zero (a free stage), never a ZeroDivisionError."""
    if denominator == 0:
        return math.inf if numerator > 0 else math.nan
    return numerator / denominator


@dataclasses.dataclass(frozen=True)
class MedianComparison:
    """How far one run's medians moved from another's, per quantity."""

    tolerance: float
    changes: dict[str, float]  # name -> relative change (second / first - 1)

    @property
    def worst(self) -> tuple[str, float] | None:
        if not self.changes:
            return None
        name = max(self.changes, key=lambda k: abs(self.changes[k]))
        return name, self.changes[name]

    @property
    def within(self) -> bool:
        return all(abs(c) <= self.tolerance for c in self.changes.values())


def compare_medians(
    first: Mapping[str, float], second: Mapping[str, float], tolerance: float = 0.2
) -> MedianComparison:
    """Relative change of every median present in both runs; ``within`` says whether all moved by <= tolerance."""
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    changes = {}
    for name in first:
        if name in second and first[name] > 0:
            changes[name] = second[name] / first[name] - 1.0
    return MedianComparison(tolerance=tolerance, changes=changes)
