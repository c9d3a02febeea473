"""The bench's statistics against numpy on known data, and its ratios and comparisons by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slap_edge.bench.stats import (
    compare_medians,
    cost_ms_per_audio_s,
    cpu_percent,
    percentile,
    ratio,
    real_time_factor,
    summarize,
)


@pytest.mark.parametrize("n", [1, 2, 3, 10, 101, 1000])
@pytest.mark.parametrize("q", [0.0, 1.0, 50.0, 95.0, 99.0, 99.9, 100.0])
def test_percentile_matches_numpy_linear(n: int, q: float) -> None:
    rng = np.random.default_rng(n)
    data = rng.lognormal(mean=0.5, sigma=0.8, size=n)  # skewed, like latencies
    assert percentile(data, q) == pytest.approx(np.percentile(data, q), rel=1e-12, abs=1e-12)


def test_percentile_on_hand_computed_data() -> None:
    data = [5.0, 1.0, 4.0, 2.0, 3.0]  # sorted 1..5, rank q/100 * 4
    assert percentile(data, 50) == 3.0
    assert percentile(data, 95) == pytest.approx(4.8)
    assert percentile(data, 99) == pytest.approx(4.96)
    assert percentile(data, 25) == 2.0
    assert percentile([7.0], 99) == 7.0


def test_percentile_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        percentile([1.0], 101)
    with pytest.raises(ValueError, match="NaN"):
        percentile([1.0, float("nan")], 50)


def test_summarize_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    data = rng.gamma(2.0, 1.5, size=777)
    s = summarize(data)
    assert s.n == 777
    assert s.mean == pytest.approx(data.mean())
    assert s.max == data.max() and s.min == data.min()
    for q, value in ((50, s.p50), (95, s.p95), (99, s.p99)):
        assert value == pytest.approx(np.percentile(data, q))
    assert set(s.to_dict()) == {"n", "mean", "p50", "p95", "p99", "max", "min"}
    with pytest.raises(ValueError, match="no hops"):
        summarize([])


def test_rtf_cpu_and_cost() -> None:
    assert real_time_factor(0.5, 10.0) == pytest.approx(0.05)
    assert cpu_percent(0.25, 1.0) == pytest.approx(25.0)
    assert cpu_percent(3.0, 2.0) == pytest.approx(150.0)  # two busy threads exceed one core
    # 40 hops of 2 ms over 10 s of audio: 8 ms of compute per audio second
    assert cost_ms_per_audio_s([2.0] * 40, 10.0) == pytest.approx(8.0)
    with pytest.raises(ValueError, match="positive"):
        real_time_factor(1.0, 0.0)
    with pytest.raises(ValueError, match="negative"):
        real_time_factor(-1.0, 1.0)
    with pytest.raises(ValueError, match="positive"):
        cpu_percent(1.0, 0.0)


def test_ratio_edges() -> None:
    assert ratio(10.0, 2.0) == 5.0
    assert math.isinf(ratio(1.0, 0.0))
    assert math.isnan(ratio(0.0, 0.0))


def test_compare_medians() -> None:
    first = {"ort-cpu": 2.0, "teacher": 10.0, "silero": 0.0}
    c = compare_medians(first, {"ort-cpu": 2.3, "teacher": 9.0, "silero": 1.0, "new": 3.0}, tolerance=0.2)
    assert c.changes == pytest.approx({"ort-cpu": 0.15, "teacher": -0.1})  # zero baselines and new keys skipped
    assert c.within
    assert c.worst == ("ort-cpu", pytest.approx(0.15))
    c = compare_medians(first, {"ort-cpu": 2.5, "teacher": 10.0})
    assert not c.within and c.worst == ("ort-cpu", pytest.approx(0.25))
    with pytest.raises(ValueError):
        compare_medians(first, first, tolerance=-1)
