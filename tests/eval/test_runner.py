"""The suite runner with a transparent embedding source: zero-shot by class vectors, speaker-grouped probing,
unreadable clips counted and named, and the report in JSON and markdown."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from slap_edge.eval.embedders import EmbeddingSource, clip_windows, pool_windows
from slap_edge.eval.report import report_markdown
from slap_edge.eval.runner import PROBE_CS, evaluate_suite, linear_probe_predict, probe_folds, zero_shot_predict
from slap_edge.eval.suite import load_suite
from slap_edge.scoring import l2_normalize

SR = 8000


def pitch_source() -> EmbeddingSource:
    """Audio -> [low-band energy, high-band energy, flatness]; text -> the same axes by keyword. Real, if crude."""

    def embed_audio(waves: list[np.ndarray]) -> np.ndarray:
        out = []
        for w in waves:
            spec = np.abs(np.fft.rfft(w)) ** 2
            freqs = np.fft.rfftfreq(len(w), 1 / SR)
            low, high = spec[(freqs > 80) & (freqs < 160)].sum(), spec[(freqs > 160) & (freqs < 320)].sum()
            flat = np.exp(np.mean(np.log(spec + 1e-12))) / (spec.mean() + 1e-12)
            out.append([low / (low + high), high / (low + high), 20 * flat])
        return l2_normalize(np.asarray(out))

    def embed_text(texts: list[str]) -> np.ndarray:
        axes = {"woman": [0, 1, 0], "man": [1, 0, 0], "whisper": [0, 0, 1], "clear": [0.5, 0.5, 0]}
        return l2_normalize(np.asarray([next(v for k, v in axes.items() if k in t) for t in texts], dtype=float))

    return EmbeddingSource("pitch-features", SR, embed_audio, embed_text)


def write_suite(root: Path, speakers_per_sex: int) -> Path:
    rng = np.random.default_rng(0)
    (root / "audio").mkdir(parents=True)
    t = np.arange(SR) / SR
    lines = []
    for s in range(2 * speakers_per_sex):
        sex = "male" if s % 2 else "female"
        f0 = (120 if sex == "male" else 240) * rng.uniform(0.95, 1.05)
        for j in range(3):
            whisper = j == 2
            wave = rng.standard_normal(SR) * 0.1 if whisper else 0.3 * np.sin(2 * np.pi * f0 * t)
            path = f"audio/s{s}-{j}.wav"
            sf.write(root / path, wave.astype(np.float32), SR)
            label = "whisper" if whisper else "modal"
            lines.append({"path": path, "task": "whisper", "label": label, "speaker": f"s{s}"})
            if not whisper:
                lines.append({"path": path, "task": "gender", "label": sex, "speaker": f"s{s}", "extra": 1})
    suite = {
        "name": "toy",
        "version": 1,
        "tasks": [
            {"name": "gender", "category": "demographics",
             "classes": {"female": ["a woman speaks"], "male": ["a man speaks", "a man is talking"]}},
            {"name": "whisper", "category": "voice",
             "classes": {"whisper": ["someone whispers"], "modal": ["a clear voice"]}},
        ],
    }  # fmt: skip
    (root / "suite.json").write_text(json.dumps(suite))
    (root / "clips.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return root


def test_zero_shot_uses_averaged_class_vectors() -> None:
    prompts = l2_normalize(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    # Class "a" = normalised mean of [1, 0] and [0, 1] = [0.707, 0.707]; class "b" = [0.707, 0.707] too, but ties
    # go to the first class; use a clear case instead:
    labels, _ = zero_shot_predict(np.array([[1.0, 0.1]]), prompts[[0, 1]], ["a", "b"])
    assert labels == ["a"]
    labels, cos = zero_shot_predict(np.array([[0.0, 1.0]]), prompts, ["a", "a", "b"])
    assert labels == ["b"] and cos[0, 1] == pytest.approx(np.sqrt(0.5))


def test_report_on_a_toy_suite(tmp_path: Path) -> None:
    root = write_suite(tmp_path / "suite", speakers_per_sex=5)
    (root / "audio" / "s0-0.wav").write_bytes(b"broken")  # in both tasks
    report = evaluate_suite(load_suite(root), pitch_source())
    assert report["unreadable"]["count"] == 1 and "s0-0.wav" in next(iter(report["unreadable"]["clips"]))
    by_task = {t["task"]: t for t in report["tasks"]}
    assert by_task["gender"]["n_clips"] == 19 and by_task["gender"]["n_speakers"] == 10
    assert by_task["gender"]["n_unreadable"] == 1 and by_task["whisper"]["n_clips"] == 29
    assert by_task["gender"]["zero_shot"]["macro_f1"] == pytest.approx(1.0)
    assert by_task["whisper"]["zero_shot"]["macro_f1"] == pytest.approx(1.0)
    assert by_task["gender"]["linear_probe"]["macro_f1"] == pytest.approx(1.0)
    assert by_task["gender"]["probe_folds"] == "5-fold by speaker"
    assert report["zero_shot"]["categories"] == {"demographics": 1.0, "voice": 1.0}
    table = report_markdown(report)
    assert "| gender | demographics | 19 | 10 | 1.000 |" in table and "s0-0.wav" in table
    json.dumps(report)  # JSON-ready


def test_few_speakers_use_leave_one_speaker_out(tmp_path: Path) -> None:
    labels = ["a", "a", "b", "b", "a", "b"]
    speakers = ["s1", "s1", "s2", "s2", "s3", "s4"]
    folds = probe_folds(labels, speakers)
    assert len(folds) == 4
    for train_idx, test_idx in folds:
        assert not {speakers[i] for i in train_idx} & {speakers[i] for i in test_idx}
    root = write_suite(tmp_path / "suite", speakers_per_sex=3)
    report = evaluate_suite(load_suite(root), pitch_source())
    folds_of = {t["task"]: t["probe_folds"] for t in report["tasks"]}
    # gender: 3 speakers per class; whisper: all 6 speakers have both classes.
    assert folds_of == {"gender": "leave-one-speaker-out", "whisper": "5-fold by speaker"}


def test_windows_cover_short_and_long_clips() -> None:
    short = clip_windows(np.ones(3), 5)
    assert short.tolist() == [[1, 1, 1, 0, 0]] or short.tolist() == [[0, 1, 1, 1, 0]]
    long = clip_windows(np.arange(12, dtype=np.float32), 5)
    assert long.shape == (3, 5) and long[0, 0] == 0 and long[-1, -1] == 11
    vectors = pool_windows(lambda b: np.tile([1.0, 0.0], (len(b), 1)), [np.ones(3), np.ones(12)], 5, batch=2)
    assert np.allclose(vectors, [[1, 0], [1, 0]])


@pytest.mark.parametrize(("cs", "standardise"), [(PROBE_CS, True), ((0.1, 1.0, 10.0), False), ((10.0,), False)])
def test_probe_variants_separate_a_linear_direction_and_never_split_a_speaker(cs: tuple, standardise: bool) -> None:
    rng = np.random.default_rng(3)
    speakers = [f"s{i}" for i in range(24) for _ in range(2)]
    labels = ["a" if int(s[1:]) % 2 else "b" for s in speakers]
    x = rng.normal(0.0, 1.0, (len(labels), 16))
    x[:, 0] += np.where(np.array(labels) == "a", 4.0, -4.0)
    pred = linear_probe_predict(l2_normalize(x), labels, speakers, cs=cs, standardise=standardise)
    assert np.mean(np.array(pred) == np.array(labels)) >= 0.9
    for train, test in probe_folds(labels, speakers):
        assert not {speakers[i] for i in train} & {speakers[i] for i in test}
