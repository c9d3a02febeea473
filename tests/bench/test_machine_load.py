"""The bench says how busy the rest of the machine was while it measured."""

from __future__ import annotations

import subprocess
import sys
import time

from slap_edge.bench.machine import OtherLoad, busy_cpu_seconds
from slap_edge.bench.report import load_line


def test_busy_cpu_seconds_grows_with_work() -> None:
    before = busy_cpu_seconds()
    assert before is not None and before > 0
    end = time.process_time() + 0.3
    while time.process_time() < end:
        pass
    after = busy_cpu_seconds()
    assert after is not None and after - before >= 0.2


def test_other_load_subtracts_the_measurements_own_cpu_time() -> None:
    # Over 10 s on 2 CPUs the machine was busy 12 CPU-seconds, 9 of them the measurement's own: 3 s of 20 = 15%.
    machine, own, clock = iter([100.0, 112.0]), iter([5.0, 14.0]), iter([0.0, 10.0])
    with OtherLoad(machine=lambda: next(machine), own=lambda: next(own), clock=lambda: next(clock), cpus=2) as load:
        pass
    assert load.percent == 15.0
    # Unreadable machine counters give no figure rather than a wrong one.
    with OtherLoad(machine=lambda: None, cpus=2) as load:
        pass
    assert load.percent is None


def test_other_load_of_a_real_child_is_a_percentage() -> None:
    with OtherLoad() as load:
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert load.percent is not None and 0.0 <= load.percent <= 100.0


def test_load_line_names_each_measurement_and_flags_a_busy_machine() -> None:
    results = {
        "machine": {"logical_cpus": 2, "cores": 2},
        "backends": [{"backend": "ort-cpu", "status": "ok", "other_load_pct": 1.0}],
        "peers": [{"peer": "teacher", "status": "ok", "other_load_pct": 40.0}, {"peer": "x", "status": "unavailable"}],
    }
    line = load_line(results)
    assert line is not None and "ort-cpu 1.0%" in line and "teacher 40.0%" in line and "busy" in line
    results["peers"][0]["other_load_pct"] = 0.5
    assert "otherwise idle" in (load_line(results) or "")
    assert load_line({"machine": {}, "backends": [], "peers": []}) is None


def test_median_round_reports_the_middle_round_whole() -> None:
    from slap_edge.bench.runner import median_round

    def run(p50: float) -> dict:
        return {"status": "ok", "hop_cpu_ms": {"p50": p50, "p99": p50 * 2}, "rss": p50}

    chosen = median_round([run(2.0), run(9.0), run(2.2)], lambda r: r["hop_cpu_ms"]["p50"])
    assert chosen["hop_cpu_ms"] == {"p50": 2.2, "p99": 4.4} and chosen["rss"] == 2.2  # one consistent round
    assert chosen["rounds_cpu_p50_ms"] == [2.0, 9.0, 2.2] and chosen["round_chosen"] == 3
    # An even count takes the lower middle; a single round is returned as it is; unavailable stays unavailable.
    assert median_round([run(3.0), run(1.0)], lambda r: r["hop_cpu_ms"]["p50"])["hop_cpu_ms"]["p50"] == 1.0
    assert median_round([run(5.0)], lambda r: r["hop_cpu_ms"]["p50"]) == run(5.0)
    gone = {"status": "unavailable", "reason": "no tensorrt"}
    assert median_round([gone], lambda r: 0.0) == gone
