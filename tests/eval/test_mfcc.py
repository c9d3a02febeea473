"""The 40-MFCC-statistics reference row: the features against librosa, and the row against a direct computation on
the same speaker-grouped folds as the model's probe."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from slap_edge.eval.embedders import EmbeddingSource
from slap_edge.eval.mfcc import MfccConfig, mfcc, mfcc_statistics
from slap_edge.eval.report import report_markdown
from slap_edge.eval.runner import evaluate_suite, linear_probe_predict
from slap_edge.eval.suite import load_suite, read_audio
from slap_edge.scoring import l2_normalize

SR = 16000


def _voice(rng: np.random.Generator, f0: float, seconds: float = 0.6) -> np.ndarray:
    """A crude voiced sound: harmonics of f0 under a fixed spectral tilt, plus a little noise."""
    t = np.arange(int(seconds * SR)) / SR
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 12))
    return (0.1 * wave + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def test_mfcc_matches_librosa() -> None:
    librosa = pytest.importorskip("librosa")
    rng = np.random.default_rng(0)
    for seconds in (0.02, 0.6, 1.37):
        wave = _voice(rng, 180.0, seconds)
        ours = mfcc(wave)
        theirs = librosa.feature.mfcc(y=wave, sr=SR, n_mfcc=40, n_fft=512, hop_length=160, win_length=400, n_mels=64)
        assert ours.shape == theirs.shape
        assert np.abs(ours - theirs).max() < 1e-3 * np.abs(theirs).max()


def test_mfcc_statistics_are_means_then_standard_deviations() -> None:
    wave = _voice(np.random.default_rng(1), 220.0)
    coefficients = mfcc(wave)
    stats = mfcc_statistics(wave)
    assert stats.shape == (80,) and stats.dtype == np.float32
    assert np.allclose(stats[:40], coefficients.mean(axis=1), atol=1e-4)
    assert np.allclose(stats[40:], coefficients.std(axis=1), atol=1e-4)
    with pytest.raises(ValueError, match="n_mfcc=80 must be <= n_mels=64"):
        MfccConfig(n_mfcc=80)
    with pytest.raises(ValueError, match="empty"):
        mfcc(np.zeros(0))


def _suite(root: Path, speakers_per_class: int = 4) -> Path:
    """Task 'pitch': low (110-130 Hz) vs high (220-260 Hz) voices, three clips per speaker."""
    rng = np.random.default_rng(2)
    (root / "audio").mkdir(parents=True)
    lines = []
    for s in range(2 * speakers_per_class):
        label = "high" if s % 2 else "low"
        base = rng.uniform(220, 260) if label == "high" else rng.uniform(110, 130)
        for j in range(3):
            path = f"audio/s{s}-{j}.wav"
            sf.write(root / path, _voice(rng, base * rng.uniform(0.97, 1.03)), SR)
            lines.append({"path": path, "task": "pitch", "label": label, "speaker": f"s{s}"})
    suite = {
        "name": "toy-pitch",
        "version": 1,
        "tasks": [
            {"name": "pitch", "category": "prosody", "classes": {"low": ["a deep voice"], "high": ["a high voice"]}}
        ],
    }
    (root / "suite.json").write_text(json.dumps(suite))
    (root / "clips.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return root


def _noise_source() -> EmbeddingSource:
    """An embedding that knows nothing about the audio (seeded noise per clip): its probe is near chance."""

    def embed_audio(waves: list[np.ndarray]) -> np.ndarray:
        return l2_normalize(np.stack([np.random.default_rng(len(w)).standard_normal(8) for w in waves]))

    def embed_text(texts: list[str]) -> np.ndarray:
        return l2_normalize(np.stack([np.random.default_rng(len(t)).standard_normal(8) for t in texts]))

    return EmbeddingSource("noise", SR, embed_audio, embed_text)


def test_mfcc_row_equals_a_direct_computation_on_the_same_folds(tmp_path: Path) -> None:
    root = _suite(tmp_path / "suite")
    suite = load_suite(root)
    report = evaluate_suite(suite, _noise_source())
    clips = suite.clips_of("pitch")
    features = np.stack([mfcc_statistics(read_audio(c.path, SR)) for c in clips])
    labels, speakers = [c.label for c in clips], [c.speaker for c in clips]
    predicted = linear_probe_predict(features, labels, speakers, seed=0)
    direct = np.mean(
        [np.mean([p == t for p, t in zip(predicted, labels, strict=True) if t == c]) for c in ("low", "high")]
    )
    task = report["tasks"][0]
    assert task["mfcc_probe"]["balanced_accuracy"] == pytest.approx(direct)
    assert task["mfcc_probe"]["macro_f1"] > 0.9  # pitch is in the MFCC statistics
    assert report["mfcc_probe"]["mean_macro_f1"] == pytest.approx(task["mfcc_probe"]["macro_f1"])
    assert report["mfcc_probe"]["categories"] == {"prosody": task["mfcc_probe"]["macro_f1"]}
    table = report_markdown(report)
    assert "MFCC-stats probe F1" in table and f"{task['mfcc_probe']['macro_f1']:.3f} |" in table
    json.dumps(report)

    without = evaluate_suite(suite, _noise_source(), mfcc_reference=False)
    assert without["mfcc_probe"] is None and without["tasks"][0]["mfcc_probe"] is None
    assert "MFCC" not in report_markdown(without)
    assert evaluate_suite(suite, _noise_source(), probe=False)["mfcc_probe"] is None


def test_eval_cli_writes_the_mfcc_row_beside_the_built_in_bundle(tmp_path: Path) -> None:
    from slap_edge.cli import app

    root = _suite(tmp_path / "suite", speakers_per_class=5)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["eval", "--model", "default", "--suite", str(root), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "MFCC-stats probe F1" in result.output
    report = json.loads(out.read_text())
    assert report["tasks"][0]["linear_probe"] is not None and report["tasks"][0]["mfcc_probe"]["macro_f1"] > 0.9
